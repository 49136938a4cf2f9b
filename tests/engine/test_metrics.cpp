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
