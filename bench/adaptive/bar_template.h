// Bar-synchronous spectral templates: the repetition a loop-based song carries.
//
// After tempo normalisation every bar of a loop-based song lines up with every other, so the
// element-wise median of the OTHER bars' power spectrograms predicts what repeats in a bar (the
// loop) and leaves out what does not (a fill, a voice, a one-off hit): REPET (Rafii & Pardo 2013),
// here on the song's own downbeats instead of a period found by autocorrelation. Used by
// bench_adaptive to measure how much such templates could add to the query-conditioned model.
//
// Everything works on power spectrograms (time-major, frames × bins, the layout of Spectrogram)
// of STFT frames centred at t·hop: frame t sits at t / frames_per_sec seconds.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace loopsep::adaptive {

// A song's bars in seconds: bar b is [begin_sec[b], end_sec[b]). Each bar runs from one downbeat to
// the next; the last one lasts as long as the one before it (one downbeat alone: to the song's end).
struct Bars {
    std::vector<double> begin_sec, end_sec;
    std::size_t size() const { return begin_sec.size(); }
    double length_sec(std::size_t b) const { return end_sec[b] - begin_sec[b]; }
};

inline Bars bars_from_downbeats(const std::vector<double>& downbeats_sec, double song_sec) {
    Bars bars;
    for (std::size_t i = 0; i < downbeats_sec.size(); ++i) {
        const double begin = downbeats_sec[i];
        double end = i + 1 < downbeats_sec.size() ? downbeats_sec[i + 1]
                     : i > 0                      ? begin + (begin - downbeats_sec[i - 1])
                                                  : song_sec;
        end = std::min(end, song_sec);
        if (end > begin) {
            bars.begin_sec.push_back(begin);
            bars.end_sec.push_back(end);
        }
    }
    return bars;
}

// A power spectrogram resampled bar by bar to frames_per_bar frames: position n of bar b is the
// time begin + n/frames_per_bar · length, whatever the bar's tempo.
struct BarSpectra {
    int frames_per_bar = 0, num_bins = 0;
    std::size_t num_bars = 0;
    std::vector<float> data;  // [bar][n][k]
    const float* bar(std::size_t b) const { return data.data() + b * std::size_t(frames_per_bar) * num_bins; }
    std::size_t bar_size() const { return std::size_t(frames_per_bar) * num_bins; }
};

// Linear interpolation between the frames around each resampled position (clamped at the ends).
inline BarSpectra bar_spectra(const std::vector<float>& power, std::size_t num_frames, int num_bins, const Bars& bars,
                              double frames_per_sec, int frames_per_bar) {
    BarSpectra s;
    s.frames_per_bar = frames_per_bar;
    s.num_bins = num_bins;
    s.num_bars = bars.size();
    s.data.assign(s.num_bars * s.bar_size(), 0.0f);
    for (std::size_t b = 0; b < bars.size(); ++b) {
        for (int n = 0; n < frames_per_bar; ++n) {
            const double pos = (bars.begin_sec[b] + bars.length_sec(b) * n / frames_per_bar) * frames_per_sec;
            const double clamped = std::clamp(pos, 0.0, double(num_frames - 1));
            const std::size_t f0 = std::size_t(clamped);
            const std::size_t f1 = std::min(f0 + 1, num_frames - 1);
            const float w = float(clamped - double(f0));
            float* out = s.data.data() + b * s.bar_size() + std::size_t(n) * num_bins;
            const float* p0 = power.data() + f0 * num_bins;
            const float* p1 = power.data() + f1 * num_bins;
            for (int k = 0; k < num_bins; ++k) out[k] = (1.0f - w) * p0[k] + w * p1[k];
        }
    }
    return s;
}

// Element-wise median over the listed bars (an even count: mean of the two middle values):
// one bar's worth, frames_per_bar × num_bins. No bars: zeros.
inline std::vector<float> median_template(const BarSpectra& s, const std::vector<std::size_t>& bars) {
    std::vector<float> out(s.bar_size(), 0.0f);
    if (bars.empty()) return out;
    std::vector<float> v(bars.size());
    const std::size_t mid = bars.size() / 2;
    for (std::size_t i = 0; i < out.size(); ++i) {
        for (std::size_t j = 0; j < bars.size(); ++j) v[j] = s.bar(bars[j])[i];
        std::nth_element(v.begin(), v.begin() + mid, v.end());
        float m = v[mid];
        if (bars.size() % 2 == 0) m = 0.5f * (m + *std::max_element(v.begin(), v.begin() + mid));
        out[i] = m;
    }
    return out;
}

