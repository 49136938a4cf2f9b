// CPU kernels of the network (see cpu_kernels.h).
#include "cpu_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <variant>
#include <vector>

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

// acc += w · max(0, x)
LOOPSEP_VECTOR_CLONES void add_relu_scaled(float* __restrict acc, const float* __restrict x, float w, int64_t n) {
    for (int64_t k = 0; k < n; ++k) acc[k] += w * std::max(0.0f, x[k]);
}

// o = a + b
LOOPSEP_VECTOR_CLONES void add_rows(const float* __restrict a, const float* __restrict b, float* __restrict o, int64_t n) {
    for (int64_t k = 0; k < n; ++k) o[k] = a[k] + b[k];
}

}  // namespace

// Inference: relu(group_norm(x)·weight + bias) for float NCHW input. LibTorch's group_norm and relu_
// pass over the activations four times; this reads each group three times while it is in cache and
// writes once (mean, then centred variance: accurate whatever the offset).
namespace {
// Per (sample, channel) plane p of contiguous NCHW x: relu(group_norm(x)·weight + bias) is
// max(0, x·scale[p] + shift[p]). Mean, then centred variance: accurate whatever the offset.
void norm_affine(const torch::Tensor& x, int64_t groups, const torch::Tensor& weight, const torch::Tensor& bias,
                 double eps, float* scale, float* shift) {
    const auto w = weight.contiguous(), b = bias.contiguous();
    const int64_t n = x.size(0), channels = x.size(1), plane = x.numel() / std::max<int64_t>(1, n * channels);
    const int64_t per_group = channels / groups, count = per_group * plane;
    const float* xp = x.data_ptr<float>();
    const float* wp = w.data_ptr<float>();
    const float* bp = b.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i)
        for (int64_t g = 0; g < groups; ++g) {
            const int64_t first = (i * channels + g * per_group) * plane;
            const float mean = float(lane_sum(xp + first, count, 0.0f, false) / double(count));
            const double var = lane_sum(xp + first, count, mean, true) / double(count);
            const float inv_std = float(1.0 / std::sqrt(var + eps));
            for (int64_t c = g * per_group; c < (g + 1) * per_group; ++c) {
                scale[i * channels + c] = wp[c] * inv_std;
                shift[i * channels + c] = bp[c] - mean * scale[i * channels + c];
            }
        }
}
}  // namespace

// Inference: relu(group_norm(x)·weight + bias) for float NCHW input. LibTorch's group_norm and relu_
// pass over the activations four times; this reads each group three times while it is in cache and
// writes once.
torch::Tensor group_norm_relu(const torch::Tensor& x_any, int64_t groups, const torch::Tensor& weight,
                              const torch::Tensor& bias, double eps) {
    const auto x = x_any.contiguous();
    const int64_t planes = x.size(0) * x.size(1), plane = x.numel() / std::max<int64_t>(1, planes);
    std::vector<float> scale(static_cast<std::size_t>(planes)), shift(static_cast<std::size_t>(planes));
    norm_affine(x, groups, weight, bias, eps, scale.data(), shift.data());
    auto out = torch::empty_like(x);
    const float* xp = x.data_ptr<float>();
    float* op = out.data_ptr<float>();
    for (int64_t p = 0; p < planes; ++p) affine_relu(xp + p * plane, op + p * plane, plane, scale[p], shift[p]);
    return out;
}

// Inference: sigmoid(conv1x1(relu(x))) to one channel, [N, C, H, W] → [N, H, W]. LibTorch runs a 1×1
// convolution on one thread as im2col + OpenBLAS (Debian's generic kernels on this CPU), after a relu pass.
torch::Tensor relu_conv1x1_sigmoid(const torch::Tensor& x_any, const torch::Tensor& weight, const torch::Tensor& bias) {
    const auto x = x_any.contiguous();
    const int64_t n = x.size(0), channels = x.size(1), plane = x.size(2) * x.size(3);
    if (weight.numel() != channels || bias.numel() != 1) throw std::logic_error("relu_conv1x1_sigmoid: weight does not match the input");
    const auto w = weight.contiguous();
    const float* wp = w.data_ptr<float>();
    auto out = torch::full({n, x.size(2), x.size(3)}, bias.item<float>(), x.options());
    const float* xp = x.data_ptr<float>();
    float* op = out.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i)
        for (int64_t c = 0; c < channels; ++c) add_relu_scaled(op + i * plane, xp + (i * channels + c) * plane, wp[c], plane);
    return out.sigmoid_();
}

