// Tempo of a short loop from its length and onsets (estimate_loop_bpm).
//
// A loop's length is a whole number of beats, so its tempo is one of a handful
// of candidates (60·beats/duration); the onsets only have to choose among them.
// This is far more reliable on 2–8 s clips than a general beat tracker, which
// needs several seconds just to settle.
#include <algorithm>
#include <cmath>
#include <vector>

#include "loopsep/error.h"
#include "loopsep/stft.h"
#include "loopsep/stretch.h"

namespace loopsep {

namespace {

constexpr double kMinBpm = 70.0, kMaxBpm = 180.0;
constexpr double kPriorLowBpm = 85.0, kPriorHighBpm = 150.0;  // where half/double ties go
constexpr double kMinAlign = 0.6;    // share of onset strength on the 16th-note grid that "fits"
constexpr double kMinLoopSec = 0.5;

struct Envelope {
    std::vector<double> value;  // onset strength per STFT frame, >= 0
    double frame_sec = 0;       // hop in seconds; frame t sits at t·frame_sec
};

// Spectral flux of log(1 + |X|) (half-wave rectified), the usual onset detector
// function. The compression is mild on purpose: strong and weak hits must stay
// distinguishable, since which pulse is the beat depends on it.
Envelope onset_envelope(const Audio& loop) {
    StftParams p;
    p.n_fft = 1024;
    p.hop = 256;
    Stft stft(p);
    std::vector<float> mono = loop.mono();
    Spectrogram spec = stft.forward(mono.data(), mono.size());
    Envelope env;
    env.frame_sec = double(p.hop) / loop.sample_rate_hz;
    env.value.assign(spec.num_frames, 0.0);
    std::vector<float> prev(spec.num_bins, 0.0f), cur(spec.num_bins);
    for (std::size_t t = 0; t < spec.num_frames; ++t) {
        double flux = 0;
        for (int k = 0; k < spec.num_bins; ++k) {
            cur[k] = std::log1p(std::abs(spec.at(t, k)));
            flux += std::max(0.0f, cur[k] - prev[k]);
        }
        env.value[t] = flux;
        std::swap(prev, cur);
    }
    return env;
}

// Largest envelope value within ±tol_sec of time t (t may wrap past the end).
double strength_near(const Envelope& env, double t_sec, double tol_sec) {
    const double n = double(env.value.size());
    long lo = long(std::floor((t_sec - tol_sec) / env.frame_sec));
    long hi = long(std::ceil((t_sec + tol_sec) / env.frame_sec));
    double best = 0;
    for (long i = lo; i <= hi; ++i)
        if (i >= 0 && double(i) < n) best = std::max(best, env.value[std::size_t(i)]);
    return best;
}

struct Candidate {
    int beats = 0;
    double bpm = 0;
    double on_beat = 0;  // mean onset strength on the beats, relative to the strongest onset
    double off_beat = 0; // the same halfway between beats
    double align = 0;    // share of peak strength near the 16th-note grid
    double score = 0;
};

double tempo_prior(double bpm) {
    double clamped = std::clamp(bpm, kPriorLowBpm, kPriorHighBpm);
    double octaves = std::log2(bpm / clamped);
    return std::exp(-(octaves / 0.3) * (octaves / 0.3));
}

Candidate evaluate(const Envelope& env, double duration_sec, int beats, double env_max,
                   const std::vector<std::size_t>& peaks) {
    Candidate c;
    c.beats = beats;
    c.bpm = 60.0 * beats / duration_sec;
    const double beat_sec = duration_sec / beats;
    const double tol_sec = std::min(0.03, beat_sec / 12.0);
    double sum = 0;
    double sum_off = 0;
    for (int i = 0; i < beats; ++i) {
        sum += strength_near(env, i * beat_sec, tol_sec);
        sum_off += strength_near(env, (i + 0.5) * beat_sec, tol_sec);
    }
    c.on_beat = sum / beats / env_max;
    c.off_beat = sum_off / beats / env_max;
    const double sub_sec = beat_sec / 4.0;
    double on_grid = 0, total = 0;
    for (std::size_t i : peaks) {
        double t = double(i) * env.frame_sec;
        double off = std::abs(t - std::round(t / sub_sec) * sub_sec);
        total += env.value[i];
        if (off <= tol_sec) on_grid += env.value[i];
    }
    c.align = total > 0 ? on_grid / total : 0;
    // The beat is the pulse that dominates its subdivisions: a grid whose
    // half-beats are as strong as its beats is probably half the real tempo.
    // Half-beats up to 60 % of the beats cost nothing; equal ones cost 60 %, so
    // the doubled grid wins once half-beats reach about 70 % of the beats.
    const double off_ratio = c.on_beat > 0 ? std::min(1.0, c.off_beat / c.on_beat) : 1.0;
    const double contrast = off_ratio <= 0.6 ? 1.0 : 1.0 - 1.5 * (off_ratio - 0.6);
    c.score = c.on_beat * contrast * c.align * tempo_prior(c.bpm);
    return c;
}

}  // namespace

double estimate_loop_bpm(const Audio& loop, int* beats_out) {
    const double duration_sec = loop.duration_sec();
    if (loop.num_channels() == 0 || duration_sec < kMinLoopSec)
        throw input_error("loop too short to estimate its tempo (" + std::to_string(duration_sec) +
                          " s; need at least 0.5 s) — pass --from-bpm");
    if (loop.peak() < 1e-5f) throw input_error("loop is silent: cannot estimate its tempo — pass --from-bpm");

    const Envelope env = onset_envelope(loop);
    const double env_max = *std::max_element(env.value.begin(), env.value.end());
    if (!(env_max > 0)) throw input_error("loop has no onsets: cannot estimate its tempo — pass --from-bpm");
    // Onset peaks: local maxima above a fifth of the strongest onset.
    std::vector<std::size_t> peaks;
    for (std::size_t i = 0; i < env.value.size(); ++i) {
        double v = env.value[i];
        if (v < 0.2 * env_max) continue;
        if (i > 0 && env.value[i - 1] > v) continue;
        if (i + 1 < env.value.size() && env.value[i + 1] >= v) continue;
        peaks.push_back(i);
    }

    auto plausible = [&](int beats) {
        double bpm = 60.0 * beats / duration_sec;
        return bpm >= kMinBpm && bpm <= kMaxBpm;
    };
    auto best_of = [&](std::initializer_list<int> beat_counts, bool need_align) {
        Candidate best;
        for (int beats : beat_counts) {
            if (!plausible(beats)) continue;
            Candidate c = evaluate(env, duration_sec, beats, env_max, peaks);
            if (need_align && c.align < kMinAlign) continue;
            if (best.beats == 0 || c.score > best.score) best = c;
        }
        return best;
    };

    Candidate chosen = best_of({4, 8, 16, 32}, true);
    if (chosen.beats == 0) chosen = best_of({2, 3}, true);
    // Nothing aligns well (sparse or loosely played loop): still prefer a plausible 4·k length.
    if (chosen.beats == 0) chosen = best_of({4, 8, 16, 32}, false);
    if (chosen.beats == 0) chosen = best_of({2, 3}, false);
    if (chosen.beats == 0)
        throw input_error("cannot estimate the loop's tempo: " + std::to_string(duration_sec) +
                          " s is no whole number of beats at 70..180 BPM — pass --from-bpm");
    if (beats_out) *beats_out = chosen.beats;
    return chosen.bpm;
}

}  // namespace loopsep
