// FluidSynth offline rendering of soundfont parts (see render.h).
#include <fluidsynth.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <tuple>

#include "loopsep/error.h"
#include "render.h"
#include "reserved.h"

namespace loopsep::synth {

struct FluidBank::Loaded {
    fluid_settings_t* settings = nullptr;
    fluid_synth_t* synth = nullptr;
    int sfont_id = -1;
    ~Loaded() {
        if (synth) delete_fluid_synth(synth);
        if (settings) delete_fluid_settings(settings);
    }
};

std::size_t onset_frame(const Song& song, double beat, double offset_sec, int sample_rate_hz) {
    const double t = song.tempo.time_of(beat) + offset_sec;
    return t <= 0.0 ? 0 : std::size_t(std::llround(t * sample_rate_hz));
}

FluidBank::FluidBank(std::string soundfont_dir, int sample_rate_hz)
    : dir_(std::move(soundfont_dir)), rate_hz_(sample_rate_hz) {
    // FluidSynth logs to stderr by default; our errors are reported by us.
    for (int level : {FLUID_PANIC, FLUID_ERR, FLUID_WARN, FLUID_INFO, FLUID_DBG})
        fluid_set_log_function(level, nullptr, nullptr);
}

FluidBank::~FluidBank() = default;

FluidBank::Loaded& FluidBank::load(const std::string& file) {
    auto it = loaded_.find(file);
    if (it != loaded_.end()) return *it->second;
    const std::string path = (std::filesystem::path(dir_) / file).string();
    check_not_reserved(path);
    if (!std::filesystem::exists(path))
        throw input_error(path + ": soundfont not found (run tools/install-deps.sh)");
    auto l = std::make_unique<Loaded>();
    l->settings = new_fluid_settings();
    fluid_settings_setnum(l->settings, "synth.sample-rate", double(rate_hz_));
    fluid_settings_setint(l->settings, "synth.reverb.active", 0);  // our own per-stem reverb
    fluid_settings_setint(l->settings, "synth.chorus.active", 0);
    fluid_settings_setint(l->settings, "synth.polyphony", 256);
    fluid_settings_setint(l->settings, "synth.cpu-cores", 1);      // no worker threads
    fluid_settings_setint(l->settings, "synth.dynamic-sample-loading", 1);  // load only used presets
    fluid_settings_setnum(l->settings, "synth.gain", 0.5);
    l->synth = new_fluid_synth(l->settings);
    if (!l->synth) throw input_error("synth: cannot create a FluidSynth instance");
    l->sfont_id = fluid_synth_sfload(l->synth, path.c_str(), 0);
    if (l->sfont_id == FLUID_FAILED) throw input_error(path + ": not a usable soundfont");
    auto& ref = *l;
    loaded_[file] = std::move(l);
    return ref;
}

Audio FluidBank::render(const Part& part, const Song& song, std::size_t frames, std::string& label) {
    Loaded& l = load(part.source.file);
    fluid_synth_t* s = l.synth;
    fluid_synth_system_reset(s);
    const int chan = part.source.drum ? 9 : 0;
    fluid_synth_set_channel_type(s, chan, part.source.drum ? CHANNEL_TYPE_DRUM : CHANNEL_TYPE_MELODIC);
    if (fluid_synth_program_select(s, chan, l.sfont_id, part.source.bank, part.source.program) != FLUID_OK)
        throw input_error(part.source.file + ": no preset " + std::to_string(part.source.bank) + ":" +
                          std::to_string(part.source.program));
    fluid_sfont_t* sf = fluid_synth_get_sfont_by_id(s, l.sfont_id);
    fluid_preset_t* preset = sf ? fluid_sfont_get_preset(sf, part.source.bank, part.source.program) : nullptr;
    label = part.source.file + " " + std::to_string(part.source.bank) + ":" + std::to_string(part.source.program) +
            " " + (preset ? fluid_preset_get_name(preset) : "?");

    // Events as (frame, kind 0=off 1=on, key, velocity); offs first at equal frames
    // so a repeated key retriggers.
    std::vector<std::tuple<std::size_t, int, int, int>> events;
    const int sr = rate_hz_;
    for (const auto& n : part.notes) {
        const std::size_t on = onset_frame(song, n.beat, n.offset_sec, sr);
        std::size_t off = onset_frame(song, n.beat + n.dur_beats, n.offset_sec, sr);
        if (off <= on) off = on + 1;
        if (on >= frames) continue;
        events.emplace_back(on, 1, n.key, n.velocity);
        events.emplace_back(std::min(off, frames - 1), 0, n.key, 0);
    }
    std::sort(events.begin(), events.end());

    Audio out(2, frames, sr);
    std::size_t pos = 0;
    auto render_to = [&](std::size_t end) {
        while (pos < end) {
            const int n = int(std::min<std::size_t>(end - pos, 4096));
            fluid_synth_write_float(s, n, out.channel(0) + pos, 0, 1, out.channel(1) + pos, 0, 1);
            pos += std::size_t(n);
        }
    };
    for (const auto& [frame, kind, key, vel] : events) {
        render_to(frame);
        if (kind == 1) fluid_synth_noteon(s, chan, key, vel);
        else fluid_synth_noteoff(s, chan, key);
    }
    render_to(frames);
    fluid_synth_all_sounds_off(s, -1);
    // Flush the killed voices, and end on a 64-frame block boundary (FluidSynth
    // renders in blocks and applies events at block starts): the next part then
    // sees the same block phase whatever was rendered before it.
    const std::size_t flush = 1024 + (64 - frames % 64) % 64;
    std::vector<float> scratch(2 * flush);
    fluid_synth_write_float(s, int(flush), scratch.data(), 0, 1, scratch.data() + flush, 0, 1);
    return out;
}

}  // namespace loopsep::synth
