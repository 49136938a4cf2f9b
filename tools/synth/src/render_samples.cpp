// Drum kits assembled from one-shot recordings (see render.h): Debian's
// lmms-common sample library (drums/*.ogg), one file per drum voice, each
// re-pitched a little. A kit is a new combination every variant, so the net
// hears many kicks, snares and hats beside the few soundfont and avldrums kits.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "loopsep/error.h"
#include "render.h"
#include "reserved.h"

namespace loopsep::synth {
namespace {

namespace fs = std::filesystem;

// The drum voices the composers play (GM keys) and the file-name prefixes
// that supply each one.
struct Voice {
    const char* name;
    std::vector<int> keys;
    std::vector<const char*> prefixes;
};

const std::vector<Voice>& voices() {
    static const std::vector<Voice> v = {
        {"kick", {35, 36}, {"bassdrum", "kick"}},
        {"snare", {38, 40}, {"snare"}},
        {"rim", {37}, {"rim", "sidestick", "nasty_rim"}},
        {"clap", {39}, {"clap"}},
        {"hat", {42, 44}, {"hihat_closed", "hihat_foot"}},
        {"open hat", {46}, {"hihat_opened"}},
        {"tom", {41, 43, 45, 47, 48, 50}, {"tom"}},
        {"crash", {49, 57}, {"crash"}},
        {"ride", {51, 59}, {"ride"}},
        {"shaker", {69, 70, 82}, {"shaker"}},
    };
    return v;
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// Sorted file names in `dir` per voice (sorted: a kit must not depend on the
// directory order of the file system).
std::map<std::string, std::vector<std::string>> files_per_voice(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file()) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& voice : voices())
        for (const auto& n : names)
            for (const char* p : voice.prefixes)
                if (starts_with(n, p)) { out[voice.name].push_back(n); break; }
    return out;
}

// One voice's sample, mono, re-pitched by `ratio` (played faster = higher).
std::vector<float> load_voice(const fs::path& path, double ratio, int sr_hz) {
    check_not_reserved(path.string());
    ReadOptions o;
    o.target_rate_hz = sr_hz;
    o.allow_silent = true;
    Audio a = read_audio(path.string(), o);
    Audio m(1, a.frames(), sr_hz);
    m.channels[0] = a.mono();
    // Resampling to sr/ratio and playing at sr raises the pitch by `ratio`.
    const int rate = int(std::lround(sr_hz / ratio));
    if (rate != sr_hz) m = resample(m, rate);
    return m.channels[0];
}

}  // namespace

Audio render_sample_kit(const Part& part, const Song& song, const std::string& samples_dir, int sr_hz,
                        std::size_t frames, std::string& label) {
    const fs::path dir = fs::path(samples_dir) / "drums";
    if (!fs::is_directory(dir)) throw input_error(dir.string() + ": drum samples not found (run tools/install-deps.sh)");
    const auto files = files_per_voice(dir);
    Rng rng(part.source.variant);
    std::map<int, std::vector<float>> by_key;
    label = "lmms-samples:";
    for (const auto& voice : voices()) {
        const auto it = files.find(voice.name);
        if (it == files.end()) continue;  // the library has no file for this voice
        std::vector<std::string> candidates = it->second;
        std::string file = rng.pick(candidates);
        const double ratio = std::pow(2.0, rng.uniform(-3.0, 3.0) / 12.0);  // ±3 semitones
        bool used = false;
        for (const auto& n : part.notes) used = used || std::count(voice.keys.begin(), voice.keys.end(), n.key);
        if (!used) continue;  // decode only what the part plays
        // Some files in the library are not what their names say (kick04.ogg is a
        // malformed WAV): skip them, drawing again from the rest.
        std::vector<float> samples;
        while (samples.empty()) {
            try {
                samples = load_voice(dir / file, ratio, sr_hz);
            } catch (const Error&) {
                candidates.erase(std::find(candidates.begin(), candidates.end(), file));
                if (candidates.empty()) break;
                file = rng.pick(candidates);
            }
        }
        if (samples.empty()) continue;
        for (int k : voice.keys) by_key[k] = samples;
        label += " " + file.substr(0, file.find('.'));
    }
    if (by_key.empty()) throw input_error(dir.string() + ": no drum samples for this part's keys");
    Audio out(1, frames, sr_hz);
    auto& buf = out.channels[0];
    // A closed hat chokes the open one, as on a real kit.
    std::vector<std::size_t> closed_hats;
    for (const auto& n : part.notes)
        if (n.key == 42 || n.key == 44) closed_hats.push_back(onset_frame(song, n.beat, n.offset_sec, sr_hz));
    std::sort(closed_hats.begin(), closed_hats.end());
    for (const auto& n : part.notes) {
        const auto it = by_key.find(n.key);
        if (it == by_key.end()) continue;
        const std::size_t at = onset_frame(song, n.beat, n.offset_sec, sr_hz);
        std::size_t len = it->second.size();
        if (n.key == 46) {
            const auto next = std::upper_bound(closed_hats.begin(), closed_hats.end(), at);
            if (next != closed_hats.end()) len = std::min(len, *next - at);
        }
        const float v = float(n.velocity) / 127.0f;
        const std::size_t fade = std::min<std::size_t>(len, std::size_t(sr_hz / 200));  // 5 ms
        for (std::size_t s = 0; s < len && at + s < frames; ++s) {
            const float g = s + fade >= len ? float(len - s) / float(fade) : 1.0f;
            buf[at + s] += v * g * it->second[s];
        }
    }
    return out;
}

}  // namespace loopsep::synth
