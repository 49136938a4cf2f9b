// Mask warping (default) and audio re-stretching (measured alternative).
#include "engine_reconstruct.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "loopsep/error.h"
#include "loopsep/parallel.h"
#include "loopsep/stft.h"
#include "loopsep/vector_clones.h"

namespace loopsep::detail {

namespace {
// Element-wise passes of normalise_jointly (vectorised; also built for AVX2). Element by element across
// the targets (the obvious loop) ran 2.5 % of a four-target run's CPU time, unvectorised.
LOOPSEP_VECTOR_CLONES void add_to(float* __restrict sum, const float* __restrict m, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) sum[i] += m[i];
}
// sum → min(1 / sum, 1) = 1 / max(sum, 1) for sums ≥ 0 (0 gives 1). Written as m / max(sum, 1), GCC
// turned the division into a scalar loop with a branch (it knows x / 1 is x); this form vectorises.
LOOPSEP_VECTOR_CLONES void gain_where_above_one(float* __restrict sum, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) sum[i] = std::min(1.0f / sum[i], 1.0f);
}
LOOPSEP_VECTOR_CLONES void multiply_by(float* __restrict m, const float* __restrict gain, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) m[i] *= gain[i];
}
}  // namespace

void normalise_jointly(std::vector<std::vector<float>>& masks) {
    if (masks.size() < 2) return;
    const std::size_t n = masks[0].size();
    for (const auto& m : masks)
        if (m.size() != n) throw std::logic_error("normalise_jointly: masks differ in size");
    std::vector<float> sum(n, 0.0f);
    for (const auto& m : masks) add_to(sum.data(), m.data(), n);
    gain_where_above_one(sum.data(), n);  // once, for every target
    for (auto& m : masks) multiply_by(m.data(), sum.data(), n);
}

namespace {
// o += w · x (vectorised; also built for AVX2). Branch-free: weight 0 adds nothing to a finite chunk.
LOOPSEP_VECTOR_CLONES void add_weighted(float* __restrict o, const float* __restrict w, const float* __restrict x, long n) {
    for (long i = 0; i < n; ++i) o[i] += w[i] * x[i];
}
}  // namespace

StemAccumulator::StemAccumulator(std::size_t num_targets, int num_channels, std::size_t song_frames, bool residual)
    : song_frames_(song_frames), residual_(residual),
      held_(num_targets, std::vector<std::vector<float>>(std::size_t(num_channels))),
      residual_chunk_(residual ? std::size_t(num_channels) : 0) {}

void StemAccumulator::add(const SegmentAudio& segment, const SegmentPlan& plan) { add(&segment, &plan, 1, 1); }

void StemAccumulator::add(const SegmentAudio* segments, const SegmentPlan* plans, std::size_t count, int threads) {
    // Each segment's cross-fade weights, shared by every target and channel.
    std::vector<long> from(count), to(count);
    std::vector<std::vector<float>> weights(count);
    for (std::size_t i = 0; i < count; ++i) {
        const auto span = crossfade_span(plans[i], song_frames_, kFadeFrames);
        from[i] = long(span.first);
        to[i] = long(span.second);
        if (from[i] < long(base_)) throw std::logic_error("StemAccumulator: segment reaches before the flushed part");
    }
    parallel_for(count, threads, [&](std::size_t i, std::size_t) {
        weights[i].resize(std::size_t(std::max<long>(0, to[i] - from[i])));
        for (long n = from[i]; n < to[i]; ++n)
            weights[i][std::size_t(n - from[i])] = float(crossfade_weight(plans[i], std::size_t(n), song_frames_, kFadeFrames));
    });
    // Every (target, channel) stream on its own: segments in order within a stream, so the sums are
    // the same floats whatever the thread count.
    const std::size_t channels = held_.empty() ? 0 : held_[0].size();
    parallel_for(held_.size() * channels, threads, [&](std::size_t stream, std::size_t) {
        const std::size_t t = stream / channels, c = stream % channels;
        auto& out = held_[t][c];
        for (std::size_t i = 0; i < count; ++i) {
            if (t >= segments[i].audio.size() || c >= segments[i].audio[t].size()) continue;
            const auto& chunk = segments[i].audio[t][c];
            const long lo = std::max(from[i], segments[i].start), hi = std::min(to[i], segments[i].start + long(chunk.size()));
            if (hi <= lo) continue;
            if (out.size() < std::size_t(hi) - base_) out.resize(std::size_t(hi) - base_, 0.0f);
            add_weighted(out.data() + (std::size_t(lo) - base_), weights[i].data() + (lo - from[i]),
                         chunk.data() + (lo - segments[i].start), hi - lo);
        }
    });
}

