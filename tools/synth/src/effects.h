// Per-stem mixing effects: pan, EQ, reverb. All deterministic given the Rng.
#pragma once

#include "loopsep/audio.h"
#include "rng.h"

namespace loopsep::synth {

// Constant-power pan of mono audio (or balance of stereo) into `channels` channels.
Audio pan_to(const Audio& in, double pan, int channels);
// Random gentle EQ: low shelf, high shelf and one peaking band (each ±max_db).
void random_eq(Audio& audio, Rng& rng, double max_db);
// A small Freeverb-style room added to the dry signal.
void add_reverb(Audio& audio, double wet, double room, double damp);

// Chorus (the shimmer on bachata guitars): two modulated delays, mixed in.
void add_chorus(Audio& audio, double rate_hz, double depth_ms, double mix);
// Lo-fi treatment for a hip-hop sample: soft saturation plus vinyl crackle.
void add_lofi(Audio& audio, Rng& rng, double drive, double crackle);

}  // namespace loopsep::synth
