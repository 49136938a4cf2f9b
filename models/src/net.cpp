// The query-conditioned U-Net (LibTorch) and the Separator that runs it.
//
// Front end: |STFT| → mel-spaced triangular bands over the whole band → log1p.
// Query encoder: small CNN (3×3 conv + ReLU + 2×2 average pooling per layer),
// mean and max over time, linear → embedding. Separator: U-Net with one
// residual FiLM block per level (and at the bottleneck), strided 2×2 down- and
// transposed up-sampling, additive skips, sigmoid band mask, mapped back to all
// bins by the normalised transposed filterbank.
#include "net.h"

#include <algorithm>
#include <cmath>
#include <atomic>
#include <cstdlib>
#include <stdexcept>

#include <dlfcn.h>
#include <malloc.h>

#include "loopsep/error.h"
#include "loopsep/parallel.h"

namespace loopsep::net {

namespace {
double hz_to_mel(double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); }
double mel_to_hz(double mel) { return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0); }

// Raw triangular weights [bands, bins]; every bin belongs to at least one band
// and every band has at least one bin (narrow low bands take their nearest bin).
std::vector<double> triangles(const ModelConfig& c) {
    const int B = c.num_bands, F = c.num_bins();
    const double nyq = c.sample_rate_hz / 2.0, bin_hz = double(c.sample_rate_hz) / c.n_fft;
    std::vector<double> edges(B + 2);
    for (int i = 0; i < B + 2; ++i) edges[i] = mel_to_hz(hz_to_mel(nyq) * i / (B + 1));
    std::vector<double> w(std::size_t(B) * F, 0.0);
    for (int b = 0; b < B; ++b) {
        const double lo = edges[b], mid = edges[b + 1], hi = edges[b + 2];
        bool any = false;
        for (int k = 0; k < F; ++k) {
            const double f = k * bin_hz;
            double v = 0.0;
            if (f > lo && f <= mid) v = (f - lo) / (mid - lo);
            else if (f > mid && f < hi) v = (hi - f) / (hi - mid);
            if (v > 0) { w[std::size_t(b) * F + k] = v; any = true; }
        }
        if (!any) {
            const int k = std::min(F - 1, int(std::lround(mid / bin_hz)));
            w[std::size_t(b) * F + k] = 1.0;
        }
    }
    for (int k = 0; k < F; ++k) {  // edges (0 Hz, Nyquist) and gaps: nearest band centre
        double sum = 0.0;
        for (int b = 0; b < B; ++b) sum += w[std::size_t(b) * F + k];
        if (sum > 0) continue;
        int best = 0;
        for (int b = 1; b < B; ++b)
            if (std::abs(edges[b + 1] - k * bin_hz) < std::abs(edges[best + 1] - k * bin_hz)) best = b;
        w[std::size_t(best) * F + k] = 1.0;
    }
    return w;
}

torch::Tensor to_tensor(const std::vector<double>& w, int rows, int cols) {
    std::vector<float> f(w.begin(), w.end());
    return torch::from_blob(f.data(), {rows, cols}, torch::kFloat32).clone();
}
}  // namespace

torch::Tensor analysis_filterbank(const ModelConfig& c) {
    auto w = to_tensor(triangles(c), c.num_bands, c.num_bins());
    return w / w.sum(1, true);
}

torch::Tensor synthesis_filterbank(const ModelConfig& c) {
    auto w = to_tensor(triangles(c), c.num_bands, c.num_bins());
    return w / w.sum(0, true);
}

torch::Tensor stft_complex(const torch::Tensor& waves, const ModelConfig& c) {
    auto window = torch::hann_window(c.n_fft, torch::TensorOptions().dtype(torch::kFloat32).device(waves.device()));
    return torch::stft(waves, c.n_fft, c.hop, c.n_fft, window, /*center=*/true, "constant",
                       /*normalized=*/false, /*onesided=*/true, /*return_complex=*/true);
}

torch::Tensor stft_magnitude(const torch::Tensor& waves, const ModelConfig& c) {
    return stft_complex(waves, c).abs().transpose(1, 2).contiguous();
}