// Every other bar than b: the template for bar b that never sees bar b itself.
inline std::vector<std::size_t> other_bars(std::size_t num_bars, std::size_t b) {
    std::vector<std::size_t> o;
    for (std::size_t i = 0; i < num_bars; ++i)
        if (i != b) o.push_back(i);
    return o;
}

// One template per bar mapped back onto the song's STFT frames (num_frames × num_bins): frame t at
// position u = (time − begin) / length · frames_per_bar of its bar reads the bar's template at u,
// interpolated cyclically (a loop's end runs into its start). Frames outside the real bars (a
// pick-up, a tail) lie in bars extrapolated at the edge bars' lengths and read `outside`.
inline std::vector<float> templates_to_frames(const std::vector<std::vector<float>>& template_of_bar,
                                              const std::vector<float>& outside, const Bars& bars,
                                              int frames_per_bar, int num_bins, std::size_t num_frames,
                                              double frames_per_sec) {
    std::vector<float> out(num_frames * num_bins, 0.0f);
    if (bars.size() == 0) return out;
    const std::size_t last = bars.size() - 1;
    for (std::size_t t = 0; t < num_frames; ++t) {
        const double sec = double(t) / frames_per_sec;
        const std::vector<float>* tmpl = &outside;
        double begin = 0, length = 0;
        if (sec < bars.begin_sec[0]) {
            length = bars.length_sec(0);
            begin = bars.begin_sec[0] - length * std::ceil((bars.begin_sec[0] - sec) / length);
        } else if (sec >= bars.end_sec[last]) {
            length = bars.length_sec(last);
            begin = bars.end_sec[last] + length * std::floor((sec - bars.end_sec[last]) / length);
        } else {
            const std::size_t b = std::size_t(std::upper_bound(bars.begin_sec.begin(), bars.begin_sec.end(), sec) -
                                              bars.begin_sec.begin()) - 1;
            begin = bars.begin_sec[b];
            length = bars.length_sec(b);
            tmpl = &template_of_bar[b];
        }
        double u = (sec - begin) / length * frames_per_bar;
        u = std::fmod(std::max(u, 0.0), double(frames_per_bar));
        const int n0 = std::min(int(u), frames_per_bar - 1);
        const int n1 = (n0 + 1) % frames_per_bar;
        const float w = float(u - n0);
        const float* r0 = tmpl->data() + std::size_t(n0) * num_bins;
        const float* r1 = tmpl->data() + std::size_t(n1) * num_bins;
        float* o = out.data() + t * num_bins;
        for (int k = 0; k < num_bins; ++k) o[k] = (1.0f - w) * r0[k] + w * r1[k];
    }
    return out;
}

// A bar spectrogram in dB above a floor `range_db` under its loudest value (so every value is
// non-negative): the vectors nearest_bars compares.
inline BarSpectra log_bar_spectra(const BarSpectra& s, double range_db = 80.0) {
    float peak = 0;
    for (float v : s.data) peak = std::max(peak, v);
    const double floor_power = std::max(double(peak) * std::pow(10.0, -range_db / 10.0), 1e-30);
    BarSpectra l = s;
    for (float& v : l.data) v = float(std::max(0.0, 10.0 * std::log10(std::max(double(v), 1e-30) / floor_power)));
    return l;
}

// The k bars most similar to bar b (b itself excluded), by cosine similarity of log_bar_spectra():
// REPET-SIM's choice of neighbours, made on the bar grid.
inline std::vector<std::size_t> nearest_bars(const BarSpectra& log_spectra, std::size_t b, std::size_t k) {
    auto dot = [&](std::size_t i, std::size_t j) {
        double d = 0;
        const float* x = log_spectra.bar(i);
        const float* y = log_spectra.bar(j);
        for (std::size_t n = 0; n < log_spectra.bar_size(); ++n) d += double(x[n]) * y[n];
        return d;
    };
    const double ref_norm = dot(b, b);
    std::vector<std::pair<double, std::size_t>> sims;
    for (std::size_t i = 0; i < log_spectra.num_bars; ++i)
        if (i != b) sims.push_back({dot(i, b) / std::sqrt(std::max(dot(i, i) * ref_norm, 1e-30)), i});
    std::sort(sims.begin(), sims.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < std::min(k, sims.size()); ++i) out.push_back(sims[i].second);
    return out;
}

}  // namespace loopsep::adaptive
