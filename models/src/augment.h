// Training-time augmentation of waveform batches (LibTorch only; part of loopsep_train_core).
//
// Why: every fine-tune so far drifts down on the validation songs' unseen sound sources while its
// training loss falls — the net learns the training presets' exact spectra and pitch ranges. Two
// cheap, label-preserving changes widen them:
//  * a smooth random EQ (another microphone, another preset's brightness), applied as gains on the
//    STFT bins the loss computes anyway: one curve for the target, another for the rest of the
//    mixture, a third for the query — no extra transforms (a per-stem EQ in the time domain cost
//    0.19 s per step on one core, a quarter of the step);
//  * a small resampling of the whole example (another key; the tempo moves with it by the same few
//    per cent, within what the beat grid and the stretch to reference tempo leave), mixture and
//    target alike, and independently of the query.
// The target always gets exactly the transform its copy in the mixture got, so the mixture stays
// target + rest and the mask target stays exact.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include <torch/torch.h>

namespace loopsep::augment {

// Coefficients of one random EQ curve: gain_db(x) = max_db/3 · (tilt·(2x−1) + a1·sin(πx+φ1) +
// a2·sin(2πx+φ2)) over log frequency x ∈ [0, 1] (30 Hz … Nyquist); |gain_db| ≤ max_db everywhere.
struct EqCurve {
    float tilt = 0, a1 = 0, phi1 = 0, a2 = 0, phi2 = 0;
};
EqCurve random_eq_curve(std::mt19937_64& rng);

// Linear gains of each curve at the bins of an n_fft-point one-sided spectrum: [curves, n_fft/2 + 1].
torch::Tensor eq_gains(const std::vector<EqCurve>& curves, double max_db, int64_t n_fft, int sample_rate_hz);

// Each row of x [N, L] played `ratio[n]` times as fast about the window's centre (linear
// interpolation; ratio > 1 raises pitch and tempo), zeros where it reads outside the window. For the
// ratios used (a semitone or two) the images linear interpolation leaves are ≥ 40 dB down for
// content below 5 kHz and negligible in synthesized material above.
torch::Tensor resample(const torch::Tensor& x, const std::vector<float>& ratio);
// The same in tensor operations (what resample runs on a GPU; a plain loop on the CPU).
torch::Tensor resample_tensor_ops(const torch::Tensor& x, const std::vector<float>& ratio);

}  // namespace loopsep::augment
