// loopsep — the query-conditioned separation network (loading and running it).
//
// A Separator holds trained weights loaded from a safetensors model file. Given
// an example loop of the target instrument (the "query") it computes an
// embedding; given a batch of mixture magnitude windows and that embedding it
// predicts one soft mask per window (values in [0,1], one per STFT bin and frame).
//
// Data layout the engine must follow:
//  * Audio at 44.1 kHz, stretched so that four beats last 4·60/reference_bpm s
//    (= 88200 samples at 120 BPM).
//  * A window holds (window_frames()−1)·hop samples CENTRED on the four-beat
//    segment (≈ context_frames·hop samples of context on each side). Its STFT
//    (n_fft, hop, periodic Hann, centred, zero-padded ends — loopsep/stft.h) has
//    window_frames() frames; frames ≈ [context_frames, context_frames +
//    segment_frames) are the segment itself. Training data is cut the same way.
//  * Stereo: the net sees the mid channel ((L+R)/2); the engine applies that one
//    mask to both channels' STFTs (keeps the stereo image, halves the cost).
//
// No LibTorch types appear here: all of it lives in models/src.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "loopsep/audio.h"
#include "loopsep/repetition.h"

namespace loopsep {

// The decoder's last (full-resolution) level, which runs once per target per window:
// ResBlock = a FiLM residual block like every other level (two convolutions; v1–v5);
// Film = GroupNorm + FiLM + ReLU only, no convolution (27 % less per extra target, bench_model).
enum class TopDecoder { ResBlock, Film };
TopDecoder parse_top_decoder(const std::string& name);  // "resblock" | "film"; usage error otherwise
std::string to_string(TopDecoder d);

// The two convolutions of every residual block: Square = 3×3 and 3×3 (v1–v5); TimeFreq = a temporal
// 7×1 then a spectral 1×5 (the "musically shaped" filters of Pons et al.: 12 weights per channel pair
// instead of 18, a 7-frame × 5-band reach per block instead of 5 × 5).
enum class BlockKernels { Square, TimeFreq };
BlockKernels parse_block_kernels(const std::string& name);  // "square" | "timefreq"; usage error otherwise
std::string to_string(BlockKernels k);

struct ModelConfig {                 // stored in the model file's metadata, validated on load
    int sample_rate_hz = 44100;
    int n_fft = 2048, hop = 512;     // the engine computes the mixture STFT with these (Hann, centred: loopsep/stft.h)
    double reference_bpm = 120.0;    // a four-beat segment lasts 4*60/reference_bpm s at the reference tempo
    int segment_frames = 172;        // STFT frames of one four-beat segment at the reference tempo (centre part)
    int context_frames = 10;         // extra frames the net sees on each side
    int window_frames() const { return segment_frames + 2 * context_frames; }
    int num_bins() const { return n_fft / 2 + 1; }

