// loopsep beat — onset-strength envelopes, band fluxes, RMS and chroma.
//
// One pass over the song, block by block (neither the song as mono nor a spectrogram ever
// sits in memory), computes the magnitude spectra of aubio's phase vocoder (aubio's window
// and FFT, without the phase) and feeds every analysis: the onset envelope, band fluxes,
// RMS, chroma and aubio's tempo chain. The onset envelope is log-compressed spectral flux
// (half-wave rectified), which responds to soft percussive onsets as well as loud
// ones; the low and snare bands feed the downbeat model, chroma its harmonic-change cue.
#include <aubio/aubio.h>
#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <numeric>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "beat_internal.h"
#include "loopsep/stft.h"

namespace loopsep::beat_detail {
namespace {

// Envelope frame k is the analysis window that ends at sample (k+1)*hop; its centre is half a
// window earlier. The flux of a sharp onset peaks when the onset enters the window's
// first half, so the detected time lies a little before the onset: kCalibrationSec
// (measured on click trains, tests/beat) moves it back onto the onset.
constexpr double kCalibrationSec = 0.0;

// Attack density (Features::attack_density): a bin counts as attacked when its log magnitude rose by
// this much (1 nat ≈ 8.7 dB) in one hop, among the bins within kSoundingRange nats (≈ 35 dB) of the
// frame's loudest.
constexpr float kStrongRise = 1.0f;
constexpr float kSoundingRange = 4.0f;

// out[i] = sqrt(in[i]). std::sqrt may set errno, which keeps the compiler from vectorising
// it; sqrtps rounds exactly as sqrtf does.
void sqrt_into(const float* in, float* out, int n) {
    int i = 0;
#if defined(__SSE__)
    for (; i + 4 <= n; i += 4) _mm_storeu_ps(out + i, _mm_sqrt_ps(_mm_loadu_ps(in + i)));
#endif
    for (; i < n; ++i) out[i] = std::sqrt(in[i]);
}

// FFTW r2c plan for size n, made once per process (FFTW_ESTIMATE: deterministic, no timing).
// Plans are executed on other arrays with fftwf_execute_dft_r2c, which is thread-safe; only
// planning needs the lock.
fftwf_plan r2c_plan(int n) {
    static std::map<int, fftwf_plan> plans;
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    fftwf_plan& p = plans[n];
    if (!p) {
        float* in = fftwf_alloc_real(n);
        fftwf_complex* out = fftwf_alloc_complex(n / 2 + 1);
        p = fftwf_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE);
        fftwf_free(out);
        fftwf_free(in);
    }
    return p;
}

// Magnitude spectrum of a sliding "hanningz" window: the norm of aubio_pvoc_do (same window,
// same half-window shift) without its phase, whose atan2 per bin and frame was most of the
// beat tracker's time, and through FFTW's complex-output transform, which is ~6x faster than
// the real-to-real one aubio uses (values agree to float rounding). Only bins [0, bins) are
// computed: each analysis reads a band.
class Spectrum {
public:
    Spectrum(int win, int hop)
        : win_(win), hop_(hop), buf_(std::size_t(win) * kHistoryWindows, 0.0f), end_(win),
          power_(win / 2 + 1, 0.0f), norm_(win / 2 + 1, 0.0f), plan_(r2c_plan(win)) {
        char window_type[] = "hanningz";
        fvec_t* w = new_aubio_window(window_type, win);
        window_.assign(w->data, w->data + win);
        del_fvec(w);
        frame_ = fftwf_alloc_real(win);  // FFTW's alignment, as the plan's arrays had
        spec_ = fftwf_alloc_complex(win / 2 + 1);
    }
    ~Spectrum() {
        fftwf_free(spec_);
        fftwf_free(frame_);
    }
    Spectrum(const Spectrum&) = delete;
    Spectrum& operator=(const Spectrum&) = delete;

