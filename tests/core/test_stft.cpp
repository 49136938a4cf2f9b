#include <gtest/gtest.h>

#include <cmath>

#include "loopsep/error.h"
#include "loopsep/stft.h"
#include "test_util.h"

using namespace loopsep;

namespace {
double max_abs_error(const std::vector<float>& a, const float* b) {
    double m = 0;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
    return m;
}
}  // namespace

TEST(Stft, PerfectReconstructionOnNoise) {
    Audio x = loopsep::testing::noise(1.3, 1, 7);
    for (StftParams p : {StftParams{2048, 512}, StftParams{1024, 256}, StftParams{512, 128}}) {
        Stft stft(p);
        Spectrogram s = stft.forward(x.channel(0), x.frames());
        EXPECT_EQ(s.num_frames, x.frames() / p.hop + 1);
        std::vector<float> y = stft.inverse(s, x.frames());
        EXPECT_LT(max_abs_error(y, x.channel(0)), 1e-5) << "n_fft " << p.n_fft;
    }
}

TEST(Stft, PerfectReconstructionOnSineSweep) {
    const int rate = 44100;
    std::vector<float> x(rate * 2);
    for (std::size_t i = 0; i < x.size(); ++i) {
        double t = double(i) / rate;
        x[i] = 0.8f * float(std::sin(2 * M_PI * (50 * t + 0.5 * (10000 - 50) / 2.0 * t * t)));  // 50 Hz → 10 kHz
    }
    Stft stft({2048, 512});
    std::vector<float> y = stft.inverse(stft.forward(x.data(), x.size()), x.size());
    EXPECT_LT(max_abs_error(y, x.data()), 1e-5);
}

TEST(Stft, SinePeaksInItsBin) {
    Audio x = loopsep::testing::sine(1000, 0.5);
    Stft stft({2048, 512});
    Spectrogram s = stft.forward(x.channel(0), x.frames());
    std::size_t t = s.num_frames / 2;
    int best = 0;
    for (int k = 1; k < s.num_bins; ++k)
        if (std::abs(s.at(t, k)) > std::abs(s.at(t, best))) best = k;
    EXPECT_EQ(best, int(std::lround(1000.0 * 2048 / 44100)));
}

TEST(Stft, ZeroMaskSilencesAndUnitMaskKeeps) {
    Audio x = loopsep::testing::noise(0.5, 1, 3);
    Stft stft({1024, 256});
    Spectrogram s = stft.forward(x.channel(0), x.frames());
    for (auto& v : s.data) v *= 0.0f;
    std::vector<float> y = stft.inverse(s, x.frames());
    double e = 0;
    for (float v : y) e += v * v;
    EXPECT_EQ(e, 0.0);
}

TEST(Stft, ValidatesParameters) {
    EXPECT_THROW(Stft({1000, 250}), Error);   // not a power of two
    EXPECT_THROW(Stft({1024, 0}), Error);
    EXPECT_THROW(Stft({1024, 1024}), Error);  // hop > n_fft/2 breaks reconstruction
    try {
        Stft({1000, 250});
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("n_fft"), std::string::npos);
        EXPECT_EQ(e.exit_code(), 2);
    }
}

TEST(Stft, FramesAtArbitraryCentresMatchTheRegularGrid) {
    Audio x = loopsep::testing::noise(0.3, 1, 11);
    Stft stft({1024, 256});
    Spectrogram regular = stft.forward(x.channel(0), x.frames());
    std::vector<long> centres = {0, 256 * 7, 256 * 20};
    Spectrogram picked = stft.forward_at(x.channel(0), x.frames(), centres);
    ASSERT_EQ(picked.num_frames, 3u);
    for (int k = 0; k < picked.num_bins; ++k) {
        EXPECT_EQ(picked.at(1, k), regular.at(7, k));
        EXPECT_EQ(picked.at(2, k), regular.at(20, k));
    }
    // A centre past the end sees only zero padding.
    Spectrogram outside = stft.forward_at(x.channel(0), x.frames(), {long(x.frames()) + 2048});
    for (int k = 0; k < outside.num_bins; ++k) EXPECT_EQ(std::abs(outside.at(0, k)), 0.0f);
}

