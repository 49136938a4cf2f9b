// Sound-source pools. Every role (bongo, guira, requinto, hip-hop drums, rap...)
// has a `train` pool and a disjoint, held-out `val` pool, so a model can be
// validated on timbres it never heard. train: FluidR3_GM, the OPL3 FM
// soundfont, the Black Pearl avldrums kit, drum kits assembled from
// lmms-common's one-shot samples, train espeak voices, own synths (parameter
// ranges on both sides of the val ranges).
// val: TimGM6mb and sf_GMbank (which share samples), the Red Zeppelin avldrums
// kit, other espeak voices, own synths drawn from disjoint parameter ranges.
// Training parts are also, about half the time, real recordings: Hydrogen
// kits and freepats patches. realval: only real recordings held out of
// training (other Hydrogen kits, other freepats patches; rap on val voices),
// listed in models/TRAINING.md.
#pragma once

#include <string>

#include "loopsep/synth.h"
#include "rng.h"
#include "score.h"

namespace loopsep::synth {

// A source for `role` from the split's pool. Roles: bongo, guira, cowbell,
// bass, requinto, segunda, keys, pad, drums, hh_bass, sample, rap. The val
// split's draws are those it always made (its songs stay byte-identical).
Source pick_source(Rng& rng, const std::string& role, SourceSplit split);

}  // namespace loopsep::synth