namespace {
// sparse_rows for R rows at once (R ≤ 4): each run of entries with one destination is summed in
// registers, R independent sums, each in the entries' order from the output's value (the same floats
// as adding one entry at a time into the output). One row at a time, every entry's load → add → store
// through out[dst] waited for the previous entry's store; the filterbanks' entries come in runs (the
// analysis map's sorted by band), so that chain was the loop's whole cost.
template <int R>
void sparse_rows_block(const float* a, int64_t in_cols, float* o, int64_t out_cols, const int64_t* d,
                       const int64_t* s, const float* wt, int64_t entries) {
    for (int64_t j = 0; j < entries;) {
        const int64_t dj = d[j];
        float sum[R];
        for (int i = 0; i < R; ++i) sum[i] = o[i * out_cols + dj];
        for (; j < entries && d[j] == dj; ++j) {
            const float w = wt[j];
            const int64_t k = s[j];
            for (int i = 0; i < R; ++i) sum[i] += w * a[i * in_cols + k];
        }
        for (int i = 0; i < R; ++i) o[i * out_cols + dj] = sum[i];
    }
}
}  // namespace

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
        int64_t r = r0;
        for (; r + 4 <= r1; r += 4) sparse_rows_block<4>(ip + r * in_cols, in_cols, op + r * out_cols, out_cols, d, s, wt, entries);
        for (; r < r1; ++r) sparse_rows_block<1>(ip + r * in_cols, in_cols, op + r * out_cols, out_cols, d, s, wt, entries);
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

