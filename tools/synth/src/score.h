// The in-memory song: tempo map, sections and parts (notes in beats), the
// common language between the composers (bachata.cpp, hiphop.cpp), the
// renderers (fluid, own DSP, voice) and the writer (synth.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "loopsep/synth.h"
#include "rng.h"

namespace loopsep::synth {

struct NoteEvent {
    double beat = 0.0;        // onset on the beat grid (0 = first downbeat)
    double dur_beats = 0.25;  // gate length
    int key = 60;             // MIDI key (for drums: GM drum map / own-synth voice)
    int velocity = 100;       // 1..127
    double offset_sec = 0.0;  // humanisation, added to the grid time
};

struct VocalWord {
    double beat = 0.0;
    double max_beats = 1.0;   // cut (with a fade) before the next word
    std::string text;
    int pitch_offset = 0;     // semitone-ish emphasis, applied as espeak pitch
};

// RecordedLoop: a recorded loop (file = its path) chopped onto the grid (render_loops.h).
// Hydrogen: a Hydrogen drum kit (drumkit.xml, velocity layers); Patch: a
// freepats GUS patch (.pat). Both are real recordings (render_hydrogen.cpp,
// render_patch.cpp).
enum class SourceKind { SoundFont, Own, Voice, SampleKit, RecordedLoop, Hydrogen, Patch };

struct Source {
    SourceKind kind = SourceKind::SoundFont;
    std::string file;         // soundfont file name in soundfont_dir, or own-synth / voice name
    int bank = 0;
    int program = 0;
    bool drum = false;        // GM percussion channel
    std::uint64_t variant = 0;  // own-synth / voice parameter seed
    std::string voice;        // espeak voice ("es+m3") for Voice
    int voice_pitch = 50;
    int voice_speed = 175;
    std::string label;        // human-readable ("FluidR3_GM.sf2 0:24 Nylon String Guitar")
    // Hydrogen: `file` is the kit's folder name. Patch: `program` is the GM
    // program (melodic) and, with `drum`, key_map sends each key the part plays
    // to the freepats drum key that sounds it (empty: the key itself).
    std::vector<std::pair<int, int>> key_map;
};

struct Part {
    std::string stem;         // output stem ("guitar")
    std::string role;         // "requinto", "segunda", "cowbell", ...
    Source source;
    std::vector<NoteEvent> notes;
    std::vector<VocalWord> words;  // Voice parts only
    double gain_db = 0.0;     // level of this part inside its stem
    double pan = 0.0;         // -1 left .. +1 right
};

struct TempoMap {
    std::vector<double> beat_sec;  // time of every integer beat (one past the end too)
    double time_of(double beat) const;
    double bpm_at(double beat) const;  // local tempo of the beat containing `beat`
};

struct Section {
    int start_bar = 0;
    int bars = 0;
    std::string name;
};

struct Song {
    Genre genre = Genre::Bachata;
    double bpm = 120.0;         // nominal tempo
    bool drift = false;         // tempo wanders slowly around bpm
    int key_pc = 9;             // tonic pitch class (0 = C)
    bool minor = true;
    int bars = 0;
    TempoMap tempo;
    std::vector<Section> sections;
    std::vector<Part> parts;
    double tail_sec = 2.0;      // silence after the last bar for release/reverb

    std::string key_name() const;  // "Am", "G"
    const Section& section_at_bar(int bar) const;
};

// ---- music helpers shared by the composers ----

struct Chord {
    int root = 0;                  // semitones above the key tonic
    std::vector<int> intervals;    // above the chord root
};

// Chord tones (MIDI keys) of `chord` in key `key_pc`, folded into [lo, hi].
std::vector<int> voice_chord(const Chord& chord, int key_pc, int lo, int hi);
// The chord root as a MIDI key in [lo, lo+11].
int chord_root_key(const Chord& chord, int key_pc, int lo);
// Scale (7 pitch classes above the tonic) for melody writing.
std::vector<int> scale_steps(bool minor);

// Tempo map for `bars` bars of 4 beats starting at lead_in_sec. With drift the
// tempo follows a slow random wave within ±max_drift (fraction).
TempoMap make_tempo_map(Rng& rng, int bars, double bpm, double lead_in_sec, bool drift);

// Small timing jitter (σ ms, clipped to ±10 ms) and velocity jitter.
void humanize(Rng& rng, std::vector<NoteEvent>& notes, double sigma_ms, int velocity_jitter);

// Composers. They pick sources (via sources.h) for every part they create.
Song compose_bachata(Rng& rng, const SynthParams& params);
Song compose_hiphop(Rng& rng, const SynthParams& params);

}  // namespace loopsep::synth
