// INTERNAL (LibTorch): the network modules shared by inference (model.cpp) and
// the trainer (trainer.cpp). Never include this from a public header.
#pragma once

#include <torch/torch.h>

#include <string>

#include "loopsep/model.h"
#include "loopsep/safetensors.h"

namespace loopsep::net {

// Mel (HTK) triangular filterbank, [num_bands, num_bins], each row summing to 1
// (a band value is the weighted mean magnitude of its bins).
torch::Tensor analysis_filterbank(const ModelConfig& config);
// Band → bin interpolation, [num_bands, num_bins], each column summing to 1:
// the normalised transposed filterbank, so a band mask in [0,1] maps to a bin mask in [0,1].
torch::Tensor synthesis_filterbank(const ModelConfig& config);

// |STFT| of waveforms [N, L] → [N, frames, bins] (periodic Hann, centred, zero-padded like loopsep::Stft).
torch::Tensor stft_magnitude(const torch::Tensor& waves, const ModelConfig& config);
torch::Tensor stft_complex(const torch::Tensor& waves, const ModelConfig& config);              // [N, bins, frames]
torch::Tensor istft(const torch::Tensor& spec, const ModelConfig& config, std::int64_t length);  // → [N, length]

// out[..., dst[j]] += weights[j] · x[..., src[j]] over the last dimension (out_cols wide): the sparse
// filterbanks. Auto: plain loops with their own gradient on CPU float tensors (training and inference),
// index_select / index_add elsewhere (GPU). Reference: always the index ops (tests compare the two).
enum class FilterbankPath { Auto, Reference };
torch::Tensor sparse_filterbank(const torch::Tensor& x, const torch::Tensor& dst, const torch::Tensor& src,
                                const torch::Tensor& weights, int64_t out_cols, FilterbankPath path = FilterbankPath::Auto);

// ModelConfig::space_to_depth's fold and its inverse: [N, C, T, B] → [N, 4C, T/2, B/2], channel 4c + 2i + j
// holding x[n, c, 2t + i, 2b + j] (time offset i, band offset j; T and B even), and back.
torch::Tensor space_to_depth(const torch::Tensor& x);
torch::Tensor depth_to_space(const torch::Tensor& x);

struct FilmResBlockImpl : torch::nn::Module {
    // embedding_size 0: a plain residual block (no FiLM; the embedding argument is ignored).
    // convolutions false: relu(FiLM(norm2(x))) alone (TopDecoder::Film), no residual: only norm2 and
    // film exist, under the names they have in a full block.
    FilmResBlockImpl(int channels, int embedding_size, bool convolutions = true,
                     BlockKernels kernels = BlockKernels::Square);
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& embedding);
    // The same block given conv1(relu(norm1(x))) already computed: that part does not depend on
    // the query, so several targets share it (Separator::predict_masks with several embeddings).
    torch::Tensor forward_after_conv1(const torch::Tensor& x, torch::Tensor conv1_out, const torch::Tensor& embedding);
    // conv1(relu(norm1(x))), as forward() and forward_folded() compute it (blocks with convolutions).
    torch::Tensor first_conv(const torch::Tensor& x);
    // Inference with one query for the whole batch: norm2's affine with the query's FiLM folded in,
    // {weight, bias} (embedding [1, E]; ignored by a block without FiLM) ...
    std::pair<torch::Tensor, torch::Tensor> folded_norm2(const torch::Tensor& embedding);
    // ... and the block run with it (forward() for that query, without evaluating the FiLM again).
    torch::Tensor forward_folded(const torch::Tensor& x, const std::pair<torch::Tensor, torch::Tensor>& norm2_affine);
    torch::nn::GroupNorm norm1{nullptr}, norm2{nullptr};
    torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
    torch::nn::Linear film{nullptr};
    int channels;
    bool convolutions;
};
TORCH_MODULE(FilmResBlock);