torch::Tensor istft(const torch::Tensor& spec, const ModelConfig& c, std::int64_t length) {
    auto window = torch::hann_window(c.n_fft, torch::TensorOptions().dtype(torch::kFloat32).device(spec.device()));
    return torch::istft(spec, c.n_fft, c.hop, c.n_fft, window, /*center=*/true, /*normalized=*/false,
                        /*onesided=*/true, length, /*return_complex=*/false);
}

FilmResBlockImpl::FilmResBlockImpl(int ch, int emb) : channels(ch) {
    const int groups = std::max(1, ch / 8);
    norm1 = register_module("norm1", torch::nn::GroupNorm(groups, ch));
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(ch, ch, 3).padding(1)));
    norm2 = register_module("norm2", torch::nn::GroupNorm(groups, ch));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(ch, ch, 3).padding(1)));
    if (emb > 0) film = register_module("film", torch::nn::Linear(emb, 2 * ch));
    // Start as identity FiLM (scale 1, shift 0) and a near-identity residual.
    torch::NoGradGuard g;
    if (film) {
        film->weight.mul_(0.1);
        film->bias.zero_();
    }
    conv2->weight.mul_(0.5);
}

namespace {
// Inference (no autograd): activations may be overwritten in place, which saves an allocation and a
// pass over memory per operation. Only tensors the block created itself are overwritten.
bool inference(const torch::Tensor& x) { return !torch::GradMode::is_enabled() && x.device().is_cpu(); }

// Sum of p[0..count) in float lanes (vectorises; each lane adds ≤ count/16 values), totalled in double.
double lane_sum(const float* p, int64_t count, float centre, bool squares) {
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
                for (int64_t k = 0; k < plane; ++k) dst[k] = std::max(0.0f, src[k] * scale + shift);
            }
        }
    return out;
}

bool fused_norm(const torch::Tensor& x) { return inference(x) && x.scalar_type() == torch::kFloat32 && x.dim() == 4; }
}  // namespace

torch::Tensor FilmResBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& embedding) {
    if (fused_norm(x))
        return forward_after_conv1(
            x, conv1(group_norm_relu(x, norm1->options.num_groups(), norm1->weight, norm1->bias, norm1->options.eps())),
            embedding);
    if (inference(x)) return forward_after_conv1(x, conv1(norm1(x).relu_()), embedding);
    return forward_after_conv1(x, conv1(torch::relu(norm1(x))), embedding);
}

torch::Tensor FilmResBlockImpl::forward_after_conv1(const torch::Tensor& x, torch::Tensor y,
                                                    const torch::Tensor& embedding) {
    if (inference(x) && (!film || embedding.size(0) == 1)) {
        // One query for the whole batch: its FiLM is one scale and shift per channel, folded into
        // the GroupNorm's affine ((norm·w + b)·γ + β = norm·(w·γ) + (b·γ + β)): one pass, not three.
        auto weight = norm2->weight, bias = norm2->bias;
        if (film) {
            const auto gb = film(embedding).squeeze(0);  // [2C]
            const auto gamma = 1.0 + gb.slice(0, 0, channels);
            bias = bias * gamma + gb.slice(0, channels, 2 * channels);
            weight = weight * gamma;
        }
        y = fused_norm(y) ? group_norm_relu(y, norm2->options.num_groups(), weight, bias, norm2->options.eps())
                          : torch::group_norm(y, norm2->options.num_groups(), weight, bias, norm2->options.eps()).relu_();
        return conv2(y).add_(x);
    }
    y = norm2(y);
    if (film) {
        auto gb = film(embedding);  // [N, 2C], or [1, 2C] for one query over the batch
        auto gamma = (1.0 + gb.slice(1, 0, channels)).unsqueeze(-1).unsqueeze(-1);
        auto beta = gb.slice(1, channels, 2 * channels).unsqueeze(-1).unsqueeze(-1);
        y = y * gamma + beta;
    }
    return x + conv2(torch::relu(y));
}

namespace {
// Sparse (COO) application of a [bands, bins] filterbank: the dense product
// cost as much as the whole U-Net; each bin touches at most a few bands.
struct Coo { torch::Tensor rows, cols, weights; };
Coo to_coo(const torch::Tensor& dense) {
    auto nz = dense.nonzero();  // [K, 2]
    auto r = nz.select(1, 0).contiguous(), c = nz.select(1, 1).contiguous();
    return {r, c, dense.index({r, c}).contiguous()};
}
}  // namespace

