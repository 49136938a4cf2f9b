// The query-conditioned U-Net (LibTorch). The Separator that runs it: separator.cpp.
//
// Front end: |STFT| → mel-spaced triangular bands over the whole band → log1p.
// Query encoder: small CNN (3×3 conv + ReLU + 2×2 average pooling per layer),
// mean and max over time, linear → embedding. Separator: U-Net with one
// residual FiLM block per level (and at the bottleneck), strided 2×2 down- and
// transposed up-sampling, additive skips, sigmoid band mask, mapped back to all
// bins by the normalised transposed filterbank.
#include "net.h"

#include "cpu_kernels.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "loopsep/error.h"

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

FilmResBlockImpl::FilmResBlockImpl(int ch, int emb, bool convs, BlockKernels kernels) : channels(ch), convolutions(convs) {
    const int groups = std::max(1, ch / 8);
    // Activations are [N, C, time, bands].
    const bool tf = kernels == BlockKernels::TimeFreq;
    const auto first = tf ? torch::nn::Conv2dOptions(ch, ch, {7, 1}).padding({3, 0})
                          : torch::nn::Conv2dOptions(ch, ch, 3).padding(1);
    const auto second = tf ? torch::nn::Conv2dOptions(ch, ch, {1, 5}).padding({0, 2})
                           : torch::nn::Conv2dOptions(ch, ch, 3).padding(1);
    if (convs) {
        norm1 = register_module("norm1", torch::nn::GroupNorm(groups, ch));
        conv1 = register_module("conv1", torch::nn::Conv2d(first));
    }
    norm2 = register_module("norm2", torch::nn::GroupNorm(groups, ch));
    if (convs) conv2 = register_module("conv2", torch::nn::Conv2d(second));
    if (emb > 0) film = register_module("film", torch::nn::Linear(emb, 2 * ch));
    // Start as identity FiLM (scale 1, shift 0) and a near-identity residual.
    torch::NoGradGuard g;
    if (film) {
        film->weight.mul_(0.1);
        film->bias.zero_();
    }
    if (convs) conv2->weight.mul_(0.5);
}

namespace {
// Inference (no autograd): activations may be overwritten in place, which saves an allocation and a
// pass over memory per operation. Only tensors the block created itself are overwritten.
bool inference(const torch::Tensor& x) { return !torch::GradMode::is_enabled() && x.device().is_cpu(); }

// Inference on the CPU in float: layers may use the kernels of cpu_kernels.h.
bool fast_path(const torch::Tensor& x) { return inference(x) && x.scalar_type() == torch::kFloat32; }
bool fused_norm(const torch::Tensor& x) { return fast_path(x) && x.dim() == 4; }  // NCHW activations

// conv(x) (+ residual): cpu::conv3x3 for plain 3×3 convolutions at inference with up to 16 input
// channels (the stem and the two top levels), else LibTorch's (oneDNN). Per call at batch 2, one
// thread (best of 14 × 20): 1→8 channels at 192×96 0.29 → 0.15 ms, 8→8 0.72 → 0.45 ms, 16→16 at 96×48
// 0.40 → 0.34 ms; at 32 channels the two tie and at 64 oneDNN is faster (0.29 vs 0.34 ms).
constexpr int64_t kDirectMaxChannels = 16;
bool direct_conv(torch::nn::Conv2d& conv, const torch::Tensor& x) {
    return fused_norm(x) && x.size(1) <= kDirectMaxChannels && cpu::is_plain_3x3(*conv);
}

torch::Tensor run_conv(torch::nn::Conv2d& conv, const torch::Tensor& x, const torch::Tensor* residual = nullptr) {
    if (direct_conv(conv, x)) return cpu::conv3x3(x, conv->weight, conv->bias, residual);
    return residual ? conv(x).add_(*residual) : conv(x);
}

// conv(relu(group_norm(x)·weight + bias)) (+ residual) at inference on the CPU (fused_norm(x)): with
// the direct kernel, the normalised activations go straight into its padded input (no tensor of them).
torch::Tensor norm_relu_conv(torch::nn::Conv2d& conv, const torch::Tensor& x, int64_t groups, const torch::Tensor& weight,
                             const torch::Tensor& bias, double eps, const torch::Tensor* residual = nullptr) {
    if (direct_conv(conv, x)) return cpu::norm_relu_conv3x3(x, groups, weight, bias, eps, conv->weight, conv->bias, residual);
    return run_conv(conv, cpu::group_norm_relu(x, groups, weight, bias, eps), residual);
}
}  // namespace

torch::Tensor FilmResBlockImpl::first_conv(const torch::Tensor& x) {
    if (!convolutions) throw std::logic_error("first_conv: the block has no convolutions");
    if (fused_norm(x)) return norm_relu_conv(conv1, x, norm1->options.num_groups(), norm1->weight, norm1->bias, norm1->options.eps());
    if (inference(x)) return conv1(norm1(x).relu_());
    return conv1(torch::relu(norm1(x)));
}

