// loopsep beat — global tempo (with the genre prior) and the local beat period.
//
// Tempo-octave errors (half/double) are the classic failure of generic trackers:
// an autocorrelation has peaks at every multiple of the beat period. We score each
// candidate tempo by the autocorrelation at its period plus half that at two and four
// periods (favouring the metrical level that the bar structure supports) and a quarter of
// that at half the period (the beat's subdivision), times the genre prior, which is
// log-normal around the genre's centre and falls off steeply outside its range.
#include <algorithm>
#include <cmath>

#include "beat_internal.h"

namespace loopsep::beat_detail {
namespace {

// Weight of the autocorrelation at four beats (one bar): bar-level repetition is the
// strongest periodicity in most music and tells the beat from a dotted or half beat.
constexpr double kBarWeight = 0.5;
// Weight of the autocorrelation at half the period: a beat is divided in two (hats, shakers and
// güira on the eighths), a dotted-eighth layer's period (3/4 of the beat: a 4/3 tempo) or a 4/5
// one is not. Without it a slow hip-hop song with a dotted or chopped layer goes to 4/3 of its
// tempo, nearer the prior's centre. Set on tests/beat's dotted-layer song (it needs > 0.1);
// the benches read the same at 0.25 and 0.5 (bench/beats_real/results.md).
constexpr double kHalfWeight = 0.25;

// Normalised autocorrelation (r[0] = 1) of x[begin, end) with its mean removed, lags 0..max_lag.
std::vector<double> autocorr(const std::vector<float>& x, std::size_t begin, std::size_t end, int max_lag) {
    std::vector<double> r(max_lag + 1, 0.0);
    if (end <= begin + 1) return r;
    double mean = 0;
    for (std::size_t i = begin; i < end; ++i) mean += x[i];
    mean /= double(end - begin);
    std::vector<double> y(end - begin);
    for (std::size_t i = begin; i < end; ++i) y[i - begin] = x[i] - mean;
    const std::size_t n = y.size();
    for (int lag = 0; lag <= max_lag && std::size_t(lag) < n; ++lag) {
        // Four partial sums: independent adds instead of one serial chain (4x faster; the
        // order differs from a plain loop only at double rounding).
        double acc[4] = {0, 0, 0, 0};
        std::size_t i = lag;
        for (; i + 4 <= n; i += 4)
            for (int k = 0; k < 4; ++k) acc[k] += y[i + k] * y[i + k - lag];
        for (; i < n; ++i) acc[0] += y[i] * y[i - lag];
        // Unbiased: compensate for the shrinking overlap so long lags are not penalised.
        r[lag] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) / double(n - lag);
    }
    if (r[0] <= 1e-12) return std::vector<double>(max_lag + 1, 0.0);
    const double r0 = r[0];
    for (auto& v : r) v /= r0;
    return r;
}

double at(const std::vector<double>& r, double lag) {  // linear interpolation, 0 outside
    if (lag < 0 || lag >= double(r.size() - 1)) return 0.0;
    const std::size_t i = std::size_t(lag);
    const double frac = lag - double(i);
    return r[i] * (1 - frac) + r[i + 1] * frac;
}

double prior_weight(const TempoPrior& p, double bpm) {
    const double sigma_oct = std::log2(p.max_bpm / p.min_bpm) / 2.0;  // range ≈ ±1 sigma
    const double z = std::log2(bpm / p.center_bpm) / sigma_oct;
    double w = std::exp(-0.5 * z * z);
    // Outside the range the weight falls by ~e^-0.5 per 4 % (a soft wall, not a cliff:
    // a bachata at 108 BPM is still found at 108, not at 216).
    if (bpm < p.min_bpm) w *= std::exp(-0.5 * std::pow(std::log2(p.min_bpm / bpm) / 0.057, 2));
    if (bpm > p.max_bpm) w *= std::exp(-0.5 * std::pow(std::log2(bpm / p.max_bpm) / 0.057, 2));
    return w;
}

}  // namespace