struct LoopSepNetImpl : torch::nn::Module {
    explicit LoopSepNetImpl(const ModelConfig& config);
    // Band magnitudes (the analysis filterbank) of magnitudes [N, T, bins] → [N, T, bands].
    torch::Tensor band_magnitudes(const torch::Tensor& magnitudes);
    // Log band features of magnitudes [N, T, bins] → [N, 1, T, bands].
    torch::Tensor features(const torch::Tensor& magnitudes);
    // Query magnitudes [N, T, bins] (any T ≥ 1) → query vectors [N, config.query_vector_size()]: the FiLM
    // embedding [N, E], then (config.query_profile) the band profile planes [N, 2, bands] flattened.
    torch::Tensor embed(const torch::Tensor& query_magnitudes);
    // A query vector [N, query_vector_size()] → its FiLM embedding [N, E] and its band profile planes
    // [N, 2, bands] (undefined without config.query_profile); a usage error for a vector of another size.
    std::pair<torch::Tensor, torch::Tensor> split_query(const torch::Tensor& query) const;
    // The band-wise bias of U-Net `level` (0 = top .. levels = bottleneck) for profile planes [N, 2, bands]:
    // [N, channels of the level, 1, bands >> level] (broadcast over time).
    torch::Tensor profile_bias(const torch::Tensor& planes, int level);
    // Mixture magnitudes [N, window_frames, bins] + query vectors [N, Q] (or [1, Q]) → bin masks [N, T, bins].
    // `repetition_bands` [N, T, bands]: the windows' repetition templates (config.repetition_neighbours;
    // undefined: each window is its own; ignored by a net without the repetition input).
    torch::Tensor mask(const torch::Tensor& mix_magnitudes, const torch::Tensor& embeddings,
                       const torch::Tensor& repetition_bands = torch::Tensor());
    // mask() in two parts: the query-independent start of the net, computed once per batch of windows,
    // then the rest for one query. The start is the features, the stem and the `shared_levels` encoder
    // levels (their skips and the down-sampled output), and the first conditioned block's first
    // convolution (of the encoder level after the shared ones, or of the middle block when every
    // encoder level is shared), which comes before its FiLM.
    struct Shared {
        torch::Tensor mix_magnitudes;      // the input [N, T, bins] (the bin refinement reads it)
        torch::Tensor x;                   // input of the first conditioned block
        std::vector<torch::Tensor> skips;  // outputs of the shared levels
        torch::Tensor first_conv1;         // that block's conv1(relu(norm1(x)))
    };
    Shared shared_prefix(const torch::Tensor& mix_magnitudes, const torch::Tensor& repetition_bands = torch::Tensor());
    FilmResBlockImpl& first_conditioned_block();  // the encoder level after the shared ones, or mid
    // Band-domain planes [N, C, T, bands] → the top U-Net level's grid: folded by space_to_depth() with
    // config.space_to_depth, else as they are. Every input added to the stem's output goes through it.
    torch::Tensor to_top_level(const torch::Tensor& planes) const;
    // The stem's output, the U-Net's input: stem(features) + repetition(template) + band_split_conv(split)
    // for log band planes [N, 1, T, bands] and band-split features [N, C, T, bands] (undefined: no such
    // input), each folded to the top level's grid.
    torch::Tensor stem_output(const torch::Tensor& features, const torch::Tensor& repetition_log,
                              const torch::Tensor& split_features = torch::Tensor());
    // The last decoder level's output x → the features the per-bin logits read, relu(x) on the top level's
    // grid: [N, channels, T, bands], or a space-to-depth net's [N, channels, T / 2, bands / 2].
    torch::Tensor top_features_of(const torch::Tensor& x) const;
    // The head on the last decoder level's output x → band masks [N, T, bands] in [0, 1] (sigmoid; with
    // config.space_to_depth its 4 channels unfolded by depth_to_space()). `in_place`: x may be overwritten.
    torch::Tensor head_mask(torch::Tensor x, bool in_place);
    torch::Tensor mask_from(const Shared& shared, const torch::Tensor& embeddings);
    // mask_from() before the band → bin map: band masks [N, T, bands] in [0, 1]. `top_features` (when
    // given): the head's input relu(x) of the top decoder level, on its grid (bin_logit_delta's input).
    torch::Tensor band_mask_from(const Shared& shared, const torch::Tensor& embeddings,
                                 torch::Tensor* top_features = nullptr);
    // Inference on the CPU: what band_mask_from() needs for one query, made once and used for every
    // batch of windows (the LibTorch calls that make them cost as much as a small layer each time):
    // each conditioned block's folded GroupNorm affine, and the up-samplings in their 1×1 form.
    struct QueryWeights {
        std::vector<std::pair<torch::Tensor, torch::Tensor>> norm2;  // enc[shared..], mid, dec[last..0]
        std::vector<std::pair<torch::Tensor, torch::Tensor>> up;     // per level: 1×1 weight, bias
        std::vector<torch::Tensor> profile;  // config.query_profile: profile_bias per level (0..levels), else empty
    };
    QueryWeights query_weights(const torch::Tensor& query);  // a query vector [1, Q]
    // band_mask_from(shared, embedding) for the query of `q` (no autograd, float, CPU).
    torch::Tensor band_mask_for(const Shared& shared, const QueryWeights& q, torch::Tensor* top_features = nullptr);
    // config.band_split_channels: magnitudes [N, T, bins] → [N, C, T, bands], each band's log1p bin
    // magnitudes (its entries in the analysis filterbank) through the band's own linear map, + bias.
    torch::Tensor band_split_features(const torch::Tensor& magnitudes, FilterbankPath path = FilterbankPath::Auto);
    // config.bin_logits: the per-bin delta logits [N, T, bins] from the top level's features (top_features_of:
    // [N, C, T, bands], or a space-to-depth net's [N, C, T / 2, bands / 2]):
    // delta[t, k] = bias[k] + Σ_c weight[k, c]·features[c, t, bin_band[k]] (space-to-depth: [c, t / 2, bin_band[k] / 2]).
    torch::Tensor bin_logit_delta(const torch::Tensor& top_features, FilterbankPath path = FilterbankPath::Auto);
    // bin masks [N, T, bins] moved by delta logits of the same shape: sigmoid(logit(clamp(m, eps, 1 − eps)) + δ)
    // (loopsep::apply_bin_logits on tensors, differentiable).
    static torch::Tensor apply_bin_logits(const torch::Tensor& bin_masks, const torch::Tensor& delta);
    // config.fine_regions: the bin refinement (ModelConfig::fine_regions) of expanded band masks
    // [N, T, bins] for mixture magnitudes [N, T, bins] and FiLM embeddings [N or 1, E] → bin masks.
    // Its output d moves each m a fraction tanh(d) of the way to 1 (d > 0) or to 0 (d < 0): it stays in [0, 1].
    torch::Tensor refine(const torch::Tensor& mix_magnitudes, const torch::Tensor& bin_masks, const torch::Tensor& embedding);
    static constexpr int kFineFeatures = 5;  // peak, above band mean, rise, band mask − ½, constant

