// The engine's segment plumbing: plans, cross-fades and mask reconstruction,
// checked with masks whose answer is known (all-pass, all-stop, low-pass).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine_plan.h"
#include "engine_reconstruct.h"
#include "loopsep/error.h"
#include "loopsep/metrics.h"
#include "song_fixture.h"
#include "test_util.h"

using namespace loopsep;
using namespace loopsep::detail;

namespace {

// Bin masks given straight to the reconstructor: one "band" per bin.
BandToBin identity_map(const ModelConfig& cfg) {
    const int bins = cfg.num_bins();
    std::vector<int> start(std::size_t(bins) + 1);
    std::vector<int> band(std::size_t(bins), 0);
    for (int k = 0; k <= bins; ++k) start[std::size_t(k)] = k;
    for (int k = 0; k < bins; ++k) band[std::size_t(k)] = k;
    return BandToBin(start, band, std::vector<float>(std::size_t(bins), 1.0f), bins);
}

// Three bars at slightly different tempi plus a pickup and a tail.
std::vector<SegmentPlan> test_plans(std::size_t song_frames, const ModelConfig& cfg) {
    std::vector<Segment> segs = {{0, 30000, 1.0}, {30000, 118000, 4.0}, {118000, 210000, 4.0}, {210000, 300000, 4.0},
                                 {300000, song_frames, 2.0}};
    BeatGrid grid;
    grid.tempo_bpm = 120;
    return plan_segments(segs, grid, song_frames, 44100, cfg.reference_bpm, cfg.window_frames(), cfg.hop, false,
                         2 * kFadeFrames);
}

// Renders every plan with the same masks and streams them through a StemAccumulator, flushing after each
// segment as the engine does after each batch, into full-length stems.
std::vector<Audio> render_song(SegmentReconstructor& recon, const Audio& song, const std::vector<SegmentPlan>& plans,
                               const std::vector<std::vector<float>>& masks) {
    struct Collect : StemSink {
        std::vector<Audio> stems;
        void write(std::size_t start, std::size_t frames, const std::vector<std::vector<const float*>>& out) override {
            for (std::size_t t = 0; t < out.size(); ++t)
                for (std::size_t c = 0; c < out[t].size(); ++c)
                    std::copy_n(out[t][c], frames, stems[t].channels[c].begin() + long(start));
        }
    } sink;
    for (std::size_t t = 0; t < masks.size(); ++t) sink.stems.emplace_back(song.num_channels(), song.frames());
    StemAccumulator acc(masks.size(), song.num_channels(), song.frames(), false);
    for (std::size_t i = 0; i < plans.size(); ++i) {
        acc.add(recon.render(song, plans[i], masks), plans[i]);
        const std::size_t until = i + 1 < plans.size() ? plans[i + 1].start_frame - kFadeFrames : song.frames();
        acc.flush(until, song, sink);
        EXPECT_EQ(acc.flushed_until(), until);
    }
    return sink.stems;
}

}  // namespace

TEST(EnginePlan, SegmentsCoverTheSongAndCrossfadesSumToOne) {
    ModelConfig cfg;
    const std::size_t n = 340000;
    auto plans = test_plans(n, cfg);
    ASSERT_EQ(plans.size(), 5u);
    EXPECT_EQ(plans.front().start_frame, 0u);
    EXPECT_EQ(plans.back().end_frame, n);
    for (std::size_t i = 1; i < plans.size(); ++i) EXPECT_EQ(plans[i].start_frame, plans[i - 1].end_frame);
    // Bar 2 spans 88000 frames for 4 beats; the reference bar is 88200 → ratio 0.99773.
    EXPECT_NEAR(plans[1].song_per_ref, 88000.0 / 88200.0, 1e-9);
    for (std::size_t f = 0; f < n; f += 97) {
        double sum = 0;
        for (const auto& p : plans) sum += crossfade_weight(p, f, n, kFadeFrames);
        ASSERT_NEAR(sum, 1.0, 1e-12) << "frame " << f;
    }
    // Each segment's weights are 0 outside crossfade_span (the frames its reconstruction keeps), and the
    // span is no wider than a frame beyond where they are non-zero.
    for (const auto& p : plans) {
        const auto [first, last] = crossfade_span(p, n, kFadeFrames);
        ASSERT_LT(first, last);
        for (std::size_t f = first >= 5000 ? first - 5000 : 0; f < std::min(n, last + 5000); ++f)
            if (f < first || f >= last) ASSERT_EQ(crossfade_weight(p, f, n, kFadeFrames), 0.0) << "frame " << f;
        if (first > 0) EXPECT_GT(crossfade_weight(p, first + 1, n, kFadeFrames), 0.0);
        if (last < n) EXPECT_GT(crossfade_weight(p, last - 2, n, kFadeFrames), 0.0);
        EXPECT_EQ(first, p.start_frame == 0 ? 0 : p.start_frame - kFadeFrames / 2 - 1);
        EXPECT_EQ(last, p.end_frame == n ? n : p.end_frame + kFadeFrames / 2 + 1);
    }
}