LoopSepNetImpl::LoopSepNetImpl(const ModelConfig& c) : config(c) {
    const int E = c.embedding_size;
    query_convs = register_module("query_convs", torch::nn::ModuleList());
    int in = 1;
    for (int ch : c.query_channels) {
        query_convs->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, ch, 3).padding(1)));
        in = ch;
    }
    const int pooled_bands = c.num_bands >> c.query_channels.size();
    query_out = register_module("query_out", torch::nn::Linear(2 * in * pooled_bands, E));

    const auto& ch = c.unet_channels;
    const int levels = int(ch.size()) - 1;
    stem = register_module("stem", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, ch[0], 3).padding(1)));
    enc = register_module("enc", torch::nn::ModuleList());
    down = register_module("down", torch::nn::ModuleList());
    up = register_module("up", torch::nn::ModuleList());
    dec = register_module("dec", torch::nn::ModuleList());
    for (int i = 0; i < levels; ++i) {
        enc->push_back(FilmResBlock(ch[i], i < c.shared_levels ? 0 : E));
        down->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(ch[i], ch[i + 1], 2).stride(2)));
        up->push_back(torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(ch[i + 1], ch[i], 2).stride(2)));
        dec->push_back(FilmResBlock(ch[i], E));
    }
    mid = register_module("mid", FilmResBlock(ch[levels], E));
    head = register_module("head", torch::nn::Conv2d(torch::nn::Conv2dOptions(ch[0], 1, 1)));
    const auto a = to_coo(analysis_filterbank(c)), s = to_coo(synthesis_filterbank(c));
    fa_bands = register_buffer("fa_bands", a.rows);
    fa_bins = register_buffer("fa_bins", a.cols);
    fa_weights = register_buffer("fa_weights", a.weights);
    fs_bands = register_buffer("fs_bands", s.rows);
    fs_bins = register_buffer("fs_bins", s.cols);
    fs_weights = register_buffer("fs_weights", s.weights);
}

namespace {
// The sparse filterbank products as a plain loop over the COO entries of each row (sparse_filterbank).
// The LibTorch formulation (index_select, multiply, index_add) materialises [rows, entries] temporaries:
// the two products took 3.5 of a window's 8.2 CPU-ms (1 thread); these loops compute the same sums
// (tested to 1e-5) in a fraction of that.
// fast_path(): inference on the CPU (no autograd), where layers may take shortcuts.
bool fast_path(const torch::Tensor& x) {
    return !torch::GradMode::is_enabled() && x.device().is_cpu() && x.scalar_type() == torch::kFloat32;
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
                    const float* s = sp + row;
                    float* o = op + row;
                    for (int64_t j = 0; j < W; ++j) {
                        o[2 * j] = s[2 * j] + even[j];
                        o[2 * j + 1] = s[2 * j + 1] + odd[j];
                    }
                }
        }
    return out;
}
}  // namespace

torch::Tensor sparse_filterbank(const torch::Tensor& x, const torch::Tensor& dst, const torch::Tensor& src,
                                const torch::Tensor& weights, int64_t out_cols, FilterbankPath path) {
    if (path == FilterbankPath::Auto && x.device().is_cpu() && x.scalar_type() == torch::kFloat32)
        return SparseRowsFn::apply(x, dst, src, weights, out_cols);
    // out[..., dst[j]] += weights[j]·x[..., src[j]]: index ops run on any device.
    auto sizes = x.sizes().vec();
    sizes.back() = out_cols;
    return torch::zeros(sizes, x.options()).index_add(-1, dst, x.index_select(-1, src) * weights);
}

torch::Tensor LoopSepNetImpl::features(const torch::Tensor& mag) {
    // bands[..., b] = Σ_k A[b,k]·mag[..., k]  → [N, 1, T, B]
    return torch::log1p(sparse_filterbank(mag, fa_bands, fa_bins, fa_weights, config.num_bands)).unsqueeze(1);
}