    ModelConfig config;
    torch::nn::ModuleList query_convs{nullptr};
    torch::nn::Linear query_out{nullptr};
    // stem: 1 → unet_channels[0] (4 → with config.space_to_depth); head: unet_channels[0] → 1 (→ 4).
    torch::nn::Conv2d stem{nullptr}, head{nullptr};
    torch::nn::ModuleList enc{nullptr}, down{nullptr}, up{nullptr}, dec{nullptr};
    FilmResBlock mid{nullptr};
    // config.mid_blocks − 1 more bottleneck blocks after `mid` (registered only when there are any,
    // so v1–v4 files keep their tensor names).
    torch::nn::ModuleList mid_extra{nullptr};
    // config.query_profile: per level 0..levels, a 3-band convolution of the profile planes (2 → the
    // level's channels, no bias, starting at zero), added after dec[level] or, for the last, after the
    // bottleneck. Registered only then (last, so other configs keep their initialisation draws).
    torch::nn::ModuleList profile{nullptr};
    // config.fine_regions: embedding → kFineFeatures weights per region (registered only then, last).
    torch::nn::Linear fine_coef{nullptr};
    torch::Tensor fine_region_of_bin;  // [bins] int64: the region of the band that weighs each bin most
    // config.repetition_neighbours: the repetition template's log bands → the top level's channels, added
    // to the stem's output (3×3, no bias, starting at zero; registered only then, last); folded like the
    // features with config.space_to_depth.
    torch::nn::Conv2d repetition{nullptr};
    // config.band_split_channels C: per analysis-filterbank entry j (band fa_bands[j], bin fa_bins[j]) its
    // C weights, per band C biases, and the 3×3 convolution (C → the top level's channels, starting at
    // zero) that adds the result to the stem's output. Registered only then, after the above.
    torch::Tensor band_split_weight, band_split_bias;  // [entries, C], [bands, C]
    torch::nn::Conv2d band_split_conv{nullptr};
    // config.bin_logits: per bin, weights over the top level's channels and a bias (starting at zero), and
    // the band that weighs the bin most in the band → bin map. Registered only then, last.
    torch::Tensor bin_logit_weight, bin_logit_bias;    // [bins, C_top], [bins]
    torch::Tensor bin_band;                            // [bins] int64 (a buffer, rebuilt from the config)
    // Sparse filterbanks as buffers (not saved: rebuilt from the config).
    torch::Tensor fa_bands, fa_bins, fa_weights, fs_bands, fs_bins, fs_weights;
};
TORCH_MODULE(LoopSepNet);