torch::Tensor FilmResBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& embedding) {
    if (!convolutions) return forward_after_conv1(x, x, embedding);  // norm2 → FiLM → ReLU of x itself
    return forward_after_conv1(x, first_conv(x), embedding);
}

std::pair<torch::Tensor, torch::Tensor> FilmResBlockImpl::folded_norm2(const torch::Tensor& embedding) {
    if (!film) return {norm2->weight, norm2->bias};
    // One query for the whole batch: its FiLM is one scale and shift per channel, folded into the
    // GroupNorm's affine ((norm·w + b)·γ + β = norm·(w·γ) + (b·γ + β)): one pass, not three.
    const auto gb = film(embedding).squeeze(0);  // [2C]
    const auto gamma = 1.0 + gb.slice(0, 0, channels);
    return {norm2->weight * gamma, norm2->bias * gamma + gb.slice(0, channels, 2 * channels)};
}

namespace {
// The end of a block at inference: relu(norm2(y)·w + b), then conv2 and the residual x (if it has convolutions).
torch::Tensor finish_block(FilmResBlockImpl& block, const torch::Tensor& x, torch::Tensor y,
                           const std::pair<torch::Tensor, torch::Tensor>& affine) {
    const int64_t groups = block.norm2->options.num_groups();
    const double eps = block.norm2->options.eps();
    if (fused_norm(y))
        return block.convolutions ? norm_relu_conv(block.conv2, y, groups, affine.first, affine.second, eps, &x)
                                  : cpu::group_norm_relu(y, groups, affine.first, affine.second, eps);
    y = torch::group_norm(y, groups, affine.first, affine.second, eps).relu_();
    return block.convolutions ? run_conv(block.conv2, y, &x) : y;
}
}  // namespace

torch::Tensor FilmResBlockImpl::forward_folded(const torch::Tensor& x, const std::pair<torch::Tensor, torch::Tensor>& affine) {
    if (!convolutions) return finish_block(*this, x, x, affine);
    return finish_block(*this, x, first_conv(x), affine);
}

torch::Tensor FilmResBlockImpl::forward_after_conv1(const torch::Tensor& x, torch::Tensor y,
                                                    const torch::Tensor& embedding) {
    if (inference(x) && (!film || embedding.size(0) == 1)) return finish_block(*this, x, std::move(y), folded_norm2(embedding));
    y = norm2(y);
    if (film) {
        auto gb = film(embedding);  // [N, 2C], or [1, 2C] for one query over the batch
        auto gamma = (1.0 + gb.slice(1, 0, channels)).unsqueeze(-1).unsqueeze(-1);
        auto beta = gb.slice(1, channels, 2 * channels).unsqueeze(-1).unsqueeze(-1);
        y = y * gamma + beta;
    }
    return convolutions ? x + conv2(torch::relu(y)) : torch::relu(y);
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
    const int top_planes = c.space_to_depth ? 4 : 1;  // per band plane entering or leaving the top level
    stem = register_module("stem", torch::nn::Conv2d(torch::nn::Conv2dOptions(top_planes, ch[0], 3).padding(1)));
    enc = register_module("enc", torch::nn::ModuleList());
    down = register_module("down", torch::nn::ModuleList());
    up = register_module("up", torch::nn::ModuleList());
    dec = register_module("dec", torch::nn::ModuleList());
    for (int i = 0; i < levels; ++i) {
        enc->push_back(FilmResBlock(ch[i], i < c.shared_levels ? 0 : E, true, c.block_kernels));
        down->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(ch[i], ch[i + 1], 2).stride(2)));
        up->push_back(torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(ch[i + 1], ch[i], 2).stride(2)));
        dec->push_back(FilmResBlock(ch[i], E, i > 0 || c.top_decoder == TopDecoder::ResBlock, c.block_kernels));
    }
    mid = register_module("mid", FilmResBlock(ch[levels], E, true, c.block_kernels));
    if (c.mid_blocks > 1) {
        mid_extra = register_module("mid_extra", torch::nn::ModuleList());
        for (int i = 1; i < c.mid_blocks; ++i) mid_extra->push_back(FilmResBlock(ch[levels], E, true, c.block_kernels));
    }
    head = register_module("head", torch::nn::Conv2d(torch::nn::Conv2dOptions(ch[0], top_planes, 1)));
    if (c.query_profile) {
        profile = register_module("profile", torch::nn::ModuleList());
        torch::NoGradGuard g;
        for (int l = 0; l <= levels; ++l) {
            torch::nn::Conv1d conv(torch::nn::Conv1dOptions(2, ch[l], 3).padding(1).bias(false));
            conv->weight.zero_();  // starts silent: a resumed net keeps its masks, a fresh one learns to use it
            profile->push_back(conv);
        }
    }
    const auto a = to_coo(analysis_filterbank(c)), s = to_coo(synthesis_filterbank(c));
    fa_bands = register_buffer("fa_bands", a.rows);
    fa_bins = register_buffer("fa_bins", a.cols);
    fa_weights = register_buffer("fa_weights", a.weights);
    fs_bands = register_buffer("fs_bands", s.rows);
    fs_bins = register_buffer("fs_bins", s.cols);
    fs_weights = register_buffer("fs_weights", s.weights);
    if (c.fine_regions > 0) {
        fine_coef = register_module("fine_coef", torch::nn::Linear(E, c.fine_regions * kFineFeatures));
        torch::NoGradGuard g;
        fine_coef->weight.zero_();  // starts silent: the band mask passes through unchanged
        fine_coef->bias.zero_();
        const auto band_of_bin = analysis_filterbank(c).argmax(0);  // [bins]
        fine_region_of_bin = register_buffer("fine_region_of_bin", torch::div(band_of_bin, c.num_bands / c.fine_regions, "floor"));
    }
    if (c.repetition_neighbours > 0) {
        // Registered last, so other configs keep their initialisation draws; no bias (the stem has one).
        repetition = register_module(
            "repetition", torch::nn::Conv2d(torch::nn::Conv2dOptions(top_planes, ch[0], 3).padding(1).bias(false)));
        torch::NoGradGuard g;
        repetition->weight.zero_();  // starts silent: a converted net keeps its masks
    }
    if (c.band_split_channels > 0) {
        // Each band's map draws its own fan-in's scale (a band has 1 to ~90 bins); the convolution into
        // the stem's output starts at zero. It has a bias (at zero too) so that it runs on the direct 3×3
        // kernel with the stem's output as its residual.
        const int64_t C = c.band_split_channels, entries = fa_bands.numel();
        const auto per_band = torch::bincount(fa_bands, {}, c.num_bands).to(torch::kFloat32);  // bins per band
        const auto bound = per_band.index_select(0, fa_bands).rsqrt().unsqueeze(1);           // [entries, 1]
        band_split_weight = register_parameter("band_split_weight", (torch::rand({entries, C}) * 2.0 - 1.0) * bound);
        band_split_bias = register_parameter("band_split_bias", torch::zeros({c.num_bands, C}));
        band_split_conv = register_module(
            "band_split_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(C * top_planes, ch[0], 3).padding(1)));
        torch::NoGradGuard g;
        band_split_conv->weight.zero_();  // starts silent: a converted net keeps its masks
        band_split_conv->bias.zero_();
    }
    if (c.bin_logits) {
        bin_logit_weight = register_parameter("bin_logit_weight", torch::zeros({c.num_bins(), ch[0]}));
        bin_logit_bias = register_parameter("bin_logit_bias", torch::zeros({c.num_bins()}));
        bin_band = register_buffer("bin_band", synthesis_filterbank(c).argmax(0));  // [bins]
    }
}

