// Tests of the trainer's full checkpoints (TrainParams::checkpoint; models/src/checkpoint.h): a run stopped
// and resumed reaches the uninterrupted run's weights; two replicas take the steps of one.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>

#include "loopsep/error.h"
#include "loopsep/model.h"
#include "loopsep/safetensors.h"
#include "loopsep/train.h"
#include "train_data.h"
#include <nlohmann/json.hpp>
#include "test_util.h"
#include "toy_cache.h"

using namespace loopsep;
namespace lt = loopsep::testing;
using lt::toy_cache;
using lt::toy_config;
using lt::toy_song_cache;
using lt::toy_train_params;

namespace {

// A run that uses every part of the state: the weight average, both augmentations, generic sounds,
// contrastive pairs, a warm-up and a cosine schedule over 8 steps. No validation: the state is the point.
TrainParams resumable_params(const lt::TempDir& dir, const std::string& name) {
    TrainParams p = toy_train_params(dir.file(name + ".safetensors"));
    p.checkpoint = dir.file(name + ".ckpt");
    p.steps = 8;
    p.batch = 4;
    p.warmup_steps = 3;
    p.ema_decay = 0.9;
    p.augment_eq_db = 6;
    p.augment_pitch_semitones = 1;
    p.generic_fraction = 0.25;
    p.pair_fraction = 0.3;
    p.self_query_fraction = 0.5;
    return p;
}

// Raises `sig` after step `at`, as Ctrl-C (SIGINT) or a scheduler's stop (SIGTERM) would mid-run.
std::function<void(long, long)> signal_after(long at, int sig) {
    return [at, sig](long step, long) { if (step == at) std::raise(sig); };
}

// Every tensor and the run's position and random streams of two checkpoints are the same.
void expect_same_state(const std::string& a_path, const std::string& b_path) {
    const auto a = read_safetensors(a_path), b = read_safetensors(b_path);
    ASSERT_EQ(a.tensors.size(), b.tensors.size());
    int adam = 0, average = 0;
    for (const auto& [name, t] : a.tensors) {
        ASSERT_TRUE(b.tensors.count(name)) << name;
        EXPECT_EQ(t.values, b.tensors.at(name).values) << name;   // bit for bit (1 thread)
        adam += name.rfind("adam_m/", 0) == 0;
        average += name.rfind("average/", 0) == 0;
    }
    EXPECT_GT(adam, 10);
    EXPECT_EQ(adam, average);   // Adam's moments and the average of every parameter
    auto run_a = nlohmann::json::parse(a.metadata.at("run")), run_b = nlohmann::json::parse(b.metadata.at("run"));
    for (const char* key : {"step", "rng", "arng", "grng", "srng", "adam_steps", "schedule"})
        EXPECT_EQ(run_a.at(key), run_b.at(key)) << key;
}

}  // namespace

TEST(Resume, ARunStoppedTwiceAndResumedReachesTheUninterruptedRunsWeights) {
    lt::TempDir dir;
    // Three bars per song: the same-song queries have other bars to come from.
    const auto train = toy_song_cache(toy_config(), 6, 3, 1, [](int) { return 2000u; }, "toy");
    std::ostringstream log;
    const TrainParams whole = resumable_params(dir, "whole");
    const auto r = train_model(whole, train, nullptr, log);
    EXPECT_EQ(r.steps_done, 8);
    EXPECT_FALSE(r.interrupted);

    // Stopped by SIGINT after step 3: the step finishes, the state is written.
    TrainParams first = resumable_params(dir, "part");
    first.on_step = signal_after(3, SIGINT);
    const auto r1 = train_model(first, train, nullptr, log);
    EXPECT_TRUE(r1.interrupted);
    EXPECT_EQ(r1.signal, SIGINT);
    EXPECT_EQ(r1.steps_done, 3);
    EXPECT_EQ(nlohmann::json::parse(read_safetensors(first.checkpoint).metadata.at("run")).at("step"), 3);
    // Resumed with other schedule values given (they are the run's, not these), stopped by SIGTERM after step 6.
    TrainParams second = first;
    second.resume = first.checkpoint;
    second.steps = 100;
    second.lr = 0.5;
    second.on_step = signal_after(6, SIGTERM);
    std::ostringstream log2;
    const auto r2 = train_model(second, train, nullptr, log2);
    EXPECT_EQ(r2.signal, SIGTERM);
    EXPECT_EQ(r2.steps_done, 6);
    EXPECT_NE(log2.str().find("resuming the run in " + first.checkpoint + " at step 3/8"), std::string::npos) << log2.str();
    EXPECT_NE(log2.str().find("steps: 100 → 8 (the checkpoint's run keeps its own)"), std::string::npos) << log2.str();
    // And resumed to the end.
    TrainParams third = first;
    third.resume = first.checkpoint;
    third.on_step = nullptr;
    const auto r3 = train_model(third, train, nullptr, log);
    EXPECT_FALSE(r3.interrupted);
    EXPECT_EQ(r3.steps_done, 8);
    expect_same_state(whole.checkpoint, third.checkpoint);
    // The model files (the weight average, no validation) are the same too, and loadable.
    EXPECT_EQ(read_safetensors(whole.out).tensors.at("stem.weight").values,
              read_safetensors(third.out).tensors.at("stem.weight").values);
    EXPECT_EQ(Separator::load(third.out)->config().training_steps, 8);
    EXPECT_EQ(nlohmann::json::parse(read_safetensors(third.checkpoint).metadata.at("run")).at("schedule").at("self_query_fraction"), 0.5);
}