namespace {
// Rows of a [rows, ...] tensor in parallel chunks; each lambda call gets [r0, r1).
template <typename F>
void over_rows(int64_t rows, const F& f) { at::parallel_for(0, rows, 16, f); }

typedef float Lanes8 __attribute__((vector_size(32)));  // 8 channels: one AVX register, two SSE ones

// One row of the band-split forward with C a multiple of 8: each run of entries of one band (they come
// sorted by band) sums into 8-channel registers, added to the band's outputs when the band changes
// (one broadcast multiply-add per entry instead of C scalar ones).
void band_split_row_lanes(const float* a, const int64_t* band, const int64_t* bin, const float* w, int64_t J,
                          int64_t C, float* o) {
    for (int64_t c0 = 0; c0 < C; c0 += 8)
        for (int64_t j = 0; j < J;) {
            const int64_t b = band[j];
            Lanes8 acc{};
            for (; j < J && band[j] == b; ++j) {
                Lanes8 wj;
                std::memcpy(&wj, w + j * C + c0, sizeof(wj));
                acc += wj * a[bin[j]];
            }
            Lanes8 out;
            std::memcpy(&out, o + b * C + c0, sizeof(out));
            out += acc;
            std::memcpy(o + b * C + c0, &out, sizeof(out));
        }
}

struct BandSplitFn : public torch::autograd::Function<BandSplitFn> {
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& in_any, const torch::Tensor& band,
                                 const torch::Tensor& bin, const torch::Tensor& w_any, const torch::Tensor& bias_any) {
        const auto in = in_any.contiguous(), w = w_any.contiguous(), bias = bias_any.contiguous();
        ctx->save_for_backward({in, band, bin, w});
        const int64_t rows = in.size(0), F = in.size(1), B = bias.size(0), C = bias.size(1), J = w.size(0);
        auto out = torch::empty({rows, B, C}, in.options());
        const float* ip = in.data_ptr<float>();
        const float* wp = w.data_ptr<float>();
        const float* bp = bias.data_ptr<float>();
        const int64_t* bd = band.data_ptr<int64_t>();
        const int64_t* bn = bin.data_ptr<int64_t>();
        float* op = out.data_ptr<float>();
        over_rows(rows, [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
                const float* a = ip + r * F;
                float* o = op + r * B * C;
                std::copy_n(bp, B * C, o);
                if (C % 8 == 0) {
                    band_split_row_lanes(a, bd, bn, wp, J, C, o);
                    continue;
                }
                for (int64_t j = 0; j < J; ++j) {
                    const float x = a[bn[j]];
                    const float* wj = wp + j * C;
                    float* ob = o + bd[j] * C;
                    for (int64_t c = 0; c < C; ++c) ob[c] += wj[c] * x;
                }
            }
        });
        return out;
    }
    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grad) {
        const auto saved = ctx->get_saved_variables();
        const auto& in = saved[0];
        const auto& band = saved[1];
        const auto& bin = saved[2];
        const auto& w = saved[3];
        const auto g = grad[0].contiguous();
        const int64_t rows = in.size(0), F = in.size(1), B = g.size(1), C = g.size(2), J = w.size(0);
        const float* ip = in.data_ptr<float>();
        const float* wp = w.data_ptr<float>();
        const float* gp = g.data_ptr<float>();
        const int64_t* bd = band.data_ptr<int64_t>();
        const int64_t* bn = bin.data_ptr<int64_t>();
        torch::Tensor grad_in, grad_w = torch::zeros_like(w);
        if (ctx->needs_input_grad(0)) {
            grad_in = torch::zeros_like(in);
            float* gi = grad_in.data_ptr<float>();
            over_rows(rows, [&](int64_t r0, int64_t r1) {
                for (int64_t r = r0; r < r1; ++r)
                    for (int64_t j = 0; j < J; ++j) {
                        const float* gb = gp + (r * B + bd[j]) * C;
                        float s = 0.0f;
                        for (int64_t c = 0; c < C; ++c) s += wp[j * C + c] * gb[c];
                        gi[r * F + bn[j]] += s;
                    }
            });
        }
        // Each worker owns a range of entries (and so of grad_w's rows); rows in order within it.
        float* gw = grad_w.data_ptr<float>();
        at::parallel_for(0, J, 64, [&](int64_t j0, int64_t j1) {
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t j = j0; j < j1; ++j) {
                    const float x = ip[r * F + bn[j]];
                    const float* gb = gp + (r * B + bd[j]) * C;
                    for (int64_t c = 0; c < C; ++c) gw[j * C + c] += x * gb[c];
                }
        });
        return {grad_in, torch::Tensor(), torch::Tensor(), grad_w, g.sum(0)};
    }
};