// The sparse filterbank products as a plain loop over the COO entries of each row. The LibTorch
// formulation (index_select, multiply, index_add) materialises [rows, entries] temporaries: in inference
// the two products took 3.5 of a window's 8.2 CPU-ms (1 thread), in training ~40 % of a step.
torch::Tensor sparse_filterbank(const torch::Tensor& x, const torch::Tensor& dst, const torch::Tensor& src,
                                const torch::Tensor& weights, int64_t out_cols, FilterbankPath path) {
    if (path == FilterbankPath::Auto && x.device().is_cpu() && x.scalar_type() == torch::kFloat32)
        return cpu::sparse_rows_differentiable(x, dst, src, weights, out_cols);
    // out[..., dst[j]] += weights[j]·x[..., src[j]]: index ops run on any device.
    auto sizes = x.sizes().vec();
    sizes.back() = out_cols;
    return torch::zeros(sizes, x.options()).index_add(-1, dst, x.index_select(-1, src) * weights);
}

torch::Tensor space_to_depth(const torch::Tensor& x) {
    if (x.dim() != 4 || x.size(2) % 2 != 0 || x.size(3) % 2 != 0)
        throw usage_error("space_to_depth: expected [N, C, T, B] with T and B even");
    return torch::pixel_unshuffle(x, 2);
}

torch::Tensor depth_to_space(const torch::Tensor& x) {
    if (x.dim() != 4 || x.size(1) % 4 != 0) throw usage_error("depth_to_space: expected [N, 4C, T, B]");
    return torch::pixel_shuffle(x, 2);
}

torch::Tensor LoopSepNetImpl::band_magnitudes(const torch::Tensor& mag) {
    // bands[..., b] = Σ_k A[b,k]·mag[..., k]
    return sparse_filterbank(mag, fa_bands, fa_bins, fa_weights, config.num_bands);
}

