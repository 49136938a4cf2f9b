// loopsep — musical keys: names, root notes, and the key of a piece of audio
// from a chroma key profile (the Krumhansl–Schmuckler method; Temperley's
// profiles by default).
//
// estimate_key: Hann STFT (~0.37 s window, 1/4 overlap), spectral peaks between
// 50 Hz and 2.1 kHz (local maxima, frequency refined by parabolic interpolation
// of the log magnitude), the recording's tuning (circular mean of the peaks'
// offsets from the equal-tempered grid, weighted by magnitude: synth songs played
// faster or slower are detuned by up to ±50 cents), then a 12-bin chroma of the
// magnitudes of every peak, folded to the nearest semitone after removing the
// tuning. The key is the rotation of the major or minor profile with the highest
// Pearson correlation with the chroma. Accuracy on synth songs: bench/key (README).
// The choices (magnitude rather than its square root, no sub-harmonic summation,
// Temperley over Krumhansl: 0.78 vs 0.63 exact) were made on the 40 songs of the
// synthetic val set; real val was measured once, after.
#pragma once

#include <array>
#include <optional>
#include <string>

#include "loopsep/audio.h"

namespace loopsep {

struct MusicalKey {
    int tonic_pc = 0;     // pitch class of the tonic, 0 = C … 11 = B
    bool minor = false;
    bool operator==(const MusicalKey& o) const { return tonic_pc == o.tonic_pc && minor == o.minor; }
};

// "C", "C#m", "Bb", "bbm", "A minor", "F# major", "Amin", "Cmaj" (case-insensitive tonic letter,
// '#'/'b' accidentals, "m"/"min"/"minor"/"maj"/"major" with or without a space); nullopt otherwise.
std::optional<MusicalKey> parse_key(const std::string& text);
// "Am", "C#", "F#m": sharps always, as `loopsep synth` writes them in meta.json.
std::string key_name(const MusicalKey& key);
// The tonic as a MIDI note of the octave 60..71 (C4..B4), for acid/smpl root notes.
int key_root_note(const MusicalKey& key);

enum class KeyProfile {
    Krumhansl,  // Krumhansl–Kessler probe-tone ratings (1982)
    Temperley,  // Temperley's Kostka–Payne corpus profiles (2007)
};
KeyProfile parse_key_profile(const std::string& name);  // "krumhansl" | "temperley"; usage error otherwise
const char* key_profile_name(KeyProfile profile);

struct KeyEstimate {
    MusicalKey key;
    double correlation = 0;        // Pearson r of the chroma with the winning key's profile, −1..1
    double margin = 0;             // r(best) − r(second best key)
    double tuning_cents = 0;       // the recording's offset from A = 440 Hz, −50..50
    std::array<double, 12> chroma{};  // sums to 1 (all zero when the audio has no tonal peak)
};

// Input error naming `what` when the audio is silent or has no spectral peak in range
// (no pitch to speak of). Any sample rate of 8 kHz or more.
KeyEstimate estimate_key(const Audio& audio, KeyProfile profile = KeyProfile::Temperley,
                         const std::string& what = "audio");

// The 24 correlations of a chroma with every key: index tonic_pc + 12·minor.
std::array<double, 24> key_correlations(const std::array<double, 12>& chroma, KeyProfile profile);

// How an estimate relates to the truth, MIREX's classes: Exact; Fifth (same mode, tonic a perfect
// fifth above or below); Relative (C ↔ Am: minor tonic 3 semitones below the major's); Parallel
// (same tonic, other mode); Other.
enum class KeyRelation { Exact, Fifth, Relative, Parallel, Other };
KeyRelation key_relation(const MusicalKey& estimate, const MusicalKey& truth);
const char* key_relation_name(KeyRelation r);  // "exact", "fifth", "relative", "parallel", "other"

}  // namespace loopsep
