#include "loopsep/stft.h"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <mutex>

#include "loopsep/error.h"

namespace loopsep {

std::mutex& fftw_planner_mutex() {
    static std::mutex m;
    return m;
}

void StftParams::validate() const {
    if (n_fft < 16 || n_fft > 65536 || (n_fft & (n_fft - 1)) != 0)
        throw usage_error("n_fft must be a power of two in 16..65536 (got " + std::to_string(n_fft) + ")");
    if (hop < 1 || hop > n_fft / 2)
        throw usage_error("hop must be in 1..n_fft/2 (got " + std::to_string(hop) + ")");
}

struct Stft::Plans {
    float* time = nullptr;
    fftwf_complex* freq = nullptr;
    fftwf_plan forward = nullptr;
    fftwf_plan inverse = nullptr;
};

Stft::Stft(const StftParams& params) : params_(params), plans_(std::make_unique<Plans>()) {
    params_.validate();
    const int n = params_.n_fft;
    window_.resize(n);
    for (int i = 0; i < n; ++i) window_[i] = 0.5f - 0.5f * std::cos(2.0 * M_PI * i / n);  // periodic Hann
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    plans_->time = fftwf_alloc_real(n);
    plans_->freq = fftwf_alloc_complex(n / 2 + 1);
    plans_->forward = fftwf_plan_dft_r2c_1d(n, plans_->time, plans_->freq, FFTW_ESTIMATE);
    plans_->inverse = fftwf_plan_dft_c2r_1d(n, plans_->freq, plans_->time, FFTW_ESTIMATE);
}

Stft::~Stft() {
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    fftwf_destroy_plan(plans_->forward);
    fftwf_destroy_plan(plans_->inverse);
    fftwf_free(plans_->time);
    fftwf_free(plans_->freq);
}

std::size_t Stft::num_frames_for(std::size_t num_samples) const {
    return num_samples / params_.hop + 1;
}

Spectrogram Stft::forward(const float* samples, std::size_t num_samples) {
    std::vector<long> centers(num_frames_for(num_samples));
    for (std::size_t t = 0; t < centers.size(); ++t) centers[t] = long(t) * params_.hop;
    return forward_at(samples, num_samples, centers);
}

Spectrogram Stft::forward_at(const float* samples, std::size_t num_samples, const std::vector<long>& centers) {
    const int n = params_.n_fft, bins = params_.num_bins();
    Spectrogram spec;
    spec.num_bins = bins;
    spec.num_frames = centers.size();
    spec.data.resize(spec.num_frames * bins);
    for (std::size_t t = 0; t < spec.num_frames; ++t) {
        const long start = centers[t] - n / 2;
        for (int i = 0; i < n; ++i) {
            long idx = start + i;
            float v = (idx >= 0 && idx < long(num_samples)) ? samples[idx] : 0.0f;
            plans_->time[i] = v * window_[i];
        }
        fftwf_execute(plans_->forward);
        auto* out = &spec.data[t * bins];
        for (int k = 0; k < bins; ++k) out[k] = {plans_->freq[k][0], plans_->freq[k][1]};
    }
    return spec;
}

std::vector<float> Stft::inverse(const Spectrogram& spec, std::size_t num_samples) {
    const int n = params_.n_fft, hop = params_.hop, bins = params_.num_bins();
    if (spec.num_bins != bins) throw usage_error("inverse STFT: spectrogram has " + std::to_string(spec.num_bins) +
                                                 " bins, expected " + std::to_string(bins));
    // Weighted overlap-add: out = Σ_t w·frame_t / Σ_t w². The engine runs this once per target,
    // channel and segment, so the inner loops are branch-free over each frame's valid span, and
    // Σ_t w² is summed only when the geometry changes.
    const std::size_t used_frames = std::min<std::size_t>(spec.num_frames, (num_samples + n / 2 + hop - 1) / hop);
    if (norm_frames_ != used_frames || norm_samples_ != num_samples) {
        norm_.assign(num_samples, 0.0f);
        for (std::size_t t = 0; t < used_frames; ++t) {
            const long start = long(t) * hop - n / 2;
            const long i0 = std::max(0L, -start), i1 = std::min(long(n), long(num_samples) - start);
            float* w2 = norm_.data() + (start + i0);
            const float* w = window_.data() + i0;
            for (long i = 0; i < i1 - i0; ++i) w2[i] += w[i] * w[i];
        }
        norm_frames_ = used_frames;
        norm_samples_ = num_samples;
    }
    const std::vector<float>& norm = norm_;
    std::vector<float> acc(num_samples, 0.0f);
    const float scale = 1.0f / n;  // FFTW's inverse is unnormalised
    for (std::size_t t = 0; t < used_frames; ++t) {
        const long start = long(t) * hop - n / 2;
        const auto* in = &spec.data[t * bins];
        for (int k = 0; k < bins; ++k) {
            plans_->freq[k][0] = in[k].real();
            plans_->freq[k][1] = in[k].imag();
        }
        fftwf_execute(plans_->inverse);
        const long i0 = std::max(0L, -start), i1 = std::min(long(n), long(num_samples) - start);
        float* a = acc.data() + (start + i0);
        const float* frame = plans_->time + i0;
        const float* w = window_.data() + i0;
        for (long i = 0; i < i1 - i0; ++i) a[i] += frame[i] * scale * w[i];
    }
    for (std::size_t i = 0; i < num_samples; ++i) acc[i] = norm[i] > 1e-8f ? acc[i] / norm[i] : 0.0f;
    return acc;
}

}  // namespace loopsep