torch::Tensor LoopSepNetImpl::band_split_features(const torch::Tensor& mag, FilterbankPath path) {
    if (config.band_split_channels == 0) throw usage_error("band_split_features: the model has no band-split input");
    const int64_t n = mag.size(0), T = mag.size(1), C = config.band_split_channels, B = config.num_bands;
    const auto x = torch::log1p(mag).reshape({n * T, mag.size(2)});
    torch::Tensor out;  // [N·T, B, C]
    if (path == FilterbankPath::Auto && x.device().is_cpu() && x.scalar_type() == torch::kFloat32) {
        out = cpu::band_split(x, fa_bands, fa_bins, band_split_weight, band_split_bias);
    } else {  // index ops, any device: [rows, entries, C] summed into the bands
        const auto terms = x.index_select(1, fa_bins).unsqueeze(2) * band_split_weight;
        out = torch::zeros({n * T, B, C}, x.options()).index_add(1, fa_bands, terms) + band_split_bias;
    }
    return out.view({n, T, B, C}).permute({0, 3, 1, 2}).contiguous();
}

torch::Tensor LoopSepNetImpl::bin_logit_delta(const torch::Tensor& top, FilterbankPath path) {
    if (!config.bin_logits) throw usage_error("bin_logit_delta: the model has no per-bin logits");
    const bool fast = path == FilterbankPath::Auto && top.device().is_cpu() && top.scalar_type() == torch::kFloat32;
    if (!fast) {  // index ops on the band grid (a space-to-depth net's coarse cells repeated 2×2 first)
        const auto grid = config.space_to_depth ? top.repeat_interleave(2, 2).repeat_interleave(2, 3) : top;
        const int64_t n = grid.size(0), C = grid.size(1), T = grid.size(2), B = grid.size(3);
        const auto feat = grid.permute({0, 2, 3, 1}).reshape({n * T, B, C});  // [rows, bands, channels]
        return ((feat.index_select(1, bin_band) * bin_logit_weight).sum(2) + bin_logit_bias).view({n, T, config.num_bins()});
    }
    // On the top level's own grid: a space-to-depth net's coarse cell (2 frames × 2 bands) gives both of
    // its frames the same delta, so each coarse frame is computed once, from band bin_band / 2, and
    // repeated — the same values as the band-grid formulation at half its work and without the 4×
    // copy of the features (measured: the two were a quarter of a space-to-depth net's inference).
    const int64_t n = top.size(0), C = top.size(1), T = top.size(2), B = top.size(3);
    const auto feat = top.permute({0, 2, 3, 1}).reshape({n * T, B, C});
    const auto band_of = config.space_to_depth ? torch::div(bin_band, 2, "floor") : bin_band;
    const auto out = cpu::bin_logits(feat, band_of, bin_logit_weight, bin_logit_bias);  // [N·T, bins]
    if (!config.space_to_depth) return out.view({n, T, config.num_bins()});
    return out.view({n, T, 1, config.num_bins()}).expand({n, T, 2, config.num_bins()}).reshape({n, 2 * T, config.num_bins()});
}

torch::Tensor LoopSepNetImpl::apply_bin_logits(const torch::Tensor& m, const torch::Tensor& delta) {
    return torch::sigmoid(torch::logit(m, double(kBinLogitEps)) + delta);
}

torch::Tensor LoopSepNetImpl::features(const torch::Tensor& mag) {
    return torch::log1p(band_magnitudes(mag)).unsqueeze(1);  // [N, 1, T, B]
}

torch::Tensor LoopSepNetImpl::embed(const torch::Tensor& query_mag) {
    const auto f = features(query_mag);  // [N, 1, T, B]
    auto x = f;
    for (auto& m : *query_convs) {
        x = torch::relu(m->as<torch::nn::Conv2d>()->forward(x));
        x = torch::avg_pool2d(x, {2, 2}, {2, 2}, {0, 0}, /*ceil_mode=*/true);
    }
    // [N, C, T', B'] → mean and max over time → [N, 2·C·B']
    auto mean = x.mean(2), mx = std::get<0>(x.max(2));
    auto code = query_out(torch::cat({mean, mx}, 1).flatten(1));
    if (!config.query_profile) return code;
    // The band profile: mean and max over time of the log bands, both less the mean's own level, so that
    // a louder or softer loop of the same sound gives the same planes.
    const auto band_mean = f.mean(2), band_max = std::get<0>(f.max(2));  // [N, 1, B]
    const auto level = band_mean.mean(-1, /*keepdim=*/true);
    return torch::cat({code, torch::cat({band_mean - level, band_max - level}, 1).flatten(1)}, 1);
}

std::pair<torch::Tensor, torch::Tensor> LoopSepNetImpl::split_query(const torch::Tensor& q) const {
    if (q.dim() != 2 || q.size(1) != config.query_vector_size())
        throw usage_error("query vector has " + std::to_string(q.dim() == 2 ? q.size(1) : q.numel()) +
                          " values, the model uses " + std::to_string(config.query_vector_size()));
    if (!config.query_profile) return {q, torch::Tensor()};
    const int64_t E = config.embedding_size, B = config.num_bands;
    return {q.narrow(1, 0, E), q.narrow(1, E, 2 * B).reshape({q.size(0), 2, B})};
}