    // Architecture. The net works on `num_bands` mel-spaced triangular bands
    // covering 0 Hz .. sample_rate/2 (the whole band: güira and bongo live
    // high); its band mask is mapped back to every STFT bin by the normalised
    // transposed filterbank.
    int num_bands = 96;
    std::vector<int> unet_channels = {8, 16, 32, 64};   // per level; levels = size()-1 down-samplings (×2 in time and bands)
    std::vector<int> query_channels = {16, 32, 64};     // query encoder CNN (each followed by 2×2 pooling)
    int embedding_size = 64;
    // Encoder levels before the query enters: these residual blocks have no FiLM, so they do not
    // depend on the target and run once per window however many targets are asked for
    // (Separator::predict_masks_for_queries). 0 = the query conditions every block (v1).
    int shared_levels = 0;
    TopDecoder top_decoder = TopDecoder::ResBlock;       // see TopDecoder
    BlockKernels block_kernels = BlockKernels::Square;   // see BlockKernels
    // Residual blocks at the bottleneck (v1–v5: 1). Extra ones add capacity where the net is cheapest
    // (1/64 of the top level's positions: each costs ≈ 1/9 of the U-Net) and widen its reach in time.
    int mid_blocks = 1;
    // The query's band profile as a second conditioning path (v1–v5: off). FiLM scales and shifts whole
    // channels, and the U-Net's convolutions slide along frequency, so the pooled embedding alone can say
    // "a low, sustained sound" only through what each channel happens to respond to. With this on, the
    // query vector also carries the query's log band profile (mean and max over time, centred on its own
    // mean level: 2·num_bands values after the embedding), and a band-wise bias made from it (a 3-band
    // convolution per level, starting at zero) is added after the bottleneck and after each decoder
    // level: the net is told, per band, where the target lives.
    bool query_profile = false;
    // A bin-resolution refinement after the band mask (v1–v5: 0, off). A 96-band mask cannot part two
    // sounds that share a band (a vocal's harmonics and the hi-hat between them, in bands 20–40 bins
    // wide). With `fine_regions` R > 0 each bin's mask is moved up or down from its band's value by
    // tanh of a weighted sum of what the bin looks like: whether it is a spectral peak, how far it stands
    // above its band's mean, whether it rises over its neighbouring frames, and the band mask itself. The
    // query chooses the weights, one set per region of R equal groups of bands (a linear layer from the
    // embedding, starting at zero, so a net converted to have it keeps its masks). Per-bin convolutions
    // were tried first: LibTorch's made a training step 13 s instead of 0.6–0.9 s (one core).
    int fine_regions = 0;
    // The song's repetition as a second input (v1–v6: 0, off). Loop-based songs repeat bar after bar, and
    // the parts that repeat are the ones a loop query names. With K > 0 the net also sees, for each
    // window, a repetition template: the element-wise median of the band magnitudes of the K windows of
    // the same song most like it (loopsep/repetition.h; REPET-SIM on the bar grid). It enters through its
    // own convolution beside the stem's (starting at zero, so a converted net keeps its masks). Without
    // a song around it (predict_masks on lone windows) a window is its own template.
    int repetition_neighbours = 0;
    // The bins inside each band as a second input (v1–v6: 0, off). The band features are means: above
    // ≈ 1.5 kHz a band holds several harmonics of a voice or a guitar, and the net cannot tell them from
    // a noise of the same level. With C > 0 the log magnitudes of each band's bins (its support in the
    // analysis filterbank) go through that band's own learned linear map to C values (+ bias), and the
    // [C, time, bands] result enters the stem's output through its own 3×3 convolution (starting at
    // zero, so a converted net keeps its masks).
    int band_split_channels = 0;
    // Per-bin output logits (v1–v6: off). The band mask is interpolated to the bins; with this on, each
    // bin k also gets a delta logit from the top decoder level's features at the band that weighs it most
    // (a per-bin linear map over the top level's channels, + bias, both starting at zero), and its mask is
    // sigmoid(logit(clamp(m, eps, 1 − eps)) + delta) — apply_bin_logits().
    bool bin_logits = false;
    // A space-to-depth top level (v1–v6: off). The full-resolution U-Net level (8 channels at every frame
    // and band) cost two thirds of a training step's forward + backward while holding a twentieth of the
    // weights. With this on, the log band features [N, 1, T, bands] are folded 2×2 (time × band) into 4
    // channels at half the frames and bands (net::space_to_depth) before the stem, and the head's 4
    // channels are unfolded back to [N, 1, T, bands] (net::depth_to_space): the U-Net of `unet_channels`
    // runs entirely at half resolution or below (its level 0 is at T/2 × bands/2), so window_frames and
    // num_bands must be divisible by 2^(levels + 1). A new net's option (loopsep train --space-to-depth
    // drops --channels' first level); a trained net cannot be converted to it.
    bool space_to_depth = false;
    // How much U-Net level 0 is coarser than the band features: 2 with space_to_depth, else 1.
    int top_level_scale() const { return space_to_depth ? 2 : 1; }
    // Values in a query vector (Separator::embed_query): the FiLM embedding, then the band profile if any.
    int query_vector_size() const { return embedding_size + (query_profile ? 2 * num_bands : 0); }

    // Provenance (free text / lists, not checked beyond their types).
    std::vector<std::string> instruments;   // instruments seen in training
    std::string training_data;              // description of the training data
    long training_steps = 0;

