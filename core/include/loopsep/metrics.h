// loopsep — separation quality metrics.
//
// SDR as in the MDX challenge: 10·log10(Σ s² / Σ (s − ŝ)²) over the whole
// signal (all channels together). SI-SDR: the estimate projected onto the
// reference, per Le Roux et al. 2019 (zero-mean not applied). Both return
// +/-inf-free values: a small epsilon keeps silent cases finite.
#pragma once

#include <cstddef>
#include <vector>

#include "loopsep/audio.h"

namespace loopsep {

double sdr_db(const float* reference, const float* estimate, std::size_t n);
double si_sdr_db(const float* reference, const float* estimate, std::size_t n);

struct QualityScores {
    double sdr_db = 0.0;
    double si_sdr_db = 0.0;
};

// Over all channels; the shorter length is used if lengths differ by ≤ 1 %,
// otherwise an input error. Channel counts must match (a mono reference
// against a stereo estimate compares against the estimate's mid).
QualityScores compare(const Audio& reference, const Audio& estimate);

// Leakage where the target is silent: estimate energy over mixture energy (dB), over the 50 ms
// blocks that lie outside every span where the target is annotated as playing (`present`, seconds),
// in which the reference is at least 40 dB under the mixture (its release tail has died away) and
// the mixture is audible (≥ −60 dBFS). A song's fading last seconds, where a stem's own tail can be
// most of what little sounds, say nothing about leakage and are left out. All channels together;
// the three signals must share rate and channel count (shorter length used). Fewer than 1 s of such
// blocks: leakage_db is NaN (not measurable).
struct TimeSpan {
    double begin_sec = 0, end_sec = 0;
};
struct LeakageScore {
    double leakage_db = 0;
    double measured_sec = 0;   // duration of the blocks that counted
};
LeakageScore leakage_where_silent(const Audio& reference, const Audio& estimate, const Audio& mixture,
                                  const std::vector<TimeSpan>& present);

}  // namespace loopsep
