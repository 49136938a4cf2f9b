// loopsep — separation quality metrics.
//
// SDR as in the MDX challenge: 10·log10(Σ s² / Σ (s − ŝ)²) over the whole
// signal (all channels together). SI-SDR: the estimate projected onto the
// reference, per Le Roux et al. 2019 (zero-mean not applied). Both return
// +/-inf-free values: a small epsilon keeps silent cases finite.
#pragma once

#include <cstddef>

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

}  // namespace loopsep
