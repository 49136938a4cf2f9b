// `loopsep stretch`: exact output length, tempo estimation, bad input contract.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <dirent.h>
#include <sndfile.h>

#include <set>

#include "loop_signals.h"
#include "loopsep/audio.h"
#include "loopsep/loopfile.h"
#include "test_util.h"

using namespace loopsep;
using loopsep::testing::run_loopsep;
using loopsep::testing::TempDir;

namespace {
std::set<std::string> entries(const std::string& dir) {
    std::set<std::string> out;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d))
            if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.insert(e->d_name);
        closedir(d);
    }
    return out;
}
}  // namespace

TEST(StretchCli, EstimatesTheTempoAndWritesTheExactLength) {
    TempDir dir;
    write_audio(dir.file("loop.wav"), loopsep::testing::click_loop(2.0, 4, 0.8f, 0.3f, 2), {});
    auto r = run_loopsep("stretch loop.wav --to-bpm 100 --output slow.wav --json", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_NEAR(j["from_bpm"].get<double>(), 120.0, 1e-9);
    EXPECT_TRUE(j["from_bpm_estimated"].get<bool>());
    EXPECT_EQ(j["beats"].get<int>(), 4);
    EXPECT_EQ(j["engine"].get<std::string>(), "r3");
    Audio out = read_audio(dir.file("slow.wav"));
    EXPECT_EQ(out.frames(), 105840u);  // 88200 · 120 / 100
    EXPECT_EQ(out.num_channels(), 2);
}

TEST(StretchCli, GivenTempoR2AndFlacOutput) {
    TempDir dir;
    write_audio(dir.file("loop.wav"), loopsep::testing::click_loop(2.0, 4), {});
    auto r = run_loopsep("stretch loop.wav --from-bpm 120 --to-bpm 128 --engine r2 --output fast.flac", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    Audio out = read_audio(dir.file("fast.flac"));
    EXPECT_EQ(out.frames(), 82688u);  // round(88200 · 120 / 128) = round(82687.5)
    // The file really is FLAC (format from the extension).
    EXPECT_EQ(loopsep::testing::read_text(dir.file("fast.flac")).substr(0, 4), "fLaC");
}

TEST(StretchCli, BadInputExitsNonZeroWithOneLineAndNoOutput) {
    TempDir dir;
    write_audio(dir.file("loop.wav"), loopsep::testing::click_loop(2.0, 4), {});
    loopsep::testing::write_text(dir.file("words.wav"), "this is not audio\n");
    write_audio(dir.file("odd.wav"), loopsep::testing::click_loop(40.0, 40), {});
    const std::set<std::string> before = entries(dir.path());
    struct Case {
        const char* args;
        int code;
        const char* must_name;
    };
    const Case cases[] = {
        {"stretch missing.wav --to-bpm 100 --output o.wav", 1, "missing.wav"},
        {"stretch words.wav --to-bpm 100 --output o.wav", 1, "words.wav"},
        {"stretch odd.wav --to-bpm 100 --output o.wav", 1, "odd.wav"},        // tempo cannot be estimated
        {"stretch loop.wav --to-bpm 0 --output o.wav", 2, "--to-bpm"},
        {"stretch loop.wav --to-bpm abc --output o.wav", 2, "--to-bpm"},
        {"stretch loop.wav --output o.wav", 2, "--to-bpm"},
        {"stretch loop.wav --to-bpm 100", 2, "--output"},
        {"stretch loop.wav --to-bpm 100 --engine r9 --output o.wav", 2, "--engine"},
        {"stretch loop.wav --to-bpm 400 --from-bpm 20 --output o.wav", 2, "ratio"},  // 1/20: not a tempo change
        {"stretch --to-bpm 100 --output o.wav", 2, "stretch"},
        {"stretch loop.wav --to-bpm 100 --key H --output o.wav", 2, "--key"},
    };
    for (const Case& c : cases) {
        auto r = run_loopsep(c.args, dir.path());
        EXPECT_EQ(r.exit_code, c.code) << c.args << "\n" << r.err;
        EXPECT_EQ(loopsep::testing::count_lines(r.err), 1) << c.args << "\n" << r.err;
        EXPECT_NE(r.err.find(c.must_name), std::string::npos) << c.args << "\n" << r.err;
        EXPECT_TRUE(r.out.empty()) << c.args;
    }
    EXPECT_EQ(entries(dir.path()), before);  // no output, no temporary left behind
}

namespace {
struct Chunks {
    bool acid = false, smpl = false;
    SF_LOOP_INFO acid_info{};
    SF_INSTRUMENT smpl_info{};
    sf_count_t frames = 0;
};
// The acid and smpl chunks as libsndfile reads them back.
Chunks read_chunks(const std::string& path) {
    Chunks c;
    SF_INFO info{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    if (!f) return c;
    c.frames = info.frames;
    c.acid = sf_command(f, SFC_GET_LOOP_INFO, &c.acid_info, sizeof c.acid_info) == SF_TRUE;
    c.smpl = sf_command(f, SFC_GET_INSTRUMENT, &c.smpl_info, sizeof c.smpl_info) == SF_TRUE;
    sf_close(f);
    return c;
}
}  // namespace

TEST(StretchCli, ALoopComesOutWithAcidAndSmplChunks) {
    TempDir dir;
    write_audio(dir.file("loop.wav"), loopsep::testing::click_loop(2.0, 4, 0.8f, 0.3f, 2), {});
    // Estimated tempo (120 BPM, 4 beats) → 100 BPM, key given: root note A = 69.
    auto r = run_loopsep("stretch loop.wav --to-bpm 100 --key Am --output slow.wav --json", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_TRUE(j["loop_chunks"].get<bool>());
    Chunks c = read_chunks(dir.file("slow.wav"));
    ASSERT_TRUE(c.acid);
    EXPECT_NEAR(c.acid_info.bpm, 100.0, 1e-4);
    EXPECT_EQ(c.acid_info.num_beats, 4);
    EXPECT_EQ(c.acid_info.root_key, 69);
    EXPECT_NE(c.acid_info.loop_mode, SF_LOOP_NONE);
    ASSERT_TRUE(c.smpl);
    EXPECT_EQ(c.smpl_info.basenote, 69);
    ASSERT_EQ(c.smpl_info.loop_count, 1);
    EXPECT_EQ(c.smpl_info.loops[0].mode, SF_LOOP_FORWARD);
    EXPECT_EQ(c.smpl_info.loops[0].start, 0u);
    EXPECT_EQ(c.smpl_info.loops[0].end, 105840u);  // the whole file: 88200 · 120 / 100 frames
    EXPECT_EQ(c.frames, 105840);

    // Its own output stretched again, given tempo, no --key: the root note travels from the input's acid chunk.
    r = run_loopsep("stretch slow.wav --from-bpm 100 --to-bpm 125 --output fast.wav", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    c = read_chunks(dir.file("fast.wav"));
    ASSERT_TRUE(c.acid);
    EXPECT_NEAR(c.acid_info.bpm, 125.0, 1e-4);
    EXPECT_EQ(c.acid_info.num_beats, 4);
    EXPECT_EQ(c.acid_info.root_key, 69);
    EXPECT_EQ(c.smpl_info.loops[0].end, 84672u);  // round(105840 · 100 / 125)

    // No key anywhere: loop chunks still, root note unknown (acid root flag unset, read back as -1).
    r = run_loopsep("stretch loop.wav --from-bpm 120 --to-bpm 90 --output plain.wav", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(read_loop_info(dir.file("plain.wav")).root_note, -1);
    EXPECT_EQ(read_loop_info(dir.file("plain.wav")).beats, 4);
}

TEST(StretchCli, NotALoopOrNotAWavGetsNoLoopChunks) {
    TempDir dir;
    write_audio(dir.file("loop.wav"), loopsep::testing::click_loop(2.0, 4), {});
    // 2 s at 110 BPM is 3.67 beats: not a whole number of beats, so not a loop.
    auto r = run_loopsep("stretch loop.wav --from-bpm 110 --to-bpm 100 --output odd.wav --json", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_FALSE(nlohmann::json::parse(r.out)["loop_chunks"].get<bool>());
    Chunks c = read_chunks(dir.file("odd.wav"));
    EXPECT_FALSE(c.acid);
    EXPECT_FALSE(c.smpl);
    // FLAC has no acid/smpl chunks: a loop written as FLAC is plain audio.
    r = run_loopsep("stretch loop.wav --from-bpm 120 --to-bpm 100 --output loop.flac --json", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_FALSE(nlohmann::json::parse(r.out)["loop_chunks"].get<bool>());
    EXPECT_EQ(read_chunks(dir.file("loop.flac")).frames, 105840);
}
