// Renderers: turn one Part into audio at the song's sample rate, `frames` long.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "loopsep/audio.h"
#include "score.h"

namespace loopsep::synth {

// FluidSynth rendering. One synth per soundfont file, loaded on first use; use
// one FluidBank per song (a reset synth is not perfectly stateless, so sharing
// one across songs would make a song depend on the songs rendered before it).
class FluidBank {
public:
    FluidBank(std::string soundfont_dir, int sample_rate_hz);
    ~FluidBank();
    FluidBank(const FluidBank&) = delete;
    FluidBank& operator=(const FluidBank&) = delete;

    // Stereo audio of the part; `label` receives "file bank:program preset name".
    Audio render(const Part& part, const Song& song, std::size_t frames, std::string& label);

private:
    struct Loaded;
    Loaded& load(const std::string& file);
    std::string dir_;
    int rate_hz_;
    std::map<std::string, std::unique_ptr<Loaded>> loaded_;
};

// Our own DSP instruments (bongo, cowbell, guira, bass, bass808, pluck, epiano,
// drumkit). Mono audio; parameters drawn from part.source.variant.
Audio render_own(const Part& part, const Song& song, int sample_rate_hz, std::size_t frames, std::string& label);

// A drum kit of one-shot recordings: one file per drum voice from
// `samples_dir`/drums (lmms-common's library), drawn and re-pitched from
// part.source.variant. Mono audio.
Audio render_sample_kit(const Part& part, const Song& song, const std::string& samples_dir, int sample_rate_hz,
                        std::size_t frames, std::string& label);

// espeak-ng rap vocals: each word synthesised, trimmed, placed on its beat and
// cut before the next one. Mono audio.
Audio render_voice(const Part& part, const Song& song, int sample_rate_hz, std::size_t frames, std::string& label);

// ---- Hydrogen drum kits (render_hydrogen.cpp) ----

struct HydrogenLayer {
    std::string file;          // full path
    double min = 0.0, max = 1.0;  // velocity range (0..1) this layer answers
    double gain = 1.0;
    double pitch = 0.0;        // semitones
};
struct HydrogenInstrument {
    int id = 0;
    std::string name;
    double gain = 1.0, volume = 1.0, pan_l = 1.0, pan_r = 1.0;
    std::vector<HydrogenLayer> layers;  // layers whose file exists
};
struct HydrogenKit {
    std::string name, dir;
    std::vector<HydrogenInstrument> instruments;  // those with at least one layer
};

// Reads `kit_dir`/drumkit.xml (new format: <layer> elements; old: one
// <filename> per instrument). Throws input_error naming the file when it is
// missing, malformed or reserved.
HydrogenKit read_hydrogen_kit(const std::string& kit_dir);
// The layer whose [min, max] holds velocity/127 (the nearest one otherwise).
const HydrogenLayer& choose_layer(const HydrogenInstrument& instrument, int velocity);

// A part played on the Hydrogen kit `drumkits_dir`/part.source.file; its
// instruments are given to the part's keys by name for part.role (drums,
// bongo, guira, cowbell), drawn and tuned from part.source.variant. Stereo.
Audio render_hydrogen(const Part& part, const Song& song, const std::string& drumkits_dir, int sample_rate_hz,
                      std::size_t frames, std::string& label);

// ---- freepats GUS patches (render_patch.cpp) ----

struct PatchSample {
    double root_hz = 261.6, low_hz = 0.0, high_hz = 20000.0;
    int sample_rate_hz = 44100;
    bool looped = false;
    std::size_t loop_start = 0, loop_end = 0;  // in samples
    std::vector<float> data;                   // -1..1
};
struct Patch {
    std::string path;
    std::vector<PatchSample> samples;
};
// Reads a GUS .pat file. Throws input_error naming the file when it is
// missing, malformed, truncated or reserved.
Patch read_patch(const std::string& path);

// /etc/timidity/freepats.cfg: the patch file of each GM program (bank 0) and
// of each key of drum set 0, as full paths.
struct FreepatsMap {
    std::map<int, std::string> programs, drums;
};
FreepatsMap read_freepats_cfg(const std::string& cfg_path);

// A part played on freepats patches (see score.h for the Source fields):
// melodic notes pitch-shift the nearest sample, loop while held and fade on
// release; drum keys play their one-shot. Mono.
Audio render_patch(const Part& part, const Song& song, const std::string& freepats_cfg, int sample_rate_hz,
                   std::size_t frames, std::string& label);

// Frame of a note onset (grid time + humanisation), clamped to >= 0.
std::size_t onset_frame(const Song& song, double beat, double offset_sec, int sample_rate_hz);

}  // namespace loopsep::synth
