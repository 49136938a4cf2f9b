// loopsep beat — global dynamic-programming beat tracker (Ellis 2007), local-tempo aware.
//
// C(t) = onset(t) + max over τ of [ C(t−τ) − tightness · log(τ / P(t))² ], with P(t) the
// local beat period. The best chain is found for the whole song at once, so beats in
// an intro or in the first seconds are placed by the evidence after them (no settling
// time), and P(t) lets the grid follow drift and ramps. Beats are then refined to the
// onset peak (sub-frame, parabolic) and trimmed/extended to the audible part.
#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include "beat_internal.h"

namespace loopsep::beat_detail {
namespace {

// An onset this many standard deviations of the envelope counts as music going on
// (for where the grid may end).
constexpr float kClearOnset = 0.5f;

// Span of the music (frames): from the first audible frame (within 50 dB of the loud part;
// a soft drum-less intro counts) to the last clear onset (above one standard deviation of
// the envelope). A silent lead-in or a ring-out gets no beats.
std::pair<long, long> music_span(const Features& f) {
    std::vector<float> sorted = f.rms;
    std::sort(sorted.begin(), sorted.end());
    const float loud = sorted[std::size_t(0.95 * (sorted.size() - 1))];
    const float thr = std::max(1e-6f, loud * 0.003f);
    long first = -1, last = -1;
    for (long t = 0; t < long(f.rms.size()); ++t) {
        const bool audible = f.rms[t] > thr || (t > 0 && f.rms[t - 1] > thr) || (t + 1 < long(f.rms.size()) && f.rms[t + 1] > thr);
        if (audible && first < 0) first = t;
        if (audible && f.onset[t] > kClearOnset) last = t;
    }
    return {first, last};
}

}  // namespace

double refine_to_peak(const std::vector<float>& o, long b) {
    const long n = long(o.size());
    long best = b;
    for (long t = std::max(0L, b - 3); t <= std::min(n - 1, b + 3); ++t)
        if (o[t] > o[best]) best = t;
    if (best <= 0 || best >= n - 1) return double(best);
    // Only move onto a real peak; in an onset-free stretch keep the DP's grid position.
    if (o[best] < 0.5f || o[best] < o[best - 1] || o[best] < o[best + 1]) return double(b);
    const double a = o[best - 1], m = o[best], c = o[best + 1];
    const double denom = a - 2 * m + c;
    const double delta = std::fabs(denom) > 1e-12 ? std::clamp(0.5 * (a - c) / denom, -0.5, 0.5) : 0.0;
    return best + delta;
}

std::vector<double> dp_beats(const Features& f, const std::vector<double>& period, double tightness) {
    const auto& o = f.onset;
    const long n = long(o.size());
    // Not a structured binding: a lambda below uses them, which C++17 does not allow (clang refuses it).
    long first_on = 0, last_on = 0;
    std::tie(first_on, last_on) = music_span(f);
    if (first_on < 0 || last_on < 0) return {};
    std::vector<double> score(n, 0.0);
    std::vector<long> back(n, -1);
    // log(tau / p) = log(tau) - log(p): one table of log(tau) instead of a log per (t, tau).
    double max_period = 0;
    for (double p : period) max_period = std::max(max_period, p);
    std::vector<double> log_tau(std::size_t(std::ceil(2.0 * max_period)) + 2, 0.0);
    for (std::size_t tau = 1; tau < log_tau.size(); ++tau) log_tau[tau] = std::log(double(tau));
    for (long t = 0; t < n; ++t) {
        const double p = period[t], log_p = std::log(p);
        const long lo = std::max(1L, long(std::floor(0.5 * p))), hi = long(std::ceil(2.0 * p));
        double best = -std::numeric_limits<double>::infinity();
        long arg = -1;
        for (long tau = lo; tau <= hi && tau <= t; ++tau) {
            const double l = log_tau[tau] - log_p;
            const double v = score[t - tau] - tightness * l * l;
            if (v > best) {
                best = v;
                arg = t - tau;
            }
        }
        // A chain whose best predecessor scores below zero (near the start, where only a
        // badly spaced one exists) is better started afresh here.
        if (arg >= 0 && best > 0) {
            score[t] = o[t] + best;
            back[t] = arg;
        } else {
            score[t] = o[t];
            back[t] = -1;
        }
    }
    // The chain ends at the best score around the last onset.
    const long start = std::max(0L, last_on - long(std::ceil(period[last_on])));
    const long end = std::min(n - 1, last_on + long(std::ceil(0.5 * period[last_on])));
    long t = start;
    for (long u = start; u <= end; ++u)
        if (score[u] > score[t]) t = u;
    std::vector<long> chain;
    for (; t >= 0; t = back[t]) chain.push_back(t);
    std::reverse(chain.begin(), chain.end());

    std::vector<double> beats;
    for (long b : chain) beats.push_back(refine_to_peak(o, b));
    // Trim beats outside the audible span (a silent lead-in or tail), with half a beat of slack.
    auto inside = [&](double b) {
        const double slack = 0.5 * period[std::clamp(long(b), 0L, n - 1)];
        return b >= first_on - slack && b <= last_on + slack;
    };
    while (!beats.empty() && !inside(beats.front())) beats.erase(beats.begin());
    while (!beats.empty() && !inside(beats.back())) beats.pop_back();
    if (beats.empty()) return beats;
    // Extend at the local period (the DP chain can stop short of the ends): back to the start
    // of the music, forward while there are onsets on the grid.
    auto onset_near = [&](double b) {
        const long c = long(std::lround(b));
        for (long u = std::max(0L, c - 4); u <= std::min(n - 1, c + 4); ++u)
            if (o[u] > kClearOnset) return true;
        return false;
    };
    for (;;) {
        const double b = beats.front() - period[std::clamp(long(beats.front()), 0L, n - 1)];
        if (b < 0 || b < first_on - 0.1 * period[0]) break;
        beats.insert(beats.begin(), refine_to_peak(o, long(std::lround(b))));
    }
    for (;;) {
        const double b = beats.back() + period[std::clamp(long(beats.back()), 0L, n - 1)];
        if (b >= n || !onset_near(b)) break;
        beats.push_back(refine_to_peak(o, long(std::lround(b))));
    }
    return beats;
}

}  // namespace loopsep::beat_detail
