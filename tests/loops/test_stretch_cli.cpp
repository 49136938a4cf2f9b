// `loopsep stretch`: exact output length, tempo estimation, bad input contract.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <dirent.h>

#include <set>

#include "loop_signals.h"
#include "loopsep/audio.h"
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