TEST(Stft, MaskedInverseEqualsTheInverseOfTheMaskedSpectrogram) {
    Audio x = loopsep::testing::noise(0.8, 1, 11);
    Stft stft({2048, 512});
    const Spectrogram s = stft.forward(x.channel(0), x.frames());
    std::vector<float> mask(s.data.size());
    for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = float((i * 7919) % 1000) / 999.0f;  // 0..1, uneven
    Spectrogram masked = s;
    for (std::size_t i = 0; i < mask.size(); ++i) masked.data[i] *= mask[i];
    const std::vector<float> expected = stft.inverse(masked, x.frames());
    const std::vector<float> fused = stft.inverse(s, x.frames(), mask.data());
    ASSERT_EQ(fused.size(), expected.size());
    EXPECT_LT(max_abs_error(fused, expected.data()), 1e-6);
    // and the mask really acts: half the bins' gain removed changes the signal
    EXPECT_GT(max_abs_error(fused, x.channel(0)), 1e-2);

    // Rows made on demand (as the engine expands band masks frame by frame) give the same samples, and
    // each frame's row is asked for once, in order.
    std::vector<std::size_t> asked;
    const std::vector<float> by_rows =
        stft.inverse(s, x.frames(), [&](std::size_t t, float* scratch) {
            asked.push_back(t);
            std::copy_n(mask.data() + t * std::size_t(s.num_bins), s.num_bins, scratch);
            return static_cast<const float*>(scratch);
        });
    ASSERT_EQ(by_rows.size(), expected.size());
    EXPECT_EQ(max_abs_error(by_rows, fused.data()), 0.0);
    ASSERT_FALSE(asked.empty());
    for (std::size_t i = 0; i < asked.size(); ++i) ASSERT_EQ(asked[i], i);
}

TEST(Stft, PairedTransformsEqualThoseOfEachChannel) {
    Audio x = loopsep::testing::noise(0.9, 2, 13);
    for (StftParams p : {StftParams{2048, 512}, StftParams{1024, 256}}) {
        Stft stft(p);
        const Spectrogram left = stft.forward(x.channel(0), x.frames()), right = stft.forward(x.channel(1), x.frames());
        const PairSpectrogram pair = stft.forward_pair(x.channel(0), x.channel(1), x.frames());
        ASSERT_EQ(pair.num_frames, left.num_frames);
        // The packed spectrum is L + i·R: bin k ≤ n/2 directly, bin n − k through L's and R's symmetry.
        double worst = 0.0, scale = 0.0;
        const int n = p.n_fft;
        for (std::size_t t = 0; t < pair.num_frames; ++t)
            for (int k = 0; k < left.num_bins; ++k) {
                const std::complex<float> i1(0.0f, 1.0f);
                const auto low = left.at(t, k) + i1 * right.at(t, k);
                const auto high = std::conj(left.at(t, k)) + i1 * std::conj(right.at(t, k));
                worst = std::max(worst, double(std::abs(pair.data[t * n + k] - low)));
                if (k > 0 && k < n / 2) worst = std::max(worst, double(std::abs(pair.data[t * n + (n - k)] - high)));
                scale = std::max(scale, double(std::abs(low)));
            }
        EXPECT_LT(worst, 1e-5 * scale) << "n_fft " << n;

        std::vector<float> mask(left.data.size());
        for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = float((i * 7919) % 1000) / 999.0f;  // 0..1, uneven
        std::size_t rows_asked = 0;
        const Stft::MaskRowFn rows = [&](std::size_t t, float*) {
            ++rows_asked;
            return static_cast<const float*>(mask.data() + t * std::size_t(left.num_bins));
        };
        const auto masked = stft.inverse_pair(pair, x.frames(), rows);
        EXPECT_EQ(rows_asked, left.num_frames);  // one row per frame for both channels
        const std::vector<float> l = stft.inverse(left, x.frames(), mask.data()), r = stft.inverse(right, x.frames(), mask.data());
        ASSERT_EQ(masked[0].size(), x.frames());
        ASSERT_EQ(masked[1].size(), x.frames());
        EXPECT_LT(max_abs_error(masked[0], l.data()), 1e-6) << "n_fft " << n;
        EXPECT_LT(max_abs_error(masked[1], r.data()), 1e-6) << "n_fft " << n;
        EXPECT_GT(max_abs_error(masked[0], masked[1].data()), 1e-2);  // the channels did not get mixed up
        EXPECT_GT(max_abs_error(masked[0], x.channel(0)), 1e-2);      // and the gains acted
        // Without gains: both channels back to float precision.
        const auto unmasked = stft.inverse_pair(pair, x.frames(), Stft::MaskRowFn());
        EXPECT_LT(max_abs_error(unmasked[0], x.channel(0)), 1e-5);
        EXPECT_LT(max_abs_error(unmasked[1], x.channel(1)), 1e-5);
    }
    Stft small({1024, 256});
    const PairSpectrogram other = Stft({2048, 512}).forward_pair(x.channel(0), x.channel(1), x.frames());
    EXPECT_THROW(small.inverse_pair(other, x.frames(), Stft::MaskRowFn()), Error);
}

