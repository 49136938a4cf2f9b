// loopsep — short-time Fourier transform (FFTW3, single precision).
//
// Hann analysis window, hop = n_fft/4 by default; frames are centred: frame t
// covers samples [t*hop - n_fft/2, t*hop + n_fft/2), with the signal
// zero-padded at both ends, so num_frames = frames/hop + 1. The inverse uses
// weighted overlap-add (window-squared normalisation) and reconstructs the
// input to float precision. FFTW plans are made once per Stft object; an Stft is
// not thread-safe (give each thread its own).
#pragma once

#include <array>
#include <complex>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace loopsep {

struct StftParams {
    int n_fft = 2048;
    int hop = 512;
    void validate() const;  // usage error naming the parameter if out of range
    int num_bins() const { return n_fft / 2 + 1; }
};

// FFTW's planner is not thread-safe and is process-wide: every library of loopsep that makes or
// destroys FFTW plans (this STFT, the beat tracker, aubio objects, which plan with FFTW too)
// holds this one lock while doing it.
std::mutex& fftw_planner_mutex();

// A complex spectrogram, time-major: value(t, k) = data[t * num_bins + k].
struct Spectrogram {
    int num_bins = 0;
    std::size_t num_frames = 0;
    std::vector<std::complex<float>> data;

    std::complex<float>& at(std::size_t t, int k) { return data[t * num_bins + k]; }
    const std::complex<float>& at(std::size_t t, int k) const { return data[t * num_bins + k]; }
};

// The part of an inverse's output that is wanted: samples [first, first + count) of the num_samples it
// reconstructs (count clipped to the end). Frames whose windows miss it are not transformed, and the
// result holds only it: the engine keeps a segment's cross-fade span of a longer analysis chunk.
struct SampleSpan {
    std::size_t first = 0;
    std::size_t count = std::size_t(-1);
};

// Full n_fft-point complex spectra of a stereo pair packed as left + i·right, time-major:
// value(t, k) = data[t * n_fft + k]. Made and read only by Stft (forward_pair, inverse_pair).
struct PairSpectrogram {
    int n_fft = 0;
    std::size_t num_frames = 0;
    std::vector<std::complex<float>> data;
};

class Stft {
public:
    explicit Stft(const StftParams& params = {});
    ~Stft();
    Stft(const Stft&) = delete;
    Stft& operator=(const Stft&) = delete;

    const StftParams& params() const { return params_; }
    std::size_t num_frames_for(std::size_t num_samples) const;

    Spectrogram forward(const float* samples, std::size_t num_samples);
    // Frames centred at arbitrary sample positions (zero padding outside the
    // signal): frame t covers [centers[t] - n_fft/2, centers[t] + n_fft/2).
    Spectrogram forward_at(const float* samples, std::size_t num_samples, const std::vector<long>& centers);
    // Inverse to exactly `num_samples` samples. With `mask` (num_frames × num_bins real gains,
    // time-major), the inverse of spec·mask, without a masked copy of the spectrogram.
    std::vector<float> inverse(const Spectrogram& spec, std::size_t num_samples, const float* mask = nullptr);
    // The gains of frame t, made when the inverse reaches it: a pointer to num_bins gains, either the
    // caller's own or `scratch` (num_bins floats, owned by this Stft) filled in. For masks kept in a
    // coarser form (the net's bands): no frames × bins mask is ever materialised.
    using MaskRowFn = std::function<const float*(std::size_t frame, float* scratch)>;
    std::vector<float> inverse(const Spectrogram& spec, std::size_t num_samples, const MaskRowFn& mask_row,
                               SampleSpan keep = {});

    // A stereo pair as one complex signal, left + i·right: its full n_fft-point spectra, frame by frame
    // (the frames of forward()). One complex transform costs about what one real transform does, so
    // this halves the FFTs of a pair; inverse_pair() applies the same real gains to both channels.
    PairSpectrogram forward_pair(const float* left, const float* right, std::size_t num_samples);
    // {left, right} of spec with frame t's one-sided gains (num_bins of them, from mask_row; none: 1)
    // applied to both channels: equal to inverse() of each channel's forward(), to float rounding.
    std::array<std::vector<float>, 2> inverse_pair(const PairSpectrogram& spec, std::size_t num_samples,
                                                   const MaskRowFn& mask_row, SampleSpan keep = {});

private:
    struct Plans;
    StftParams params_;
    std::vector<float> window_;
    std::unique_ptr<Plans> plans_;
    // 1 / (n_fft · Σ_t w²) of the last inverse() geometry (frames, samples): the same for every call on
    // equal-sized chunks (every target and channel of a segment), so it is computed once.
    std::size_t used_frames_for(std::size_t num_frames, std::size_t num_samples) const;
    const std::vector<float>& synthesis_gain(std::size_t used_frames, std::size_t num_samples);
    // Clips `keep` to num_samples (in place), then returns frames [first, last) of used_frames whose
    // windows reach it.
    std::pair<std::size_t, std::size_t> frames_reaching(SampleSpan& keep, std::size_t used_frames,
                                                        std::size_t num_samples) const;
    std::vector<float> norm_;
    std::size_t norm_frames_ = 0, norm_samples_ = 0;
    std::vector<float> mask_row_;    // scratch for MaskRowFn
    std::vector<float> full_gains_;  // inverse_pair: a row's gains over all n_fft bins
};

}  // namespace loopsep
