// A tiny generated song for the engine and harvest suites: kick on every beat, hat on eighths,
// a bass note per bar, at a known tempo — beat-trackable and quick to separate.
#pragma once

#include <cmath>

#include "loopsep/audio.h"
#include "model_fixture.h"
#include "test_util.h"

namespace loopsep::testing {

inline Audio make_test_song(double bpm, double seconds, int channels = 2, int rate_hz = 44100) {
    Audio song(channels, static_cast<std::size_t>(seconds * rate_hz), rate_hz);
    const double beat_sec = 60.0 / bpm;
    std::uint32_t lcg = 12345;
    for (std::size_t i = 0; i < song.frames(); ++i) {
        const double t = double(i) / rate_hz;
        const double in_beat = std::fmod(t, beat_sec), in_eighth = std::fmod(t, beat_sec / 2);
        const int beat = int(t / beat_sec);
        double kick = in_beat < 0.12 ? std::sin(2 * M_PI * 55 * in_beat) * std::exp(-in_beat * 30) * (beat % 4 == 0 ? 1.0 : 0.6) : 0.0;
        lcg = lcg * 1664525u + 1013904223u;
        double hat = in_eighth < 0.03 ? (double(lcg >> 8) / double(1u << 24) - 0.5) * std::exp(-in_eighth * 150) * 0.4 : 0.0;
        const double bass_hz = (beat / 4) % 2 ? 98.0 : 82.4;
        double bass = 0.25 * std::sin(2 * M_PI * bass_hz * t);
        for (int c = 0; c < channels; ++c) song.channels[c][i] = float(0.6 * kick + hat + bass * (c ? 0.9 : 1.0));
    }
    return song;
}

}  // namespace loopsep::testing

namespace loopsep::testing {

// A folder with what a `separate` run needs: a small untrained model (m.safetensors), a 7-s
// 122-BPM stereo song (song.wav) and a 2-s mono loop (loop.wav).
struct SeparateInputs {
    TempDir dir;
    SeparateInputs() {
        write_small_test_model(dir.file("m.safetensors"), 3);
        write_audio(dir.file("song.wav"), make_test_song(122, 7.0), {});
        write_audio(dir.file("loop.wav"), make_test_song(120, 2.0, 1), {});
    }
};

}  // namespace loopsep::testing
