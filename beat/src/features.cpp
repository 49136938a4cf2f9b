// loopsep beat — onset-strength envelopes, band fluxes, RMS and chroma.
//
// Spectra come from aubio's phase vocoder (streaming, so a long song never sits in
// memory as a spectrogram). The onset envelope is log-compressed spectral flux
// (half-wave rectified), which responds to soft percussive onsets as well as loud
// ones; the low and snare bands feed the downbeat model, chroma its harmonic-change cue.
#include <aubio/aubio.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "beat_internal.h"

namespace loopsep::beat_detail {
namespace {

// Envelope frame k is the analysis window that ends at sample (k+1)*hop; its centre is half a
// window earlier. The flux of a sharp onset peaks when the onset enters the window's
// first half, so the detected time lies a little before the onset: kCalibrationSec
// (measured on click trains, tests/beat) moves it back onto the onset.
constexpr double kCalibrationSec = 0.0;

struct Pvoc {
    aubio_pvoc_t* pv;
    fvec_t* in;
    cvec_t* spec;
    Pvoc(int win, int hop) : in(new_fvec(hop)), spec(new_cvec(win)) {
        std::lock_guard<std::mutex> lock(aubio_plan_mutex());
        pv = new_aubio_pvoc(win, hop);
    }
    ~Pvoc() {
        {
            std::lock_guard<std::mutex> lock(aubio_plan_mutex());
            del_aubio_pvoc(pv);
        }
        del_fvec(in);
        del_cvec(spec);
    }
    Pvoc(const Pvoc&) = delete;
    Pvoc& operator=(const Pvoc&) = delete;
};

std::vector<float> gaussian_smooth(const std::vector<float>& x, double sigma) {
    const int radius = int(std::ceil(3 * sigma));
    std::vector<float> kernel(2 * radius + 1);
    for (int i = -radius; i <= radius; ++i) kernel[i + radius] = float(std::exp(-0.5 * i * i / (sigma * sigma)));
    const float sum = std::accumulate(kernel.begin(), kernel.end(), 0.0f);
    for (auto& k : kernel) k /= sum;
    std::vector<float> y(x.size(), 0.0f);
    for (std::size_t t = 0; t < x.size(); ++t) {
        float acc = 0;
        for (int i = -radius; i <= radius; ++i) {
            long j = long(t) + i;
            if (j >= 0 && j < long(x.size())) acc += kernel[i + radius] * x[j];
        }
        y[t] = acc;
    }
    return y;
}

void scale_to_unit_std(std::vector<float>& x) {
    if (x.empty()) return;
    double mean = 0, var = 0;
    for (float v : x) mean += v;
    mean /= x.size();
    for (float v : x) var += (v - mean) * (v - mean);
    const double sd = std::sqrt(var / x.size());
    if (sd <= 1e-12) return;
    for (auto& v : x) v = float(v / sd);
}

}  // namespace

std::mutex& aubio_plan_mutex() {
    static std::mutex m;
    return m;
}

double Features::frame_time(double f) const {
    return ((f + 1) * kHop - kWin / 2.0) / kRateHz + kCalibrationSec;
}

double Features::time_to_frame(double sec) const {
    return (sec - kCalibrationSec) * kRateHz / kHop + kWin / 2.0 / kHop - 1;
}

Features compute_features(const std::vector<float>& mono) {
    Features f;
    f.duration_sec = double(mono.size()) / kRateHz;
    const std::size_t frames = mono.size() / kHop + kWin / kHop;  // zero-pad so the tail is analysed
    const int bins = kWin / 2 + 1;
    const double bin_hz = double(kRateHz) / kWin;
    auto bin_of = [&](double hz) { return std::clamp(int(std::lround(hz / bin_hz)), 1, bins - 1); };
    const int low_lo = bin_of(30), low_hi = bin_of(150), sn_lo = bin_of(1500), sn_hi = bin_of(6000),
              lm_lo = bin_of(180), lm_hi = bin_of(350),
              top = bin_of(16000);

    f.onset.assign(frames, 0.0f);
    f.low.assign(frames, 0.0f);
    f.snare.assign(frames, 0.0f);
    f.lowmid.assign(frames, 0.0f);
    f.rms.assign(frames, 0.0f);

    // Log compression: magnitudes are normalised so a full-scale sine peaks near 1.
    const float gain = 1000.0f / (kWin / 4.0f);
    Pvoc pv(kWin, kHop);
    std::vector<float> prev(bins, 0.0f), cur(bins);
    for (std::size_t k = 0; k < frames; ++k) {
        double energy = 0;
        for (int i = 0; i < kHop; ++i) {
            std::size_t idx = k * kHop + i;
            float v = idx < mono.size() ? mono[idx] : 0.0f;
            pv.in->data[i] = v;
            energy += double(v) * v;
        }
        f.rms[k] = float(std::sqrt(energy / kHop));
        aubio_pvoc_do(pv.pv, pv.in, pv.spec);
        for (int b = 0; b < bins; ++b) cur[b] = std::log1p(gain * pv.spec->norm[b]);
        float all = 0, low = 0, sn = 0, lm = 0;
        for (int b = 1; b <= top; ++b) {
            float d = cur[b] - prev[b];
            if (d <= 0) continue;
            all += d;
            if (b >= low_lo && b <= low_hi) low += d;
            if (b >= sn_lo && b <= sn_hi) sn += d;
            if (b >= lm_lo && b <= lm_hi) lm += d;
        }
        f.onset[k] = all;
        f.low[k] = low;
        f.snare[k] = sn;
        f.lowmid[k] = lm;
        std::swap(prev, cur);
    }
    f.onset = gaussian_smooth(f.onset, 1.0);
    scale_to_unit_std(f.onset);
    scale_to_unit_std(f.low);
    scale_to_unit_std(f.snare);
    scale_to_unit_std(f.lowmid);

    // Chroma from 100 Hz to 2.5 kHz: enough for bass notes and chords, little drum noise.
    const std::size_t cframes = mono.size() / kChromaHop + kChromaWin / kChromaHop;
    const int cbins = kChromaWin / 2 + 1;
    const double cbin_hz = double(kRateHz) / kChromaWin;
    std::vector<int> pitch_class(cbins, -1);
    for (int b = 0; b < cbins; ++b) {
        double hz = b * cbin_hz;
        if (hz < 100 || hz > 2500) continue;
        int midi = int(std::lround(69 + 12 * std::log2(hz / 440.0)));
        pitch_class[b] = ((midi % 12) + 12) % 12;
    }
    Pvoc cpv(kChromaWin, kChromaHop);
    f.chroma.assign(cframes, {});
    for (std::size_t k = 0; k < cframes; ++k) {
        for (int i = 0; i < kChromaHop; ++i) {
            std::size_t idx = k * kChromaHop + i;
            cpv.in->data[i] = idx < mono.size() ? mono[idx] : 0.0f;
        }
        aubio_pvoc_do(cpv.pv, cpv.in, cpv.spec);
        // Only spectral peaks within 30 dB of the frame's strongest count: tonal partials, not
        // the broadband floor of percussion (which would make every chroma look alike).
        const float* mag = cpv.spec->norm;
        float top_mag = 0;
        for (int b = 1; b + 1 < cbins; ++b)
            if (pitch_class[b] >= 0) top_mag = std::max(top_mag, mag[b]);
        std::array<float, 12> c{};
        for (int b = 1; b + 1 < cbins; ++b)
            if (pitch_class[b] >= 0 && mag[b] > mag[b - 1] && mag[b] >= mag[b + 1] && mag[b] > 0.03f * top_mag)
                c[pitch_class[b]] += std::sqrt(mag[b]);
        float norm = 0;
        for (float v : c) norm += v * v;
        norm = std::sqrt(norm);
        if (norm > 1e-9f)
            for (auto& v : c) v /= norm;
        f.chroma[k] = c;
    }
    return f;
}

}  // namespace loopsep::beat_detail
