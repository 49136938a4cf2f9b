// INTERNAL (LibTorch): plain CPU kernels behind the network's layers, for float32 NCHW / row-major
// tensors on the CPU. Each computes what a LibTorch formulation in net.cpp computes (tests compare
// them); they exist because that formulation was measured slow on 2 cores (numbers beside each).
#pragma once

#include <torch/torch.h>

namespace loopsep::net::cpu {

// out[row, dst[j]] += w[j] · in[row, src[j]] over the last dimension, out_cols wide (sparse filterbanks).
torch::Tensor sparse_rows(const torch::Tensor& in, const torch::Tensor& dst, const torch::Tensor& src,
                          const torch::Tensor& w, int64_t out_cols);
// The same with a gradient (the transposed map, by the same loop): for training.
torch::Tensor sparse_rows_differentiable(const torch::Tensor& in, const torch::Tensor& dst, const torch::Tensor& src,
                                         const torch::Tensor& w, int64_t out_cols);
// relu(group_norm(x, groups)·weight + bias), no autograd.
torch::Tensor group_norm_relu(const torch::Tensor& x, int64_t groups, const torch::Tensor& weight,
                              const torch::Tensor& bias, double eps);
// skip + up(x) for a ConvTranspose2d with kernel 2 and stride 2, no autograd.
torch::Tensor upsample_add(torch::nn::ConvTranspose2dImpl& up, const torch::Tensor& x, const torch::Tensor& skip);

}  // namespace loopsep::net::cpu
