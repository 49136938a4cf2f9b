// loopsep — the separation engine: song in, target stems out.
//
// Flow (one way): song → beat grid → four-beat segments → each segment's mix,
// with context, stretched to the model's reference tempo → model masks →
// masks warped back onto the ORIGINAL song's STFT frames → applied to the
// original mixture STFT → inverse STFT → segments cross-faded into full-length
// stems. Bringing the mask back (not the audio) keeps the waveform faithful:
// re-stretching separated audio loses it (≈ −31 dB SI-SDR after a round trip).
//
// An Engine holds the loaded model (immutable, shared); everything per song
// lives inside separate(). Several targets share decode, beats, stretching and
// STFTs; their masks are normalised together so stems + residual = mixture.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "loopsep/audio.h"
#include "loopsep/beat.h"
#include "loopsep/stretch.h"

namespace loopsep {

class Separator;
class Catalog;
struct LoopRecord;

enum class Reconstruction { MaskWarp, Stretch };   // "mask" (default) | "stretch" (measured alternative)
enum class GridMode { Beats, Fixed };              // beat-synchronous (default) | plain fixed windows (ablation)
// How a segment reaches the reference tempo for the model's input:
// Rubber Band time-stretching of the audio, or STFT frames analysed directly
// at the stretched positions (a phase-vocoder analysis without resynthesis).
enum class InputStretch { RubberBand, Spectral };
InputStretch parse_input_stretch(const std::string& name);  // "rubberband" | "spectral"
Reconstruction parse_reconstruction(const std::string& name);
GridMode parse_grid_mode(const std::string& name);

struct SeparationParams {
    Genre genre = Genre::Neutral;
    Reconstruction reconstruct = Reconstruction::MaskWarp;
    GridMode grid = GridMode::Beats;
    bool allow_beatless = false;     // --no-beats: fixed grid at the prior's tempo instead of an error
    int downbeat_offset = 0;         // --downbeat-offset: every downbeat moved this many beats (BeatParams)
    // Spectral by default: same SDR as Rubber Band on our benchmark, ~40 % faster end to end (README).
    InputStretch input_stretch = InputStretch::Spectral;
    StretchEngine stretch_engine = StretchEngine::Faster;  // Rubber Band engine when it is used
    int batch_segments = 8;          // segments per model call
    int threads = 2;                 // worker threads for stretching segments
    bool residual = false;           // also produce mixture − Σ targets
    // 2: a second pass queried by the song itself. Pass 1 runs with the given queries; for each target the
    // bars where its estimate's energy share is highest (SeparationInfo::self_query) make a self-query — the
    // mean embedding of those windows' estimated magnitudes (pass 1's mask × the mixture, each window as
    // a query is one) — and pass 2 separates with it, a window among those bars with the others only.
    // Windows are stretched anew in each pass (memory stays flat in song length). 1: one pass (default).
    int passes = 1;
    // With passes = 2: pass 2's query is this share of the self-query and the rest of the given query's
    // embedding (1: the self-query alone, the default; 0.5: their mean). 0..1.
    double self_query_weight = 1.0;
    void validate() const;
};

// One target: its name and the query embedding that selects it.
struct TargetQuery {
    std::string name;
    std::vector<float> embedding;
};

struct StageTimes {                  // seconds spent per stage
    double beats = 0;                // beat tracking and segment planning
    double stretch = 0;              // stretching each window to the reference tempo + its STFT
    double model = 0;                // the network
    double reconstruct = 0;          // mask warping, filtering the original STFT, inverse STFT, cross-fades
    double write = 0;                // handing finished audio to the StemSink (e.g. encoding files)
};

// A target's self-query (SeparationParams::passes = 2).
struct SelfQueryInfo {
    // The segments (four-beat bars, song order indices) whose pass-1 estimates made the query, most confident
    // first; empty when fewer than two bars qualified (the target then keeps pass 1's result).
    std::vector<int> segments;
    // The mean over those bars of pass 1's estimated energy share of the target (the estimate's energy over
    // the mixture's, in the window's four-beat centre, on the model's magnitudes): 0..1; 0 when empty.
    double confidence = 0;
};

struct SeparationInfo {
    BeatGrid grid;
    std::size_t num_segments = 0;
    std::vector<SelfQueryInfo> self_query;  // per target with passes = 2; empty otherwise
    // A model with a repetition input (ModelConfig::repetition_neighbours): for each segment, the segments
    // whose median was its repetition template, most alike first. Empty for other models.
    std::vector<std::vector<int>> repetition_segments;
    StageTimes times;
};

struct SeparationResult : SeparationInfo {
    std::vector<Audio> stems;        // one per target, same rate/channels/length as the input song
    Audio residual;                  // empty unless params.residual
};

// Receives the separated audio as it becomes final, in song order, so no song-length stem is ever held
// (Engine::separate_to). Each call carries song frames [start_frame, start_frame + frames) of every
// output — the targets in order, then the residual when params.residual — as planar channels:
// outputs[o][c] points at `frames` floats, valid during the call. The calls cover the song exactly once,
// contiguously from frame 0, at the song's own sample rate and channel count.
class StemSink {
public:
    virtual ~StemSink() = default;
    virtual void write(std::size_t start_frame, std::size_t frames,
                       const std::vector<std::vector<const float*>>& outputs) = 0;
};

// A stable tag naming a model file's weights (FNV-1a of its bytes), for the
// catalog's per-model embedding cache.
std::string model_file_tag(const std::string& path);

// Called after each batch with (segments done, segments total).
using ProgressFn = std::function<void(std::size_t, std::size_t)>;

// The catalog loops a class prototype of `instrument` is made from (Engine::query_from_catalog):
// genre-matched when the genre has some, at most a fixed number. Input error listing the available
// instruments if none. Public so a caller can say which loops made its query.
std::vector<LoopRecord> prototype_loops(Catalog& catalog, const std::string& instrument, Genre genre);

class Engine {
public:
    // `model_tag` names the weights (e.g. a hash of the file) for the catalog's embedding cache.
    Engine(std::shared_ptr<const Separator> model, std::string model_tag);
    const Separator& model() const { return *model_; }

    // Query from a loop file's audio: stretched to the reference tempo (loop_bpm ≤ 0: estimated), then embedded.
    std::vector<float> query_from_loop(const Audio& loop, double loop_bpm, const std::string& what) const;
    // Class prototype from the catalog's loops of `instrument` (genre-matched when the genre has some);
    // embeddings are cached in the catalog per model. Input error listing the available instruments if none.
    std::vector<float> query_from_catalog(Catalog& catalog, const std::string& instrument, Genre genre) const;

    // Streams the stems (and residual) to `sink` as segments finish: memory holds the song and about one
    // batch of segments, whatever the song's length. `known_grid`: the song's beat grid when the caller
    // already tracked it — track_beats on this very audio with params' genre, allow_beatless and downbeat_offset;
    // used only in the beat grid mode for a song at the model's rate (otherwise the grid is tracked here).
    SeparationInfo separate_to(const Audio& song, const std::vector<TargetQuery>& targets,
                               const SeparationParams& params, StemSink& sink, const ProgressFn& progress = {},
                               const BeatGrid* known_grid = nullptr) const;
    // The same, collected into full-length stems in memory.
    SeparationResult separate(const Audio& song, const std::vector<TargetQuery>& targets,
                              const SeparationParams& params, const ProgressFn& progress = {}) const;

private:
    std::shared_ptr<const Separator> model_;
    std::string model_tag_;
};

}  // namespace loopsep
