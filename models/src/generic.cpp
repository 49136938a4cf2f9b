// Generic training sounds (see generic.h).
#include "generic.h"

#include <algorithm>
#include <cmath>
#include <iterator>

namespace loopsep::generic {

namespace {

double log_uniform(std::mt19937_64& rng, double lo, double hi) {
    std::uniform_real_distribution<double> u(std::log(lo), std::log(hi));
    return std::exp(u(rng));
}

// RBJ cookbook Butterworth section (Q = 1/√2), direct form I, run in place.
void biquad(float* x, std::int64_t n, double cutoff_hz, int sample_rate_hz, bool high_pass) {
    const double w0 = 2.0 * M_PI * cutoff_hz / sample_rate_hz, alpha = std::sin(w0) / (2.0 * M_SQRT1_2);
    const double c = std::cos(w0), a0 = 1.0 + alpha;
    const double b0 = (high_pass ? (1.0 + c) : (1.0 - c)) / 2.0 / a0, b1 = (high_pass ? -(1.0 + c) : (1.0 - c)) / a0;
    const double b2 = b0, a1 = -2.0 * c / a0, a2 = (1.0 - alpha) / a0;
    double x1 = 0, x2 = 0, y1 = 0, y2 = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        const double y = b0 * x[i] + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
        x2 = x1; x1 = x[i]; y2 = y1; y1 = y;
        x[i] = float(y);
    }
}

}  // namespace

Timbre random_timbre(std::mt19937_64& rng, int sample_rate_hz) {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const double top_hz = 0.45 * sample_rate_hz;
    Timbre t;
    t.noise = u(rng) < 0.5;
    t.decay_sec = log_uniform(rng, 0.03, 0.6);
    if (t.noise) {
        if (u(rng) < 0.35) return t;   // broadband: no filter (white-noise shakers, gated noise)
        const double centre_hz = log_uniform(rng, 80.0, 12000.0), width_oct = 0.5 + 4.5 * u(rng);
        t.low_hz = std::max(20.0, centre_hz / std::exp2(width_oct / 2));
        t.high_hz = std::min(top_hz, centre_hz * std::exp2(width_oct / 2));
        return t;
    }
    t.f0_hz = log_uniform(rng, 40.0, 1000.0);
    if (u(rng) < 0.3) {
        t.scale_semitones = {0};
    } else {
        std::vector<int> pool = {0, 2, 3, 5, 7, 9, 10, 12};
        std::shuffle(pool.begin(), pool.end(), rng);
        pool.resize(2 + rng() % 4);
        t.scale_semitones = pool;
    }
    const int top_note = *std::max_element(t.scale_semitones.begin(), t.scale_semitones.end());
    const int max_harmonics = std::max(1, int(top_hz / (t.f0_hz * std::exp2(top_note / 12.0))));
    const int harmonics = std::min(max_harmonics, 1 + int(rng() % 12));
    const double rolloff = 0.5 + 2.0 * u(rng);
    const bool odd_only = u(rng) < 0.3;
    for (int k = 1; k <= harmonics; ++k)
        t.harmonic_gain.push_back((odd_only && k % 2 == 0) ? 0.0f : float(std::pow(double(k), -rolloff)));
    return t;
}

