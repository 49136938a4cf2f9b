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

// Masks may not claim more than the whole bin: Σ m ≤ 1 per bin, so that the
// residual (1 − Σ m) is non-negative and stems + residual = mixture.
void normalise_jointly(std::vector<std::vector<float>>& masks);

// Rebuilds one segment of every target and adds it, cross-faded, into `stems`.
class SegmentReconstructor {
public:
    virtual ~SegmentReconstructor() = default;
    // masks: one per target, on the model grid (window_frames × num_bins, time-major).
    virtual void add(const Audio& song, const SegmentPlan& plan, const std::vector<std::vector<float>>& masks,
                     std::vector<Audio>& stems) = 0;
};

std::unique_ptr<SegmentReconstructor> make_reconstructor(Reconstruction r, const ModelConfig& cfg,
                                                         const StretchParams& stretch);

}  // namespace loopsep::detail
