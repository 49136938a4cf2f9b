// Internal to loopsep_engine: `separate --passes 2` — the song queries itself. Pass 1 runs the given
// queries over every window and keeps only each window's estimated energy share per target; the most
// confident bars' estimates (pass 1's mask × the mixture's magnitudes, recomputed for those few windows)
// are embedded as queries, and their mean is each target's pass-2 query (SeparationParams::passes).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <vector>

#include "loopsep/engine.h"
#include "loopsep/model.h"

namespace loopsep::detail {

constexpr int kSelfQueryBars = 4;          // bars whose estimates make a target's self-query
constexpr double kSelfQueryMinShare = 0.01;  // a bar's estimated share must reach this (−20 dB) ...
constexpr double kSelfQueryRelShare = 0.25;  // ... and a quarter (−6 dB) of the most confident bar's
constexpr double kSelfQueryMinEnergy = 1e-3;  // and its mixture −30 dB of the song's median bar or more

// The bars of one target's self-query from pass 1's estimated energy share per window (0..1) and the
// mixture's energy per window (same order): the windows passing the three thresholds above, by share
// (ties: earlier first). `main`: the first kSelfQueryBars of them; `candidates`: one more, so that a
// window of `main` can be queried by the others (excluding itself) and still by up to kSelfQueryBars
// bars. Fewer than two qualifying bars: both empty (no self-query). confidence: main's mean share.
struct SelfQueryBars {
    std::vector<int> main, candidates;
    double confidence = 0;
};
SelfQueryBars choose_self_query_bars(const std::vector<double>& share, const std::vector<double>& mixture_energy);

// The estimated energy share of a target in a window's four-beat centre: Σ (mask·|X|)² / Σ |X|² over the
// centre frames (magnitudes and bin masks time-major, frames × bins; 0 for a silent centre).
double estimated_share(const std::vector<float>& bin_mask, const std::vector<float>& magnitudes, std::size_t bins,
                       int centre_begin_frames, int centre_frames);

// The self-queries of several targets.
struct SelfQueries {
    std::vector<SelfQueryInfo> info;                      // per target
    std::vector<std::vector<float>> embeddings;           // per target: pass 2's query (pass 1's if no bars)
    std::vector<std::map<int, std::vector<float>>> leave_one_out;  // per target: window of `main` → its query
};
// A window's magnitudes (window_frames × bins) computed on worker `worker` (the engine's stretch).
using WindowMagnitudes = std::function<std::vector<float>(std::size_t window, std::size_t worker)>;
// Runs pass 1 over `windows` windows in batches of `batch` (templates: each window's repetition
// template, or empty) and builds the self-queries; adds its time to *stretch_sec and *model_sec.
SelfQueries make_self_queries(const Separator& model, std::size_t windows, const WindowMagnitudes& magnitudes,
                              const std::vector<std::vector<float>>& embeddings,
                              const std::vector<std::vector<float>>& templates, int batch, int threads,
                              double* stretch_sec, double* model_sec);

}  // namespace loopsep::detail
