// `loopsep eval`: levels of both signals, a silent estimate said so, and --mixture's baseline score.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "loopsep/audio.h"
#include "loopsep/metrics.h"
#include "test_util.h"

using namespace loopsep;
using loopsep::testing::run_loopsep;
using loopsep::testing::TempDir;

namespace {

// ref + other = mix; est = ref + a little of the other: better than the mixture, worse than perfect.
struct Signals {
    TempDir dir;
    Audio ref = loopsep::testing::sine(220, 2.0, 2, 44100, 0.5f), other = loopsep::testing::noise(2.0, 2, 7, 44100, 0.3f);
    Audio mix = ref, est = ref;
    Signals() {
        WriteOptions f32;
        f32.bits = SampleBits::Float32;
        for (int c = 0; c < 2; ++c)
            for (std::size_t i = 0; i < ref.frames(); ++i) {
                mix.channels[c][i] += other.channels[c][i];
                est.channels[c][i] += 0.1f * other.channels[c][i];
            }
        write_audio(dir.file("ref.wav"), ref, f32);
        write_audio(dir.file("mix.wav"), mix, f32);
        write_audio(dir.file("est.wav"), est, f32);
        write_audio(dir.file("silent.wav"), Audio(2, ref.frames(), 44100), f32);
    }
};

}  // namespace

TEST(EvalLevels, MixtureBaselineAndLevelsAreReported) {
    Signals s;
    auto r = run_loopsep("eval --reference ref.wav --estimate est.wav --mixture mix.wav --json", s.dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    const QualityScores want_est = compare(s.ref, s.est), want_mix = compare(s.ref, s.mix);
    EXPECT_NEAR(j["sdr_db"].get<double>(), want_est.sdr_db, 1e-3);
    EXPECT_NEAR(j["mixture"]["sdr_db"].get<double>(), want_mix.sdr_db, 1e-3);
    EXPECT_NEAR(j["mixture"]["si_sdr_db"].get<double>(), want_mix.si_sdr_db, 1e-3);
    // By construction: the residual noise is 20 dB down, so the estimate gains 20 dB over the mixture.
    EXPECT_NEAR(j["mixture"]["sdr_improvement_db"].get<double>(), 20.0, 0.01);
    EXPECT_NEAR(j["reference_level_dbfs"].get<double>(), 20 * std::log10(0.5 / std::sqrt(2.0)), 0.01);  // -9.03
    EXPECT_FALSE(j["estimate_silent"].get<bool>());
    EXPECT_TRUE(r.err.empty()) << r.err;

    auto text = run_loopsep("eval --reference ref.wav --estimate est.wav --mixture mix.wav", s.dir.path());
    ASSERT_EQ(text.exit_code, 0) << text.err;
    EXPECT_NE(text.out.find("mixture as estimate: SDR"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("+20.00 dB SDR over it"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("levels: reference -9.0 dBFS, estimate"), std::string::npos) << text.out;
    EXPECT_EQ(text.out.find("silent"), std::string::npos) << text.out;
}

TEST(EvalLevels, ASilentEstimateIsSaidSo) {
    Signals s;
    auto r = run_loopsep("eval --reference ref.wav --estimate silent.wav", s.dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("estimate -150.0 dBFS (estimate is silent)"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("warning: silent.wav: estimate is silent"), std::string::npos) << r.err;
    auto j = nlohmann::json::parse(run_loopsep("eval --reference ref.wav --estimate silent.wav --json", s.dir.path()).out);
    EXPECT_TRUE(j["estimate_silent"].get<bool>());
}
