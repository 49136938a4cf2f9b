// Drum patterns synthesised for the meter tests (test_beat_meter.cpp, test_beat_learned.cpp): a kick
// (pitch-dropping sine), a snare/clap (noise burst with a body tone), a hat (differenced noise: mostly
// above 6 kHz) and a chord pad whose chord changes on each bar.
#pragma once

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "loopsep/beat.h"
#include "signals.h"

namespace beat_test {

using loopsep::Audio;
using loopsep::BeatGrid;
using loopsep::BeatParams;
using loopsep::Genre;
// One bar of sixteenths: a hit on position p when the string has a non-space char there.
struct Pattern {
    std::string kick, snare, hat;   // 16 chars each
    double kick_gain = 0.8, snare_gain = 0.5, hat_gain = 0.3;
};

struct DrumSong {
    Audio audio;
    std::vector<double> beats, downbeats;
};

inline void add_kick(std::vector<float>& x, double t, double gain) { beat_test::add_click(x, t, gain, true); }

inline void add_noise_burst(std::vector<float>& x, double t, double gain, double decay_sec, bool high, std::mt19937& rng) {
    std::normal_distribution<float> n(0.0f, 1.0f);
    const long start = long(std::lround(t * kSr));
    const int len = int(6 * decay_sec * kSr);
    float prev = 0;
    for (int i = 0; i < len; ++i) {
        const long j = start + i;
        if (j < 0 || j >= long(x.size())) continue;
        const float w = n(rng);
        // Differenced noise for the hat (a first-order high-pass: energy towards 10+ kHz); plain
        // noise plus a 190 Hz body for the snare.
        float v = high ? w - prev : w + 1.5f * float(std::sin(2 * M_PI * 190.0 * i / kSr));
        prev = w;
        x[j] += float(gain * v * std::exp(-double(i) / kSr / decay_sec));
    }
}

// Chord pad: three partials per chord (root·2, third, fifth, 200–500 Hz) sustained for the bar,
// the chord changing on every downbeat (A, F, C, G minor/major triads in turn).
inline void add_pad(std::vector<float>& x, double t0, double t1, int bar, double gain) {
    static const double roots[4] = {220.0, 174.6, 261.6, 196.0};
    const double r = roots[bar % 4];
    const double partials[3] = {r, r * std::pow(2.0, (bar % 4 == 0 ? 3 : 4) / 12.0), r * 1.5};
    const long a = long(t0 * kSr), b = std::min(long(x.size()), long(t1 * kSr));
    for (long j = std::max(0L, a); j < b; ++j) {
        const double t = double(j - a) / kSr;
        const double env = std::min(1.0, t / 0.01) * std::min(1.0, double(b - j) / (0.01 * kSr));
        double v = 0;
        for (double hz : partials) v += std::sin(2 * M_PI * hz * t);
        x[j] += float(gain * env * v / 3);
    }
}

// `bars` bars of `pat` at `bpm`, after `pickup` beats of the pattern's last beats; the pad changes
// chord on every downbeat (the pickup gets the last chord).
inline DrumSong drum_song(const Pattern& pat, double bpm, int bars, int pickup, bool pad = true, unsigned seed = 5) {
    DrumSong s;
    const double beat = 60.0 / bpm, six = beat / 4, start = 0.4;
    const double first_down = start + pickup * beat;
    const double end = first_down + bars * 4 * beat;
    std::vector<float> x(std::size_t((end + 1.0) * kSr), 0.0f);
    std::mt19937 rng(seed);
    for (int i = 0; i < pickup + bars * 4; ++i) s.beats.push_back(start + i * beat);
    for (int b = 0; b < bars; ++b) s.downbeats.push_back(first_down + b * 4 * beat);
    for (int k = -4 * pickup; k < 16 * bars; ++k) {
        const int p = ((k % 16) + 16) % 16;
        const double t = first_down + k * six;
        if (pat.kick[p] != ' ') add_kick(x, t, pat.kick_gain);
        if (pat.snare[p] != ' ') add_noise_burst(x, t, pat.snare_gain, 0.05, false, rng);
        if (pat.hat[p] != ' ') add_noise_burst(x, t, pat.hat_gain, 0.03, true, rng);
    }
    if (pad) {
        if (pickup > 0) add_pad(x, start, first_down, 3, 0.08);
        for (int b = 0; b < bars; ++b)
            add_pad(x, first_down + b * 4 * beat, first_down + (b + 1) * 4 * beat, b, 0.08);
    }
    s.audio.sample_rate_hz = kSr;
    s.audio.channels = {x};
    return s;
}

// The grid's beats and downbeats within the played bars (±0.1 s): the last hits ring on, and a
// beat or downbeat where the next bar would start is not an error.
inline BeatGrid hiphop_grid(const DrumSong& s, loopsep::DownbeatModel model = BeatParams{}.downbeat_model) {
    BeatParams p;
    p.genre = Genre::HipHop;
    p.downbeat_model = model;
    BeatGrid g = track_beats(s.audio, p);
    const double lo = s.beats.front() - 0.1, hi = s.beats.back() + 0.1;
    for (auto* v : {&g.beats_sec, &g.downbeats_sec})
        v->erase(std::remove_if(v->begin(), v->end(), [&](double t) { return t < lo || t > hi; }), v->end());
    return g;
}

}  // namespace beat_test
