// INTERNAL (LibTorch): the trainer's validation scorer — a fixed set of windows from a segment cache, each
// scored against the ideal masks, with a wrong query, a same-song query and the target's silent bars
// (leakage). For trainer.cpp and bench/model (evaluate_model in loopsep/train.h).
#pragma once

#include <cstdint>
#include <vector>

#include "loopsep/train.h"
#include "net.h"
#include "train_data.h"

namespace loopsep::train_data {

struct ValExample {
    int instrument;
    std::vector<int64_t> stems;  // all stems of the bar (the real mixture)
    int64_t target;              // -1 when the target is silent in this bar
    int64_t query, wrong_query;  // wrong_query: another instrument's loop (-1 if none)
    int64_t self_query = -1;     // the target in another bar of its song (val_self_queries; -1: none)
};

// The validation windows: per usable instrument up to `per_instrument` bars where it plays (each with a
// query from another song and a wrong query) and a quarter as many where it is silent, drawn from `seed`.
std::vector<ValExample> make_val_set(const SegmentCache& c, int per_instrument, std::uint64_t seed);

// Sets each window's same-song query (TrainParams::self_query_fraction): the set itself is unchanged.
void add_val_self_queries(const SegmentCache& c, std::vector<ValExample>& set, std::uint64_t seed);

// Scores `model` (in eval mode for the call) on `set`: SDR of each window's four-beat centre.
EvalReport evaluate(net::LoopSepNet& model, const SegmentCache& c, const DeviceCache& dc,
                    const std::vector<ValExample>& set);

}  // namespace loopsep::train_data