LoopSepNet make_net(const ModelConfig& config, std::uint64_t seed);
// The same net with a TopDecoder::Film last decoder level: every parameter the two share is copied
// (the block's norm2 and FiLM; all others levels whole), the block's convolutions are dropped. For a
// fine-tune (loopsep train --resume --top-decoder film).
LoopSepNet film_top_decoder(LoopSepNet& net);
// The same net with BlockKernels::TimeFreq residual blocks, as a starting point for a fine-tune
// (loopsep train --resume --block-kernels timefreq). Every other parameter is copied. Each 3×3 kernel
// becomes its separable projection: conv1's band taps summed into the middle three of the 7 time taps,
// conv2's time taps summed into the middle three of the 5 band taps. Both keep each channel pair's
// response to inputs that are constant across the collapsed axis; the rest is for training to recover.
LoopSepNet timefreq_blocks(LoopSepNet& net);

// The same net with its first `levels` encoder levels made query-independent (config.shared_levels =
// levels): each of their FiLMs is evaluated at `embedding` (a query vector, of which the FiLM part [E] is
// used; e.g. the mean training query) and folded into the GroupNorm before it, exactly. For that embedding
// both nets give the same masks; it is the starting point for fine-tuning a shared-trunk model.
LoopSepNet share_levels(LoopSepNet& net, int levels, const torch::Tensor& embedding);
// The same net with `blocks` residual blocks at the bottleneck (more than it has): the new blocks' last
// convolution starts at zero, so each is the identity and the net's masks are unchanged; every other
// parameter is copied. The starting point for a fine-tune (loopsep train --resume --mid-blocks N).
LoopSepNet deeper_bottleneck(LoopSepNet& net, int blocks, std::uint64_t seed);
// The same net with `channels` (more than it has, multiples of 8) at the top U-Net level: every old
// weight is kept, the new channels' filters start fresh and their weights into old channels (and into
// the down-sampling and the head) at zero, so the net's masks are unchanged. The starting point for a
// fine-tune (loopsep train --resume --top-channels N).
LoopSepNet wider_top_level(LoopSepNet& net, int channels, std::uint64_t seed);
// The same net with config.query_profile on: every parameter copied, the profile convolutions at zero,
// so the masks are unchanged (the query vectors grow by the band profile, which then adds nothing yet).
// The starting point for a fine-tune (loopsep train --resume --query-profile).
LoopSepNet with_query_profile(LoopSepNet& net);
// The same net with a bin refinement over `regions` groups of bands (config.fine_regions): every
// parameter copied, the refinement's weights at zero, so the masks are unchanged (loopsep train --resume
// --fine-head R).
LoopSepNet with_fine_head(LoopSepNet& net, int regions);
// The same net with a repetition input over `neighbours` windows (config.repetition_neighbours): every
// parameter copied, the repetition convolution at zero, so the masks are unchanged (loopsep train
// --resume --repetition K).
LoopSepNet with_repetition_input(LoopSepNet& net, int neighbours);
// The same net with a band-split input of `channels` values per band (config.band_split_channels): every
// parameter copied, the per-band maps drawn fresh (`seed`), the convolution that adds them to the stem's
// output at zero, so the masks are unchanged (loopsep train --resume --band-split C).
LoopSepNet with_band_split(LoopSepNet& net, int channels, std::uint64_t seed);
// The same net with per-bin output logits (config.bin_logits): every parameter copied, the per-bin maps
// at zero, so the masks are unchanged up to the logit clamp (loopsep train --resume --bin-logits).
LoopSepNet with_bin_logits(LoopSepNet& net);
// Parameters (not buffers) + the config as metadata.
SafetensorsFile to_safetensors(LoopSepNet& net, const ModelConfig& config);
// Copies every parameter from `file`; any missing, extra or mis-shaped tensor is an input error naming `what`.
void load_weights(LoopSepNet& net, const SafetensorsFile& file, const std::string& what);
// Reads and validates a model file: config from its metadata, then the weights.
LoopSepNet load_net(const std::string& path, ModelConfig* config_out);

}  // namespace loopsep::net