torch::Tensor LoopSepNetImpl::profile_bias(const torch::Tensor& planes, int level) {
    const int64_t pool = (int64_t(1) << level) * config.top_level_scale();  // bands per position of the level
    const auto pooled = pool == 1 ? planes : torch::avg_pool1d(planes, {pool}, {pool});
    return profile[std::size_t(level)]->as<torch::nn::Conv1d>()->forward(pooled).unsqueeze(2);
}

FilmResBlockImpl& LoopSepNetImpl::first_conditioned_block() {
    const int levels = int(config.unet_channels.size()) - 1;
    return config.shared_levels < levels ? *enc[config.shared_levels]->as<FilmResBlock>() : *mid;
}

torch::Tensor LoopSepNetImpl::to_top_level(const torch::Tensor& planes) const {
    return config.space_to_depth ? space_to_depth(planes) : planes;
}

torch::Tensor LoopSepNetImpl::stem_output(const torch::Tensor& features, const torch::Tensor& repetition_log,
                                          const torch::Tensor& split_features) {
    auto x = run_conv(stem, to_top_level(features));
    if (repetition_log.defined()) x = x + repetition->forward(to_top_level(repetition_log));
    if (split_features.defined()) {  // the bins inside each band, through their own convolution
        const auto residual = x;
        x = run_conv(band_split_conv, to_top_level(split_features), &residual);
    }
    return x;
}

torch::Tensor LoopSepNetImpl::top_features_of(const torch::Tensor& x) const {
    // On the top level's grid: a space-to-depth net's is at half the frames and bands, and
    // bin_logit_delta reads each band-grid cell from the coarse cell it was folded into.
    return torch::relu(x);
}

torch::Tensor LoopSepNetImpl::head_mask(torch::Tensor x, bool in_place) {
    // The unfold commutes with the sigmoid (both act per value): the sigmoid runs first, on the 4 planes.
    if (config.space_to_depth)
        return depth_to_space(in_place ? head(x.relu_()).sigmoid_() : torch::sigmoid(head(torch::relu(x)))).squeeze(1);
    if (in_place) return head(x.relu_()).sigmoid_().squeeze(1);
    return torch::sigmoid(head(torch::relu(x))).squeeze(1);  // [N, T, B]
}

LoopSepNetImpl::Shared LoopSepNetImpl::shared_prefix(const torch::Tensor& mix_mag, const torch::Tensor& repetition_bands) {
    Shared out;
    out.mix_magnitudes = mix_mag;
    const auto bands = band_magnitudes(mix_mag);
    torch::Tensor rep_log;
    if (config.repetition_neighbours > 0) {
        // No song around the windows: each is its own template (ModelConfig::repetition_neighbours).
        const auto& rep = repetition_bands.defined() ? repetition_bands : bands;
        if (rep.sizes() != bands.sizes())
            throw usage_error("repetition templates must be [windows, window_frames, num_bands] like the mixture's bands");
        rep_log = torch::log1p(rep.clamp_min(0.0)).unsqueeze(1);
    }
    out.x = stem_output(torch::log1p(bands).unsqueeze(1), rep_log,
                        config.band_split_channels > 0 ? band_split_features(mix_mag) : torch::Tensor());
    for (int i = 0; i < config.shared_levels; ++i) {
        out.x = enc[i]->as<FilmResBlock>()->forward(out.x, torch::Tensor());
        out.skips.push_back(out.x);
        out.x = down[i]->as<torch::nn::Conv2d>()->forward(out.x);
    }
    // The first conditioned block sees the same input for every query: its first convolution once.
    out.first_conv1 = first_conditioned_block().first_conv(out.x);
    return out;
}

torch::Tensor LoopSepNetImpl::band_mask_from(const Shared& shared, const torch::Tensor& emb_in, torch::Tensor* top_features) {
    const int64_t n = shared.x.size(0);
    if (emb_in.size(0) != 1 && emb_in.size(0) != n)
        throw usage_error("mask: " + std::to_string(emb_in.size(0)) + " embeddings for " + std::to_string(n) + " windows");
    // [N, E], or [1, E]: one query for every window (FiLM and the profile biases broadcast)
    const auto [emb, planes] = split_query(emb_in);
    auto x = shared.x;
    std::vector<torch::Tensor> skips = shared.skips;
    const int levels = int(config.unet_channels.size()) - 1;
    for (int i = config.shared_levels; i < levels; ++i) {
        auto& block = *enc[i]->as<FilmResBlock>();
        x = i == config.shared_levels ? block.forward_after_conv1(x, shared.first_conv1, emb) : block.forward(x, emb);
        skips.push_back(x);
        x = down[i]->as<torch::nn::Conv2d>()->forward(x);
    }
    x = config.shared_levels == levels ? mid->forward_after_conv1(x, shared.first_conv1, emb) : mid(x, emb);
    if (mid_extra)
        for (auto& m : *mid_extra) x = m->as<FilmResBlock>()->forward(x, emb);
    if (planes.defined()) x = x + profile_bias(planes, levels);
    const bool in_place = inference(x);  // x below is always a tensor this function made
    for (int i = levels - 1; i >= 0; --i) {
        auto& up_i = *up[i]->as<torch::nn::ConvTranspose2d>();
        x = fast_path(x) ? cpu::upsample_add(up_i, x, skips[i]) : up_i.forward(x) + skips[i];
        x = dec[i]->as<FilmResBlock>()->forward(x, emb);
        if (planes.defined()) x = x + profile_bias(planes, i);
    }
    if (top_features) *top_features = top_features_of(x);
    return head_mask(x, in_place);  // [N, T, B]
}