TEST(EnginePlan, SliversAreMergedAndFixedGridIgnoresBeats) {
    ModelConfig cfg;
    std::vector<Segment> segs = {{0, 100, 0.01}, {100, 88300, 4.0}, {88300, 88400, 0.01}};
    BeatGrid grid;
    grid.tempo_bpm = 120;
    auto plans = plan_segments(segs, grid, 88400, 44100, 120, cfg.window_frames(), cfg.hop, false, 4096);
    ASSERT_EQ(plans.size(), 1u);
    EXPECT_EQ(plans[0].start_frame, 0u);
    EXPECT_EQ(plans[0].end_frame, 88400u);
    auto fixed = plan_segments({}, grid, 200000, 44100, 120, cfg.window_frames(), cfg.hop, true, 4096);
    ASSERT_EQ(fixed.size(), 3u);  // 88200 + 88200 + 23600
    EXPECT_DOUBLE_EQ(fixed[0].song_per_ref, 1.0);
}

TEST(EngineReconstruct, AllPassMasksGiveBackTheMixtureAndStopMasksSilence) {
    ModelConfig cfg;
    Audio song = loopsep::testing::make_test_song(120, 340000.0 / 44100);
    auto plans = test_plans(song.frames(), cfg);
    const std::size_t cells = std::size_t(cfg.window_frames()) * cfg.num_bins();
    auto recon = make_reconstructor(Reconstruction::MaskWarp, cfg, identity_map(cfg), {});
    const std::vector<Audio> stems =
        render_song(*recon, song, plans, {std::vector<float>(cells, 1.0f), std::vector<float>(cells, 0.0f)});
    double max_err = 0, max_zero = 0;
    for (int c = 0; c < 2; ++c)
        for (std::size_t i = 0; i < song.frames(); ++i) {
            max_err = std::max(max_err, double(std::fabs(stems[0].channels[c][i] - song.channels[c][i])));
            max_zero = std::max(max_zero, double(std::fabs(stems[1].channels[c][i])));
        }
    EXPECT_LT(max_err, 1e-4);
    EXPECT_EQ(max_zero, 0.0);
}

TEST(EngineReconstruct, LowPassMaskKeepsTheLowToneAndDropsTheHighOne) {
    ModelConfig cfg;
    Audio low_tone = loopsep::testing::sine(110, 340000.0 / 44100, 1);
    Audio song = low_tone;
    Audio high = loopsep::testing::sine(5000, 340000.0 / 44100, 1);
    for (std::size_t i = 0; i < song.frames(); ++i) song.channels[0][i] += high.channels[0][i];
    auto plans = test_plans(song.frames(), cfg);
    const int bins = cfg.num_bins();
    std::vector<float> low(std::size_t(cfg.window_frames()) * bins, 0.0f);
    const int cutoff = int(1000.0 / 44100 * cfg.n_fft);  // 1 kHz
    for (int t = 0; t < cfg.window_frames(); ++t)
        for (int k = 0; k < cutoff; ++k) low[std::size_t(t) * bins + k] = 1.0f;
    auto recon = make_reconstructor(Reconstruction::MaskWarp, cfg, identity_map(cfg), {});
    const std::vector<Audio> stems = render_song(*recon, song, plans, {low});
    const double sdr_mix = sdr_db(low_tone.channel(0), song.channel(0), song.frames());
    const double sdr_low = sdr_db(low_tone.channel(0), stems[0].channel(0), song.frames());
    EXPECT_NEAR(sdr_mix, 0.0, 0.1);
    EXPECT_GT(sdr_low, 40.0) << "low-passed " << sdr_low << " dB";
}

