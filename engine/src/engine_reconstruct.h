// Internal to loopsep_engine: turning per-segment masks into audio.
// Two strategies behind one interface, chosen once per run.
#pragma once

#include <memory>
#include <vector>

#include "engine_plan.h"
#include "loopsep/engine.h"
#include "loopsep/model.h"
#include "loopsep/stretch.h"

namespace loopsep::detail {

constexpr std::size_t kFadeFrames = 2048;  // cross-fade between segments (46 ms at 44.1 kHz)

// Masks may not claim more than the whole bin: Σ m ≤ 1 per cell, so that the
// residual (1 − Σ m) is non-negative and stems + residual = mixture. The reconstructors apply it to
// the net's band masks, before warping and expansion: both are convex combinations (weights ≥ 0,
// summing to 1), so Σ ≤ 1 in bands stays Σ ≤ 1 in every bin, at a tenth of the cells.
void normalise_jointly(std::vector<std::vector<float>>& masks);

// One segment rebuilt for every target, before cross-fading: audio[target][channel] holds
// song frames [start, start + size).
struct SegmentAudio {
    long start = 0;
    std::vector<std::vector<std::vector<float>>> audio;
};

// Rebuilds one segment of every target. Segments are independent, so the engine renders
// several at once, one reconstructor per worker (each owns its FFT scratch), then adds
// them in order with StemAccumulator::add().
class SegmentReconstructor {
public:
    virtual ~SegmentReconstructor() = default;
    // band_masks: one per target, on the model grid in the net's bands (window_frames × num_bands,
    // time-major; Separator::predict_band_masks_for_queries). Expanded to bins with the model's BandToBin.
    // The masks are taken by value: they are normalised jointly in place.
    // bin_logits: for a model with per-bin logits (Separator::has_bin_logits), one per target on the same
    // grid (window_frames × num_bins; predict_band_masks_for_queries), else empty. They are moved with
    // the band masks onto the frames the mask is applied on, added to the expanded masks' logits
    // (apply_bin_logits), and the targets' bin masks normalised jointly again.
    virtual SegmentAudio render(const Audio& song, const SegmentPlan& plan, std::vector<std::vector<float>> band_masks,
                                const std::vector<std::vector<float>>& bin_logits) = 0;
    SegmentAudio render(const Audio& song, const SegmentPlan& plan, std::vector<std::vector<float>> band_masks) {
        return render(song, plan, std::move(band_masks), {});
    }
};

// The cross-faded output while segments arrive: song frames [base, base + held) of every target.
// Frames before the next segment's fade-in no longer change; flush() hands them (and the residual,
// mixture − Σ targets, when asked) to the sink and drops them, so only about one batch is held.
class StemAccumulator {
public:
    StemAccumulator(std::size_t num_targets, int num_channels, std::size_t song_frames, bool residual);
    // Adds a rendered segment with the segment's cross-fade weights (kFadeFrames ramps). The segment
    // must not reach before the last flush point.
    void add(const SegmentAudio& segment, const SegmentPlan& plan);
    // Adds `count` consecutive segments (song order), each (target, channel) stream on one of
    // `threads` workers: the same sums as adding them one by one.
    void add(const SegmentAudio* segments, const SegmentPlan* plans, std::size_t count, int threads);
    // Emits frames [base, until) of every output to `sink`.
    void flush(std::size_t until, const Audio& song, StemSink& sink);
    std::size_t flushed_until() const { return base_; }

private:
    std::size_t song_frames_, base_ = 0;
    bool residual_;
    std::vector<std::vector<std::vector<float>>> held_;  // [target][channel][n − base_]
    std::vector<std::vector<float>> residual_chunk_;     // scratch, per channel
};

// The model's bin refinement (Separator::refine_bin_masks) with each target's query vector, applied to
// the expanded masks of every segment (then normalised jointly again, per bin); none without a model
// that refines its bins.
struct BinRefiner {
    const Separator* model = nullptr;
    std::vector<std::vector<float>> queries;  // one per target, in the order of the masks
    bool active() const { return model && model->refines_bins(); }
    // Refines every target's bin masks (frames × bins each) for the mixture's magnitudes on the same
    // frames, then normalises them jointly again, per bin.
    void refine(const std::vector<float>& mix_magnitudes, std::vector<std::vector<float>>& masks) const;
};

std::unique_ptr<SegmentReconstructor> make_reconstructor(Reconstruction r, const ModelConfig& cfg,
                                                         const BandToBin& band_to_bin, const StretchParams& stretch,
                                                         const BinRefiner& refiner = {});

}  // namespace loopsep::detail
