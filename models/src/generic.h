// Generic training sounds: band-limited noise and harmonic tones in random rhythms (LibTorch-free;
// part of loopsep_train_core).
//
// Why: every fine-tune that widened the training distribution (augmentation, more songs) learned to
// answer a loop that sounds like nothing it was trained on — a white-noise shaker, say — with a
// closed mask (models/TRAINING.md, "Augmented, on twice the songs"). Users bring exactly such loops.
// A share of examples whose target is a sound drawn from an open family, queried by another
// rendering of the same sound (same timbre, another rhythm or melody), teaches the net to follow
// the query's spectrum rather than the synthesized instruments' names; the same family as a
// distractor in the rest of the mixture teaches it not to keep whatever is unfamiliar.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace loopsep::generic {

// What a generic sound is: its timbre (shared by target and query) — the rhythm and notes are drawn
// per rendering.
struct Timbre {
    bool noise = true;
    double low_hz = 0, high_hz = 0;       // noise: pass band (4th-order high- and low-pass edges)
    double f0_hz = 0;                     // tone: the register's root
    std::vector<float> harmonic_gain;     // tone: amplitude of harmonics 1, 2, …
    std::vector<int> scale_semitones;     // tone: the notes a melody picks from (0 = the root)
    double decay_sec = 0.1;               // each note's exponential decay time constant
};
Timbre random_timbre(std::mt19937_64& rng, int sample_rate_hz);

// Renders one rendering of `timbre` into out[0, n) (overwritten), normalised to RMS 1 (all zeros only
// if no note falls in the window). Notes start on a random grid (1 to 16 steps a bar, or one long
// note: a drone or sustained noise) aligned with the bar that begins at `bar_start_frames` and lasts
// `bar_frames`; each grid step plays with a random density. A note rises in 3 ms, holds (in half the
// renderings, for 20–100 % of its step) and decays with the timbre's time constant until the next.
void render(const Timbre& timbre, std::mt19937_64& rng, int sample_rate_hz, std::int64_t bar_start_frames,
            std::int64_t bar_frames, float* out, std::int64_t n);

}  // namespace loopsep::generic