    // Slides in `hop` new samples; then norm()[0, bins) is the magnitude spectrum of the window.
    void push(const float* block, int bins) {
        // The window is buf_[end_ - win, end_); the history is moved back only when full.
        if (end_ + hop_ > buf_.size()) {
            std::copy(buf_.end() - (win_ - hop_), buf_.end(), buf_.begin());
            end_ = win_ - hop_;
        }
        std::copy(block, block + hop_, buf_.begin() + end_);
        end_ += hop_;
        // Window, then swap the halves (aubio's fvec_shift) while copying.
        const int half = win_ / 2;
        const float* w = window_.data();
        const float* in = buf_.data() + (end_ - win_);
        for (int i = 0; i < half; ++i) {
            frame_[i + half] = in[i] * w[i];
            frame_[i] = in[i + half] * w[i + half];
        }
        fftwf_execute_dft_r2c(plan_, frame_, spec_);
        bins = std::min(bins, win_ / 2 + 1);
        for (int b = 0; b < bins; ++b) power_[b] = spec_[b][0] * spec_[b][0] + spec_[b][1] * spec_[b][1];
        sqrt_into(power_.data(), norm_.data(), bins);
    }
    const float* norm() const { return norm_.data(); }

private:
    static constexpr std::size_t kHistoryWindows = 8;  // buffer length in windows: few moves
    int win_, hop_;
    std::vector<float> buf_;   // recent samples, the window ending at end_
    std::size_t end_;
    std::vector<float> power_, norm_, window_;
    fftwf_plan plan_;
    float* frame_ = nullptr;
    fftwf_complex* spec_ = nullptr;
};

// log(1 + x) for x >= 0 to within a few float ulps of std::log1p, but branch-free so the
// per-bin loop vectorises (libm's log1pf was a third of the onset analysis).
// 1 + x = m * 2^e with m in [sqrt(1/2), sqrt(2)); log(m) = 2 atanh(t), t = (m - 1) / (m + 1),
// |t| < 0.172, whose odd series to t^9 is exact to float precision. The rounding of 1 + x
// is put back to first order, (x - (y - 1)) / y, so small x keep their relative accuracy.
inline float log1p_fast(float x) {
    const float y = 1.0f + x;
    std::uint32_t bits;
    std::memcpy(&bits, &y, sizeof bits);
    const std::uint32_t off = bits - 0x3f3504f3u;  // bits of sqrt(1/2)
    const int e = int(off) >> 23;                  // y >= 1: off >= 0
    const std::uint32_t mbits = (off & 0x007fffffu) + 0x3f3504f3u;
    float m;
    std::memcpy(&m, &mbits, sizeof m);
    const float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
    const float atanh_t = t * (1.0f + t2 * (1.0f / 3 + t2 * (1.0f / 5 + t2 * (1.0f / 7 + t2 * (1.0f / 9)))));
    return float(e) * 0.693147181f + 2.0f * atanh_t + (x - (y - 1.0f)) / y;
}

float sum_bins(const std::vector<float>& x, int lo, int hi) {  // x[lo..hi], in order
    float s = 0;
    for (int b = lo; b <= hi; ++b) s += x[b];
    return s;
}

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
              lm_lo = bin_of(180), lm_hi = bin_of(350), hat_lo = bin_of(6000),
              top = bin_of(16000);

    f.onset.assign(frames, 0.0f);
    f.low.assign(frames, 0.0f);
    f.snare.assign(frames, 0.0f);
    f.lowmid.assign(frames, 0.0f);
    f.hat.assign(frames, 0.0f);
    f.rms.assign(frames, 0.0f);
    f.chroma.assign(cframes, {});

    // Log compression: magnitudes are normalised so a full-scale sine peaks near 1.
    const float gain = 1000.0f / (kWin / 4.0f);
    Spectrum spectrum(kWin, kHop);
    AubioBpm aubio;
    ChromaAnalysis chroma;
    std::vector<float> prev(top + 1, 0.0f), cur(top + 1, 0.0f), rise(top + 1, 0.0f);
    std::vector<float> block(kHop), chroma_block(kChromaHop);
    double attack_share_sum = 0;
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
        for (int b = 1; b <= top; ++b) cur[b] = log1p_fast(gain * norm[b]);
        // Half-wave rectified flux; branch-free (the rise vectorises), summed in bin order.
        for (int b = 1; b <= top; ++b) rise[b] = std::max(cur[b] - prev[b], 0.0f);
        f.onset[k] = sum_bins(rise, 1, top);
        {
            float loudest = 0;
            for (int b = 1; b <= top; ++b) loudest = std::max(loudest, cur[b]);
            int sounding = 0, attacked = 0;
            for (int b = 1; b <= top; ++b)
                if (cur[b] > loudest - kSoundingRange && cur[b] > 0.01f) {
                    ++sounding;
                    attacked += rise[b] > kStrongRise;
                }
            if (sounding > 0) attack_share_sum += double(attacked) / sounding;
        }
        f.low[k] = sum_bins(rise, low_lo, low_hi);
        f.snare[k] = sum_bins(rise, sn_lo, sn_hi);
        f.lowmid[k] = sum_bins(rise, lm_lo, lm_hi);
        f.hat[k] = sum_bins(rise, hat_lo, top);
        std::swap(prev, cur);
    }
    f.aubio_bpm = aubio.bpm();
    f.attack_density = frames > 0 ? attack_share_sum / double(frames) : 0.0;
    f.onset = gaussian_smooth(f.onset, 1.0);
    scale_to_unit_std(f.onset);
    scale_to_unit_std(f.low);
    scale_to_unit_std(f.snare);
    scale_to_unit_std(f.lowmid);
    scale_to_unit_std(f.hat);
    return f;
}

}  // namespace loopsep::beat_detail