TempoEstimate estimate_tempo(const Features& f, const TempoPrior& prior, double aubio_bpm) {
    TempoEstimate est;
    const double lo_bpm = prior.min_bpm / 1.3, hi_bpm = prior.max_bpm * 1.3;
    const int max_lag = int(std::ceil(4 * 60.0 * f.fps / lo_bpm)) + 2;
    const auto r = autocorr(f.onset, 0, f.frames(), max_lag);
    double best = -1;
    for (double bpm = lo_bpm; bpm <= hi_bpm; bpm += 0.05) {
        const double lag = 60.0 * f.fps / bpm;
        double s = std::max(0.0, at(r, lag)) + 0.5 * std::max(0.0, at(r, 2 * lag)) +
                   kBarWeight * std::max(0.0, at(r, 4 * lag)) + kHalfWeight * std::max(0.0, at(r, lag / 2));
        // A pulse as strong at half the period, at a tempo the prior allows, means this is
        // not the beat but every other beat (a click train at 170 BPM is not 85 BPM).
        // Above the range it is a subdivision (even eighths in bachata) and says nothing.
        if (2 * bpm <= prior.max_bpm && at(r, lag / 2) > 0.9 * at(r, lag)) s *= 0.5;
        s *= prior_weight(prior, bpm);
        if (aubio_bpm > 0 && std::fabs(bpm / aubio_bpm - 1) < 0.03) s *= 1.05;
        if (s > best) {
            best = s;
            est.bpm = bpm;
        }
    }
    if (best <= 0) return est;  // flat autocorrelation: periodicity 0 → beatless
    // Refine to the autocorrelation peak nearest the chosen period (parabolic fit).
    double lag = 60.0 * f.fps / est.bpm;
    int li = int(std::lround(lag));
    for (int step = 0; step < 4; ++step) {
        if (li <= 1 || li + 1 >= int(r.size())) break;
        if (r[li + 1] > r[li]) ++li;
        else if (r[li - 1] > r[li]) --li;
        else break;
    }
    if (li > 1 && li + 1 < int(r.size())) {
        const double a = r[li - 1], b = r[li], c = r[li + 1];
        const double denom = a - 2 * b + c;
        const double delta = std::fabs(denom) > 1e-12 ? std::clamp(0.5 * (a - c) / denom, -0.5, 0.5) : 0.0;
        if (std::fabs(li + delta - lag) < 0.05 * lag) lag = li + delta;
    }
    est.period_frames = lag;
    est.bpm = 60.0 * f.fps / lag;
    est.periodicity = std::clamp(at(r, lag), 0.0, 1.0);
    return est;
}

std::vector<double> local_periods(const Features& f, double global_period) {
    const std::size_t n = f.frames();
    const int win = int(8.0 * f.fps), hop = int(1.0 * f.fps);
    const int lag_lo = int(std::floor(global_period / 1.2)), lag_hi = int(std::ceil(global_period * 1.2)) + 1;
    std::vector<double> centres, periods;
    for (long c = 0; c < long(n) + hop; c += hop) {
        const long b = std::max(0L, c - win / 2), e = std::min(long(n), c + win / 2);
        if (e - b < 3 * lag_hi) continue;
        const auto r = autocorr(f.onset, b, e, lag_hi + 1);
        int best = -1;
        for (int lag = std::max(2, lag_lo); lag <= lag_hi; ++lag)
            if (r[lag] >= r[lag - 1] && r[lag] >= r[lag + 1] && (best < 0 || r[lag] > r[best])) best = lag;
        if (best < 0 || r[best] < 0.1) continue;
        const double a = r[best - 1], m = r[best], z = r[best + 1];
        const double denom = a - 2 * m + z;
        const double delta = std::fabs(denom) > 1e-12 ? std::clamp(0.5 * (a - z) / denom, -0.5, 0.5) : 0.0;
        centres.push_back(double(std::clamp(c, b, e)));
        periods.push_back(best + delta);
    }
    std::vector<double> out(n, global_period);
    if (periods.empty()) return out;
    // Median of 5 against stray windows (a fill, a break), then linear interpolation.
    std::vector<double> smooth(periods.size());
    for (std::size_t i = 0; i < periods.size(); ++i) {
        std::vector<double> w;
        for (long j = long(i) - 2; j <= long(i) + 2; ++j)
            if (j >= 0 && j < long(periods.size())) w.push_back(periods[j]);
        std::nth_element(w.begin(), w.begin() + w.size() / 2, w.end());
        smooth[i] = w[w.size() / 2];
    }
    std::size_t k = 0;
    for (std::size_t t = 0; t < n; ++t) {
        while (k + 1 < centres.size() && centres[k + 1] <= double(t)) ++k;
        if (double(t) <= centres.front()) out[t] = smooth.front();
        else if (k + 1 >= centres.size()) out[t] = smooth.back();
        else {
            const double frac = (double(t) - centres[k]) / (centres[k + 1] - centres[k]);
            out[t] = smooth[k] * (1 - frac) + smooth[k + 1] * frac;
        }
    }
    return out;
}

}  // namespace loopsep::beat_detail