torch::Tensor LoopSepNetImpl::embed(const torch::Tensor& query_mag) {
    auto x = features(query_mag);
    for (auto& m : *query_convs) {
        x = torch::relu(m->as<torch::nn::Conv2d>()->forward(x));
        x = torch::avg_pool2d(x, {2, 2}, {2, 2}, {0, 0}, /*ceil_mode=*/true);
    }
    // [N, C, T', B'] → mean and max over time → [N, 2·C·B']
    auto mean = x.mean(2), mx = std::get<0>(x.max(2));
    return query_out(torch::cat({mean, mx}, 1).flatten(1));
}

LoopSepNetImpl::Shared LoopSepNetImpl::shared_prefix(const torch::Tensor& mix_mag) {
    Shared out;
    out.x = stem(features(mix_mag));
    for (int i = 0; i < config.shared_levels; ++i) {
        out.x = enc[i]->as<FilmResBlock>()->forward(out.x, torch::Tensor());
        out.skips.push_back(out.x);
        out.x = down[i]->as<torch::nn::Conv2d>()->forward(out.x);
    }
    if (config.shared_levels == 0) {
        auto& first = *enc[0]->as<FilmResBlock>();
        out.first_conv1 = first.conv1(torch::relu(first.norm1(out.x)));
    }
    return out;
}

torch::Tensor LoopSepNetImpl::band_mask_from(const Shared& shared, const torch::Tensor& emb_in) {
    const int64_t n = shared.x.size(0);
    if (emb_in.size(0) != 1 && emb_in.size(0) != n)
        throw usage_error("mask: " + std::to_string(emb_in.size(0)) + " embeddings for " + std::to_string(n) + " windows");
    const auto& emb = emb_in;  // [N, E], or [1, E]: one query for every window (FiLM broadcasts)
    auto x = shared.x;
    std::vector<torch::Tensor> skips = shared.skips;
    const int levels = int(config.unet_channels.size()) - 1;
    for (int i = config.shared_levels; i < levels; ++i) {
        auto& block = *enc[i]->as<FilmResBlock>();
        x = i == 0 ? block.forward_after_conv1(x, shared.first_conv1, emb) : block.forward(x, emb);
        skips.push_back(x);
        x = down[i]->as<torch::nn::Conv2d>()->forward(x);
    }
    x = mid(x, emb);
    const bool in_place = inference(x);  // x below is always a tensor this function made
    for (int i = levels - 1; i >= 0; --i) {
        auto& up_i = *up[i]->as<torch::nn::ConvTranspose2d>();
        x = fast_path(x) ? upsample_add(up_i, x, skips[i]) : up_i.forward(x) + skips[i];
        x = dec[i]->as<FilmResBlock>()->forward(x, emb);
    }
    if (in_place) return head(x.relu_()).sigmoid_().squeeze(1);
    return torch::sigmoid(head(torch::relu(x))).squeeze(1);  // [N, T, B]
}

torch::Tensor LoopSepNetImpl::mask_from(const Shared& shared, const torch::Tensor& embeddings) {
    // bin mask = Σ_b S[b,k]·band_mask[b]  → [N, T, F]
    return sparse_filterbank(band_mask_from(shared, embeddings), fs_bins, fs_bands, fs_weights, config.num_bins());
}

torch::Tensor LoopSepNetImpl::mask(const torch::Tensor& mix_mag, const torch::Tensor& embeddings) {
    return mask_from(shared_prefix(mix_mag), embeddings);
}

LoopSepNet make_net(const ModelConfig& config, std::uint64_t seed) {
    config.validate();
    torch::manual_seed(seed);
    LoopSepNet net(config);
    return net;
}

