// Sound-source pools. Every role (bongo, guira, requinto, hip-hop drums, rap...)
// has a `train` pool and a disjoint, held-out `val` pool, so a model can be
// validated on timbres it never heard: val uses TimGM6mb (a different sample
// set), the other avldrums kit, other espeak voices and own-synth variants
// drawn from different parameter ranges.
#pragma once

#include <string>

#include "loopsep/synth.h"
#include "rng.h"
#include "score.h"

namespace loopsep::synth {

// A source for `role` from the split's pool. Roles: bongo, guira, cowbell,
// bass, requinto, segunda, keys, pad, drums, hh_bass, sample, rap.
Source pick_source(Rng& rng, const std::string& role, SourceSplit split);

}  // namespace loopsep::synth