void StemAccumulator::flush(std::size_t until, const Audio& song, StemSink& sink) {
    until = std::min(until, song_frames_);
    if (until <= base_) return;
    const std::size_t n = until - base_;
    for (auto& target : held_)
        for (auto& ch : target)
            if (ch.size() < n) ch.resize(n, 0.0f);  // no segment reached here: silence
    std::vector<std::vector<const float*>> outputs;
    for (const auto& target : held_) {
        outputs.emplace_back();
        for (const auto& ch : target) outputs.back().push_back(ch.data());
    }
    if (residual_) {
        outputs.emplace_back();
        for (std::size_t c = 0; c < residual_chunk_.size(); ++c) {
            auto& r = residual_chunk_[c];
            r.assign(song.channel(int(c)) + base_, song.channel(int(c)) + until);
            for (const auto& target : held_)
                for (std::size_t i = 0; i < n; ++i) r[i] -= target[c][i];
            outputs.back().push_back(r.data());
        }
    }
    sink.write(base_, n, outputs);
    // Keep what is not final yet at the front; capacity stays, so later batches reuse the memory.
    for (auto& target : held_)
        for (auto& ch : target) ch.erase(ch.begin(), ch.begin() + long(n));
    base_ = until;
}

namespace {

// One delta-logit array per target, each window_frames × num_bins (a usage error otherwise).
void check_bin_logits(const std::vector<std::vector<float>>& masks, const std::vector<std::vector<float>>& logits,
                      const ModelConfig& cfg) {
    if (logits.size() != masks.size())
        throw usage_error("render: " + std::to_string(logits.size()) + " bin logit arrays for " +
                          std::to_string(masks.size()) + " targets");
    for (const auto& l : logits)
        if (l.size() != std::size_t(cfg.window_frames()) * std::size_t(cfg.num_bins()))
            throw usage_error("render: bin logits of " + std::to_string(l.size()) + " values, expected window_frames × num_bins");
}

// Adds each target's delta logits (on the net's grid; warped to the rows of `src` when given, else the
// masks are on that grid) to its bin masks, then normalises the targets jointly where a delta moved one.
void add_bin_logits(std::vector<std::vector<float>>& masks, const std::vector<std::vector<float>>& logits,
                    const ModelConfig& cfg, const std::vector<double>* src) {
    check_bin_logits(masks, logits, cfg);
    bool moved = false;
    for (std::size_t t = 0; t < masks.size(); ++t) {
        const auto d = src ? warp_rows(logits[t].data(), std::size_t(cfg.window_frames()), cfg.num_bins(), *src) : logits[t];
        moved |= apply_bin_logits(masks[t].data(), d.data(), std::min(masks[t].size(), d.size()));
    }
    if (moved) normalise_jointly(masks);  // unmoved, they are the jointly normalised band masks expanded
}

// Default: warp the masks onto the original song's STFT frames and filter the original mixture.
class MaskWarpReconstructor : public SegmentReconstructor {
public:
    MaskWarpReconstructor(const ModelConfig& cfg, const BandToBin& band_to_bin, const BinRefiner& refiner)
        : cfg_(cfg), band_to_bin_(band_to_bin), refiner_(refiner), stft_({cfg.n_fft, cfg.hop}) {}

