// freepats GUS patches (see render.h): real recordings of basses, guitars,
// keys and Latin percussion in the old Gravis UltraSound .pat format, read
// here directly (timidity's layout: a 239-byte header, then per sample a
// 96-byte header and its PCM data), mapped to GM programs and drum keys by
// /etc/timidity/freepats.cfg.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "loopsep/error.h"
#include "render.h"
#include "reserved.h"

namespace loopsep::synth {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kHeaderBytes = 239;      // patch + instrument + layer headers
constexpr std::size_t kSampleHeaderBytes = 96;
constexpr std::size_t kSampleCountAt = 198;    // samples in the first layer

std::uint32_t u32(const std::string& b, std::size_t at) {
    return std::uint32_t(std::uint8_t(b[at])) | std::uint32_t(std::uint8_t(b[at + 1])) << 8 |
           std::uint32_t(std::uint8_t(b[at + 2])) << 16 | std::uint32_t(std::uint8_t(b[at + 3])) << 24;
}
std::uint16_t u16(const std::string& b, std::size_t at) {
    return std::uint16_t(std::uint8_t(b[at]) | std::uint8_t(b[at + 1]) << 8);
}

double midi_hz(double key) { return 440.0 * std::pow(2.0, (key - 69.0) / 12.0); }

// The sample whose key range holds `hz`, else the one with the nearest root.
const PatchSample& sample_for(const Patch& p, double hz) {
    const PatchSample* best = &p.samples.front();
    double best_dist = 1e9;
    for (const auto& s : p.samples) {
        if (hz >= s.low_hz && hz <= s.high_hz) return s;
        const double d = std::abs(std::log(hz / s.root_hz));
        if (d < best_dist) best_dist = d, best = &s;
    }
    return *best;
}

// One note: `s` read at `step` samples per output frame (linear
// interpolation), looped while sounding when the sample loops, held for
// gate_frames and then faded over release_frames. Stops at the data's end.
std::vector<float> play(const PatchSample& s, double step, std::size_t gate_frames, std::size_t release_frames, int sr_hz) {
    const std::size_t total = gate_frames + release_frames;
    const std::size_t attack = std::size_t(sr_hz / 500);  // 2 ms: no click where the recording starts mid-wave
    std::vector<float> out;
    out.reserve(std::min<std::size_t>(total, std::size_t(sr_hz) * 20));
    const double loop_len = double(s.loop_end - s.loop_start);
    const bool loop = s.looped && loop_len >= 2.0;
    double pos = 0.0;
    for (std::size_t i = 0; i < total; ++i) {
        if (loop && pos >= double(s.loop_end)) pos -= loop_len;
        const std::size_t k = std::size_t(pos);
        // Inside a loop the sample after its last one is its first (a loop may end at the data's end).
        const std::size_t next = loop && k + 1 >= s.loop_end ? s.loop_start : k + 1;
        if (k >= s.data.size() || next >= s.data.size()) break;
        const double frac = pos - double(k);
        double y = s.data[k] + frac * (s.data[next] - s.data[k]);
        if (i < attack) y *= double(i) / double(attack);
        if (i >= gate_frames) y *= 1.0 - double(i - gate_frames) / double(release_frames);
        out.push_back(float(y));
        pos += step;
    }
    return out;
}

}  // namespace

