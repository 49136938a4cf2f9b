// `separate --json`: one shape for every run (docs/separate.schema.json), what it says about the
// queries and levels, and the warning when a target came out nearly silent.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "json_schema.h"
#include "loopsep/model.h"
#include "model_fixture.h"
#include "song_fixture.h"
#include "test_util.h"

using namespace loopsep;
using loopsep::testing::run_loopsep;
using loopsep::testing::TempDir;
using loopsep::testing::validate_json;

namespace {

nlohmann::json schema() {
    return nlohmann::json::parse(loopsep::testing::read_text(std::string(LOOPSEP_SOURCE_DIR) + "/docs/separate.schema.json"));
}

std::string joined(const std::vector<std::string>& lines) {
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    return s;
}

using Fixture = loopsep::testing::SeparateInputs;

}  // namespace

TEST(SeparateJson, TheValidatorRejectsWhatTheSchemaForbids) {
    // The checker itself, on documents broken on purpose: otherwise a validator that accepts
    // everything would pass the tests below.
    const auto s = schema();
    nlohmann::json run{{"version", "1"}, {"model", "m"}, {"genre", "neutral"}, {"songs", nlohmann::json::array()},
                       {"failed", nlohmann::json::array()}};
    EXPECT_TRUE(validate_json(s, run).empty()) << joined(validate_json(s, run));
    auto missing = run;
    missing.erase("songs");
    EXPECT_EQ(validate_json(s, missing).size(), 1u);
    auto wrong_type = run;
    wrong_type["songs"] = "none";
    EXPECT_EQ(validate_json(s, wrong_type).size(), 1u);
    auto wrong_enum = run;
    wrong_enum["genre"] = "polka";
    EXPECT_EQ(validate_json(s, wrong_enum).size(), 1u);
    auto bad_item = run;
    bad_item["failed"] = {{{"input", "x.wav"}}};  // no "error"
    ASSERT_EQ(validate_json(s, bad_item).size(), 1u);
    EXPECT_NE(validate_json(s, bad_item)[0].find("$.failed[0]"), std::string::npos);
}

TEST(SeparateJson, OneTargetAndManyTargetsGiveTheSameShape) {
    Fixture f;
    const auto s = schema();
    auto one = run_loopsep("separate song.wav --target bongo --query loop.wav --query-bpm 120 --output out.wav --json "
                           "--model m.safetensors", f.dir.path());
    ASSERT_EQ(one.exit_code, 0) << one.err;
    const auto j1 = nlohmann::json::parse(one.out);
    EXPECT_TRUE(validate_json(s, j1).empty()) << joined(validate_json(s, j1));
    ASSERT_EQ(j1["songs"].size(), 1u);
    const auto& song = j1["songs"][0];
    EXPECT_EQ(song["input"], "song.wav");
    EXPECT_EQ(song["targets"][0]["name"], "bongo");
    EXPECT_EQ(song["targets"][0]["query"]["kind"], "file");
    EXPECT_EQ(song["targets"][0]["query"]["path"], "loop.wav");
    EXPECT_TRUE(song["residual"].is_null());
    EXPECT_TRUE(song["output_name"].is_null());  // --output: no folder under --outdir
    // The level is the written stem's own, to the rounding of 16-bit output.
    const Audio stem = read_audio(f.dir.file("out.wav"), {0, 2, true});
    double sum = 0;
    for (const auto& ch : stem.channels)
        for (float v : ch) sum += double(v) * v;
    const double want_db = 10 * std::log10(sum / double(stem.frames() * stem.channels.size()));
    EXPECT_NEAR(song["targets"][0]["level_dbfs"].get<double>(), want_db, 0.05);
    // The mixture's level: the song as written (16-bit).
    const Audio mix = read_audio(f.dir.file("song.wav"), {0, 2, false});
    double mix_sum = 0;
    for (const auto& ch : mix.channels)
        for (float v : ch) mix_sum += double(v) * v;
    EXPECT_NEAR(song["mixture"]["level_dbfs"].get<double>(), 10 * std::log10(mix_sum / double(mix.frames() * 2)), 0.05);
    EXPECT_NEAR(song["targets"][0]["energy_share"].get<double>(), sum / mix_sum, 1e-3);
    EXPECT_GT(song["grid"]["beats_sec"].size(), 10u);

    // Several targets, a residual, a catalog prototype for the second: the same shape.
    ASSERT_EQ(run_loopsep("catalog --db c.db init", f.dir.path()).exit_code, 0);
    ASSERT_EQ(run_loopsep("catalog --db c.db add loop.wav --instrument guira --genre bachata --bpm 120", f.dir.path()).exit_code, 0);
    auto many = run_loopsep("separate song.wav --targets bongo,guira --query loop.wav --residual --catalog c.db "
                            "--outdir out --json --model m.safetensors", f.dir.path());
    ASSERT_EQ(many.exit_code, 0) << many.err;
    const auto j2 = nlohmann::json::parse(many.out);
    EXPECT_TRUE(validate_json(s, j2).empty()) << joined(validate_json(s, j2));
    const auto& t = j2["songs"][0]["targets"];
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[1]["query"]["kind"], "prototype");
    ASSERT_EQ(t[1]["query"]["loops"].size(), 1u);
    EXPECT_EQ(t[1]["query"]["loops"][0]["id"], 1);
    EXPECT_EQ(t[1]["query"]["loops"][0]["name"], "loop.wav");
    EXPECT_EQ(j2["songs"][0]["residual"]["path"], "out/song/residual.wav");
    EXPECT_EQ(j2["songs"][0]["output_name"], "song");
    // The grid's detected sections are part of the shape: a song without them does not pass.
    ASSERT_GE(j2["songs"][0]["grid"]["downbeat_sections"].size(), 1u);
    auto no_sections = j2;
    no_sections["songs"][0]["grid"].erase("downbeat_sections");
    EXPECT_EQ(validate_json(s, no_sections).size(), 1u);
    auto bad_section = j2;
    bad_section["songs"][0]["grid"]["downbeat_sections"][0].erase("bars");
    EXPECT_EQ(validate_json(s, bad_section).size(), 1u);

    // The listing for people names every file written (the residual too), the query and the level.
    auto text = run_loopsep("separate song.wav --targets bongo,guira --query loop.wav --residual --catalog c.db "
                            "--outdir out --force --model m.safetensors", f.dir.path());
    ASSERT_EQ(text.exit_code, 0) << text.err;
    for (const char* needle : {"out/song/bongo.wav", "out/song/guira.wav", "out/song/residual.wav", "query: loop.wav",
                               "prototype of 1 catalog loop", "dBFS"})
        EXPECT_NE(text.out.find(needle), std::string::npos) << needle << "\n" << text.out;
}