LoopSepNetImpl::QueryWeights LoopSepNetImpl::query_weights(const torch::Tensor& query) {
    QueryWeights q;
    const int levels = int(config.unet_channels.size()) - 1;
    const auto [embedding, planes] = split_query(query);
    if (planes.defined())
        for (int l = 0; l <= levels; ++l) q.profile.push_back(profile_bias(planes, l).contiguous());
    for (int i = config.shared_levels; i < levels; ++i) q.norm2.push_back(enc[i]->as<FilmResBlock>()->folded_norm2(embedding));
    q.norm2.push_back(mid->folded_norm2(embedding));
    if (mid_extra)
        for (auto& m : *mid_extra) q.norm2.push_back(m->as<FilmResBlock>()->folded_norm2(embedding));
    for (int i = levels - 1; i >= 0; --i) q.norm2.push_back(dec[i]->as<FilmResBlock>()->folded_norm2(embedding));
    for (int i = 0; i < levels; ++i) q.up.push_back(cpu::upsample_weights_1x1(*up[i]->as<torch::nn::ConvTranspose2d>()));
    return q;
}

torch::Tensor LoopSepNetImpl::band_mask_for(const Shared& shared, const QueryWeights& q, torch::Tensor* top_features) {
    auto x = shared.x;
    std::vector<torch::Tensor> skips = shared.skips;
    const int levels = int(config.unet_channels.size()) - 1;
    std::size_t next = 0;  // the next block's folded affine
    for (int i = config.shared_levels; i < levels; ++i) {
        auto& block = *enc[i]->as<FilmResBlock>();
        x = i == config.shared_levels ? finish_block(block, x, shared.first_conv1, q.norm2[next++])
                                      : block.forward_folded(x, q.norm2[next++]);
        skips.push_back(x);
        x = down[i]->as<torch::nn::Conv2d>()->forward(x);
    }
    x = config.shared_levels == levels ? finish_block(*mid, x, shared.first_conv1, q.norm2[next++])
                                       : mid->forward_folded(x, q.norm2[next++]);
    if (mid_extra)
        for (auto& m : *mid_extra) x = m->as<FilmResBlock>()->forward_folded(x, q.norm2[next++]);
    if (!q.profile.empty()) x = x + q.profile[std::size_t(levels)];
    for (int i = levels - 1; i >= 0; --i) {
        x = cpu::upsample_add_1x1(q.up[std::size_t(i)].first, q.up[std::size_t(i)].second, x, skips[std::size_t(i)]);
        x = dec[i]->as<FilmResBlock>()->forward_folded(x, q.norm2[next++]);
        if (!q.profile.empty()) x = x + q.profile[std::size_t(i)];
    }
    if (top_features) *top_features = top_features_of(x);
    // The one-plane head as one fused loop; the space-to-depth head's 4 planes (at a quarter of the
    // positions) through LibTorch's 1×1 convolution.
    if (config.space_to_depth) return head_mask(x, inference(x));
    return cpu::relu_conv1x1_sigmoid(x, head->weight, head->bias);  // [N, T, B]
}

torch::Tensor LoopSepNetImpl::mask_from(const Shared& shared, const torch::Tensor& embeddings) {
    // bin mask = Σ_b S[b,k]·band_mask[b]  → [N, T, F]
    torch::Tensor top;
    auto m = sparse_filterbank(band_mask_from(shared, embeddings, config.bin_logits ? &top : nullptr), fs_bins, fs_bands,
                               fs_weights, config.num_bins());
    if (config.bin_logits) m = apply_bin_logits(m, bin_logit_delta(top));
    if (config.fine_regions == 0) return m;
    return refine(shared.mix_magnitudes, m, split_query(embeddings).first);
}