    using SegmentReconstructor::render;
    SegmentAudio render(const Audio& song, const SegmentPlan& plan, std::vector<std::vector<float>> masks,
                        const std::vector<std::vector<float>>& bin_logits) override {
        normalise_jointly(masks);
        const int hop = cfg_.hop, bands = band_to_bin_.num_bands(), window = cfg_.window_frames();
        // Only the cross-fade span is kept (StemAccumulator weighs it). It is rebuilt from a chunk aligned
        // to the hop grid that reaches a full FFT beyond it on each side, so that every frame reaching
        // the span is a whole frame of the song (frames are the same song-aligned frames for every chunk).
        const auto [keep_from, keep_to] = crossfade_span(plan, song.frames(), kFadeFrames);
        const long chunk_start = ((long(keep_from) - cfg_.n_fft) / hop - 1) * hop;
        const long chunk_end = long(keep_to) + cfg_.n_fft;
        const std::size_t chunk_frames = std::size_t(chunk_end - chunk_start);
        const SampleSpan keep{std::size_t(long(keep_from) - chunk_start), keep_to - keep_from};
        std::vector<double> src(stft_.num_frames_for(chunk_frames));
        for (std::size_t f = 0; f < src.size(); ++f)
            src[f] = std::clamp(plan.ref_frame_for(double(chunk_start) + double(f) * hop, hop), 0.0, double(window - 1));
        // Warped in the band domain (10× fewer columns), then expanded to bins frame by frame inside the
        // inverse STFT (a row stays in cache; no frames × bins mask per target): the expansion is linear
        // with weights summing to 1, so this equals warping the bin masks.
        std::vector<std::vector<float>> warped;
        for (const auto& m : masks) warped.push_back(warp_rows(m.data(), std::size_t(window), bands, src));
        SegmentAudio out;
        out.start = long(keep_from);
        out.audio.assign(masks.size(), std::vector<std::vector<float>>(song.num_channels()));
        std::vector<std::vector<float>> x;
        for (int c = 0; c < song.num_channels(); ++c)
            x.push_back(detail::extract_region(song.channels[c], double(chunk_start), chunk_frames));
        // Stereo: both channels as one complex signal (half the FFTs; one mask expansion per frame).
        PairSpectrogram pair;
        std::vector<Spectrogram> mix;
        if (x.size() == 2) pair = stft_.forward_pair(x[0].data(), x[1].data(), chunk_frames);
        else for (const auto& ch : x) mix.push_back(stft_.forward(ch.data(), ch.size()));
        // A model with per-bin logits: whole bin masks, each bin's delta logit warped like the band masks
        // (a linear map of the top level's features, so this equals warping those), added to the expanded
        // mask's logit, then the targets normalised jointly again (per bin, as each may now claim more).
        // A model that refines its bins: whole bin masks, refined on the song's own frames with the
        // chunk's mid magnitudes (the net's input is the stretched mid; the refinement looks only at a bin's
        // neighbours), then normalised jointly again (two targets may both have claimed more of a bin).
        std::vector<std::vector<float>> refined;
        const std::size_t bins = std::size_t(cfg_.num_bins());
        if (refiner_.active() || !bin_logits.empty()) {
            for (const auto& w : warped) refined.push_back(band_to_bin_.expand_rows(w));
            if (!bin_logits.empty()) add_bin_logits(refined, bin_logits, cfg_, &src);
        }
        if (refiner_.active()) {
            const auto mid = detail::extract_mid_region(song, double(chunk_start), chunk_frames);
            refiner_.refine(magnitude_rows(stft_.forward(mid.data(), mid.size()), src.size()), refined);
        }
        for (std::size_t t = 0; t < warped.size(); ++t) {
            const float* rows = warped[t].data();
            const float* bin_rows = refined.empty() ? nullptr : refined[t].data();
            const Stft::MaskRowFn mask_row = [&, rows, bin_rows](std::size_t f, float* scratch) {
                if (bin_rows) return bin_rows + f * bins;
                band_to_bin_.expand(rows + f * std::size_t(bands), scratch);
                return static_cast<const float*>(scratch);
            };
            auto& stem = out.audio[t];
            if (x.size() == 2) {
                auto both = stft_.inverse_pair(pair, chunk_frames, mask_row, keep);
                stem[0] = std::move(both[0]);
                stem[1] = std::move(both[1]);
            } else {
                for (std::size_t c = 0; c < mix.size(); ++c) stem[c] = stft_.inverse(mix[c], chunk_frames, mask_row, keep);
            }
        }
        return out;
    }

private:
    ModelConfig cfg_;
    BandToBin band_to_bin_;
    BinRefiner refiner_;
    Stft stft_;
};

// Measured alternative: filter the stretched segment and stretch the result back to song time.
class StretchReconstructor : public SegmentReconstructor {
public:
    StretchReconstructor(const ModelConfig& cfg, const BandToBin& band_to_bin, const StretchParams& stretch,
                         const BinRefiner& refiner)
        : cfg_(cfg), band_to_bin_(band_to_bin), stretch_(stretch), refiner_(refiner), stft_({cfg.n_fft, cfg.hop}) {}

