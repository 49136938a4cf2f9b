// --reference-dir with a batch: each song is scored against the true stems of its own output folder
// (mirrored and told apart like the outputs: a second x.wav is x-2), and the report and stderr say
// which folder scored each song, or that none was found.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "json_schema.h"
#include "loopsep/audio.h"
#include "loopsep/metrics.h"
#include "model_fixture.h"
#include "song_fixture.h"
#include "test_util.h"

using namespace loopsep;
using loopsep::testing::read_text;
using loopsep::testing::run_loopsep;
using loopsep::testing::TempDir;

namespace {

// A true stem for a song: the song with its first `silent_sec` silenced (any non-silent signal will do;
// different songs and different cuts give different SDRs).
Audio truth_of(const Audio& song, double silent_sec) {
    Audio t = song;
    for (auto& ch : t.channels) std::fill(ch.begin(), ch.begin() + std::size_t(silent_sec * song.sample_rate_hz), 0.0f);
    return t;
}

std::string sdr_text(double db) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "SDR %.2f dB", db);
    return buf;
}

}  // namespace

TEST(ReportReference, SameNamedSongsAreScoredAgainstTheirOwnMirroredFolders) {
    TempDir dir;
    loopsep::testing::write_small_test_model(dir.file("m.safetensors"), 3);
    std::filesystem::create_directories(dir.file("d1"));
    std::filesystem::create_directories(dir.file("d2"));
    std::filesystem::create_directories(dir.file("d3"));
    const Audio song1 = loopsep::testing::make_test_song(122, 5.0), song2 = loopsep::testing::make_test_song(104, 5.0);
    write_audio(dir.file("d1/x.wav"), song1, {});
    write_audio(dir.file("d2/x.wav"), song2, {});
    write_audio(dir.file("d3/y.wav"), loopsep::testing::make_test_song(116, 5.0), {});
    write_audio(dir.file("loop.wav"), loopsep::testing::make_test_song(120, 2.0, 1), {});
    // True stems mirroring the outputs: out/x/ (d1's) and out/x-2/ (d2's); none for y.
    std::filesystem::create_directories(dir.file("truth/x"));
    std::filesystem::create_directories(dir.file("truth/x-2"));
    write_audio(dir.file("truth/x/a.wav"), truth_of(song1, 0.5), {});
    write_audio(dir.file("truth/x-2/a.wav"), truth_of(song2, 1.5), {});

    auto r = run_loopsep("separate d1/x.wav d2/x.wav d3/y.wav --targets a --query loop.wav --query-bpm 120 --outdir out "
                         "--report --reference-dir truth --model m.safetensors",
                         dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto run = nlohmann::json::parse(read_text(dir.file("out/run.json")));
    const auto schema = nlohmann::json::parse(read_text(std::string(LOOPSEP_SOURCE_DIR) + "/docs/separate.schema.json"));
    EXPECT_TRUE(loopsep::testing::validate_json(schema, run).empty());
    ASSERT_EQ(run["songs"].size(), 3u);
    // Each song knows its output folder; each x is scored against its own truth.
    std::map<std::string, nlohmann::json> by_name;
    for (const auto& s : run["songs"]) by_name[s["output_name"].get<std::string>()] = s;
    ASSERT_EQ(by_name.count("x"), 1u);
    ASSERT_EQ(by_name.count("x-2"), 1u);
    ASSERT_EQ(by_name.count("y"), 1u);
    EXPECT_EQ(by_name["x"]["input"], "../d1/x.wav");
    EXPECT_EQ(by_name["x-2"]["input"], "../d2/x.wav");
    const std::string html = read_text(dir.file("out/report.html"));
    for (const std::string name : {"x", "x-2"}) {
        const auto& s = by_name[name];
        EXPECT_EQ(s["reference_stems"]["dir"], "../truth/" + name);
        const auto& ref = s["targets"][0]["reference"];
        EXPECT_EQ(ref["path"], "../truth/" + name + "/a.wav");
        const Audio est = read_audio(dir.file("out/" + name + "/a.wav"), {0, 2, true});
        const Audio truth16 = read_audio(dir.file("truth/" + name + "/a.wav"), {0, 2, false});
        const Audio mix16 = read_audio(dir.file(name == "x" ? "d1/x.wav" : "d2/x.wav"), {0, 2, false});
        EXPECT_NEAR(ref["sdr_db"].get<double>(), compare(truth16, est).sdr_db, 1e-6) << name;
        EXPECT_NEAR(ref["mixture_sdr_db"].get<double>(), compare(truth16, mix16).sdr_db, 1e-6) << name;
        EXPECT_NE(html.find(sdr_text(compare(truth16, est).sdr_db)), std::string::npos) << name;
        EXPECT_NE(html.find("true stems: <code>../truth/" + name + "</code>"), std::string::npos) << name;
        EXPECT_NE(r.err.find(std::string("loopsep: ") + (name == "x" ? "d1" : "d2") + "/x.wav: true stems from truth/" + name + " (1 of 1"),
                  std::string::npos)
            << r.err;
    }
    // The two scores differ: neither song was scored against the other's truth.
    EXPECT_NE(by_name["x"]["targets"][0]["reference"]["mixture_sdr_db"], by_name["x-2"]["targets"][0]["reference"]["mixture_sdr_db"]);
    // y has none: no score, and both the page and stderr say where it looked.
    EXPECT_TRUE(by_name["y"]["reference_stems"]["dir"].is_null());
    EXPECT_EQ(by_name["y"]["reference_stems"]["searched"], nlohmann::json({"../truth/y"}));
    EXPECT_FALSE(by_name["y"]["targets"][0].contains("reference"));
    EXPECT_NE(html.find("no true stems found for this song (looked in ../truth/y)"), std::string::npos);
    EXPECT_NE(r.err.find("loopsep: warning: d3/y.wav: no true stems for its targets in truth/y (--reference-dir)"), std::string::npos)
        << r.err;

    // `loopsep report` finds the same folders from run.json alone (the page is the same), and a
    // reference folder named only after the input stem still serves a song whose output folder has none.
    const std::string first = html;
    auto again = run_loopsep("report out --reference-dir truth", dir.path());
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(read_text(dir.file("out/report.html")), first);
    std::filesystem::create_directories(dir.file("truth2/x"));
    write_audio(dir.file("truth2/x/a.wav"), truth_of(song1, 0.5), {});
    auto stem_only = run_loopsep("report out --reference-dir truth2", dir.path());
    ASSERT_EQ(stem_only.exit_code, 0) << stem_only.err;
    const auto run2 = nlohmann::json::parse(read_text(dir.file("out/run.json")));
    for (const auto& s : run2["songs"]) {
        const std::string name = s["output_name"];
        if (name == "y") continue;
        EXPECT_EQ(s["reference_stems"]["dir"], "../truth2/x") << name;  // x-2 falls back on the stem: and says so
        EXPECT_EQ(s["reference_stems"]["searched"][0], "../truth2/" + name) << name;
    }
    // stderr names the song as it is named from here (not from run.json's folder).
    EXPECT_NE(stem_only.err.find("loopsep: d2/x.wav: true stems from truth2/x ("), std::string::npos) << stem_only.err;
}
