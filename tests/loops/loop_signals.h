// Signals for the loops tests: click loops with known tempo.
#pragma once

#include <cmath>
#include <random>
#include <vector>

#include "loopsep/audio.h"

namespace loopsep::testing {

// Adds a short decaying 1.5 kHz click of amplitude `amp` at `t_sec`.
inline void add_click(Audio& a, double t_sec, float amp) {
    const std::size_t start = std::size_t(std::llround(t_sec * a.sample_rate_hz));
    const std::size_t len = std::size_t(0.02 * a.sample_rate_hz);
    for (int c = 0; c < a.num_channels(); ++c)
        for (std::size_t i = 0; i < len && start + i < a.frames(); ++i) {
            double t = double(i) / a.sample_rate_hz;
            a.channels[c][start + i] += amp * float(std::exp(-t / 0.004) * std::sin(2 * M_PI * 1500.0 * t));
        }
}

// A decaying hit: a sine at freq_hz (0 = white noise) with time constant decay_sec.
inline void add_hit(Audio& a, double t_sec, float amp, double freq_hz, double decay_sec, unsigned seed = 1) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    const std::size_t start = std::size_t(std::llround(t_sec * a.sample_rate_hz));
    const std::size_t len = std::size_t(6 * decay_sec * a.sample_rate_hz);
    for (std::size_t i = 0; i < len && start + i < a.frames(); ++i) {
        double t = double(i) / a.sample_rate_hz;
        float v = freq_hz > 0 ? float(std::sin(2 * M_PI * freq_hz * t)) : d(rng);
        for (int c = 0; c < a.num_channels(); ++c) a.channels[c][start + i] += amp * float(std::exp(-t / decay_sec)) * v;
    }
}

// Two bars of boom-bap at `bpm`: kick on 1 and the "and" of 3, snare on 2 and 4, soft eighth hats.
inline Audio boom_bap_loop(double bpm) {
    const double beat_sec = 60.0 / bpm;
    Audio a(2, std::size_t(std::llround(8 * beat_sec * kEngineRateHz)));
    for (int bar = 0; bar < 2; ++bar) {
        const double t0 = bar * 4 * beat_sec;
        add_hit(a, t0, 0.9f, 55, 0.06);
        add_hit(a, t0 + 2.5 * beat_sec, 0.8f, 55, 0.06);
        add_hit(a, t0 + 1 * beat_sec, 0.6f, 0, 0.05, 2 + bar);
        add_hit(a, t0 + 3 * beat_sec, 0.6f, 0, 0.05, 4 + bar);
        for (int e = 0; e < 8; ++e) add_hit(a, t0 + e * 0.5 * beat_sec, 0.12f, 0, 0.008, 10 + e);
    }
    return a;
}

// A loop of `beats` beats lasting exactly `seconds`, a click on every beat
// (amplitude `beat_amp`) and optionally on every off-beat eighth (`offbeat_amp`).
inline Audio click_loop(double seconds, int beats, float beat_amp = 0.8f, float offbeat_amp = 0.0f, int channels = 1) {
    Audio a(channels, std::size_t(std::llround(seconds * kEngineRateHz)));
    const double beat_sec = seconds / beats;
    for (int b = 0; b < beats; ++b) {
        add_click(a, b * beat_sec, beat_amp);
        if (offbeat_amp > 0) add_click(a, (b + 0.5) * beat_sec, offbeat_amp);
    }
    return a;
}

// Frequency of a (near-)sinusoid from its zero crossings over the middle 80 %.
inline double zero_crossing_hz(const std::vector<float>& x, int rate_hz) {
    const std::size_t lo = x.size() / 10, hi = x.size() - x.size() / 10;
    std::size_t first = 0, last = 0;
    int crossings = 0;
    for (std::size_t i = lo + 1; i < hi; ++i)
        if ((x[i - 1] < 0) != (x[i] < 0)) {
            if (crossings == 0) first = i;
            last = i;
            ++crossings;
        }
    if (crossings < 2) return 0;
    return 0.5 * double(crossings - 1) / (double(last - first) / rate_hz);
}

}  // namespace loopsep::testing