TEST(Resume, CheckpointsAreNotModelsAndKeepTheirArchitecture) {
    lt::TempDir dir;
    const auto train = toy_cache(toy_config(), 6, 1);
    std::ostringstream log;
    TrainParams p = resumable_params(dir, "run");
    p.steps = 2;
    p.warmup_steps = 1;
    train_model(p, train, nullptr, log);
    try {   // the engine refuses a checkpoint, saying what it is
        Separator::load(p.checkpoint);
        ADD_FAILURE() << "a checkpoint loaded as a model";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("training checkpoint"), std::string::npos) << e.what();
    }
    // Conversions are for model files; repeating the checkpoint's own architecture is fine.
    TrainParams q = p;
    q.resume = p.checkpoint;
    q.checkpoint = dir.file("q.ckpt");
    q.mid_blocks = p.config.mid_blocks + 1;
    EXPECT_THROW(train_model(q, train, nullptr, log), Error);
    q.mid_blocks = p.config.mid_blocks;
    EXPECT_EQ(train_model(q, train, nullptr, log).steps_done, 2);   // already done: nothing more
    // A checkpoint path that is also a model file of the run is refused up front.
    TrainParams clash = p;
    clash.checkpoint = p.out;
    EXPECT_THROW(clash.validate(), Error);
    // A damaged run record is an input error naming the file.
    auto f = read_safetensors(p.checkpoint);
    f.metadata["run"] = "{\"step\": 1}";
    write_safetensors(dir.file("bad.ckpt"), f);
    TrainParams bad = p;
    bad.resume = dir.file("bad.ckpt");
    try {
        train_model(bad, train, nullptr, log);
        ADD_FAILURE() << "a damaged checkpoint was resumed";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("bad.ckpt"), std::string::npos) << e.what();
    }
}

// Two copies of the net on two threads, each on half of every batch: the same examples, the same loss
// and (up to float rounding) the same weights as one copy over the whole batch.
TEST(Trainer, TwoReplicasTakeTheStepsOfOne) {
    lt::TempDir dir;
    const auto train = toy_cache(toy_config(), 6, 1);
    TrainParams one = toy_train_params(dir.file("one.safetensors"));
    one.steps = 4;
    one.batch = 6;
    one.log_every = 1;
    one.augment_eq_db = 6;   // the slices carry their examples' EQ curves
    std::ostringstream log;
    const auto a = train_model(one, train, nullptr, log);
    TrainParams two = one;
    two.out = dir.file("two.safetensors");
    two.threads = 2;
    two.replicas = 2;
    std::ostringstream log2;
    const auto b = train_model(two, train, nullptr, log2);
    EXPECT_NE(log2.str().find("2 replicas of the net, 1 thread(s) each"), std::string::npos) << log2.str();
    EXPECT_NEAR(b.first_loss, a.first_loss, 1e-5 * std::abs(a.first_loss));   // step 1: the batch's mean loss
    EXPECT_NEAR(b.last_loss, a.last_loss, 1e-4 * std::abs(a.last_loss));
    const auto wa = read_safetensors(one.out), wb = read_safetensors(two.out);
    double worst = 0;
    for (const auto& [name, t] : wa.tensors)
        for (std::size_t i = 0; i < t.values.size(); ++i)
            worst = std::max(worst, double(std::abs(t.values[i] - wb.tensors.at(name).values[i])));
    EXPECT_LT(worst, 1e-4);
    TrainParams bad = two;
    bad.replicas = 7;   // more than the batch
    EXPECT_THROW(bad.validate(), Error);
}

// `loopsep train --checkpoint` stopped by SIGTERM (as a session's time limit would): exit status 143 after
// writing the checkpoint, which `--resume` then goes on with.
TEST(TrainCli, ASignalledRunWritesItsCheckpointAndResumes) {
    lt::TempDir dir;
    write_segment_cache(dir.file("a.cache"), toy_cache(ModelConfig(), 3, 1));   // the CLI's geometry
    const std::string run = "timeout --preserve-status -s TERM 3 " + std::string(LOOPSEP_BINARY) + " train --cache " +
                            dir.file("a.cache") + " --out " + dir.file("m.safetensors") +
                            " --steps 1000000 --batch 2 --threads 1 --channels 8,8,16 --bands 32 --query-channels 8,8"
                            " --embedding 16 --quiet --checkpoint ";
    const int rc = std::system((run + dir.file("c.ckpt") + " > " + dir.file("log1") + " 2>&1").c_str());
    EXPECT_EQ(WEXITSTATUS(rc), 128 + SIGTERM) << lt::read_text(dir.file("log1"));
    EXPECT_NE(lt::read_text(dir.file("log1")).find("interrupted (SIGTERM): saving"), std::string::npos);
    const long step = nlohmann::json::parse(read_safetensors(dir.file("c.ckpt")).metadata.at("run")).at("step");
    EXPECT_GE(step, 1);
    EXPECT_EQ(Separator::load(dir.file("m.safetensors"))->config().training_steps, step);
    const int rc2 = std::system((run + dir.file("c2.ckpt") + " --resume " + dir.file("c.ckpt") + " > " +
                                 dir.file("log2") + " 2>&1").c_str());
    EXPECT_EQ(WEXITSTATUS(rc2), 128 + SIGTERM);
    const std::string log2 = lt::read_text(dir.file("log2"));
    EXPECT_NE(log2.find("resuming the run in " + dir.file("c.ckpt") + " at step " + std::to_string(step) + "/1000000"),
              std::string::npos) << log2;
    EXPECT_GT(nlohmann::json::parse(read_safetensors(dir.file("c2.ckpt")).metadata.at("run")).at("step").get<long>(), step);
}