LoopSepNet share_levels(LoopSepNet& net, int levels, const torch::Tensor& embedding) {
    ModelConfig config = net->config;
    if (levels < config.shared_levels)
        throw usage_error("shared levels can only grow (the model shares " + std::to_string(config.shared_levels) + ")");
    config.shared_levels = levels;
    config.validate();
    LoopSepNet out(config);
    torch::NoGradGuard g;
    auto src = net->named_parameters();
    for (auto& p : out->named_parameters()) p.value().copy_(src[p.key()]);
    const auto emb = embedding.reshape({1, -1}).to(torch::kFloat32).cpu();
    for (int i = net->config.shared_levels; i < levels; ++i) {
        auto& from = *net->enc[i]->as<FilmResBlock>();
        auto& to = *out->enc[i]->as<FilmResBlock>();
        const auto gb = from.film->forward(emb.to(from.film->weight.device())).squeeze(0);
        const auto gamma = 1.0 + gb.slice(0, 0, from.channels), beta = gb.slice(0, from.channels, 2 * from.channels);
        // (norm(y)·w + b)·γ + β = norm(y)·(w·γ) + (b·γ + β)
        to.norm2->weight.copy_(from.norm2->weight * gamma);
        to.norm2->bias.copy_(from.norm2->bias * gamma + beta);
    }
    out->to(net->stem->weight.device());
    return out;
}

SafetensorsFile to_safetensors(LoopSepNet& net, const ModelConfig& config) {
    SafetensorsFile f;
    f.metadata["format"] = "loopsep-model";
    f.metadata["format_version"] = "1";
    f.metadata["config"] = config.to_json();
    for (const auto& p : net->named_parameters()) {
        auto t = p.value().detach().to(torch::kCPU).to(torch::kFloat32).contiguous();
        NamedTensor nt;
        nt.shape.assign(t.sizes().begin(), t.sizes().end());
        nt.values.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
        f.tensors.emplace(p.key(), std::move(nt));
    }
    return f;
}

void load_weights(LoopSepNet& net, const SafetensorsFile& file, const std::string& what) {
    torch::NoGradGuard g;
    auto params = net->named_parameters();
    for (const auto& p : params) {
        auto it = file.tensors.find(p.key());
        if (it == file.tensors.end()) throw input_error(what + ": model file lacks tensor '" + p.key() + "'");
        const auto& t = it->second;
        if (!std::equal(t.shape.begin(), t.shape.end(), p.value().sizes().begin(), p.value().sizes().end()))
            throw input_error(what + ": tensor '" + p.key() + "' has the wrong shape for the model configuration");
        auto src = torch::from_blob(const_cast<float*>(t.values.data()), p.value().sizes(), torch::kFloat32);
        p.value().copy_(src);
    }
    if (file.tensors.size() != params.size())
        throw input_error(what + ": model file holds tensors the model configuration does not use");
}

LoopSepNet load_net(const std::string& path, ModelConfig* config_out) {
    const auto file = read_safetensors(path);
    auto fmt = file.metadata.find("format");
    if (fmt == file.metadata.end() || fmt->second != "loopsep-model")
        throw input_error(path + ": not a loopsep model (metadata 'format' missing)");
    auto ver = file.metadata.find("format_version");
    if (ver == file.metadata.end() || ver->second != "1")
        throw input_error(path + ": unsupported loopsep model format version");
    auto cfg = file.metadata.find("config");
    if (cfg == file.metadata.end()) throw input_error(path + ": model file has no 'config' metadata");
    const ModelConfig config = ModelConfig::from_json(cfg->second, path);
    LoopSepNet net(config);
    load_weights(net, file, path);
    net->eval();
    if (config_out) *config_out = config;
    return net;
}

}  // namespace loopsep::net

// ---------------------------------------------------------------------------
namespace loopsep {

namespace {
std::atomic<int> g_inference_threads{1};  // set_torch_threads()
}  // namespace

struct Separator::Impl {
    ModelConfig config;
    net::LoopSepNet net{nullptr};
    BandToBin band_to_bin;
    // The band → bin map by bin, in the net's own summation order (by band within a bin), so that the
    // expansion gives the same sums as LoopSepNetImpl::mask_from.
    void index_band_to_bin() {
        const int64_t* bands = net->fs_bands.data_ptr<int64_t>();
        const int64_t* bins = net->fs_bins.data_ptr<int64_t>();
        const float* w = net->fs_weights.data_ptr<float>();
        const int64_t entries = net->fs_weights.numel();
        std::vector<int64_t> order(std::size_t(entries), 0);
        for (int64_t j = 0; j < entries; ++j) order[std::size_t(j)] = j;
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return bins[a] < bins[b]; });
        std::vector<int> bin_start(std::size_t(config.num_bins()) + 1, 0), band_of;
        std::vector<float> weight;
        for (int64_t j : order) {
            ++bin_start[std::size_t(bins[j]) + 1];
            band_of.push_back(int(bands[j]));
            weight.push_back(w[j]);
        }
        for (std::size_t k = 1; k < bin_start.size(); ++k) bin_start[k] += bin_start[k - 1];
        band_to_bin = BandToBin(std::move(bin_start), std::move(band_of), std::move(weight), config.num_bands);
    }
};