TEST(EngineReconstruct, JointNormalisationCapsTheSumAtOne) {
    std::vector<std::vector<float>> m = {{0.8f, 0.2f, 1.0f}, {0.6f, 0.3f, 1.0f}};
    normalise_jointly(m);
    EXPECT_NEAR(m[0][0] + m[1][0], 1.0f, 1e-6);
    EXPECT_NEAR(m[0][0] / m[1][0], 0.8f / 0.6f, 1e-5);
    EXPECT_FLOAT_EQ(m[0][1], 0.2f);  // under 1: untouched
    EXPECT_NEAR(m[0][2], 0.5f, 1e-6);
}

// The engine normalises the targets' masks in the net's bands, before they are expanded to bins: the
// expansion (with the model's mel map) must then keep every bin's sum ≤ 1, as normalising the bins would.
TEST(EngineReconstruct, MasksNormalisedInBandsSumToAtMostOneInEveryBin) {
    ModelConfig cfg;
    const loopsep::testing::TempDir dir;
    write_untrained_model(dir.file("model.safetensors"), cfg, 3);
    const BandToBin mel = Separator::load(dir.file("model.safetensors"))->band_to_bin();
    const std::size_t rows = 4, bands = std::size_t(cfg.num_bands), bins = std::size_t(cfg.num_bins());
    unsigned state = 5;
    std::vector<std::vector<float>> masks(4, std::vector<float>(rows * bands));
    for (auto& m : masks)
        for (auto& v : m) v = float((state = state * 1664525u + 1013904223u) >> 8) / float(1u << 24);
    // The largest sum over the targets of their bin masks.
    auto max_bin_sum = [&] {
        std::vector<double> sum(rows * bins, 0.0);
        for (const auto& m : masks) {
            const auto e = mel.expand_rows(m);
            for (std::size_t i = 0; i < e.size(); ++i) sum[i] += e[i];
        }
        return *std::max_element(sum.begin(), sum.end());
    };
    EXPECT_GT(max_bin_sum(), 1.5);  // four random masks do over-claim
    normalise_jointly(masks);
    const double normalised_max = max_bin_sum();
    EXPECT_LE(normalised_max, 1.0 + 1e-5);
    EXPECT_GT(normalised_max, 0.99);  // and are scaled to the whole bin, not below
}

// The engine moves the net's BAND masks to the song's frames and expands them there. The expansion is
// linear with weights summing to 1 per bin, so this must equal expanding first and moving the bin masks.
TEST(EngineReconstruct, WarpingBandMasksEqualsWarpingTheirBinMasks) {
    ModelConfig cfg;
    const loopsep::testing::TempDir dir;
    write_untrained_model(dir.file("model.safetensors"), cfg, 3);
    const BandToBin map = Separator::load(dir.file("model.safetensors"))->band_to_bin();
    ASSERT_EQ(map.num_bands(), cfg.num_bands);
    ASSERT_EQ(map.num_bins(), cfg.num_bins());
    Audio song = loopsep::testing::make_test_song(120, 340000.0 / 44100);
    auto plans = test_plans(song.frames(), cfg);
    std::vector<std::vector<float>> band_masks(2, std::vector<float>(std::size_t(cfg.window_frames()) * cfg.num_bands));
    unsigned state = 7;
    for (auto& m : band_masks)
        for (auto& v : m) v = float((state = state * 1664525u + 1013904223u) >> 8) / float(1u << 24);
    // The reconstructor normalises the masks it is given; these already sum to ≤ 1, in bands and so
    // in bins, so neither path changes them and the two must agree.
    normalise_jointly(band_masks);
    std::vector<std::vector<float>> bin_masks;
    for (const auto& m : band_masks) bin_masks.push_back(map.expand_rows(m));
    auto in_bands = make_reconstructor(Reconstruction::MaskWarp, cfg, map, {});
    auto in_bins = make_reconstructor(Reconstruction::MaskWarp, cfg, identity_map(cfg), {});
    const auto a = render_song(*in_bands, song, plans, band_masks);
    const auto b = render_song(*in_bins, song, plans, bin_masks);
    double max_diff = 0, peak = 0;
    for (std::size_t t = 0; t < a.size(); ++t)
        for (int c = 0; c < song.num_channels(); ++c)
            for (std::size_t i = 0; i < song.frames(); ++i) {
                max_diff = std::max(max_diff, double(std::fabs(a[t].channels[c][i] - b[t].channels[c][i])));
                peak = std::max(peak, double(std::fabs(b[t].channels[c][i])));
            }
    EXPECT_GT(peak, 0.01);  // the masks pass something
    EXPECT_LT(max_diff, 1e-5 * std::max(1.0, peak));
    const BandToBin one_bin({0, 1}, {0}, {1.0f}, 1);  // a map for another STFT size
    EXPECT_THROW(make_reconstructor(Reconstruction::MaskWarp, cfg, one_bin, {}), Error);
    // Inconsistent maps and partial rows are refused, not read past their end.
    EXPECT_THROW(BandToBin({0, 1}, {1}, {1.0f}, 1), Error);        // band index out of range
    EXPECT_THROW(BandToBin({0, 2}, {0}, {1.0f}, 1), Error);        // bin_start past the entries
    EXPECT_THROW(map.expand_rows(std::vector<float>(std::size_t(cfg.num_bands) + 1)), Error);
}

