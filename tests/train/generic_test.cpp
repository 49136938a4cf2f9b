// Tests of the trainer's generic sounds (models/src/generic.h): levels, bands, rhythm, and that two
// renderings of one timbre sound alike (what makes one a fair query for the other).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <torch/torch.h>

#include "generic.h"

using namespace loopsep;

namespace {

constexpr int kRate = 44100;
constexpr std::int64_t kBarStart = 5120, kBar = 88064, kWindow = 97280;

std::vector<float> render(const generic::Timbre& t, std::mt19937_64& rng) {
    std::vector<float> x(kWindow);
    generic::render(t, rng, kRate, kBarStart, kBar, x.data(), kWindow);
    return x;
}

// Power of each DFT bin of the whole rendering, and the frequency of bin k.
std::vector<double> power_spectrum(const std::vector<float>& x) {
    auto t = torch::from_blob(const_cast<float*>(x.data()), {kWindow}, torch::kFloat32);
    auto p = torch::fft::rfft(t).abs().pow(2).contiguous();
    return std::vector<double>(p.data_ptr<float>(), p.data_ptr<float>() + p.size(0));
}
double bin_hz(std::size_t k) { return double(k) * kRate / double(kWindow); }

// Power spectrum of the whole rendering in 24 log-spaced bands from 30 Hz to 20 kHz, as dB.
std::vector<double> band_profile_db(const std::vector<float>& x) {
    const auto pw = power_spectrum(x);
    std::vector<double> band(24, 1e-12);
    for (std::size_t k = 1; k < pw.size(); ++k) {
        const double f = bin_hz(k);
        if (f < 30 || f >= 20000) continue;
        band[std::size_t(24.0 * std::log(f / 30.0) / std::log(20000.0 / 30.0))] += pw[k];
    }
    for (auto& b : band) b = 10.0 * std::log10(b);
    return band;
}

// Mean absolute difference of two band profiles, each relative to its loudest band and floored 40 dB
// below it (bands a tone leaves empty hold only the clicks of its note ends: no part of its timbre).
double profile_distance_db(const std::vector<double>& a, const std::vector<double>& b) {
    const double pa = *std::max_element(a.begin(), a.end()), pb = *std::max_element(b.begin(), b.end());
    double d = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        d += std::abs(std::max(a[i] - pa, -40.0) - std::max(b[i] - pb, -40.0)) / double(a.size());
    return d;
}

double fraction_of_power_between(const std::vector<float>& x, double lo_hz, double hi_hz) {
    const auto pw = power_spectrum(x);
    double in = 0, all = 0;
    for (std::size_t k = 0; k < pw.size(); ++k) {
        all += pw[k];
        if (bin_hz(k) >= lo_hz && bin_hz(k) <= hi_hz) in += pw[k];
    }
    return in / all;
}

}  // namespace

TEST(GenericSounds, RenderingsHaveUnitRmsAndAreDeterministicForASeed) {
    std::mt19937_64 a(7), b(7);
    for (int i = 0; i < 20; ++i) {
        const auto ta = generic::random_timbre(a, kRate), tb = generic::random_timbre(b, kRate);
        const auto xa = render(ta, a), xb = render(tb, b);
        ASSERT_EQ(xa, xb) << i;
        double e = 0;
        for (float v : xa) { ASSERT_TRUE(std::isfinite(v)); e += double(v) * v; }
        EXPECT_NEAR(std::sqrt(e / kWindow), 1.0, 1e-3) << i;
    }
}

TEST(GenericSounds, NoiseStaysInItsBandAndTonesOnTheirHarmonics) {
    std::mt19937_64 rng(11);
    int noises = 0, tones = 0;
    double tone_fraction = 0;
    for (int i = 0; i < 60; ++i) {
        const auto t = generic::random_timbre(rng, kRate);
        const auto x = render(t, rng);
        if (t.noise && t.low_hz > 0) {
            // 4th-order edges: well over half the power within the pass band, nearly all within an
            // octave of it (the envelopes widen the spectrum a little).
            EXPECT_GT(fraction_of_power_between(x, t.low_hz / 2, t.high_hz * 2), 0.9) << t.low_hz << "-" << t.high_hz;
            ++noises;
        } else if (!t.noise) {
            // All notes lie between the root and its octave (scale degrees 0..12), so the power sits
            // from just under the root to the top harmonic of the octave — all but the clicks where a
            // long note is cut by the next (broadband; most of what is left for the lowest roots).
            const double top = t.f0_hz * 2.0 * double(t.harmonic_gain.size());
            const double f = fraction_of_power_between(x, t.f0_hz * 0.9, top * 1.1);
            EXPECT_GT(f, 0.8) << t.f0_hz;
            tone_fraction += f;
            ++tones;
        }
    }
    EXPECT_GT(noises, 10);
    EXPECT_GT(tones, 10);
    EXPECT_GT(tone_fraction / tones, 0.97);
}

TEST(GenericSounds, TwoRenderingsOfATimbreSoundAlikeAndUnlikeOtherTimbres) {
    // The query is another rendering of the target's timbre (new rhythm, new notes): its long-term
    // spectrum must match the target's much better than another timbre's does.
    std::mt19937_64 rng(5);
    double same = 0, other = 0;
    const int n = 40;
    std::vector<std::vector<double>> previous;
    for (int i = 0; i < n; ++i) {
        const auto t = generic::random_timbre(rng, kRate);
        const auto a = band_profile_db(render(t, rng)), b = band_profile_db(render(t, rng));
        same += profile_distance_db(a, b) / n;
        if (!previous.empty()) other += profile_distance_db(a, previous.back()) / (n - 1);
        previous.push_back(a);
    }
    EXPECT_LT(same, 3.0) << "same " << same << " dB, other " << other << " dB";
    EXPECT_GT(other, 5.0 * same) << "same " << same << " dB, other " << other << " dB";
}

TEST(GenericSounds, NotesFallOnTheBarsGrid) {
    // A pure tone with a short decay: each onset sits on a subdivision of the bar (1..16 steps).
    generic::Timbre t;
    t.noise = false;
    t.f0_hz = 440;
    t.harmonic_gain = {1.0f};
    t.scale_semitones = {0};
    t.decay_sec = 0.02;
    std::mt19937_64 rng(3);
    const std::int64_t sixteenth = kBar / 16;
    int onsets = 0;
    for (int r = 0; r < 10; ++r) {
        const auto x = render(t, rng);
        // Onsets: where the 1 ms envelope jumps from near silence.
        for (std::int64_t i = 441; i < kWindow; ++i) {
            if (std::abs(x[i]) < 1e-4f || std::abs(x[i - 441]) > 1e-6f) continue;
            bool silent_before = true;
            for (std::int64_t j = i - 441; j < i; ++j) silent_before &= std::abs(x[j]) < 1e-6f;
            if (!silent_before) continue;
            const double phase = double((i - kBarStart) % sixteenth + sixteenth) / double(sixteenth);
            const double off = std::min(phase - std::floor(phase), std::ceil(phase) - phase) * double(sixteenth);
            EXPECT_LT(off, 0.002 * kRate) << "onset at " << i;
            ++onsets;
            i += 441;
        }
    }
    EXPECT_GT(onsets, 0);
}