    using SegmentReconstructor::render;
    SegmentAudio render(const Audio& song, const SegmentPlan& plan, std::vector<std::vector<float>> masks,
                        const std::vector<std::vector<float>>& bin_logits) override {
        normalise_jointly(masks);
        std::vector<std::vector<float>> norm;
        for (const auto& m : masks) norm.push_back(band_to_bin_.expand_rows(m));
        if (!bin_logits.empty()) add_bin_logits(norm, bin_logits, cfg_, nullptr);  // on the net's own grid
        Audio region(song.num_channels(), 0, song.sample_rate_hz);
        for (int c = 0; c < song.num_channels(); ++c)
            region.channels[c] = detail::extract_region(song.channels[c], plan.region_start, plan.region_frames);
        Audio stretched = stretch_to_frames(region, plan.window_ref_frames, stretch_);
        const int bins = cfg_.num_bins();
        if (refiner_.active()) {  // on the net's own grid: the stretched mid's magnitudes
            const auto mid = detail::extract_mid_region(stretched, 0.0, stretched.frames());
            refiner_.refine(magnitude_rows(stft_.forward(mid.data(), mid.size()), std::size_t(cfg_.window_frames())), norm);
        }
        SegmentAudio out;
        out.start = long(std::floor(plan.region_start));
        for (std::size_t t = 0; t < norm.size(); ++t) {
            Audio est(song.num_channels(), plan.window_ref_frames, song.sample_rate_hz);
            for (int c = 0; c < song.num_channels(); ++c) {
                Spectrogram spec = stft_.forward(stretched.channel(c), stretched.frames());
                for (std::size_t f = 0; f < spec.num_frames; ++f)
                    for (int k = 0; k < bins; ++k)
                        spec.at(f, k) *= norm[t][std::min<std::size_t>(f, cfg_.window_frames() - 1) * bins + k];
                est.channels[c] = stft_.inverse(spec, stretched.frames());
            }
            out.audio.push_back(stretch_to_frames(est, plan.region_frames, stretch_).channels);
        }
        return out;
    }

private:
    ModelConfig cfg_;
    BandToBin band_to_bin_;
    StretchParams stretch_;
    BinRefiner refiner_;
    Stft stft_;
};

}  // namespace

void BinRefiner::refine(const std::vector<float>& mix_magnitudes, std::vector<std::vector<float>>& masks) const {
    model->refine_bin_masks(mix_magnitudes, masks, queries);
    normalise_jointly(masks);  // two targets may both have claimed more of a bin
}

std::unique_ptr<SegmentReconstructor> make_reconstructor(Reconstruction r, const ModelConfig& cfg,
                                                         const BandToBin& band_to_bin, const StretchParams& stretch,
                                                         const BinRefiner& refiner) {
    if (band_to_bin.num_bins() != cfg.num_bins())
        throw usage_error("make_reconstructor: the band map has " + std::to_string(band_to_bin.num_bins()) +
                          " bins, the model's STFT " + std::to_string(cfg.num_bins()));
    if (refiner.active() && refiner.model->config().num_bins() != cfg.num_bins())
        throw usage_error("make_reconstructor: the refining model's STFT differs from the configuration's");
    if (r == Reconstruction::Stretch) return std::make_unique<StretchReconstructor>(cfg, band_to_bin, stretch, refiner);
    return std::make_unique<MaskWarpReconstructor>(cfg, band_to_bin, refiner);
}

}  // namespace loopsep::detail