// BandToBin runs most bins as two-band runs; every bin must still get exactly its CSR sum, clamped:
// the model's mel map, and a hand-made map with lone entries (also on the last band), three-band bins
// and a bin whose two bands are not neighbours.
TEST(EngineReconstruct, BandToBinExpansionIsTheCsrSumBitForBit) {
    auto csr_expand = [](const std::vector<int>& start, const std::vector<int>& band, const std::vector<float>& w,
                         const std::vector<float>& row) {
        std::vector<float> out(start.size() - 1);
        for (std::size_t k = 0; k + 1 < start.size(); ++k) {
            float sum = 0.0f;
            for (int j = start[k]; j < start[k + 1]; ++j) sum += w[std::size_t(j)] * row[std::size_t(band[std::size_t(j)])];
            out[k] = std::clamp(sum, 0.0f, 1.0f);
        }
        return out;
    };
    unsigned state = 11;
    auto uniform = [&] { return float((state = state * 1664525u + 1013904223u) >> 8) / float(1u << 24); };
    // Hand-made: bins 0..7 over 4 bands.
    const std::vector<int> start = {0, 1, 3, 6, 7, 9, 10, 11, 12};
    const std::vector<int> band = {0, 0, 1, 0, 1, 2, 1, 1, 3, 2, 3, 3};
    std::vector<float> w(band.size());
    for (auto& x : w) x = 0.2f + 0.9f * uniform();  // some sums exceed 1: the clamp is exercised
    const BandToBin hand(start, band, w, 4);
    for (int trial = 0; trial < 20; ++trial) {
        std::vector<float> row(4);
        for (auto& x : row) x = uniform();
        std::vector<float> got(8);
        hand.expand(row.data(), got.data());
        EXPECT_EQ(got, csr_expand(start, band, w, row));
    }
    // The model's mel map, against the dense synthesis filterbank applied by hand.
    ModelConfig cfg;
    const loopsep::testing::TempDir dir;
    write_untrained_model(dir.file("model.safetensors"), cfg, 3);
    const BandToBin mel = Separator::load(dir.file("model.safetensors"))->band_to_bin();
    std::vector<float> row(std::size_t(cfg.num_bands));
    for (auto& x : row) x = uniform();
    const auto bins = mel.expand_rows(row);
    ASSERT_EQ(bins.size(), std::size_t(cfg.num_bins()));
    // Each bin is a convex combination of bands: inside [min, max] of the band values.
    const float lo = *std::min_element(row.begin(), row.end()), hi = *std::max_element(row.begin(), row.end());
    for (float v : bins) {
        EXPECT_GE(v, lo - 1e-6f);
        EXPECT_LE(v, hi + 1e-6f);
    }
    // A constant band mask is the same constant on every bin (the weights of each bin sum to 1).
    const auto flat = mel.expand_rows(std::vector<float>(std::size_t(cfg.num_bands), 0.37f));
    for (float v : flat) EXPECT_NEAR(v, 0.37f, 1e-6f);
}