torch::Tensor LoopSepNetImpl::refine(const torch::Tensor& mix_mag, const torch::Tensor& m, const torch::Tensor& emb) {
    if (config.fine_regions == 0) throw usage_error("refine: the model has no bin refinement");
    // What each bin looks like, on the band features' log scale: how far under the highest of its ±2
    // neighbouring bins (0 at a spectral peak: a harmonic), how far above its band's mean brought back to
    // the bins, how far above the mean of its frame and the two beside it (an onset), and the band mask.
    const auto level = torch::log1p(mix_mag), level4 = level.unsqueeze(1);
    const auto peak = level - torch::max_pool2d(level4, {1, 5}, {1, 1}, {0, 2}).squeeze(1);
    const auto rise = level - torch::avg_pool2d(level4, {3, 1}, {1, 1}, {1, 0}, false, false).squeeze(1);
    const auto band_mean = sparse_filterbank(
        sparse_filterbank(mix_mag, fa_bands, fa_bins, fa_weights, config.num_bands), fs_bins, fs_bands, fs_weights,
        config.num_bins());
    const auto above = level - torch::log1p(band_mean);
    // The query's weights per region, spread to the bins: [N or 1, bins, features] → per feature [N or 1, 1, bins].
    const auto coef = fine_coef(emb).view({emb.size(0), config.fine_regions, kFineFeatures})
                          .index_select(1, fine_region_of_bin).unsqueeze(1);
    auto w = [&](int k) { return coef.select(3, k); };
    const auto d = w(0) * peak + w(1) * above + w(2) * rise + w(3) * (m - 0.5) + w(4);
    const auto t = torch::tanh(d);
    // Up towards 1 or down towards 0 by the fraction |t| of the way: the mask stays in [0, 1]. Written with
    // a selection, not relu(t)·(1 − m) − relu(−t)·m: relu has no gradient at 0, where the weights start,
    // so that form never trained (measured: the weights stayed exactly zero).
    return m + t * torch::where(t > 0, 1.0 - m, m);
}

torch::Tensor LoopSepNetImpl::mask(const torch::Tensor& mix_mag, const torch::Tensor& embeddings,
                                   const torch::Tensor& repetition_bands) {
    return mask_from(shared_prefix(mix_mag, repetition_bands), embeddings);
}

LoopSepNet make_net(const ModelConfig& config, std::uint64_t seed) {
    config.validate();
    torch::manual_seed(seed);
    LoopSepNet net(config);
    return net;
}

namespace {
using ParameterMap = std::function<void(const torch::Tensor& from, torch::Tensor& to)>;
void copy_parameter(const torch::Tensor& from, torch::Tensor& to) { to.copy_(from); }

// A net of `config` on `net`'s device, each of whose parameters is made from its namesake in `net` by
// `map` (a copy unless given): the conversions below keep a subset of the parameters, some reshaped,
// then change some of them. A parameter `net` lacks (a block the conversion adds) keeps its fresh
// initialisation.
LoopSepNet rebuilt_with(LoopSepNet& net, const ModelConfig& config, const ParameterMap& map = copy_parameter) {
    LoopSepNet out(config);
    torch::NoGradGuard g;
    auto src = net->named_parameters();
    for (auto& p : out->named_parameters())
        if (src.contains(p.key())) map(src[p.key()], p.value());
    out->to(net->stem->weight.device());
    return out;
}
}  // namespace

LoopSepNet with_repetition_input(LoopSepNet& net, int neighbours) {
    if (net->config.repetition_neighbours > 0) throw usage_error("the model already has a repetition input");
    ModelConfig config = net->config;
    config.repetition_neighbours = neighbours;
    config.validate();
    return rebuilt_with(net, config);  // the repetition convolution is new: it starts at zero
}

LoopSepNet with_band_split(LoopSepNet& net, int channels, std::uint64_t seed) {
    if (net->config.band_split_channels > 0) throw usage_error("the model already has a band-split input");
    ModelConfig config = net->config;
    config.band_split_channels = channels;
    config.validate();
    torch::manual_seed(seed);  // the per-band maps: a fresh initialisation
    return rebuilt_with(net, config);  // their convolution is new: it starts at zero
}

LoopSepNet with_bin_logits(LoopSepNet& net) {
    if (net->config.bin_logits) throw usage_error("the model already has per-bin logits");
    ModelConfig config = net->config;
    config.bin_logits = true;
    return rebuilt_with(net, config);  // the per-bin maps are new: they start at zero
}

LoopSepNet with_query_profile(LoopSepNet& net) {
    if (net->config.query_profile) throw usage_error("the model already has the query band profile");
    ModelConfig config = net->config;
    config.query_profile = true;
    return rebuilt_with(net, config);  // the profile convolutions are new: they start at zero
}

LoopSepNet with_fine_head(LoopSepNet& net, int regions) {
    if (net->config.fine_regions > 0) throw usage_error("the model already has a bin refinement");
    ModelConfig config = net->config;
    config.fine_regions = regions;
    config.validate();
    return rebuilt_with(net, config);  // the refinement is new: its weights start at zero
}

LoopSepNet share_levels(LoopSepNet& net, int levels, const torch::Tensor& embedding) {
    ModelConfig config = net->config;
    if (levels < config.shared_levels)
        throw usage_error("shared levels can only grow (the model shares " + std::to_string(config.shared_levels) + ")");
    config.shared_levels = levels;
    config.validate();
    LoopSepNet out = rebuilt_with(net, config);
    torch::NoGradGuard g;
    const auto emb = net->split_query(embedding.reshape({1, -1}).to(torch::kFloat32).cpu()).first;  // the FiLM part
    for (int i = net->config.shared_levels; i < levels; ++i) {
        auto& from = *net->enc[i]->as<FilmResBlock>();
        auto& to = *out->enc[i]->as<FilmResBlock>();
        const auto gb = from.film->forward(emb.to(from.film->weight.device())).squeeze(0);
        const auto gamma = 1.0 + gb.slice(0, 0, from.channels), beta = gb.slice(0, from.channels, 2 * from.channels);
        // (norm(y)·w + b)·γ + β = norm(y)·(w·γ) + (b·γ + β)
        to.norm2->weight.copy_(from.norm2->weight * gamma);
        to.norm2->bias.copy_(from.norm2->bias * gamma + beta);
    }
    return out;
}