Separator::Separator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Separator::~Separator() = default;

std::shared_ptr<const Separator> Separator::load(const std::string& path) {
    auto impl = std::make_unique<Impl>();
    try {
        impl->net = net::load_net(path, &impl->config);
        impl->index_band_to_bin();
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        throw input_error(path + ": cannot load model (" + std::string(e.what()).substr(0, 200) + ")");
    }
    return std::make_shared<const Separator>(std::move(impl));
}

const ModelConfig& Separator::config() const { return impl_->config; }
int Separator::embedding_size() const { return impl_->config.embedding_size; }

std::int64_t Separator::num_parameters() const {
    std::int64_t n = 0;
    for (const auto& p : impl_->net->parameters()) n += p.numel();
    return n;
}

std::vector<float> Separator::embed_query(const Audio& loop) const {
    const auto& c = impl_->config;
    if (loop.num_channels() < 1 || loop.frames() == 0) throw input_error("query loop is empty");
    if (loop.sample_rate_hz != c.sample_rate_hz)
        throw usage_error("query loop must be at " + std::to_string(c.sample_rate_hz) + " Hz");
    // One bar at the reference tempo (a 1 % tolerance for stretch rounding).
    if (double(loop.frames()) < 0.99 * double(c.segment_samples()))
        throw input_error("query loop is shorter than one bar (4 beats) at the reference tempo");
    std::vector<float> mid(loop.frames(), 0.0f);
    for (int ch = 0; ch < loop.num_channels(); ++ch)
        for (std::size_t i = 0; i < mid.size(); ++i) mid[i] += loop.channels[ch][i] / float(loop.num_channels());
    torch::NoGradGuard g;
    auto wave = torch::from_blob(mid.data(), {1, int64_t(mid.size())}, torch::kFloat32);
    auto emb = impl_->net->embed(net::stft_magnitude(wave, c)).contiguous();
    return std::vector<float>(emb.data_ptr<float>(), emb.data_ptr<float>() + emb.numel());
}

std::vector<float> Separator::prototype(const std::vector<std::vector<float>>& embeddings) {
    if (embeddings.empty()) throw usage_error("prototype: no embeddings");
    std::vector<float> mean(embeddings[0].size(), 0.0f);
    for (const auto& e : embeddings) {
        if (e.size() != mean.size()) throw usage_error("prototype: embeddings differ in size");
        for (std::size_t i = 0; i < e.size(); ++i) mean[i] += e[i] / float(embeddings.size());
    }
    return mean;
}

std::vector<std::vector<float>> Separator::predict_masks(const std::vector<std::vector<float>>& mix,
                                                         const std::vector<float>& embedding) const {
    return std::move(predict_masks_for_queries(mix, {embedding})[0]);
}

