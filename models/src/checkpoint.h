// INTERNAL (LibTorch): the trainer's full checkpoint, so one schedule can run over several sessions
// (TrainParams::checkpoint, `loopsep train --checkpoint FILE`, then `--resume FILE`).
//
// A checkpoint is a safetensors file (metadata format "loopsep-checkpoint"; the engine refuses it, a
// model file stays what it was) holding everything the step loop depends on:
//  * the model's parameters, under their own names (those of a model file);
//  * Adam's moments per parameter ("adam_m/<name>", "adam_v/<name>") and its step counts (metadata);
//  * the weight average (TrainParams::ema_decay) per parameter ("average/<name>");
//  * in the metadata "run": the schedule's parameters (steps, learning rate, warm-up, time limit, the
//    example recipe), the steps done and the minutes spent, the best validation score behind --out,
//    and the random streams (examples, augmentation, generic sounds, repetition context, same-song queries). The streams are the data
//    order: every batch is drawn from them, there is no epoch list.
// float32 and the streams' full states: a resumed run takes the very steps the uninterrupted one would.
#pragma once

#include <torch/torch.h>

#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "loopsep/model.h"
#include "loopsep/safetensors.h"
#include "loopsep/train.h"
#include "net.h"

namespace loopsep::checkpoint {

// The loop's position; the tensors travel beside it (write / Checkpoint).
struct RunState {
    long step0 = 0;                     // the model's steps before this schedule began (ModelConfig::training_steps)
    long step = 0;                      // steps of the schedule done
    double elapsed_min = 0;             // wall time spent on it (its position when TrainParams::max_minutes is set)
    std::string out;                    // the run's --out
    std::string out_last;               // and --out-last (recorded since the output rule; see checkpoint_run_files)
    bool saved = false;                 // written by this run, holding
    double best_sdr_db = 0;             //   this validation score (a resumed run replaces it only when beaten)
    std::mt19937_64 rng, arng, grng, crng;  // examples, augmentation, generic sounds, repetition context
    std::mt19937_64 srng;               // same-song queries (absent from older checkpoints, which had none)
    nlohmann::json schedule;            // schedule_json() of the run's parameters
    nlohmann::json data;                // data_json() of its training cache
};

// The parameters that make up a run's schedule and examples (not the files, threads or log intervals).
nlohmann::json schedule_json(const TrainParams& p);
// Sets those parameters of `p` from a schedule; returns one "name: given → the run's" line per value
// that differed (the caller says they were overridden).
std::vector<std::string> apply_schedule(const nlohmann::json& schedule, TrainParams& p);
// What identifies the training data (segments, songs, instruments, description).
nlohmann::json data_json(const SegmentCache& cache);

// Atomic (temp + rename). `average`: the weight average in the order of model->parameters(), or null.
void write(const std::string& path, const RunState& state, const ModelConfig& config, net::LoopSepNet& model,
           torch::optim::Adam& adam, const std::vector<torch::Tensor>* average);

bool is_checkpoint(const SafetensorsFile& file);

struct Checkpoint {
    RunState state;
    ModelConfig config;
    SafetensorsFile file;               // the tensors, read below
    nlohmann::json adam_steps;          // parameter name → Adam's step count (absent before the first step)
    bool has_average = false;           // the weight average's tensors are there
    std::string what;                   // the file's name, for errors
};
// Parses the metadata of a file is_checkpoint() accepted; an input error naming `what` if it is malformed.
Checkpoint parse(SafetensorsFile file, const std::string& what);
// The model with the checkpoint's parameters (on the CPU).
net::LoopSepNet load_model(const Checkpoint& c);
// Adam's moments and step counts into `adam` (built over `model`'s parameters, before its first step).
void restore_adam(const Checkpoint& c, net::LoopSepNet& model, torch::optim::Adam& adam);
// The weight average into `average` (in the order of model->parameters(), on their devices).
void restore_average(const Checkpoint& c, net::LoopSepNet& model, std::vector<torch::Tensor>& average);

}  // namespace loopsep::checkpoint
