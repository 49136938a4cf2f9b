// Renderers: turn one Part into audio at the song's sample rate, `frames` long.
#pragma once

#include <map>
#include <memory>
#include <string>

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

// Frame of a note onset (grid time + humanisation), clamped to >= 0.
std::size_t onset_frame(const Song& song, double beat, double offset_sec, int sample_rate_hz);

}  // namespace loopsep::synth