std::vector<std::vector<std::vector<float>>> Separator::predict_band_masks_for_queries(
    const std::vector<std::vector<float>>& mix, const std::vector<std::vector<float>>& embeddings) const {
    const auto& c = impl_->config;
    const std::size_t per = std::size_t(c.window_frames()) * c.num_bins();
    const std::size_t per_band = std::size_t(c.window_frames()) * c.num_bands;
    if (embeddings.empty()) throw usage_error("predict_masks: no query embedding");
    for (const auto& e : embeddings)
        if (e.size() != std::size_t(c.embedding_size))
            throw usage_error("predict_masks: embedding has " + std::to_string(e.size()) + " values, the model uses " +
                              std::to_string(c.embedding_size));
    for (const auto& m : mix)
        if (m.size() != per)
            throw usage_error("predict_masks: a window has " + std::to_string(m.size()) + " values, expected " +
                              std::to_string(c.window_frames()) + " frames × " + std::to_string(c.num_bins()) + " bins");
    std::vector<std::vector<std::vector<float>>> out(embeddings.size(), std::vector<std::vector<float>>(mix.size()));
    if (mix.empty()) return out;
    // Chunks of windows run on separate threads, each with ONE LibTorch thread (set_torch_threads): on 2
    // cores this costs half the CPU of one chunk on two OpenMP threads (bench_model: 6.6 vs 11.3 CPU-ms
    // per window for the same wall time), and nothing waits at an OpenMP barrier for a core another
    // process holds (that made a 3-minute song's model stage 10× slower on a loaded machine).
    // At most 2 windows per chunk: the smallest working set ran fastest (bench_model, 2 threads, batch 8:
    // 3.2–3.4 ms per window in chunks of 2 vs 3.6 ms in chunks of 4; a 3-minute song's model stage
    // 0.45 vs 0.54 s, and 4-way chunks of 8 took twice as long, mostly page faults).
    const std::size_t workers = std::min<std::size_t>(std::size_t(g_inference_threads.load()), mix.size());
    const std::size_t chunk = std::min<std::size_t>(2, (mix.size() + workers - 1) / workers);
    const std::size_t chunks = (mix.size() + chunk - 1) / chunk;
    auto run_chunk = [&](std::size_t index) {
        torch::NoGradGuard g;  // thread-local: every worker needs its own
        const std::size_t start = index * chunk, n = std::min(chunk, mix.size() - start);
        auto batch = torch::empty({int64_t(n), c.window_frames(), c.num_bins()}, torch::kFloat32);
        for (std::size_t i = 0; i < n; ++i) {
            const auto& m = mix[start + i];
            float* dst = batch.data_ptr<float>() + i * per;
            for (std::size_t k = 0; k < per; ++k) dst[k] = std::isfinite(m[k]) ? std::max(0.0f, m[k]) : 0.0f;
        }
        const auto shared = impl_->net->shared_prefix(batch);
        for (std::size_t q = 0; q < embeddings.size(); ++q) {
            auto emb = torch::from_blob(const_cast<float*>(embeddings[q].data()), {1, c.embedding_size}, torch::kFloat32);
            const auto band_masks = impl_->net->band_mask_from(shared, emb).contiguous();  // [n, T, bands]
            const float* p = band_masks.data_ptr<float>();
            for (std::size_t i = 0; i < n; ++i) out[q][start + i].assign(p + i * per_band, p + (i + 1) * per_band);
        }
    };
    parallel_for(chunks, int(workers), [&](std::size_t i, std::size_t) { run_chunk(i); });
    return out;
}

std::vector<std::vector<std::vector<float>>> Separator::predict_masks_for_queries(
    const std::vector<std::vector<float>>& mix, const std::vector<std::vector<float>>& embeddings) const {
    auto out = predict_band_masks_for_queries(mix, embeddings);
    parallel_for(mix.size(), g_inference_threads.load(), [&](std::size_t i, std::size_t) {
        for (auto& per_query : out) per_query[i] = impl_->band_to_bin.expand_rows(per_query[i]);
    });
    return out;
}

const BandToBin& Separator::band_to_bin() const { return impl_->band_to_bin; }

BandToBin::BandToBin(std::vector<int> bin_start, std::vector<int> band_of, std::vector<float> weight, int bands)
    : bin_start_(std::move(bin_start)), band_of_(std::move(band_of)), weight_(std::move(weight)), bands_(bands) {
    if (bin_start_.size() < 2 || band_of_.size() != weight_.size() || std::size_t(bin_start_.back()) != weight_.size())
        throw usage_error("BandToBin: inconsistent map");
    for (int b : band_of_)
        if (b < 0 || b >= bands_) throw usage_error("BandToBin: band index out of range");
    // Two-band form of each bin where it has one: w_lo·band[lo] + w_hi·band[lo + 1], summed in the CSR
    // order (a lone entry gets a zero partner), so the sums are the CSR's own for finite band values.
    const int bins = num_bins();
    w_lo_.assign(std::size_t(bins), 0.0f);
    w_hi_.assign(std::size_t(bins), 0.0f);
    for (int k = 0; k < bins; ++k) {
        const int j = bin_start_[k], n = bin_start_[k + 1] - j;
        int lo = -1;
        if (n == 1 && band_of_[j] + 1 < bands_) {
            lo = band_of_[j];
            w_lo_[k] = weight_[j];
        } else if (n == 1 && band_of_[j] > 0) {
            lo = band_of_[j] - 1;
            w_hi_[k] = weight_[j];
        } else if (n == 2 && band_of_[j + 1] == band_of_[j] + 1) {
            lo = band_of_[j];
            w_lo_[k] = weight_[j];
            w_hi_[k] = weight_[j + 1];
        }
        if (!runs_.empty() && runs_.back().lo == lo && runs_.back().end_bin == k) ++runs_.back().end_bin;
        else runs_.push_back({k, k + 1, lo});
    }
}