LoopSepNet timefreq_blocks(LoopSepNet& net) {
    ModelConfig config = net->config;
    if (config.block_kernels == BlockKernels::TimeFreq)
        throw usage_error("the model's residual blocks already have time/frequency kernels");
    config.block_kernels = BlockKernels::TimeFreq;
    return rebuilt_with(net, config, [](const torch::Tensor& from, torch::Tensor& to) {
        if (to.sizes() == from.sizes()) {
            to.copy_(from);
        } else if (to.size(2) == 7) {  // conv1: [out, in, 3, 3] → [out, in, 7, 1], bands summed
            to.zero_();
            to.slice(2, 2, 5).copy_(from.sum(3, true));
        } else {                       // conv2: [out, in, 3, 3] → [out, in, 1, 5], time summed
            to.zero_();
            to.slice(3, 1, 4).copy_(from.sum(2, true));
        }
    });
}

LoopSepNet deeper_bottleneck(LoopSepNet& net, int blocks, std::uint64_t seed) {
    ModelConfig config = net->config;
    if (blocks <= config.mid_blocks)
        throw usage_error("bottleneck blocks can only grow (the model has " + std::to_string(config.mid_blocks) + ")");
    config.mid_blocks = blocks;
    config.validate();
    torch::manual_seed(seed);  // the new blocks' first convolutions and FiLMs: a fresh initialisation
    LoopSepNet out = rebuilt_with(net, config);
    torch::NoGradGuard g;
    for (int i = net->config.mid_blocks - 1; i < blocks - 1; ++i) {  // new blocks: x + 0 = x
        auto& block = *out->mid_extra[i]->as<FilmResBlock>();
        block.conv2->weight.zero_();
        block.conv2->bias.zero_();
    }
    return out;
}

LoopSepNet wider_top_level(LoopSepNet& net, int channels, std::uint64_t seed) {
    ModelConfig config = net->config;
    const int old = config.unet_channels[0];
    if (channels <= old)
        throw usage_error("top level channels can only grow (the model has " + std::to_string(old) + ")");
    // GroupNorm takes groups of 8 channels: only then do the new channels form groups of their own and
    // leave the old channels' statistics (and so the masks) as they were.
    if (old % 8 != 0 || channels % 8 != 0)
        throw usage_error("top level channels must be multiples of 8 to widen (the model has " + std::to_string(old) +
                          ", asked for " + std::to_string(channels) + ")");
    config.unet_channels[0] = channels;
    config.validate();
    torch::manual_seed(seed);  // the new channels' filters: a fresh initialisation
    LoopSepNet out(config);
    torch::NoGradGuard g;
    auto src = net->named_parameters();
    for (auto& p : out->named_parameters()) {
        const auto& from = src[p.key()];
        auto& to = p.value();
        if (from.sizes() == to.sizes()) {
            to.copy_(from);
            continue;
        }
        const auto ends_with = [&](const std::string& tail) {
            return p.key().size() >= tail.size() && p.key().compare(p.key().size() - tail.size(), tail.size(), tail) == 0;
        };
        if (ends_with("film.weight") || ends_with("film.bias")) {  // rows: C scales, then C shifts
            to.narrow(0, 0, old).copy_(from.narrow(0, 0, old));
            to.narrow(0, channels, old).copy_(from.narrow(0, old, old));
            continue;
        }
        torch::Tensor lead = to;
        for (int64_t d = 0; d < from.dim(); ++d) lead = lead.narrow(d, 0, from.size(d));
        lead.copy_(from);
        // New inputs into old outputs start at zero (outputs along dim 0, inputs along dim 1; the
        // transposed up-sampling's weight is [in, out, ...]: its new outputs are new channels).
        if (to.dim() >= 2 && to.size(1) != from.size(1) && p.key() != "up.0.weight")
            to.narrow(0, 0, from.size(0)).narrow(1, from.size(1), to.size(1) - from.size(1)).zero_();
    }
    out->to(net->stem->weight.device());
    return out;
}

LoopSepNet film_top_decoder(LoopSepNet& net) {
    ModelConfig config = net->config;
    if (config.top_decoder == TopDecoder::Film) throw usage_error("the model's top decoder level is already film");
    config.top_decoder = TopDecoder::Film;
    return rebuilt_with(net, config);
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
    if (fmt != file.metadata.end() && fmt->second == "loopsep-checkpoint")
        throw input_error(path + ": a training checkpoint, not a model (use the run's --out file, or resume the run)");
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