Patch read_patch(const std::string& path) {
    check_not_reserved(path);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw input_error(path + ": cannot open the patch (run tools/install-deps.sh)");
    std::stringstream buf;
    buf << in.rdbuf();
    const std::string b = buf.str();
    if (b.size() < kHeaderBytes) throw input_error(path + ": not a GUS patch (" + std::to_string(b.size()) + " bytes, header is 239)");
    if (b.compare(0, 12, std::string("GF1PATCH110\0", 12)) != 0 && b.compare(0, 12, std::string("GF1PATCH100\0", 12)) != 0)
        throw input_error(path + ": not a GUS patch (no GF1PATCH magic)");
    const int count = std::uint8_t(b[kSampleCountAt]);
    if (count < 1) throw input_error(path + ": GUS patch without samples");
    Patch p;
    p.path = path;
    std::size_t at = kHeaderBytes;
    for (int i = 0; i < count; ++i) {
        if (at + kSampleHeaderBytes > b.size())
            throw input_error(path + ": truncated GUS patch (sample " + std::to_string(i) + " header past the end)");
        const std::uint32_t bytes = u32(b, at + 8);
        const std::uint32_t loop_start = u32(b, at + 12), loop_end = u32(b, at + 16);
        PatchSample s;
        s.sample_rate_hz = u16(b, at + 20);
        s.low_hz = u32(b, at + 22) / 1000.0;  // frequencies are stored in mHz
        s.high_hz = u32(b, at + 26) / 1000.0;
        s.root_hz = u32(b, at + 30) / 1000.0;
        const std::uint8_t mode = std::uint8_t(b[at + 55]);
        const bool wide = mode & 1, is_unsigned = mode & 2;
        s.looped = mode & 4;  // bit 3 (ping-pong) is played as a forward loop
        if (s.sample_rate_hz < 1000 || s.root_hz <= 0.0)
            throw input_error(path + ": GUS patch sample " + std::to_string(i) + " has no usable rate or root frequency");
        at += kSampleHeaderBytes;
        if (std::size_t(bytes) > b.size() - at)
            throw input_error(path + ": truncated GUS patch (sample " + std::to_string(i) + " data: " +
                              std::to_string(bytes) + " bytes, " + std::to_string(b.size() - at) + " left)");
        const std::size_t width = wide ? 2 : 1, n = bytes / width;
        s.data.resize(n);
        for (std::size_t k = 0; k < n; ++k) {
            if (wide) {
                const std::uint16_t v = u16(b, at + 2 * k);
                s.data[k] = is_unsigned ? float(int(v) - 32768) / 32768.0f : float(std::int16_t(v)) / 32768.0f;
            } else {
                const std::uint8_t v = std::uint8_t(b[at + k]);
                s.data[k] = is_unsigned ? float(int(v) - 128) / 128.0f : float(std::int8_t(v)) / 128.0f;
            }
        }
        if (mode & 16) std::reverse(s.data.begin(), s.data.end());
        s.loop_start = loop_start / width;
        s.loop_end = std::min<std::size_t>(loop_end / width, n);
        if (s.loop_start >= s.loop_end) s.looped = false;
        at += bytes;
        if (n < 2) throw input_error(path + ": GUS patch sample " + std::to_string(i) + " is empty");
        p.samples.push_back(std::move(s));
    }
    return p;
}

FreepatsMap read_freepats_cfg(const std::string& cfg_path) {
    std::ifstream in(cfg_path);
    if (!in) throw input_error(cfg_path + ": cannot open the freepats config (run tools/install-deps.sh)");
    FreepatsMap m;
    fs::path dir = fs::path(cfg_path).parent_path();
    // Which section lines belong to: drum set 0, melodic bank 0, or another (ignored).
    enum { None, Drums, Melodic } section = None;
    std::string line;
    while (std::getline(in, line)) {
        if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
        std::istringstream words(line);
        std::string first, second;
        if (!(words >> first)) continue;
        words >> second;
        if (first == "dir") dir = second;
        else if (first == "drumset") section = second == "0" ? Drums : None;
        else if (first == "bank") section = second == "0" ? Melodic : None;
        else if (section != None && !second.empty() && std::all_of(first.begin(), first.end(), ::isdigit)) {
            std::string file = (dir / second).string();
            if (fs::path(file).extension() != ".pat") file += ".pat";
            (section == Drums ? m.drums : m.programs)[std::stoi(first)] = file;
        }
    }
    if (m.programs.empty() && m.drums.empty()) throw input_error(cfg_path + ": no patches in the freepats config");
    return m;
}

