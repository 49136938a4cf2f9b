// INTERNAL (LibTorch): plain CPU kernels behind the network's layers, for float32 NCHW / row-major
// tensors on the CPU. Each computes what a LibTorch formulation in net.cpp computes (tests compare
// them); they exist because that formulation was measured slow on 2 cores (numbers beside each).
#pragma once

#include <torch/torch.h>

namespace loopsep::net::cpu {

// sigmoid(conv1x1(relu(x))) for a 1×1 convolution to one channel (weight [1, C, 1, 1], bias [1]): [N, C, H, W] → [N, H, W].
torch::Tensor relu_conv1x1_sigmoid(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);
// out[row, dst[j]] += w[j] · in[row, src[j]] over the last dimension, out_cols wide (sparse filterbanks).
torch::Tensor sparse_rows(const torch::Tensor& in, const torch::Tensor& dst, const torch::Tensor& src,
                          const torch::Tensor& w, int64_t out_cols);
// The same with a gradient (the transposed map, by the same loop): for training.
torch::Tensor sparse_rows_differentiable(const torch::Tensor& in, const torch::Tensor& dst, const torch::Tensor& src,
                                         const torch::Tensor& w, int64_t out_cols);
// The band-split input (ModelConfig::band_split_channels), differentiable in all three of in, w and
// bias: out[r, band[j], c] = bias[band[j], c] + Σ_j w[j, c]·in[r, bin[j]]; in [R, F] → out [R, B, C].
// As index ops it materialises [R, entries, C] (≈ 25 MB for two windows); this loops over the entries.
torch::Tensor band_split(const torch::Tensor& in, const torch::Tensor& band, const torch::Tensor& bin,
                         const torch::Tensor& w, const torch::Tensor& bias);
// The per-bin output logits (ModelConfig::bin_logits), differentiable in feat, w and bias:
// out[r, k] = bias[k] + Σ_c w[k, c]·feat[r, band_of[k], c]; feat [R, B, C] → out [R, F]. As index ops
// it materialises [R, F, C] (a bin-resolution copy of the top level's activations).
torch::Tensor bin_logits(const torch::Tensor& feat, const torch::Tensor& band_of, const torch::Tensor& w,
                         const torch::Tensor& bias);
// relu(group_norm(x, groups)·weight + bias), no autograd.
torch::Tensor group_norm_relu(const torch::Tensor& x, int64_t groups, const torch::Tensor& weight,
                              const torch::Tensor& bias, double eps);
// conv2d(x, weight, bias) with a 3×3 kernel, stride 1, padding 1 (+ residual, same shape as the output,
// when given), no autograd. Whether a Conv2d is of that kind: is_plain_3x3. It has a version per
// instruction set; Best (the fastest this CPU runs) is what the net uses, the others are for tests.
enum class Conv3x3Version { Best, Avx512, Avx2, Baseline };
torch::Tensor conv3x3(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                      const torch::Tensor* residual = nullptr, Conv3x3Version version = Conv3x3Version::Best);
// conv3x3(group_norm_relu(x, ...), weight, bias, residual) without the normalised activations as a
// tensor: they are written straight into the convolution's zero-bordered input.
torch::Tensor norm_relu_conv3x3(const torch::Tensor& x, int64_t groups, const torch::Tensor& norm_weight,
                                const torch::Tensor& norm_bias, double eps, const torch::Tensor& weight,
                                const torch::Tensor& bias, const torch::Tensor* residual = nullptr,
                                Conv3x3Version version = Conv3x3Version::Best);
bool conv3x3_available(Conv3x3Version version);
bool is_plain_3x3(const torch::nn::Conv2dImpl& conv);
// skip + up(x) for a ConvTranspose2d with kernel 2 and stride 2, no autograd.
torch::Tensor upsample_add(torch::nn::ConvTranspose2dImpl& up, const torch::Tensor& x, const torch::Tensor& skip);
// The same from the transposed convolution's 1×1 form (upsample_weights_1x1): weight [4C, C_in, 1, 1], bias [4C].
std::pair<torch::Tensor, torch::Tensor> upsample_weights_1x1(torch::nn::ConvTranspose2dImpl& up);
torch::Tensor upsample_add_1x1(const torch::Tensor& w1, const torch::Tensor& b4, const torch::Tensor& x, const torch::Tensor& skip);

}  // namespace loopsep::net::cpu
