// loopsep — training the query-conditioned U-Net.
//
// Two stages, so a training step does no DSP beyond mixing and the STFT:
//  1. prepare_segments (loopsep_train; audio I/O + Rubber Band): every stem of
//     every `loopsep synth` song is cut into four-beat windows at the annotated
//     downbeats (with context), stretched to the reference tempo, reduced to mono
//     (mid) and stored 8-bit µ-law in a SegmentCache file.
//  2. train_model (loopsep_train_core; LibTorch only — also built alone as
//     loopsep-train-gpu): mixtures made on the fly (target + other stems of the
//     same bar or remixed from other songs, random gains, target-silent
//     examples, optional random EQ and pitch), query = the same instrument from
//     another song (another sound source when there is one), L1 loss on magnitudes, validation SDR per
//     instrument on a separate cache, best model kept, Ctrl-C (and SIGTERM) safe; a full
//     checkpoint (models/src/checkpoint.h) lets one schedule run over several sessions.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "loopsep/model.h"

namespace loopsep {

struct CachedSegment {
    std::uint16_t instrument = 0;       // index into SegmentCache::instruments
    std::uint32_t song = 0;             // index into SegmentCache::songs
    std::uint32_t source = 0;           // index into SegmentCache::sources (sound source: preset/sample set)
    std::uint32_t bar = 0;              // bar number within the song (same bar = same time span)
    bool active = false;                // the stem sounds in the centre part of the window
    float scale = 0.0f;                 // peak amplitude: sample = scale · µ-law⁻¹(code)
    std::vector<std::uint8_t> codes;    // window_samples µ-law codes
};

struct SegmentCache {
    int sample_rate_hz = 44100;
    std::uint32_t window_samples = 0;   // ModelConfig::num_window_samples()
    std::vector<std::string> instruments, songs, sources;
    std::vector<CachedSegment> segments;
    std::string description;            // where the data came from (goes into the model metadata)