Audio render_patch(const Part& part, const Song& song, const std::string& freepats_cfg, int sr_hz,
                   std::size_t frames, std::string& label) {
    const FreepatsMap map = read_freepats_cfg(freepats_cfg);
    const Source& src = part.source;
    Rng rng(src.variant);
    std::map<std::string, Patch> loaded;
    auto patch = [&](const std::string& file) -> const Patch& {
        auto it = loaded.find(file);
        if (it == loaded.end()) it = loaded.emplace(file, read_patch(file)).first;
        return it->second;
    };
    Audio out(1, frames, sr_hz);
    auto& buf = out.channels[0];
    auto place = [&](std::size_t at, const std::vector<float>& note, float gain) {
        for (std::size_t i = 0; i < note.size() && at + i < frames; ++i) buf[at + i] += gain * note[i];
    };

    if (src.drum) {
        // Percussion: each key's one-shot at its recorded pitch, tuned a little
        // per part (a different drum of the same kind), velocity as level.
        const double tuning = std::pow(2.0, rng.uniform(-1.5, 1.5) / 12.0);
        std::map<int, std::string> file_of;
        for (const auto& n : part.notes) {
            int key = n.key;
            for (const auto& [from, to] : src.key_map)
                if (from == n.key) key = to;
            const auto it = map.drums.find(key);
            if (it != map.drums.end()) file_of[n.key] = it->second;
        }
        if (file_of.empty()) throw input_error(freepats_cfg + ": no drum patch for the keys of this " + part.role + " part");
        label = "freepats:";
        std::vector<std::string> named;
        for (const auto& [key, file] : file_of)
            if (std::find(named.begin(), named.end(), file) == named.end()) {
                named.push_back(file);
                label += " " + fs::path(file).stem().string();
            }
        for (const auto& n : part.notes) {
            const auto it = file_of.find(n.key);
            if (it == file_of.end()) continue;
            const PatchSample& s = patch(it->second).samples.front();
            const double step = tuning * double(s.sample_rate_hz) / sr_hz;
            const std::size_t at = onset_frame(song, n.beat, n.offset_sec, sr_hz);
            // Güira strokes last their gate (a long scrape, a short one); other hits ring out.
            std::size_t gate = std::size_t(double(s.data.size()) / step);
            if (part.role == "guira") {
                const std::size_t end = onset_frame(song, n.beat + n.dur_beats, n.offset_sec, sr_hz);
                gate = std::min(gate, std::max<std::size_t>(end > at ? end - at : 0, std::size_t(sr_hz / 50)));
            }
            PatchSample one_shot = s;
            one_shot.looped = false;
            place(at, play(one_shot, step, gate, std::size_t(sr_hz / 100), sr_hz), float(n.velocity) / 127.0f);
        }
        return out;
    }

    const auto it = map.programs.find(src.program);
    if (it == map.programs.end())
        throw input_error(freepats_cfg + ": no patch for GM program " + std::to_string(src.program));
    const Patch& p = patch(it->second);
    label = "freepats: " + fs::path(it->second).stem().string();
    const std::size_t release = std::size_t(sr_hz * 0.15);
    for (const auto& n : part.notes) {
        const double hz = midi_hz(n.key);
        const PatchSample& s = sample_for(p, hz);
        const double step = hz / s.root_hz * double(s.sample_rate_hz) / sr_hz;
        const std::size_t at = onset_frame(song, n.beat, n.offset_sec, sr_hz);
        const std::size_t end = onset_frame(song, n.beat + n.dur_beats, n.offset_sec, sr_hz);
        const std::size_t gate = std::max<std::size_t>(end > at ? end - at : 0, std::size_t(sr_hz / 100));
        place(at, play(s, step, gate, release, sr_hz), float(n.velocity) / 127.0f);
    }
    return out;
}

}  // namespace loopsep::synth
