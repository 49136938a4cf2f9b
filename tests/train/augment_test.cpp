// Tests of the trainer's augmentation (models/src/augment.h) on analytic signals, and of a toy run
// that uses it.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <sstream>

#include "augment.h"
#include "loopsep/error.h"
#include "loopsep/model.h"
#include "loopsep/train.h"
#include "test_util.h"

using namespace loopsep;

namespace {

constexpr double kRate = 44100.0;

torch::Tensor sine_rows(const std::vector<double>& freqs_hz, int64_t samples) {
    auto x = torch::zeros({int64_t(freqs_hz.size()), samples});
    auto a = x.accessor<float, 2>();
    for (std::size_t r = 0; r < freqs_hz.size(); ++r)
        for (int64_t i = 0; i < samples; ++i) a[int64_t(r)][i] = float(std::sin(2.0 * M_PI * freqs_hz[r] * double(i) / kRate));
    return x;
}

// Frequency of the strongest DFT bin of `x[from, from + n)` (zero-padded 8×: ≈ 0.5 Hz resolution here).
double peak_hz(const torch::Tensor& row, int64_t from, int64_t n) {
    auto spec = torch::fft::rfft(row.narrow(0, from, n) * torch::hann_window(n), 8 * n).abs();
    return double(spec.argmax().item<int64_t>()) * kRate / double(8 * n);
}

}  // namespace

TEST(Augment, ResamplingMovesASineByTheRatioAndKeepsTheCentre) {
    const int64_t L = 32768;
    const double up = std::exp2(1.0 / 12.0), down = std::exp2(-2.0 / 12.0);
    auto x = sine_rows({440.0, 440.0, 1000.0}, L);
    auto y = augment::resample(x, {1.0f, float(up), float(down)});
    // Ratio 1 is the identity.
    EXPECT_LT((y[0] - x[0]).abs().max().item<double>(), 1e-6);
    // A semitone up and two down: the tone moves by the ratio (within half a hertz).
    EXPECT_NEAR(peak_hz(y[1], L / 4, L / 2), 440.0 * up, 0.6);
    EXPECT_NEAR(peak_hz(y[2], L / 4, L / 2), 1000.0 * down, 0.6);
    // Played faster about the centre, it reads past both ends of the window: zeros there.
    EXPECT_EQ(y[1][0].item<float>(), 0.0f);
    EXPECT_EQ(y[1][L - 1].item<float>(), 0.0f);
    // Interpolating a 1 kHz tone linearly loses little of its level (≈ 0.03 dB at 44.1 kHz).
    const double rms_in = x[2].narrow(0, L / 4, L / 2).pow(2).mean().sqrt().item<double>();
    const double rms_out = y[2].narrow(0, L / 4, L / 2).pow(2).mean().sqrt().item<double>();
    EXPECT_NEAR(20.0 * std::log10(rms_out / rms_in), 0.0, 0.1);
    // The CPU loop and the tensor form (what a GPU runs) agree.
    auto z = augment::resample_tensor_ops(x, {1.0f, float(up), float(down)});
    EXPECT_LT((y - z).abs().max().item<double>(), 1e-5);
}

TEST(Augment, RandomEqCurvesAreSmoothAndWithinTheirRange) {
    std::mt19937_64 rng(7);
    std::vector<augment::EqCurve> curves;
    for (int i = 0; i < 200; ++i) curves.push_back(augment::random_eq_curve(rng));
    const double max_db = 6.0;
    const int64_t n_fft = 2048;
    auto g = augment::eq_gains(curves, max_db, n_fft, 44100);
    ASSERT_EQ(g.size(0), 200);
    ASSERT_EQ(g.size(1), n_fft / 2 + 1);
    auto db = 20.0 * torch::log10(g);
    // Never beyond ±max_db, and the draws use the range (some curve reaches ¾ of it).
    EXPECT_LE(db.abs().max().item<double>(), max_db + 1e-4);
    EXPECT_GT(db.abs().max().item<double>(), 0.75 * max_db);
    // Smooth: the curve's slope is at most max_db/3·(2 + 3π) ≈ 23 dB per unit of log frequency, so
    // neighbouring bins above 500 Hz (0.0064 apart there) differ by < 0.15 dB.
    const int64_t k500 = int64_t(500.0 * double(n_fft) / 44100.0) + 1;
    auto steps = (db.narrow(1, k500 + 1, n_fft / 2 - k500) - db.narrow(1, k500, n_fft / 2 - k500)).abs();
    EXPECT_LT(steps.max().item<double>(), 0.15);
    EXPECT_GT(steps.max().item<double>(), 0.01);   // and not flat
    // Below 30 Hz the curve is flat (one value for every bin there).
    EXPECT_LT((db.select(1, 0) - db.select(1, 1)).abs().max().item<double>(), 1e-6);
    // No range, no EQ.
    auto flat = augment::eq_gains(curves, 0.0, n_fft, 44100);
    EXPECT_LT((flat - 1.0).abs().max().item<double>(), 1e-7);
}

TEST(Augment, ParametersAreValidated) {
    TrainParams p;
    p.out = "/tmp/x";
    p.augment_eq_db = -1;
    EXPECT_THROW(p.validate(), Error);
    p.augment_eq_db = 30;
    EXPECT_THROW(p.validate(), Error);
    p.augment_eq_db = 6;
    p.augment_pitch_semitones = 7;
    EXPECT_THROW(p.validate(), Error);
    p.augment_pitch_semitones = 1;
    EXPECT_NO_THROW(p.validate());
}
