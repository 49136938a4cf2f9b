// CPU kernels of the network (see cpu_kernels.h).
#include "cpu_kernels.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "loopsep/vector_clones.h"  // the float loops below also run as AVX2 versions

namespace loopsep::net::cpu {

namespace {
// Sum of p[0..count) in float lanes (vectorises; each lane adds ≤ count/16 values), totalled in double.
LOOPSEP_VECTOR_CLONES double lane_sum(const float* p, int64_t count, float centre, bool squares) {
    constexpr int kLanes = 16;
    float lane[kLanes] = {};
    int64_t k = 0;
    if (squares) {
        for (; k + kLanes <= count; k += kLanes)
            for (int l = 0; l < kLanes; ++l) lane[l] += (p[k + l] - centre) * (p[k + l] - centre);
    } else {
        for (; k + kLanes <= count; k += kLanes)
            for (int l = 0; l < kLanes; ++l) lane[l] += p[k + l];
    }
    double sum = 0.0;
    for (float v : lane) sum += v;
    for (; k < count; ++k) sum += squares ? double(p[k] - centre) * double(p[k] - centre) : double(p[k]);
    return sum;
}

// dst = max(0, src·scale + shift)
LOOPSEP_VECTOR_CLONES void affine_relu(const float* __restrict src, float* __restrict dst, int64_t n, float scale,
                                       float shift) {
    for (int64_t k = 0; k < n; ++k) dst[k] = std::max(0.0f, src[k] * scale + shift);
}

// One output row pair of the pixel shuffle: o[2j] = s[2j] + even[j], o[2j + 1] = s[2j + 1] + odd[j].
LOOPSEP_VECTOR_CLONES void interleave_add(const float* __restrict s, const float* __restrict even,
                                          const float* __restrict odd, float* __restrict o, int64_t w) {
    for (int64_t j = 0; j < w; ++j) {
        o[2 * j] = s[2 * j] + even[j];
        o[2 * j + 1] = s[2 * j + 1] + odd[j];
    }
}

}  // namespace

// Inference: relu(group_norm(x)·weight + bias) for float NCHW input. LibTorch's group_norm and relu_
// pass over the activations four times; this reads each group three times while it is in cache and
// writes once (mean, then centred variance: accurate whatever the offset).
torch::Tensor group_norm_relu(const torch::Tensor& x_any, int64_t groups, const torch::Tensor& weight,
                              const torch::Tensor& bias, double eps) {
    const auto x = x_any.contiguous();
    const auto w = weight.contiguous(), b = bias.contiguous();
    const int64_t n = x.size(0), channels = x.size(1), plane = x.numel() / std::max<int64_t>(1, n * channels);
    const int64_t per_group = channels / groups, count = per_group * plane;
    auto out = torch::empty_like(x);
    const float* xp = x.data_ptr<float>();
    const float* wp = w.data_ptr<float>();
    const float* bp = b.data_ptr<float>();
    float* op = out.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i)
        for (int64_t g = 0; g < groups; ++g) {
            const int64_t first = (i * channels + g * per_group) * plane;
            const float mean = float(lane_sum(xp + first, count, 0.0f, false) / double(count));
            const double var = lane_sum(xp + first, count, mean, true) / double(count);
            const float inv_std = float(1.0 / std::sqrt(var + eps));
            for (int64_t c = g * per_group; c < (g + 1) * per_group; ++c) {
                const float scale = wp[c] * inv_std, shift = bp[c] - mean * scale;
                const float* src = xp + (i * channels + c) * plane;
                float* dst = op + (i * channels + c) * plane;
                affine_relu(src, dst, plane, scale, shift);
            }
        }
    return out;
}

// out[row, dst[j]] += w[j] · in[row, src[j]] for every row; out has out_cols columns.
torch::Tensor sparse_rows(const torch::Tensor& in_any, const torch::Tensor& dst, const torch::Tensor& src,
                          const torch::Tensor& w, int64_t out_cols) {
    auto in = in_any.contiguous();
    auto sizes = in.sizes().vec();
    const int64_t in_cols = sizes.back();
    sizes.back() = out_cols;
    auto out = torch::zeros(sizes, in.options());
    const int64_t rows = in.numel() / std::max<int64_t>(1, in_cols);
    const int64_t* d = dst.data_ptr<int64_t>();
    const int64_t* s = src.data_ptr<int64_t>();
    const float* wt = w.data_ptr<float>();
    const int64_t entries = w.numel();
    const float* ip = in.data_ptr<float>();
    float* op = out.data_ptr<float>();
    at::parallel_for(0, rows, 16, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const float* a = ip + r * in_cols;
            float* o = op + r * out_cols;
            for (int64_t j = 0; j < entries; ++j) o[d[j]] += wt[j] * a[s[j]];
        }
    });
    return out;
}