TEST(Stft, InverseOfASpanIsThatPartOfTheWholeInverseAndSkipsFramesThatMissIt) {
    Audio x = loopsep::testing::noise(0.9, 2, 17);
    Stft stft({2048, 512});
    const Spectrogram left = stft.forward(x.channel(0), x.frames());
    const PairSpectrogram pair = stft.forward_pair(x.channel(0), x.channel(1), x.frames());
    std::vector<float> mask(left.data.size());
    for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = float((i * 7919) % 1000) / 999.0f;
    std::vector<std::size_t> asked;
    const Stft::MaskRowFn rows = [&](std::size_t t, float*) {
        asked.push_back(t);
        return static_cast<const float*>(mask.data() + t * std::size_t(left.num_bins));
    };
    const auto whole_pair = stft.inverse_pair(pair, x.frames(), rows);
    const auto whole = stft.inverse(left, x.frames(), rows);
    // Spans inside, at either end, of one sample, and running past the end (clipped).
    for (SampleSpan keep : {SampleSpan{10000, 5000}, SampleSpan{0, 700}, SampleSpan{x.frames() - 900, 900},
                            SampleSpan{20000, 1}, SampleSpan{30000, x.frames()}}) {
        const std::size_t count = std::min(keep.count, x.frames() - keep.first);
        asked.clear();
        const auto part_pair = stft.inverse_pair(pair, x.frames(), rows, keep);
        // Exactly the frames whose windows [t·512 − 1024, t·512 + 1024) reach the span were transformed.
        ASSERT_FALSE(asked.empty());
        EXPECT_EQ(asked.front(), keep.first < 1024 ? 0 : (keep.first - 1024) / 512 + 1) << keep.first;
        EXPECT_EQ(asked.back(), std::min(left.num_frames - 1, (keep.first + count + 1024 - 1) / 512)) << keep.first;
        EXPECT_EQ(asked.size(), asked.back() - asked.front() + 1);
        const auto part = stft.inverse(left, x.frames(), rows, keep);
        for (int c = 0; c < 2; ++c) {
            ASSERT_EQ(part_pair[c].size(), count);
            for (std::size_t i = 0; i < count; ++i) ASSERT_EQ(part_pair[c][i], whole_pair[c][keep.first + i]) << i;
        }
        ASSERT_EQ(part.size(), count);
        for (std::size_t i = 0; i < count; ++i) ASSERT_EQ(part[i], whole[keep.first + i]) << i;
    }
    EXPECT_TRUE(stft.inverse_pair(pair, x.frames(), rows, SampleSpan{x.frames(), 10})[0].empty());
}
