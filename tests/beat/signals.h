// Test signals for the beat tracker: click trains with known beat times.
#pragma once

#include <cmath>
#include <random>
#include <vector>

#include "loopsep/audio.h"

namespace beat_test {

constexpr int kSr = loopsep::kEngineRateHz;

// A decaying 1.5 kHz click (hi) or a 60 Hz kick with a pitch drop (low), added at t_sec.
inline void add_click(std::vector<float>& x, double t_sec, double gain, bool low) {
    const long start = long(std::lround(t_sec * kSr));
    const int len = low ? kSr / 4 : kSr / 50;
    double phase = 0;
    for (int i = 0; i < len; ++i) {
        const long j = start + i;
        if (j < 0 || j >= long(x.size())) continue;
        const double t = double(i) / kSr;
        const double hz = low ? 50 + 90 * std::exp(-t / 0.03) : 1500;
        phase += 2 * M_PI * hz / kSr;
        x[j] += float(gain * std::sin(phase) * std::exp(-t / (low ? 0.1 : 0.004)));
    }
}

struct ClickSong {
    loopsep::Audio audio;
    std::vector<double> beats, downbeats;
};

// Beats at `bpm` (optionally ramping linearly to bpm_end), starting at `start_sec`. The first
// `pickup` beats come before the first downbeat; downbeats get a low kick (accents). The first
// `quiet_intro_beats` clicks are 21 dB softer and without kick (a soft intro before the drums).
inline ClickSong click_song(double bpm, double seconds, int pickup = 0, double bpm_end = 0, double start_sec = 0.25,
                            bool accents = true, int quiet_intro_beats = 0) {
    ClickSong s;
    std::vector<float> x(std::size_t(seconds * kSr), 0.0f);
    if (bpm_end <= 0) bpm_end = bpm;
    double t = start_sec;
    const double end = seconds - 0.5;
    std::vector<double> times;
    while (t < end) {
        times.push_back(t);
        const double frac = t / end;
        t += 60.0 / (bpm + (bpm_end - bpm) * frac);
    }
    for (std::size_t i = 0; i < times.size(); ++i) {
        const bool down = int(i) >= pickup && (int(i) - pickup) % 4 == 0;
        s.beats.push_back(times[i]);
        if (down) s.downbeats.push_back(times[i]);
        add_click(x, times[i], int(i) < quiet_intro_beats ? 0.03 : 0.35, false);
        if (accents && down && int(i) >= quiet_intro_beats) add_click(x, times[i], 0.8, true);
    }
    s.audio.sample_rate_hz = kSr;
    s.audio.channels = {x, x};
    return s;
}

inline loopsep::Audio noise(double seconds, unsigned seed = 3) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> n(0.0f, 0.1f);
    std::vector<float> x(std::size_t(seconds * kSr));
    for (auto& v : x) v = n(rng);
    loopsep::Audio a;
    a.channels = {x};
    return a;
}

inline loopsep::Audio sine(double hz, double seconds) {
    std::vector<float> x(std::size_t(seconds * kSr));
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(0.3 * std::sin(2 * M_PI * hz * i / kSr));
    loopsep::Audio a;
    a.channels = {x};
    return a;
}

// Largest |estimate - nearest truth| over the estimates, and the count of truths with no
// estimate within `tol` seconds.
inline std::pair<double, int> compare(const std::vector<double>& truth, const std::vector<double>& est, double tol) {
    double worst = 0;
    for (double e : est) {
        double d = 1e9;
        for (double r : truth) d = std::min(d, std::fabs(e - r));
        worst = std::max(worst, d);
    }
    int missed = 0;
    for (double r : truth) {
        bool hit = false;
        for (double e : est) hit = hit || std::fabs(e - r) <= tol;
        if (!hit) ++missed;
    }
    return {worst, missed};
}

}  // namespace beat_test
