// Rap vocals with the espeak-ng CLI: every distinct word is synthesised once
// per part, trimmed of silence, resampled, then placed on its beat and cut with
// a short fade before the next one.
//
// Why a process per word and not libespeak-ng: the library keeps state between
// utterances (its noise generator and voice-variant settings), so the same word
// comes out different depending on what was said before — a song would then
// depend on the songs rendered before it. A fresh espeak-ng process always
// starts from the same state.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "loopsep/error.h"
#include "render.h"

namespace loopsep::synth {
namespace {

constexpr int kEspeakRateHz = 22050;

// Words, voices and numbers are our own (letters, digits, '+', '-'), so the
// shell command needs no quoting beyond the single quotes.
bool shell_safe(const std::string& s) {
    for (unsigned char c : s)
        if (c == '\'' || c == '\\' || c < 0x20) return false;
    return true;
}

std::vector<float> speak(const std::string& voice, const std::string& text, int pitch, int speed, int target_hz) {
    if (!shell_safe(voice) || !shell_safe(text)) throw usage_error("synth: unsafe text for espeak-ng: " + text);
    const std::string cmd = "espeak-ng --stdout -v '" + voice + "' -p " + std::to_string(std::clamp(pitch, 0, 99)) +
                            " -s " + std::to_string(speed) + " '" + text + "' 2>/dev/null";
    FILE* pipe = ::popen(cmd.c_str(), "r");
    if (!pipe) throw input_error("synth: cannot run espeak-ng (install espeak-ng)");
    std::vector<unsigned char> bytes;
    unsigned char chunk[8192];
    std::size_t got;
    while ((got = std::fread(chunk, 1, sizeof chunk, pipe)) > 0) bytes.insert(bytes.end(), chunk, chunk + got);
    const int rc = ::pclose(pipe);
    if (rc != 0 || bytes.size() < 44 || std::string(bytes.begin(), bytes.begin() + 4) != "RIFF")
        throw input_error("synth: espeak-ng failed for voice '" + voice + "' (is espeak-ng installed?)");
    // espeak-ng writes a canonical 44-byte header: mono 16-bit PCM at 22050 Hz.
    std::vector<short> pcm((bytes.size() - 44) / 2);
    for (std::size_t i = 0; i < pcm.size(); ++i)
        pcm[i] = short(bytes[44 + 2 * i] | (bytes[45 + 2 * i] << 8));
    int peak = 0;
    for (short s : pcm) peak = std::max(peak, std::abs(int(s)));
    if (peak == 0) return {};
    const int thr = std::max(1, peak / 50);
    std::size_t a = 0, b = pcm.size();
    while (a < b && std::abs(int(pcm[a])) < thr) ++a;
    while (b > a && std::abs(int(pcm[b - 1])) < thr) --b;
    Audio word(1, b - a, kEspeakRateHz);
    for (std::size_t i = a; i < b; ++i) word.channels[0][i - a] = float(pcm[i]) / 32768.0f;
    if (target_hz != kEspeakRateHz) word = resample(word, target_hz);
    return word.channels[0];
}

}  // namespace

Audio render_voice(const Part& part, const Song& song, int sr, std::size_t frames, std::string& label) {
    label = "espeak-ng " + part.source.voice + " pitch " + std::to_string(part.source.voice_pitch) + " speed " +
            std::to_string(part.source.voice_speed);
    std::map<std::pair<std::string, int>, std::vector<float>> cache;
    Audio out(1, frames, sr);
    auto& buf = out.channels[0];
    for (const auto& w : part.words) {
        const int pitch = part.source.voice_pitch + w.pitch_offset;
        auto key = std::make_pair(w.text, pitch);
        auto it = cache.find(key);
        if (it == cache.end())
            it = cache.emplace(key, speak(part.source.voice, w.text, pitch, part.source.voice_speed, sr)).first;
        const auto& samples = it->second;
        const std::size_t at = onset_frame(song, w.beat, 0.0, sr);
        const double slot = song.tempo.time_of(w.beat + w.max_beats) - song.tempo.time_of(w.beat) - 0.01;
        const std::size_t len = std::min(samples.size(), std::size_t(std::max(0.05, slot) * sr));
        const std::size_t fade = std::min<std::size_t>(len / 3, std::size_t(0.015 * sr));
        for (std::size_t i = 0; i < len && at + i < frames; ++i) {
            float g = 1.0f;
            if (i + fade >= len) g = float(len - i) / float(fade + 1);
            buf[at + i] += samples[i] * g;
        }
    }
    return out;
}

}  // namespace loopsep::synth