struct BinLogitsFn : public torch::autograd::Function<BinLogitsFn> {
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& feat_any,
                                 const torch::Tensor& band_of, const torch::Tensor& w_any, const torch::Tensor& bias_any) {
        const auto feat = feat_any.contiguous(), w = w_any.contiguous(), bias = bias_any.contiguous();
        ctx->save_for_backward({feat, band_of, w});
        const int64_t rows = feat.size(0), B = feat.size(1), C = feat.size(2), F = w.size(0);
        auto out = torch::empty({rows, F}, feat.options());
        const float* fp = feat.data_ptr<float>();
        const float* wp = w.data_ptr<float>();
        const float* bp = bias.data_ptr<float>();
        const int64_t* bo = band_of.data_ptr<int64_t>();
        float* op = out.data_ptr<float>();
        over_rows(rows, [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
                const float* f = fp + r * B * C;
                float* o = op + r * F;
                if (C % 8 == 0) {  // one register per 8 channels (8 top channels in v1–v6, 16 with space-to-depth)
                    for (int64_t k = 0; k < F; ++k) {
                        const float* fk = f + bo[k] * C;
                        const float* wk = wp + k * C;
                        Lanes8 p{};
                        for (int64_t c0 = 0; c0 < C; c0 += 8) {
                            Lanes8 fv, wv;
                            std::memcpy(&fv, fk + c0, sizeof(fv));
                            std::memcpy(&wv, wk + c0, sizeof(wv));
                            p += fv * wv;
                        }
                        o[k] = bp[k] + (((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7])));
                    }
                    continue;
                }
                for (int64_t k = 0; k < F; ++k) {
                    const float* fk = f + bo[k] * C;
                    const float* wk = wp + k * C;
                    float s = bp[k];
                    for (int64_t c = 0; c < C; ++c) s += wk[c] * fk[c];
                    o[k] = s;
                }
            }
        });
        return out;
    }
    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grad) {
        const auto saved = ctx->get_saved_variables();
        const auto& feat = saved[0];
        const auto& band_of = saved[1];
        const auto& w = saved[2];
        const auto g = grad[0].contiguous();
        const int64_t rows = feat.size(0), B = feat.size(1), C = feat.size(2), F = w.size(0);
        const float* fp = feat.data_ptr<float>();
        const float* wp = w.data_ptr<float>();
        const float* gp = g.data_ptr<float>();
        const int64_t* bo = band_of.data_ptr<int64_t>();
        auto grad_feat = torch::zeros_like(feat), grad_w = torch::zeros_like(w);
        float* gf = grad_feat.data_ptr<float>();
        over_rows(rows, [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r)
                for (int64_t k = 0; k < F; ++k) {
                    const float gk = gp[r * F + k];
                    float* o = gf + (r * B + bo[k]) * C;
                    for (int64_t c = 0; c < C; ++c) o[c] += gk * wp[k * C + c];
                }
        });
        float* gw = grad_w.data_ptr<float>();
        at::parallel_for(0, F, 64, [&](int64_t k0, int64_t k1) {
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t k = k0; k < k1; ++k) {
                    const float gk = gp[r * F + k];
                    const float* fk = fp + (r * B + bo[k]) * C;
                    for (int64_t c = 0; c < C; ++c) gw[k * C + c] += gk * fk[c];
                }
        });
        return {grad_feat, torch::Tensor(), grad_w, g.sum(0)};
    }
};
}  // namespace

torch::Tensor band_split(const torch::Tensor& in, const torch::Tensor& band, const torch::Tensor& bin,
                         const torch::Tensor& w, const torch::Tensor& bias) {
    return BandSplitFn::apply(in, band, bin, w, bias);
}

torch::Tensor bin_logits(const torch::Tensor& feat, const torch::Tensor& band_of, const torch::Tensor& w,
                         const torch::Tensor& bias) {
    return BinLogitsFn::apply(feat, band_of, w, bias);
}

