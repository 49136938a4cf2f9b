// loopsep beat — onset-strength envelopes, band fluxes, RMS and chroma.
//
// One pass over the song, block by block (neither the song as mono nor a spectrogram ever
// sits in memory), computes the magnitude spectra of aubio's phase vocoder (aubio's window
// and FFT, without the phase) and feeds every analysis: the onset envelope, band fluxes,
// RMS, chroma and aubio's tempo chain. The onset envelope is log-compressed spectral flux
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

// Magnitude spectrum of a sliding "hanningz" window: the norm that aubio_pvoc_do computes,
// bit for bit (same window, same half-window shift, same FFT), without its phase, whose
// atan2 per bin and frame was most of the beat tracker's time. Only bins [0, bins) are
// computed: each analysis reads a band.
class Spectrum {
public:
    Spectrum(int win, int hop) : win_(win), hop_(hop), buf_(win, 0.0f), norm_(win / 2 + 1, 0.0f) {
        std::lock_guard<std::mutex> lock(aubio_plan_mutex());
        char window_type[] = "hanningz";
        window_ = new_aubio_window(window_type, win);
        frame_ = new_fvec(win);
        compspec_ = new_fvec(win);
        fft_ = new_aubio_fft(win);
    }
    ~Spectrum() {
        std::lock_guard<std::mutex> lock(aubio_plan_mutex());
        del_aubio_fft(fft_);
        del_fvec(compspec_);
        del_fvec(frame_);
        del_fvec(window_);
    }
    Spectrum(const Spectrum&) = delete;
    Spectrum& operator=(const Spectrum&) = delete;

    // Slides in `hop` new samples; then norm()[0, bins) is the magnitude spectrum of the window.
    void push(const float* block, int bins) {
        std::copy(buf_.begin() + hop_, buf_.end(), buf_.begin());
        std::copy(block, block + hop_, buf_.end() - hop_);
        // Window, then swap the halves (aubio's fvec_shift) while copying.
        const int half = win_ / 2;
        const float* w = window_->data;
        float* x = frame_->data;
        for (int i = 0; i < half; ++i) {
            x[i + half] = buf_[i] * w[i];
            x[i] = buf_[i + half] * w[i + half];
        }
        aubio_fft_do_complex(fft_, frame_, compspec_);
        // aubio_fft_get_norm's layout: real parts first, imaginary parts mirrored from the end.
        const float* c = compspec_->data;
        const int last = win_ / 2;
        bins = std::min(bins, last + 1);
        if (bins > 0) norm_[0] = std::fabs(c[0]);
        for (int b = 1; b < std::min(bins, last); ++b) norm_[b] = std::sqrt(c[b] * c[b] + c[win_ - b] * c[win_ - b]);
        if (bins > last) norm_[last] = std::fabs(c[last]);
    }
    const float* norm() const { return norm_.data(); }

private:
    int win_, hop_;
    std::vector<float> buf_;   // the last `win` samples
    std::vector<float> norm_;
    fvec_t* window_ = nullptr;
    fvec_t* frame_ = nullptr;
    fvec_t* compspec_ = nullptr;
    aubio_fft_t* fft_ = nullptr;
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

namespace {

// Chroma from 100 Hz to 2.5 kHz: enough for bass notes and chords, little drum noise.
class ChromaAnalysis {
public:
    ChromaAnalysis() : spectrum_(kChromaWin, kChromaHop), pitch_class_(kChromaWin / 2 + 1, -1) {
        const double bin_hz = double(kRateHz) / kChromaWin;
        for (int b = 0; b < int(pitch_class_.size()); ++b) {
            const double hz = b * bin_hz;
            if (hz < 100 || hz > 2500) continue;
            const int midi = int(std::lround(69 + 12 * std::log2(hz / 440.0)));
            pitch_class_[b] = ((midi % 12) + 12) % 12;
            bins_ = b + 2;  // the peak test reads one bin above
        }
    }