void BandToBin::expand(const float* band_row, float* bin_row) const {
    const int* start = bin_start_.data();
    const int* band = band_of_.data();
    const float* w = weight_.data();
    const float* w_lo = w_lo_.data();
    const float* w_hi = w_hi_.data();
    for (const Run& r : runs_) {
        if (r.lo >= 0) {  // vectorises: two scalars, two weight streams
            const float a = band_row[r.lo], b = band_row[r.lo + 1];
            for (int k = r.first_bin; k < r.end_bin; ++k) bin_row[k] = std::clamp(w_lo[k] * a + w_hi[k] * b, 0.0f, 1.0f);
            continue;
        }
        for (int k = r.first_bin; k < r.end_bin; ++k) {
            float sum = 0.0f;
            for (int j = start[k]; j < start[k + 1]; ++j) sum += w[j] * band_row[band[j]];
            bin_row[k] = std::clamp(sum, 0.0f, 1.0f);
        }
    }
}

std::vector<float> BandToBin::expand_rows(const std::vector<float>& band_rows) const {
    if (bands_ <= 0 || band_rows.size() % std::size_t(bands_) != 0)
        throw usage_error("BandToBin: " + std::to_string(band_rows.size()) + " values is not whole rows of " +
                          std::to_string(bands_) + " bands");
    const std::size_t rows = band_rows.size() / std::size_t(bands_);
    const std::size_t bands = std::size_t(bands_), bins = std::size_t(num_bins());
    std::vector<float> out(rows * bins);
    for (std::size_t r = 0; r < rows; ++r) expand(band_rows.data() + r * bands, out.data() + r * bins);
    return out;
}

void set_torch_threads(int threads) {
    if (threads < 1) throw usage_error("--threads must be ≥ 1");
    // Every forward pass allocates and frees activations of a few MB. glibc serves blocks above its
    // (adaptive) mmap threshold with mmap/munmap, so each call page-faulted its memory in again:
    // measured 1.5 s of system time on a 3-minute song and 2–4× slower, erratic batches (bench_model).
    // Serving them from the heap and not trimming it after every free removes that; buffers ≥ 32 MB
    // (the decoded song, the stems) are still mapped and returned individually.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    // Inference parallelises over windows (predict_masks_for_queries), one LibTorch thread each.
    g_inference_threads = threads;
    at::set_num_threads(1);
    // OpenBLAS (Debian's libblas.so.3 when libopenblas0-pthread is installed) keeps its own pool of
    // threads that spin in sched_yield between calls: 26 000 calls and 0.8 s of system time on a
    // 3-minute song. LibTorch does not tell it the thread count; we do, if it is the BLAS loaded.
    using SetThreads = void (*)(int);
    if (auto set_blas = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set_blas(1);
    try {
        at::set_num_interop_threads(1);
    } catch (...) {  // only settable once per process, before any parallel work
    }
}

std::string default_model_path() {
    if (const char* env = std::getenv("LOOPSEP_MODEL"); env && *env) return env;
#ifdef LOOPSEP_SOURCE_DIR
    return std::string(LOOPSEP_SOURCE_DIR) + "/models/loopsep-v2.safetensors";
#else
    return "models/loopsep-v2.safetensors";
#endif
}

void write_untrained_model(const std::string& path, const ModelConfig& config, std::uint64_t seed) {
    auto net = net::make_net(config, seed);
    write_safetensors(path, net::to_safetensors(net, config));
}

}  // namespace loopsep