    std::vector<float> decode(const CachedSegment& s) const;
    void append(const SegmentCache& other);   // merges name tables
};

CachedSegment encode_segment(const float* samples, std::uint32_t n);   // µ-law, scale = peak
void write_segment_cache(const std::string& path, const SegmentCache& cache);   // atomic
SegmentCache read_segment_cache(const std::string& path);                      // input error naming the file

struct Audio;
// Bar starts (seconds) of a song's mixture: the beat tracker, given by the caller (models/ sits below beat/).
using DownbeatEstimator = std::function<std::vector<double>(const Audio& mixture)>;

// Stage 1: song folders → segments. Synth folders (DIR/<song>/{mix.wav, stems/<instrument>.wav,
// meta.json}) and multitrack folders (DIR/<song>/<instrument>.wav, loopsep/multitrack.h).
struct PrepareParams {
    std::vector<std::string> data_dirs;
    std::string musdb_subset = "train";  // the subfolder read in a MUSDB18 root ("test" for validation)
    DownbeatEstimator estimate_downbeats;  // multitracks without beats.txt (unset: they are an input error)
    int threads = 2;
    bool fast_stretch = true;           // Rubber Band R2 (data prep only)
    int bars_per_song = 0;              // 0: every bar; else this many bars spread evenly over each song
    void validate() const;
};
SegmentCache prepare_segments(const PrepareParams& params, const ModelConfig& config, std::ostream& log);

// What the masked mixture magnitude is compared with (L1, per example normalised by the mixture's level).
//  * Magnitude: the target's magnitude |S|.
//  * PhaseSensitive: the part of the target in phase with the mixture, |S|·cos(∠S − ∠X), clipped to
//    [0, |X|] (Erdogan et al. 2015). A mask keeps the mixture's phase, so this is the magnitude that
//    brings the masked mixture closest to the target waveform: it trains for SDR, not for spectra.
//  * Sdr: not an L1 but the masked mixture's SDR itself (complex spectra, the four-beat centre), in dB
//    per example, then averaged, so every window weighs alike as in the validation's mean SDR; a
//    soft threshold 40 dB under the mixture keeps silent targets defined (they train the output down).
enum class TrainLoss { Magnitude, PhaseSensitive, Sdr };
TrainLoss parse_train_loss(const std::string& name);   // "magnitude" | "psa" | "sdr"; usage error naming --loss
const char* train_loss_name(TrainLoss loss);

struct TrainParams {
    std::string out;                    // model file (best validation score; the last state if no validation)
    std::string out_last;               // also the final state (the weights' average with ema_decay), if set
    // A model file to start from (its architecture wins; Adam and the schedule start afresh: a
    // fine-tune), or a checkpoint (`checkpoint` below) to go on with: the same run continues where it
    // stopped — its weights, Adam's state, the weight average, the schedule's position and the random
    // streams — and its own schedule and example parameters replace these (the log lists any that
    // differed); only the files, threads, device and log/validation intervals come from here.
    std::string resume;
    // The run's full state (checkpoint.h), written atomically every `checkpoint_every_min` minutes,
    // when the run is stopped (SIGINT/SIGTERM: after the current step) and at its end. Empty: none.
    std::string checkpoint;
    double checkpoint_every_min = 10;
    long steps = 3000;
    int batch = 16;
    double lr = 1e-3;
    std::uint64_t seed = 1;
    int threads = 2;
    // CPU data parallelism: this many copies of the net, each on its own thread with threads / replicas
    // intra-op threads, share every batch (contiguous slices) and sum their gradients. The same step
    // as one copy over the whole batch (up to float rounding), faster on several cores (models/TRAINING.md).
    int replicas = 1;
    bool cuda = false;                  // loopsep-train-gpu
    int log_every = 20;
    int val_every = 250;
    int val_examples = 24;              // per instrument
    double silent_fraction = 0.15;      // examples whose target is silent
    double same_bar_fraction = 0.5;     // accompaniment from the target's own bar (else remixed)
    double pair_fraction = 0.0;         // example = previous mixture with another of its stems as target
    double max_minutes = 0;             // stop after this wall time (0: no limit)
    TrainLoss loss = TrainLoss::Magnitude;
    // Exponential moving average of the weights (0: off). Validation and the saved model use the
    // average, updated after every step with decay min(ema_decay, (1 + step) / (10 + step)) so the first
    // steps are not tied to the starting weights; the raw weights train on unchanged. Averaging smooths
    // the step-to-step noise that makes the best checkpoint of a run a matter of luck.
    double ema_decay = 0.0;
    // Augmentation (0: off, the default, so earlier recipes reproduce exactly). The target, the rest of
    // the mixture and the query each get their own smooth random EQ within ±augment_eq_db; each example
    // (mixture and target together) and each query is resampled by its own factor within
    // ±augment_pitch_semitones (pitch and tempo move together). Drawn from their own random stream: the
    // examples themselves (stems, gains, queries) are the same with and without augmentation.
    double augment_eq_db = 0.0;
    double augment_pitch_semitones = 0.0;
    // Generic sounds (models/src/generic.h; 0: off, the default). This share of examples has a target
    // made of band-limited noise or a harmonic tone in a random rhythm, queried by another rendering of
    // the same sound; the same share of the other examples gets one as a distractor in the mixture. It
    // keeps the net following queries unlike any training instrument (a noise loop: keep the noise).
    double generic_fraction = 0.0;
    std::vector<std::string> accompaniment_only = {"other"};  // never a target (catch-all stems)
    // Same-song queries (0: off, the default; `separate --passes 2` is their use). This share of the
    // examples is queried not by another song's loop but by the target stem of ANOTHER bar of the same
    // song, with the rest of that bar's mixture added 25 to 5 dB under the target (uniform in dB), as a
    // first pass's estimate leaks it; the query takes the example's own pitch shift and target EQ (it is
    // the same recording). An example whose song has no other bar where its instrument plays keeps its
    // foreign query. Drawn from its own random stream: the examples themselves stay the same. Validation
    // then also scores the same windows queried by another bar's true target (EvalReport::self_query_*).
    double self_query_fraction = 0.0;
    ModelConfig config;                 // architecture of a fresh model
    // Query-independent encoder levels (ModelConfig::shared_levels). -1: the architecture's own. With
    // --resume, a larger value converts the resumed net first: the FiLMs of the newly shared levels are
    // fixed at the mean embedding of 256 training queries and folded into the weights (net::share_levels).
    int shared_levels = -1;
    // The last decoder level's form (ModelConfig::top_decoder). Unset: the architecture's own. With
    // --resume, Film converts a ResBlock net first (net::film_top_decoder: the block's convolutions
    // are dropped, its norm and FiLM kept).
    std::optional<TopDecoder> top_decoder;
    // The residual blocks' kernels (ModelConfig::block_kernels). Unset: the architecture's own. With
    // --resume, TimeFreq converts a Square net first (net::timefreq_blocks: each 3×3 kernel becomes
    // its separable projection, every other weight is kept).
    std::optional<BlockKernels> block_kernels;
    // Residual blocks at the bottleneck (ModelConfig::mid_blocks). 0: the architecture's own. With
    // --resume, a larger value deepens the resumed net first (net::deeper_bottleneck: the new blocks
    // start as the identity).
    int mid_blocks = 0;
    // Channels of the top U-Net level (ModelConfig::unet_channels[0]). 0: the architecture's own. With
    // --resume, a larger value (a multiple of 8) widens the resumed net first (net::wider_top_level: the
    // new channels start disconnected from the old ones' outputs, so the masks are unchanged).
    int top_channels = 0;
    // Give the net the query's band profile (ModelConfig::query_profile). With --resume, converts a net
    // without it first (net::with_query_profile: the new convolutions start at zero, the masks unchanged);
    // false keeps the architecture's own.
    bool query_profile = false;
    // Regions of the bin refinement (ModelConfig::fine_regions). 0: the architecture's own. With
    // --resume, converts a net without one first (net::with_fine_head: its weights start at zero, the
    // masks unchanged).
    int fine_regions = 0;
    // The bin refinement's learning rate as a multiple of --lr (its own Adam parameter group). Its
    // weights start at zero beside a trained net and move little at the net's rate (measured: ≤ 0.025
    // after 2 900 steps at 3e-4).
    double fine_lr_scale = 1.0;
    // The song's repetition as an input (ModelConfig::repetition_neighbours): the template is the median of
    // this many most alike other bars. 0: the architecture's own. With --resume, converts a net without it
    // first (net::with_repetition_input: its convolution starts at zero, the masks unchanged).
    int repetition_neighbours = 0;
    // The bins inside each band as an input (ModelConfig::band_split_channels): this many values per band.
    // 0: the architecture's own. With --resume, converts a net without it first (net::with_band_split: the
    // per-band maps drawn fresh, their convolution into the stem's output at zero, the masks unchanged).
    int band_split_channels = 0;
    // Per-bin output logits (ModelConfig::bin_logits). false: the architecture's own. With --resume,
    // converts a net without them first (net::with_bin_logits: the per-bin maps at zero, the masks unchanged).
    bool bin_logits = false;
    // A new net with a space-to-depth top level (ModelConfig::space_to_depth): the U-Net of `config`
    // without its first (full-resolution) level, its input folded 2×2 into 4 channels; `shared_levels`
    // counts the levels of `config` (a shared top level dropped leaves one fewer). With --resume only
    // a model that has it already (a net cannot be converted); --top-channels is refused with it.
    bool space_to_depth = false;
    // Learning-rate warm-up: the rate rises linearly from 0 over the first `warmup_steps` steps, then
    // follows the cosine schedule (0: none). A resume starts Adam afresh, and its first full-rate steps
    // move every weight by about the learning rate whatever its gradient: the warm-up avoids that jolt.
    long warmup_steps = 0;
    // Called after every step with (steps done, steps of this run): a caller's progress bar.
    std::function<void(long, long)> on_step;
    void validate() const;              // usage error naming the parameter
};

struct InstrumentScores {
    int examples = 0;
    double sdr_model_db = 0, sdr_irm_db = 0, sdr_mixture_db = 0, sdr_wrong_query_db = 0;
    // The ideal ratio mask made in the net's bands (band powers → ratio → band→bin map): the ceiling of
    // any mask the net's band output can express.
    double sdr_band_irm_db = 0;
    double leakage_db = 0;              // output / mixture energy where the target is silent
    int silent_examples = 0;
    // The wrong query's instrument's own stem scored against the target: what the wrong-query estimate
    // scores if the net separates that instrument perfectly (over the windows where it plays in the bar).
    // The wrong-query gap a perfect net can show is the right query's SDR minus about this.
    double sdr_wrong_stem_db = 0;
    // The same with the wrong instrument's ideal ratio mask made in the net's bands (the best a band
    // mask asked for that instrument can do): how much of the target a band output must keep.
    double sdr_wrong_band_irm_db = 0;
};
struct SourceScores {                   // the model's SDR on the windows of one target sound source
    int examples = 0;
    double sdr_model_db = 0, sdr_irm_db = 0;
};
struct EvalReport {
    std::map<std::string, InstrumentScores> per_instrument;
    // By "instrument / sound source" of the target (SegmentCache::sources): which timbres generalise.
    std::map<std::string, SourceScores> per_source;
    double mean_sdr_model_db = 0, mean_sdr_irm_db = 0, mean_sdr_mixture_db = 0, mean_sdr_wrong_query_db = 0;
    double mean_sdr_band_irm_db = 0;
    double mean_sdr_wrong_stem_db = 0, mean_sdr_wrong_band_irm_db = 0;
    double mean_leakage_db = 0;
    // Same-song queries (TrainParams::self_query_fraction > 0): the windows whose song has another bar with
    // their instrument, queried by that bar's true target (no leakage), and the foreign query on the same
    // windows; means over the instruments, as mean_sdr_model_db. 0 windows: not measured.
    int self_query_examples = 0;
    double mean_sdr_self_query_db = 0, mean_sdr_foreign_same_windows_db = 0;
};

struct TrainResult {
    long steps_done = 0;
    double first_loss = 0, last_loss = 0;   // mean training loss over the first / last log windows
    double steps_per_sec = 0;
    bool interrupted = false;
    int signal = 0;                     // the signal that stopped the run (SIGINT or SIGTERM), 0 if none
    EvalReport best;                    // validation report of the saved model (empty without validation)
};

TrainResult train_model(const TrainParams& params, const SegmentCache& train, const SegmentCache* val, std::ostream& log);

// The files a training checkpoint (TrainParams::checkpoint) says its run writes: what `loopsep train
// --resume CKPT` may rewrite without --force. nullopt when `path` is a model file, not a checkpoint;
// an input error naming it when it is neither. Checkpoints written before the --out-last record
// have out_last_recorded false.
struct CheckpointRunFiles {
    std::string out, out_last;
    bool out_last_recorded = false;
};
std::optional<CheckpointRunFiles> checkpoint_run_files(const std::string& path);

// Scores a model file on a validation cache: SDR (centre part, per four-beat window) of the
// model, the ideal ratio mask (power), the mixture as estimate and the model with a wrong
// instrument's query; leakage where the target is silent. Deterministic for a seed.
EvalReport evaluate_model(const std::string& model_path, const SegmentCache& val, int examples_per_instrument,
                          std::uint64_t seed, int threads);
void print_report(const EvalReport& report, std::ostream& out);
// The per-source part of a report (EvalReport::per_source), one line per instrument / sound source.
void print_sources(const EvalReport& report, std::ostream& out);

}  // namespace loopsep