    std::array<float, 12> push(const float* block) {
        spectrum_.push(block, bins_);
        // Only spectral peaks within 30 dB of the frame's strongest count: tonal partials, not
        // the broadband floor of percussion (which would make every chroma look alike).
        const float* mag = spectrum_.norm();
        const int last = std::min<int>(bins_, int(pitch_class_.size())) - 1;
        float top_mag = 0;
        for (int b = 1; b < last; ++b)
            if (pitch_class_[b] >= 0) top_mag = std::max(top_mag, mag[b]);
        std::array<float, 12> c{};
        for (int b = 1; b < last; ++b)
            if (pitch_class_[b] >= 0 && mag[b] > mag[b - 1] && mag[b] >= mag[b + 1] && mag[b] > 0.03f * top_mag)
                c[pitch_class_[b]] += std::sqrt(mag[b]);
        float norm = 0;
        for (float v : c) norm += v * v;
        norm = std::sqrt(norm);
        if (norm > 1e-9f)
            for (auto& v : c) v /= norm;
        return c;
    }

private:
    Spectrum spectrum_;
    std::vector<int> pitch_class_;
    int bins_ = 0;
};

}  // namespace

Features compute_features(const AnalysisSignal& signal) {
    Features f;
    const std::size_t n = signal.size();
    f.duration_sec = double(n) / kRateHz;
    const std::size_t frames = n / kHop + kWin / kHop;  // zero-pad so the tail is analysed
    const std::size_t cframes = n / kChromaHop + kChromaWin / kChromaHop;
    // aubio_tempo reads ceil(n / 512) blocks; its 1024-sample windows are every other one of ours.
    const std::size_t aubio_frames = (n + AubioBpm::kHop - 1) / AubioBpm::kHop;
    static_assert(AubioBpm::kWin == kWin && AubioBpm::kHop == 2 * kHop, "aubio frames must be ours");
    static_assert(kChromaHop % kHop == 0, "chroma blocks are made of whole hops");
    constexpr int kHopsPerChroma = kChromaHop / kHop;

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
    f.chroma.assign(cframes, {});

    // Log compression: magnitudes are normalised so a full-scale sine peaks near 1.
    const float gain = 1000.0f / (kWin / 4.0f);
    Spectrum spectrum(kWin, kHop);
    AubioBpm aubio;
    ChromaAnalysis chroma;
    std::vector<float> prev(top + 1, 0.0f), cur(top + 1, 0.0f);
    std::vector<float> block(kHop), chroma_block(kChromaHop);
    // One pass: every hop feeds the onset analysis, every other one aubio's, every fourth
    // completes a chroma block. The chroma frames reach further into the zero padding.
    const std::size_t hops = std::max(frames, cframes * kHopsPerChroma);
    for (std::size_t k = 0; k < hops; ++k) {
        signal.read(k * kHop, block.data(), kHop);
        std::copy(block.begin(), block.end(), chroma_block.begin() + (k % kHopsPerChroma) * kHop);
        if (k % kHopsPerChroma == kHopsPerChroma - 1 && k / kHopsPerChroma < cframes)
            f.chroma[k / kHopsPerChroma] = chroma.push(chroma_block.data());
        if (k >= frames) continue;

        double energy = 0;
        for (float v : block) energy += double(v) * v;
        f.rms[k] = float(std::sqrt(energy / kHop));
        const bool aubio_frame = k % 2 == 1 && k / 2 < aubio_frames;
        spectrum.push(block.data(), aubio_frame ? bins : top + 1);
        const float* norm = spectrum.norm();
        if (aubio_frame) aubio.push(norm);
        for (int b = 1; b <= top; ++b) cur[b] = std::log1p(gain * norm[b]);
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
    f.aubio_bpm = aubio.bpm();
    f.onset = gaussian_smooth(f.onset, 1.0);
    scale_to_unit_std(f.onset);
    scale_to_unit_std(f.low);
    scale_to_unit_std(f.snare);
    scale_to_unit_std(f.lowmid);
    return f;
}

}  // namespace loopsep::beat_detail