    void validate() const;                   // usage error naming the field
    std::string to_json() const;             // one JSON object
    static ModelConfig from_json(const std::string& json, const std::string& what);  // input error naming `what`
    std::uint64_t num_window_samples() const { return std::uint64_t(window_frames() - 1) * hop; }
    std::uint64_t segment_samples() const { return std::uint64_t(4.0 * 60.0 / reference_bpm * sample_rate_hz + 0.5); }
};

// A model with per-bin output logits (ModelConfig::bin_logits): bin masks (values in [0, 1], n of them)
// ← sigmoid(logit(clamp(m, eps, 1 − eps)) + delta), computed as m·e^δ / (m·e^δ + 1 − m) (one exp per
// value). A delta of exactly 0 leaves its mask as it is, bit for bit (sigmoid(logit(m)) = m; the clamp
// only keeps the logit finite): a converted model's stems stay the band path's even through Rubber
// Band, whose stretch back flips on mask differences of 1e-7. Returns whether any delta was non-zero.
inline constexpr float kBinLogitEps = 1e-6f;
bool apply_bin_logits(float* bin_masks, const float* delta_logits, std::size_t n);

// The net's band-domain mask → a mask on every STFT bin: each bin is a convex combination of (at most a
// few) neighbouring bands (the synthesis filterbank's columns sum to 1), so a band mask in [0,1] stays in
// [0,1]. Band masks are ~10× smaller than bin masks: the engine moves them to the song's own STFT frames
// and expands them there (and only there).
class BandToBin {
public:
    BandToBin() = default;
    BandToBin(std::vector<int> bin_start, std::vector<int> band_of, std::vector<float> weight, int bands);
    int num_bands() const { return bands_; }
    int num_bins() const { return bin_start_.empty() ? 0 : int(bin_start_.size()) - 1; }
    // bin_row[k] = clamp(Σ_j weight_j · band_row[band_of_j], 0, 1) for each of num_bins() bins.
    void expand(const float* band_row, float* bin_row) const;
    // rows × num_bands() → rows × num_bins(), time-major.
    std::vector<float> expand_rows(const std::vector<float>& band_rows) const;

private:
    std::vector<int> bin_start_, band_of_;   // CSR by bin: entries [bin_start_[k], bin_start_[k+1]) of bin k
    std::vector<float> weight_;
    int bands_ = 0;
    // The same map as runs of bins that each mix the same two neighbouring bands (lo, lo + 1) — all but
    // the lowest bins of a mel map — so expand() runs a gather-free loop over most bins. lo < 0: bins
    // expanded from the CSR entries.
    struct Run { int first_bin, end_bin, lo; };
    std::vector<Run> runs_;
    std::vector<float> w_lo_, w_hi_;         // per bin, for the two-band runs
};

class Separator {                    // loaded weights: immutable, shareable across threads/runs (const methods thread-safe)
public:
    ~Separator();
    static std::shared_ptr<const Separator> load(const std::string& path);   // input_error naming the file on any problem
    const ModelConfig& config() const;
    int embedding_size() const;  // values in a query vector: ModelConfig::query_vector_size()
    std::int64_t num_parameters() const;
    // Query loop already at the reference tempo, 44.1 kHz, any length ≥ one bar (4 beats); stereo → mid inside.
    std::vector<float> embed_query(const Audio& loop) const;
    // The same from the query's magnitudes: frames × num_bins(), time-major, |STFT| (the model's n_fft and hop)
    // of a query at the reference tempo, e.g. a first pass's estimate of a window (mask × mixture magnitudes,
    // as `separate --passes 2` makes its self-query). embed_query(loop) is this of the loop's mid.
    std::vector<float> embed_query_magnitudes(const std::vector<float>& magnitudes) const;
    // Few-shot class prototype: mean of several query embeddings (Wang et al. 2022).
    static std::vector<float> prototype(const std::vector<std::vector<float>>& embeddings);
    // Batch of mixture MAGNITUDE windows, each window_frames() × num_bins(), time-major (|STFT| of the mid channel of
    // the stretched segment with its context). Returns one mask per window, same shape, values in [0,1].
    std::vector<std::vector<float>> predict_masks(const std::vector<std::vector<float>>& mix_magnitudes,
                                                  const std::vector<float>& embedding) const;
    // Several queries (targets) over the same windows: masks[query][window]. The query-independent start of
    // the net (band features, stem, the shared encoder levels and the first conditioned block's first convolution)
    // runs once per window for all of them.
    std::vector<std::vector<std::vector<float>>> predict_masks_for_queries(
        const std::vector<std::vector<float>>& mix_magnitudes, const std::vector<std::vector<float>>& embeddings) const;
    // The same masks before band → bin expansion: masks[query][window], each window_frames() × num_bands.
    // band_to_bin().expand_rows() of one gives exactly the predict_masks_for_queries() mask (then
    // refine_bin_masks() with the window's magnitudes, for a model that refines_bins()).
    // `repetition` (optional, for a model with a repetition input): each window's repetition template,
    // window_frames() × num_bands band magnitudes (repetition_geometry(), loopsep/repetition.h); without
    // it each window is its own template.
    // `bin_logits` (optional, for a model that has_bin_logits()): each query's windows' per-bin delta logits,
    // bin_logits[query][window] = window_frames() × num_bins(), time-major; the bin masks are then
    // apply_bin_logits() of the expanded band masks with them (before any refine_bin_masks()). Left empty
    // for a model without them.
    std::vector<std::vector<std::vector<float>>> predict_band_masks_for_queries(
        const std::vector<std::vector<float>>& mix_magnitudes, const std::vector<std::vector<float>>& embeddings,
        const std::vector<std::vector<float>>* repetition = nullptr,
        std::vector<std::vector<std::vector<float>>>* bin_logits = nullptr) const;
    // Whether the model adds per-bin logits to its interpolated band masks (ModelConfig::bin_logits).
    bool has_bin_logits() const;
    // The song's repetition (ModelConfig::repetition_neighbours): whether the model takes it, a window's band
    // magnitudes (its input to the templates: window_frames() × num_bands from the window's
    // window_frames() × num_bins() magnitudes, the net's own filterbank), and the templates' geometry.
    bool uses_repetition() const;
    std::vector<float> window_bands(const std::vector<float>& window_magnitudes) const;
    RepetitionGeometry repetition_geometry() const;
    const BandToBin& band_to_bin() const;
    // Whether the model refines its masks bin by bin after the band → bin expansion (ModelConfig::fine_regions).
    bool refines_bins() const;
    // That refinement, in place, of several targets' bin masks (frames × num_bins() each, time-major, from
    // band_to_bin()) on any STFT grid of the model's n_fft and hop, given the mixture's magnitudes on the
    // same grid (|STFT| of the mid channel) and each target's query vector (the mixture's features are
    // made once for all of them). A usage error for a model that does not refine.
    void refine_bin_masks(const std::vector<float>& mix_magnitudes, std::vector<std::vector<float>>& bin_masks,
                          const std::vector<std::vector<float>>& queries) const;

    struct Impl;  // LibTorch internals (models/src)
    explicit Separator(std::unique_ptr<Impl> impl);

private:
    std::unique_ptr<Impl> impl_;
};

// Once per process, before running the net: LibTorch's thread count, and glibc's allocator told to keep
// freed activation memory in the heap (mallopt; without it every batch page-faults its tensors in again).
void set_torch_threads(int threads);
// The shipped default model, relative to the source tree (the one place a model switch changes in C++).
inline constexpr const char* kShippedModelFile = "models/loopsep-v7.safetensors";
// $LOOPSEP_MODEL, else kShippedModelFile under <prefix>/share/loopsep when installed, else under the
// source tree (loopsep/shipped_files.h).
std::string default_model_path();
// The repetition templates' geometry for a model's windows (ModelConfig::repetition_neighbours; the
// centre is the four-beat segment), as the engine and the trainer both make them.
RepetitionGeometry repetition_geometry(const ModelConfig& config);
// For tests and the trainer: a freshly initialised (untrained) model written to `path` (small configs run fast).
void write_untrained_model(const std::string& path, const ModelConfig& config, std::uint64_t seed);

}  // namespace loopsep
