// Rap vocals with libespeak-ng: every distinct word is synthesised once per
// part (synchronous mode, no audio device), trimmed of silence, resampled,
// then placed on its beat and cut with a short fade before the next word.
#include <espeak-ng/speak_lib.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include "loopsep/error.h"
#include "render.h"

namespace loopsep::synth {
namespace {

std::vector<short>* g_sink = nullptr;  // espeak's callback has no user pointer in synchronous mode

int collect(short* wav, int count, espeak_EVENT*) {
    if (wav && count > 0 && g_sink) g_sink->insert(g_sink->end(), wav, wav + count);
    return 0;  // continue
}

int espeak_rate_hz() {
    static std::once_flag once;
    static int rate = 0;
    std::call_once(once, [] {
        rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nullptr, espeakINITIALIZE_DONT_EXIT);
        if (rate > 0) espeak_SetSynthCallback(collect);
    });
    if (rate <= 0) throw input_error("synth: espeak-ng could not be initialised (is espeak-ng-data installed?)");
    return rate;
}

std::vector<float> speak(const std::string& text, int pitch, int speed, int rate_hz, int target_hz) {
    std::vector<short> pcm;
    g_sink = &pcm;
    espeak_SetParameter(espeakPITCH, std::clamp(pitch, 0, 99), 0);
    espeak_SetParameter(espeakRATE, speed, 0);
    espeak_Synth(text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, nullptr, nullptr);
    espeak_Synchronize();
    g_sink = nullptr;
    // trim silence (threshold relative to the word's peak)
    int peak = 0;
    for (short s : pcm) peak = std::max(peak, std::abs(int(s)));
    if (peak == 0) return {};
    const int thr = std::max(1, peak / 50);
    std::size_t a = 0, b = pcm.size();
    while (a < b && std::abs(int(pcm[a])) < thr) ++a;
    while (b > a && std::abs(int(pcm[b - 1])) < thr) --b;
    Audio word(1, b - a, rate_hz);
    for (std::size_t i = a; i < b; ++i) word.channels[0][i - a] = float(pcm[i]) / 32768.0f;
    if (rate_hz != target_hz) word = resample(word, target_hz);
    return word.channels[0];
}

}  // namespace

Audio render_voice(const Part& part, const Song& song, int sr, std::size_t frames, std::string& label) {
    const int rate = espeak_rate_hz();
    if (espeak_SetVoiceByName(part.source.voice.c_str()) != EE_OK)
        throw input_error("synth: espeak-ng voice '" + part.source.voice + "' not available");
    label = "espeak-ng " + part.source.voice + " pitch " + std::to_string(part.source.voice_pitch) + " speed " +
            std::to_string(part.source.voice_speed);
    std::map<std::pair<std::string, int>, std::vector<float>> cache;
    Audio out(1, frames, sr);
    auto& buf = out.channels[0];
    for (const auto& w : part.words) {
        const int pitch = part.source.voice_pitch + w.pitch_offset;
        auto key = std::make_pair(w.text, pitch);
        auto it = cache.find(key);
        if (it == cache.end()) it = cache.emplace(key, speak(w.text, pitch, part.source.voice_speed, rate, sr)).first;
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