namespace {
// sparse_rows as a differentiable op: its gradient is the transposed map, applied by the same loop.
// Training used index_select / index_add for the filterbanks, which ran ~40 % of a CPU step.
struct SparseRowsFn : public torch::autograd::Function<SparseRowsFn> {
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& in, const torch::Tensor& dst,
                                 const torch::Tensor& src, const torch::Tensor& w, int64_t out_cols) {
        ctx->save_for_backward({dst, src, w});
        ctx->saved_data["in_cols"] = in.size(-1);
        return sparse_rows(in, dst, src, w, out_cols);
    }
    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grad) {
        const auto saved = ctx->get_saved_variables();
        const auto in_grad = sparse_rows(grad[0], saved[1], saved[0], saved[2], ctx->saved_data["in_cols"].toInt());
        return {in_grad, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
    }
};

}  // namespace

torch::Tensor sparse_rows_differentiable(const torch::Tensor& in, const torch::Tensor& dst, const torch::Tensor& src,
                                         const torch::Tensor& w, int64_t out_cols) {
    return SparseRowsFn::apply(in, dst, src, w, out_cols);
}

// Inference fast path for the decoder's up-sampling: skip + ConvTranspose2d(kernel 2, stride 2)(x).
// That transposed convolution maps each input pixel to its own 2×2 output block, so it equals a 1×1
// convolution to 4·C channels followed by a pixel shuffle; the shuffle and the skip addition are one
// pass here. LibTorch runs transposed convolutions through im2col + BLAS, never oneDNN: all three
// up-samplings took 0.97 ms per window, this takes 0.35 (1 thread). Exact up to summation order.
torch::Tensor upsample_add(torch::nn::ConvTranspose2dImpl& up, const torch::Tensor& x, const torch::Tensor& skip_any) {
    const auto& w = up.weight;  // [C_in, C, 2, 2]
    const int64_t c_in = w.size(0), C = w.size(1);
    const auto w1 = w.permute({1, 2, 3, 0}).reshape({C * 4, c_in, 1, 1}).contiguous();  // row 4c + 2a + b
    const auto b4 = up.bias.repeat_interleave(4);
    // oneDNN directly: for a 1×1 kernel on one thread LibTorch picks its own im2col + BLAS path, and
    // Debian's OpenBLAS falls back to its generic (Prescott) kernels on this CPU (0.26 vs 0.10 ms per window).
    const auto y = (at::hasMKLDNN() && at::globalContext().userEnabledMkldnn()
                        ? at::mkldnn_convolution(x.contiguous(), w1, b4, {0, 0}, {1, 1}, {1, 1}, 1)
                        : at::conv2d(x, w1, b4))
                       .contiguous();  // [N, 4C, H, W]
    const auto skip = skip_any.contiguous();
    const int64_t n = x.size(0), H = x.size(2), W = x.size(3), OH = skip.size(2), OW = skip.size(3);
    if (skip.size(0) != n || skip.size(1) != C || OH != 2 * H || OW != 2 * W)
        throw std::logic_error("upsample_add: skip does not match the up-sampled shape");
    auto out = torch::empty_like(skip);
    const float* yp = y.data_ptr<float>();
    const float* sp = skip.data_ptr<float>();
    float* op = out.data_ptr<float>();
    const int64_t plane = H * W;
    for (int64_t b = 0; b < n; ++b)
        for (int64_t c = 0; c < C; ++c) {
            const float* yc = yp + (b * 4 * C + 4 * c) * plane;
            for (int64_t i = 0; i < H; ++i)
                for (int a = 0; a < 2; ++a) {
                    const float* even = yc + (2 * a) * plane + i * W;  // output column 2j
                    const float* odd = even + plane;                   // output column 2j + 1
                    const int64_t row = ((b * C + c) * OH + 2 * i + a) * OW;
                    interleave_add(sp + row, even, odd, op + row, W);
                }
        }
    return out;
}

}  // namespace loopsep::net::cpu