void render(const Timbre& t, std::mt19937_64& rng, int sample_rate_hz, std::int64_t bar_start_frames,
            std::int64_t bar_frames, float* out, std::int64_t n) {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    // Noise plays mostly in eighths and sixteenths, as shakers and hi-hats do: there the trained
    // güira and hi-hats are the nearest thing the net knows, and it must learn that such a query
    // asks for its own spectrum, not theirs (see the probe in models/TRAINING.md).
    static const int kSteps[] = {1, 2, 4, 8, 16};
    static const double kNoiseWeights[] = {1, 1, 2, 3, 3}, kToneWeights[] = {1, 1, 1, 1, 1};
    const bool sustained = u(rng) < 0.15;
    const double* weights = t.noise ? kNoiseWeights : kToneWeights;
    std::discrete_distribution<int> grid(weights, weights + std::size(kSteps));
    const int steps_per_bar = kSteps[grid(rng)];
    const double density = 0.4 + 0.6 * u(rng);
    const double step_frames = double(bar_frames) / steps_per_bar;
    // Half the renderings hold each note at full level for part of its step before it decays: gated
    // noise and organ-like tones, not only struck ones.
    const double hold_frames = u(rng) < 0.5 ? 0.0 : (0.2 + 0.8 * u(rng)) * step_frames;

    // Note onsets (frames) and pitches over the whole window, on the grid of the bar.
    std::vector<std::int64_t> onset;
    std::vector<int> semitone;
    auto pick_note = [&] { return t.scale_semitones.empty() ? 0 : t.scale_semitones[rng() % t.scale_semitones.size()]; };
    if (sustained) {
        onset.push_back(0);
        semitone.push_back(pick_note());
    } else {
        const auto k0 = std::int64_t(std::floor(-double(bar_start_frames) / step_frames));
        const auto k1 = std::int64_t(std::ceil(double(n - bar_start_frames) / step_frames));
        for (std::int64_t k = k0; k <= k1; ++k) {
            const auto at = bar_start_frames + std::int64_t(std::llround(double(k) * step_frames));
            if (at < 0 || at >= n || u(rng) >= density) continue;
            onset.push_back(at);
            semitone.push_back(pick_note());
        }
        if (onset.empty()) {   // never a silent rendering: one note on a random step of the bar
            onset.push_back(std::clamp<std::int64_t>(bar_start_frames + std::int64_t(step_frames * double(rng() % steps_per_bar)), 0, n - 1));
            semitone.push_back(pick_note());
        }
    }

    // Source: filtered noise, or a wavetable of the harmonics at each note's pitch.
    std::fill(out, out + n, 0.0f);
    if (t.noise) {
        std::normal_distribution<float> g(0.0f, 1.0f);
        for (std::int64_t i = 0; i < n; ++i) out[i] = g(rng);
        for (int pass = 0; pass < 2; ++pass) {
            if (t.low_hz > 0) biquad(out, n, t.low_hz, sample_rate_hz, true);
            if (t.high_hz > 0) biquad(out, n, t.high_hz, sample_rate_hz, false);
        }
    }
    constexpr int kTable = 4096;
    std::vector<float> table;
    if (!t.noise) {
        table.resize(kTable + 1);
        for (int i = 0; i <= kTable; ++i) {
            double v = 0;
            for (std::size_t k = 0; k < t.harmonic_gain.size(); ++k)
                v += t.harmonic_gain[k] * std::sin(2.0 * M_PI * double(k + 1) * i / kTable);
            table[i] = float(v);
        }
    }
    const double attack_frames = 0.003 * sample_rate_hz, decay_frames = t.decay_sec * sample_rate_hz;
    double phase = u(rng);
    for (std::size_t j = 0; j < onset.size(); ++j) {
        const std::int64_t a = onset[j], b = j + 1 < onset.size() ? onset[j + 1] : n;
        const double inc = t.noise ? 0.0 : t.f0_hz * std::exp2(semitone[j] / 12.0) / sample_rate_hz;
        for (std::int64_t i = a; i < b; ++i) {
            const double since = double(i - a);
            const double env = sustained ? 1.0
                                         : std::min(1.0, since / attack_frames) *
                                               std::exp(-std::max(0.0, since - hold_frames) / decay_frames);
            if (t.noise) {
                out[i] = float(out[i] * env);
            } else {
                const double pos = phase * kTable;
                const auto i0 = std::int64_t(pos);
                const float frac = float(pos - double(i0));
                out[i] = float(env * (table[i0] + (table[i0 + 1] - table[i0]) * frac));
                phase += inc;
                phase -= std::floor(phase);
            }
        }
    }
    for (std::int64_t i = 0; i < (onset.empty() ? n : onset[0]); ++i) out[i] = 0.0f;
    double energy = 0;
    for (std::int64_t i = 0; i < n; ++i) energy += double(out[i]) * out[i];
    if (energy <= 0) return;
    const float norm = float(1.0 / std::sqrt(energy / double(n)));
    for (std::int64_t i = 0; i < n; ++i) out[i] *= norm;
}

}  // namespace loopsep::generic