TEST(SeparateFeedback, ASongWithoutTheTargetGivesAWarning) {
    // The generated song has kick, hat and bass only; the shipped model asked for the guitar (with a
    // guitar loop from the bundled samples as the query) finds next to nothing: the run must say so.
    TempDir dir;
    write_audio(dir.file("song.wav"), loopsep::testing::make_test_song(124, 12.0), {});
    const std::string src = LOOPSEP_SOURCE_DIR;
    auto r = run_loopsep("separate song.wav --target guitar --genre bachata --output g.wav --json --model '" + src +
                             "/models/loopsep-v5.safetensors' --query '" + src + "/samples/loops/bachata_4242_0000_guitar_00.flac'",
                         dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    const auto& target = j["songs"][0]["targets"][0];
    ASSERT_EQ(target["warnings"].size(), 1u) << target.dump();
    EXPECT_NE(target["warnings"][0].get<std::string>().find("--query-id"), std::string::npos);
    EXPECT_NE(r.err.find("warning: song.wav: target 'guitar'"), std::string::npos) << r.err;
    EXPECT_GT(j["songs"][0]["mixture"]["level_dbfs"].get<double>(), -30.0);
    std::printf("guitar stem %.1f dBFS, mixture %.1f dBFS\n", target["level_dbfs"].get<double>(),
                j["songs"][0]["mixture"]["level_dbfs"].get<double>());
    // The control: the bass the song does have comes out loud enough, and nothing is said.
    auto bass = run_loopsep("separate song.wav --target bass --genre bachata --output b.wav --json --model '" + src +
                                "/models/loopsep-v5.safetensors' --query '" + src + "/samples/loops/bachata_4242_0000_bass_00.flac'",
                            dir.path());
    ASSERT_EQ(bass.exit_code, 0) << bass.err;
    const auto jb = nlohmann::json::parse(bass.out);
    std::printf("bass stem %.1f dBFS\n", jb["songs"][0]["targets"][0]["level_dbfs"].get<double>());
    EXPECT_TRUE(jb["songs"][0]["targets"][0]["warnings"].empty()) << jb["songs"][0]["targets"][0].dump();
    EXPECT_EQ(bass.err.find("warning"), std::string::npos) << bass.err;
}

// `--passes 2`: every target says which bars made its self-query and how confident pass 1 was there, in
// the documented shape; one pass says nothing of it; a third pass is a usage error naming the option.
TEST(SeparateJson, TwoPassesListTheSelfQueryBarsOfEachTarget) {
    Fixture f;
    const auto s = schema();
    auto two = run_loopsep("separate song.wav --targets bongo,bass --query loop.wav --query loop.wav --query-bpm 120 "
                           "--query-bpm 120 --outdir out --json --passes 2 --model m.safetensors", f.dir.path());
    ASSERT_EQ(two.exit_code, 0) << two.err;
    const auto j = nlohmann::json::parse(two.out);
    EXPECT_TRUE(validate_json(s, j).empty()) << joined(validate_json(s, j));
    const auto& song = j["songs"][0];
    const auto segments = song["segments"].get<int>();
    for (const auto& t : song["targets"]) {
        ASSERT_TRUE(t.contains("self_query_bars")) << t.dump();
        const auto bars = t["self_query_bars"].get<std::vector<int>>();
        EXPECT_GE(bars.size(), 2u) << t.dump();   // the 7-s song has 3 bars, all with sound
        for (int b : bars) {
            EXPECT_GE(b, 0);
            EXPECT_LT(b, segments);
        }
        const double c = t["self_query_confidence"].get<double>();
        EXPECT_GT(c, 0.0);
        EXPECT_LE(c, 1.0);
    }
    auto bad = j;   // the schema knows the new fields
    bad["songs"][0]["targets"][0]["self_query_bars"] = "0,1";
    EXPECT_EQ(validate_json(s, bad).size(), 1u);
    auto one = run_loopsep("separate song.wav --target bongo --query loop.wav --query-bpm 120 --output one.wav --json "
                           "--model m.safetensors", f.dir.path());
    ASSERT_EQ(one.exit_code, 0) << one.err;
    EXPECT_FALSE(nlohmann::json::parse(one.out)["songs"][0]["targets"][0].contains("self_query_bars"));
    auto three = run_loopsep("separate song.wav --target bongo --query loop.wav --output three.wav --passes 3 "
                             "--model m.safetensors", f.dir.path());
    EXPECT_EQ(three.exit_code, 2);
    EXPECT_NE(three.err.find("--passes"), std::string::npos) << three.err;
}