namespace {
// The direct 3×3 convolution. LibTorch hands these to oneDNN, which reorders the activations into and
// out of its 16-channel blocked layout around every call and, for the net's 8-channel levels, pads
// them to 16 channels (half the arithmetic wasted): the top decoder level's two convolutions plus
// their reorders were the largest item of each extra target. Here the input gets a zero border
// (W + 2 columns, H + 2 rows) and the output is computed on that padded-width grid, so that a run of
// output positions, even across rows, reads each tap as one contiguous run of the input: CO output
// channels × one register of positions stay in registers while every input channel's 3×3 taps are
// added (one load, CO broadcast multiply-adds per tap). The two border columns of each row are
// computed and dropped (2 % of the work at 96 bands, 14 % at 12).
struct Conv3x3Args {
    const float* padded;  // [N][C_in][H + 2][W + 2], zero border, then at least one vector of slack
    const float* weight;  // [C_out / CO][C_in][3][3][CO]
    const float* bias;    // [C_out]
    float* wide;          // [N][C_out][span]: outputs on the padded-width grid (span ≥ H·(W + 2), whole vectors)
    int64_t n, c_in, c_out, h, wp, span;
};

// V: a GCC vector of floats (one register of the target the caller is compiled for); each block is
// CO channels × NV vectors of positions, so that every broadcast weight feeds NV multiply-adds.
template <int CO, int NV, typename V>
inline __attribute__((always_inline)) void conv3x3_blocks(const Conv3x3Args& a) {
    constexpr int64_t VW = int64_t(sizeof(V) / sizeof(float)), BW = NV * VW;
    const int64_t plane_in = (a.h + 2) * a.wp, positions = a.h * a.wp;
    for (int64_t b = 0; b < a.n; ++b)
        for (int64_t cb = 0; cb < a.c_out / CO; ++cb) {
            const float* in0 = a.padded + b * a.c_in * plane_in;
            float* out0 = a.wide + (b * a.c_out + cb * CO) * a.span;
            for (int64_t j0 = 0; j0 < positions; j0 += BW) {
                V acc[CO][NV];
                for (int o = 0; o < CO; ++o)
                    for (int v = 0; v < NV; ++v) acc[o][v] = V{} + a.bias[cb * CO + o];
                const float* wgt = a.weight + cb * a.c_in * 9 * CO;
                const float* in = in0 + j0;
                for (int64_t ci = 0; ci < a.c_in; ++ci, in += plane_in)
                    for (int ky = 0; ky < 3; ++ky)
                        for (int kx = 0; kx < 3; ++kx, wgt += CO) {
                            V xv[NV];
                            for (int v = 0; v < NV; ++v) std::memcpy(&xv[v], in + ky * a.wp + kx + v * VW, sizeof(V));
                            for (int o = 0; o < CO; ++o) {
                                const float wo = wgt[o];
                                for (int v = 0; v < NV; ++v) acc[o][v] += wo * xv[v];
                            }
                        }
                for (int o = 0; o < CO; ++o)
                    for (int v = 0; v < NV; ++v) std::memcpy(out0 + o * a.span + j0 + v * VW, &acc[o][v], sizeof(V));
            }
        }
}

typedef float V16 __attribute__((vector_size(64)));
typedef float V8 __attribute__((vector_size(32)));
typedef float V4 __attribute__((vector_size(16)));

// One version per instruction set, picked once: 8 output channels × 2 registers of 16 positions in 16
// accumulator registers with AVX-512 (of 32; one register of positions ran 10 % slower, three no faster),
// 8 × 8 positions in 8 with AVX2 (16 registers), 4 × 4 positions for the baseline.
__attribute__((target("avx512f,avx512vl,fma"))) void conv3x3_avx512(const Conv3x3Args& a) { conv3x3_blocks<8, 2, V16>(a); }
__attribute__((target("avx2,fma"))) void conv3x3_avx2(const Conv3x3Args& a) { conv3x3_blocks<8, 1, V8>(a); }
void conv3x3_baseline(const Conv3x3Args& a) { conv3x3_blocks<4, 1, V4>(a); }

struct Conv3x3Impl {
    void (*run)(const Conv3x3Args&);
    int co, vw;  // output channels and positions per block
};
// The implementation of `version`, or null where this CPU lacks its instructions.
const Conv3x3Impl* conv3x3_impl(Conv3x3Version version) {
    static const Conv3x3Impl avx512{conv3x3_avx512, 8, 32}, avx2{conv3x3_avx2, 8, 8}, baseline{conv3x3_baseline, 4, 4};
    static const bool has_avx512 = (__builtin_cpu_init(), __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl"));
    static const bool has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    switch (version) {
        case Conv3x3Version::Avx512: return has_avx512 ? &avx512 : nullptr;
        case Conv3x3Version::Avx2: return has_avx2 ? &avx2 : nullptr;
        case Conv3x3Version::Baseline: return &baseline;
        case Conv3x3Version::Best: break;
    }
    return has_avx512 ? &avx512 : has_avx2 ? &avx2 : &baseline;
}
}  // namespace

bool conv3x3_available(Conv3x3Version version) { return conv3x3_impl(version) != nullptr; }

bool is_plain_3x3(const torch::nn::Conv2dImpl& conv) {
    // The options are c10::variant in Debian's LibTorch 1.13 and std::variant in LibTorch 2 (the GPU
    // trainer's): unqualified calls find either (std's by name, c10's by argument-dependent lookup).
    using std::get_if;
    using std::holds_alternative;
    const auto& o = conv.options;
    const auto* pad = get_if<torch::ExpandingArray<2>>(&o.padding());
    return o.kernel_size()->at(0) == 3 && o.kernel_size()->at(1) == 3 && o.stride()->at(0) == 1 &&
           o.stride()->at(1) == 1 && pad && (*pad)->at(0) == 1 && (*pad)->at(1) == 1 && o.dilation()->at(0) == 1 &&
           o.dilation()->at(1) == 1 && o.groups() == 1 && o.bias() && holds_alternative<torch::enumtype::kZeros>(o.padding_mode());
}

namespace {
// The direct convolution of an input that `fill_row(plane, y, dst)` writes row by row (w floats of
// row y of input plane n·C_in + c) straight into the zero-bordered buffer: a copy of a tensor
// (conv3x3), or the normalised activations themselves (norm_relu_conv3x3, no intermediate tensor).
// One window's rows at a time, kConvTileRows of them (plus a row of halo each side, filled twice):
// the bordered input and padded-width output of a tile stay in L2, where whole-tensor buffers (1.2 MB
// each at the top level for two windows) went through L3 and memory, which two cores share with each
// other and with the machine's other tenants. Each output is the same sum in the same order either way.
constexpr int64_t kConvTileRows = 32;

template <typename FillRow>
torch::Tensor conv3x3_rows(int64_t n, int64_t c_in, int64_t h, int64_t w, const torch::TensorOptions& options,
                           const FillRow& fill_row, const torch::Tensor& weight, const torch::Tensor& bias,
                           const torch::Tensor* residual_any, const Conv3x3Impl& impl) {
    const int64_t c_out = weight.size(0);
    const int co = impl.co;
    const int64_t wp = w + 2, tile = std::min(h, kConvTileRows);
    thread_local std::vector<float> padded, packed, wide;
    // Weights as [C_out / CO][C_in][3][3][CO]: each tap's CO weights side by side.
    const auto wc = weight.contiguous();
    const float* wsrc = wc.data_ptr<float>();
    packed.resize(std::size_t(c_out * c_in * 9));
    for (int64_t o = 0; o < c_out; ++o)
        for (int64_t i = 0; i < c_in * 9; ++i)
            packed[std::size_t(((o / co) * c_in * 9 + i) * co + o % co)] = wsrc[o * c_in * 9 + i];
    const auto b = bias.contiguous();
    auto out = torch::empty({n, c_out, h, w}, options);
    float* op = out.data_ptr<float>();
    torch::Tensor residual;
    if (residual_any) {
        residual = residual_any->contiguous();
        if (residual.sizes() != out.sizes()) throw std::logic_error("conv3x3: residual shape");
    }
    const float* rp = residual_any ? residual.data_ptr<float>() : nullptr;
    padded.resize(std::size_t(c_in * (tile + 2) * wp + impl.vw + 2));
    wide.resize(std::size_t(c_out * ((tile * wp + impl.vw - 1) / impl.vw * impl.vw)));
    for (int64_t i = 0; i < n; ++i)
        for (int64_t y0 = 0; y0 < h; y0 += tile) {
            const int64_t rows = std::min(tile, h - y0), plane_in = (rows + 2) * wp;
            const int64_t span = (rows * wp + impl.vw - 1) / impl.vw * impl.vw;
            for (int64_t c = 0; c < c_in; ++c) {
                float* plane = padded.data() + c * plane_in;
                for (int64_t r = 0; r < rows + 2; ++r) {  // input rows y0 − 1 … y0 + rows
                    float* row = plane + r * wp;
                    const int64_t y = y0 - 1 + r;
                    row[0] = 0.0f;
                    if (y < 0 || y >= h) std::fill_n(row + 1, w, 0.0f);
                    else fill_row(i * c_in + c, y, row + 1);
                    row[w + 1] = 0.0f;
                }
            }
            std::fill_n(padded.data() + c_in * plane_in, impl.vw + 2, 0.0f);  // the slack the last vector reads
            impl.run({padded.data(), packed.data(), b.data_ptr<float>(), wide.data(), 1, c_in, c_out, rows, wp, span});
            // Drop the border columns (and add the residual).
            for (int64_t o = 0; o < c_out; ++o)
                for (int64_t r = 0; r < rows; ++r) {
                    const float* src = wide.data() + o * span + r * wp;
                    const int64_t at = ((i * c_out + o) * h + y0 + r) * w;
                    if (rp) add_rows(src, rp + at, op + at, w);
                    else std::copy_n(src, w, op + at);
                }
        }
    return out;
}

// The implementation for a convolution of x by weight, or null where the direct kernel does not apply
// (a partial block of output channels: LibTorch's convolution then).
const Conv3x3Impl* conv3x3_for(const torch::Tensor& x, const torch::Tensor& weight, Conv3x3Version version) {
    if (weight.size(1) != x.size(1) || weight.size(2) != 3 || weight.size(3) != 3)
        throw std::logic_error("conv3x3: weight does not match the input");
    const Conv3x3Impl* found = conv3x3_impl(version);
    if (!found) throw std::logic_error("conv3x3: this CPU cannot run the requested version");
    return weight.size(0) % found->co == 0 ? found : nullptr;
}
}  // namespace

torch::Tensor conv3x3(const torch::Tensor& x_any, const torch::Tensor& weight, const torch::Tensor& bias,
                      const torch::Tensor* residual_any, Conv3x3Version version) {
    const auto x = x_any.contiguous();
    const Conv3x3Impl* impl = conv3x3_for(x, weight, version);
    if (!impl) {
        auto y = at::conv2d(x, weight, bias, {1, 1}, {1, 1});
        return residual_any ? y.add_(*residual_any) : y;
    }
    const int64_t h = x.size(2), w = x.size(3);
    const float* xp = x.data_ptr<float>();
    return conv3x3_rows(
        x.size(0), x.size(1), h, w, x.options(),
        [&](int64_t p, int64_t y, float* dst) { std::copy_n(xp + (p * h + y) * w, w, dst); }, weight, bias,
        residual_any, *impl);
}

torch::Tensor norm_relu_conv3x3(const torch::Tensor& x_any, int64_t groups, const torch::Tensor& norm_weight,
                                const torch::Tensor& norm_bias, double eps, const torch::Tensor& weight,
                                const torch::Tensor& bias, const torch::Tensor* residual, Conv3x3Version version) {
    const auto x = x_any.contiguous();
    const Conv3x3Impl* impl = conv3x3_for(x, weight, version);
    if (!impl) return conv3x3(group_norm_relu(x, groups, norm_weight, norm_bias, eps), weight, bias, residual, version);
    const int64_t n = x.size(0), channels = x.size(1), h = x.size(2), w = x.size(3);
    std::vector<float> scale(static_cast<std::size_t>(n * channels)), shift(static_cast<std::size_t>(n * channels));
    norm_affine(x, groups, norm_weight, norm_bias, eps, scale.data(), shift.data());
    const float* xp = x.data_ptr<float>();
    return conv3x3_rows(
        n, channels, h, w, x.options(),
        [&](int64_t p, int64_t y, float* dst) { affine_relu(xp + (p * h + y) * w, dst, w, scale[p], shift[p]); },
        weight, bias, residual, *impl);
}

// Inference fast path for the decoder's up-sampling: skip + ConvTranspose2d(kernel 2, stride 2)(x).
// That transposed convolution maps each input pixel to its own 2×2 output block, so it equals a 1×1
// convolution to 4·C channels followed by a pixel shuffle; the shuffle and the skip addition are one
// pass here. LibTorch runs transposed convolutions through im2col + BLAS, never oneDNN: all three
// up-samplings took 0.97 ms per window, this takes 0.35 (1 thread). Exact up to summation order.
std::pair<torch::Tensor, torch::Tensor> upsample_weights_1x1(torch::nn::ConvTranspose2dImpl& up) {
    const auto& w = up.weight;  // [C_in, C, 2, 2]
    const int64_t c_in = w.size(0), C = w.size(1);
    return {w.permute({1, 2, 3, 0}).reshape({C * 4, c_in, 1, 1}).contiguous(),  // row 4c + 2a + b
            up.bias.repeat_interleave(4)};
}

torch::Tensor upsample_add(torch::nn::ConvTranspose2dImpl& up, const torch::Tensor& x, const torch::Tensor& skip) {
    const auto w = upsample_weights_1x1(up);
    return upsample_add_1x1(w.first, w.second, x, skip);
}

torch::Tensor upsample_add_1x1(const torch::Tensor& w1, const torch::Tensor& b4, const torch::Tensor& x,
                               const torch::Tensor& skip_any) {
    const int64_t C = w1.size(0) / 4;
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
