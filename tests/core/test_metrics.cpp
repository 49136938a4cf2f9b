#include <gtest/gtest.h>

#include <cmath>

#include "loopsep/error.h"
#include "loopsep/metrics.h"
#include "test_util.h"

using namespace loopsep;

TEST(Metrics, SdrMatchesHandComputedValues) {
    // s = [1, 2, 3, 4], ŝ = [1, 2, 3, 3]: |s|² = 30, |s-ŝ|² = 1 → 10·log10(30) = 14.771 dB.
    std::vector<float> s{1, 2, 3, 4}, e{1, 2, 3, 3};
    EXPECT_NEAR(sdr_db(s.data(), e.data(), 4), 10 * std::log10(30.0), 1e-6);
    // Half the amplitude: |s-ŝ|² = |s|²/4 → 6.0206 dB.
    std::vector<float> half{0.5f, 1, 1.5f, 2};
    EXPECT_NEAR(sdr_db(s.data(), half.data(), 4), 10 * std::log10(4.0), 1e-6);
}

TEST(Metrics, SiSdrIgnoresScaleButNotNoise) {
    std::vector<float> s{1, -2, 3, -4}, scaled{0.5f, -1, 1.5f, -2};
    EXPECT_GT(si_sdr_db(s.data(), scaled.data(), 4), 100.0);  // exact up to scale
    // ŝ = s + n with n ⟂ s: SI-SDR = 10·log10(|s|²/|n|²). s·n = 1·1 + (-2)·1 + 3·1 + (-4)·(-0.5) ... choose n orthogonal:
    std::vector<float> n{2, 1, 0, 0};  // s·n = 2 - 2 = 0
    std::vector<float> est(4);
    for (int i = 0; i < 4; ++i) est[i] = s[i] + n[i];
    EXPECT_NEAR(si_sdr_db(s.data(), est.data(), 4), 10 * std::log10(30.0 / 5.0), 1e-6);
}

TEST(Metrics, CompareAcrossChannelsAndRejectsMismatchedLengths) {
    Audio ref = loopsep::testing::sine(440, 0.2, 2);
    Audio est = ref;
    for (auto& ch : est.channels)
        for (auto& v : ch) v *= 0.5f;
    QualityScores q = compare(ref, est);
    EXPECT_NEAR(q.sdr_db, 6.0206, 1e-3);
    Audio shorter(2, ref.frames() / 2);
    EXPECT_THROW(compare(ref, shorter), Error);
}

TEST(Metrics, LeakageCountsOnlyAudibleBarsWhereTheTargetIsSilent) {
    // 4 s: the target (a sine) plays in the first 2 s; the rest (noise, −10 dBFS-ish) all along.
    const int rate = kEngineRateHz;
    Audio rest = loopsep::testing::noise(4.0, 1, 7), target = loopsep::testing::sine(440, 4.0);
    std::fill(target.channels[0].begin() + 2 * rate, target.channels[0].end(), 0.0f);
    Audio mix = rest, est = target;
    for (std::size_t i = 0; i < mix.frames(); ++i) {
        mix.channels[0][i] += target.channels[0][i];
        est.channels[0][i] += 0.01f * rest.channels[0][i];   // the rest leaks in at −40 dB
    }
    const std::vector<TimeSpan> present{{0.0, 2.0}};
    auto l = leakage_where_silent(target, est, mix, present);
    EXPECT_NEAR(l.leakage_db, -40.0, 0.01);
    EXPECT_NEAR(l.measured_sec, 2.0, 0.05);

    // The target's release tail rings on at −6 dB of the mixture for the first second after its span:
    // those blocks are not "silent" and do not count.
    Audio tail = target;
    for (std::size_t i = 2 * rate; i < std::size_t(3 * rate); ++i) tail.channels[0][i] = 0.5f * rest.channels[0][i];
    l = leakage_where_silent(tail, est, mix, present);
    EXPECT_NEAR(l.leakage_db, -40.0, 0.01);
    EXPECT_NEAR(l.measured_sec, 1.0, 0.05);

    // A song end at −90 dBFS: nothing audible to leak into, so not measurable (NaN), whatever the estimate.
    Audio quiet = mix;
    for (std::size_t i = 2 * rate; i < quiet.frames(); ++i) quiet.channels[0][i] *= 3e-5f;
    l = leakage_where_silent(target, est, quiet, present);
    EXPECT_TRUE(std::isnan(l.leakage_db));
    EXPECT_LT(l.measured_sec, 0.05);

    EXPECT_THROW(leakage_where_silent(target, loopsep::testing::sine(440, 4.0, 2), mix, present), Error);
}
