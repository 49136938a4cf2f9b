// train's progress bar: over the steps on a terminal (the trainer's log lines clear it first);
// nothing of it when stderr is not a terminal.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "loopsep/model.h"
#include "loopsep/train.h"
#include "test_util.h"
#include "tty_util.h"

using namespace loopsep;
using loopsep::testing::run_loopsep;
using loopsep::testing::run_loopsep_on_tty;
using loopsep::testing::TempDir;

namespace {

// Three toy songs of one sine and one noise segment each, in the CLI's default geometry.
SegmentCache tiny_cache(const ModelConfig& c) {
    SegmentCache cache;
    cache.window_samples = std::uint32_t(c.num_window_samples());
    cache.instruments = {"sine", "noise"};
    cache.sources = {"sine-src", "noise-src"};
    cache.description = "toy";
    std::mt19937 rng(5);
    std::normal_distribution<float> n(0.0f, 0.2f);
    const std::uint32_t L = cache.window_samples;
    for (int s = 0; s < 3; ++s) {
        cache.songs.push_back("song" + std::to_string(s));
        std::vector<float> sine(L), noise(L);
        for (std::uint32_t i = 0; i < L; ++i) {
            sine[i] = 0.3f * float(std::sin(2 * M_PI * (300.0 + 150.0 * s) * i / 44100.0));
            noise[i] = (i / 2000) % 2 == 0 ? n(rng) : 0.0f;
        }
        auto a = encode_segment(sine.data(), L);
        a.instrument = 0; a.source = 0; a.song = std::uint32_t(s); a.active = true;
        auto b = encode_segment(noise.data(), L);
        b.instrument = 1; b.source = 1; b.song = std::uint32_t(s); b.active = true;
        cache.segments.push_back(a);
        cache.segments.push_back(b);
    }
    return cache;
}

}  // namespace

TEST(TrainProgress, ABarOverTheStepsOnATerminalOnly) {
    if (!loopsep::testing::has_script_command()) GTEST_SKIP() << "script(1) (util-linux) is not installed";
    TempDir dir;
    write_segment_cache(dir.file("a.cache"), tiny_cache(ModelConfig{}));
    const std::string run = "train --cache a.cache --steps 3 --batch 2 --threads 1 --out ";
    auto tty = run_loopsep_on_tty(run + "m1.safetensors", dir.path(), dir.file("out.txt"));
    ASSERT_EQ(tty.exit_code, 0) << tty.terminal;
    EXPECT_NE(tty.terminal.find("train ["), std::string::npos) << tty.terminal;
    EXPECT_NE(tty.terminal.find("step 3/3"), std::string::npos) << tty.terminal;
    EXPECT_NE(tty.terminal.find("done after 3 steps"), std::string::npos) << tty.terminal;  // the log is kept

    auto quiet = run_loopsep_on_tty(run + "m2.safetensors --quiet", dir.path(), dir.file("out2.txt"));
    ASSERT_EQ(quiet.exit_code, 0) << quiet.terminal;
    EXPECT_EQ(quiet.terminal.find("train ["), std::string::npos) << quiet.terminal;

    auto piped = run_loopsep(run + "m3.safetensors", dir.path());
    ASSERT_EQ(piped.exit_code, 0) << piped.err;
    EXPECT_EQ(piped.err.find("train ["), std::string::npos) << piped.err;
    EXPECT_EQ(piped.err.find('\r'), std::string::npos) << piped.err;
}
