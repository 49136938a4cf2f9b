// Tests of the trainer: segment cache files, a toy task that a tiny model must
// learn, and `loopsep train` on the command line.
#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include "loopsep/error.h"
#include "loopsep/model.h"
#include "loopsep/safetensors.h"
#include "loopsep/train.h"
#include "train_data.h"
#include <nlohmann/json.hpp>
#include "error_expect.h"
#include "test_util.h"
#include "toy_cache.h"

using namespace loopsep;
namespace lt = loopsep::testing;
using lt::resumed_from;
using lt::toy_cache;
using lt::toy_config;
using lt::toy_song_cache;
using lt::toy_train_params;

namespace {

// A toy model trained for toy_train_params' steps, with its caches: where the resume tests start.
struct TrainedToy {
    lt::TempDir dir;
    TrainParams p = toy_train_params(dir.file("toy.safetensors"));
    SegmentCache train = toy_cache(p.config, 6, 1), val = toy_cache(p.config, 3, 2);
    std::ostringstream log;
    TrainResult first;
    TrainedToy() { first = train_model(p, train, &val, log); }
};

}  // namespace

TEST(SegmentCache, RoundTripAndMuLawAccuracy) {
    lt::TempDir dir;
    const auto c = toy_config();
    auto cache = toy_cache(c, 3, 1);
    write_segment_cache(dir.file("c.bin"), cache);
    auto back = read_segment_cache(dir.file("c.bin"));
    ASSERT_EQ(back.segments.size(), cache.segments.size());
    EXPECT_EQ(back.instruments, cache.instruments);
    EXPECT_EQ(back.songs, cache.songs);
    EXPECT_EQ(back.description, "toy");
    EXPECT_EQ(back.segments[3].codes, cache.segments[3].codes);
    EXPECT_EQ(back.segments[3].song, 1u);
    // µ-law: ≥ 30 dB SNR on a sine.
    std::vector<float> x(cache.window_samples);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.5f * float(std::sin(i * 0.05));
    auto enc = encode_segment(x.data(), std::uint32_t(x.size()));
    enc.codes.resize(x.size());
    auto y = back.decode(enc);
    double e = 0, s = 0;
    for (std::size_t i = 0; i < x.size(); ++i) { s += x[i] * x[i]; e += (x[i] - y[i]) * (x[i] - y[i]); }
    EXPECT_GT(10 * std::log10(s / e), 30.0);
}

TEST(SegmentCache, CorruptFilesAreRefused) {
    lt::TempDir dir;
    auto cache = toy_cache(toy_config(), 2, 1);
    write_segment_cache(dir.file("c.bin"), cache);
    std::ifstream in(dir.file("c.bin"), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(dir.file("cut.bin"), std::ios::binary) << bytes.substr(0, bytes.size() - 10);
    EXPECT_THROW(read_segment_cache(dir.file("cut.bin")), Error);
    std::ofstream(dir.file("junk.bin"), std::ios::binary) << "not a cache at all";
    EXPECT_THROW(read_segment_cache(dir.file("junk.bin")), Error);
    EXPECT_THROW(read_segment_cache(dir.file("missing.bin")), Error);
}

TEST(Trainer, TinyModelLearnsAToyTaskAndWritesALoadableModel) {
    lt::TempDir dir;
    TrainParams p = toy_train_params(dir.file("toy.safetensors"));
    p.log_every = 10;
    p.silent_fraction = 0.2;
    auto train = toy_cache(p.config, 6, 1), val = toy_cache(p.config, 3, 2);
    std::ostringstream log;
    auto r = train_model(p, train, &val, log);
    EXPECT_EQ(r.steps_done, 60);
    EXPECT_GT(r.first_loss, 0.0);
    EXPECT_LT(r.last_loss, 0.7 * r.first_loss) << log.str();
    EXPECT_NE(log.str().find("steps/s"), std::string::npos);
    auto sep = Separator::load(p.out);
    EXPECT_EQ(sep->config().training_steps, 60);
    EXPECT_EQ(sep->config().instruments, (std::vector<std::string>{"sine", "noise"}));
    // Validation ran: per-instrument scores, the model beats the mixture on the toy.
    ASSERT_EQ(r.best.per_instrument.size(), 2u);
    EXPECT_GT(r.best.mean_sdr_model_db, r.best.mean_sdr_mixture_db) << log.str();
    // The query decides: another instrument's loop as query scores far lower against the target.
    EXPECT_GT(r.best.mean_sdr_model_db, r.best.mean_sdr_wrong_query_db + 3.0) << log.str();
    // The other instrument's own stem against the target: sine (0.3 amplitude) against noise bursts
    // (σ 0.2, half the time) is 10·log10(0.045 / 0.065) ≈ −1.6 dB, the noise against the sine ≈ −5.1 dB.
    EXPECT_NEAR(r.best.per_instrument.at("sine").sdr_wrong_stem_db, -1.6, 0.6) << log.str();
    EXPECT_NEAR(r.best.per_instrument.at("noise").sdr_wrong_stem_db, -5.1, 0.8) << log.str();
    // The wrong instrument's best band mask keeps some of the target where they share bands: above its
    // clean stem, still below 0 dB (it is mostly the other instrument).
    for (const auto& [name, sc] : r.best.per_instrument) {
        EXPECT_GT(sc.sdr_wrong_band_irm_db, sc.sdr_wrong_stem_db) << name;
        EXPECT_LT(sc.sdr_wrong_band_irm_db, 0.0) << name;
    }
    // The band-domain ideal mask: far better than the mixture, and no better than the ideal mask per bin
    // (a 32-band mask cannot split a tone from the noise in its band).
    EXPECT_GT(r.best.mean_sdr_band_irm_db, r.best.mean_sdr_mixture_db + 6.0) << log.str();
    EXPECT_LT(r.best.mean_sdr_band_irm_db, r.best.mean_sdr_irm_db + 0.5) << log.str();
    EXPECT_NE(log.str().find("band-IRM"), std::string::npos);
    // By target sound source: one line per instrument / source here, with that instrument's examples
    // and scores (each toy instrument has one source).
    ASSERT_EQ(r.best.per_source.size(), 2u);
    for (const auto& [name, s] : r.best.per_instrument) {
        const auto it = r.best.per_source.find(name + " / " + name + "-src");
        ASSERT_NE(it, r.best.per_source.end()) << name;
        EXPECT_EQ(it->second.examples, s.examples);
        EXPECT_NEAR(it->second.sdr_model_db, s.sdr_model_db, 1e-9);
        EXPECT_NEAR(it->second.sdr_irm_db, s.sdr_irm_db, 1e-9);
    }
    std::ostringstream sources;
    print_sources(r.best, sources);
    EXPECT_NE(sources.str().find("noise / noise-src"), std::string::npos);
}

TEST(Trainer, WeightAverageIsWhatGetsValidatedAndSaved) {
    TrainedToy toy;
    auto& [dir, p, train, val, log, first] = toy;
    // One more step from the toy model, without and with the average: the same step (same seed), so the
    // averaged file must hold exactly (2/11)·start + (9/11)·trained, the first step's warm-up decay.
    TrainParams raw = resumed_from(p, dir.file("raw.safetensors"));
    raw.steps = 1;
    train_model(raw, train, &val, log);
    TrainParams avg = resumed_from(p, dir.file("avg.safetensors"));
    avg.steps = 1;
    avg.ema_decay = 0.999;
    std::ostringstream avg_log;
    train_model(avg, train, &val, avg_log);
    EXPECT_NE(avg_log.str().find("moving average"), std::string::npos);
    EXPECT_NE(avg_log.str().find("validation of the trained weights"), std::string::npos);
    const auto start = read_safetensors(p.out), trained = read_safetensors(raw.out), averaged = read_safetensors(avg.out);
    ASSERT_EQ(averaged.tensors.size(), trained.tensors.size());
    double moved = 0, worst = 0;
    for (const auto& [name, a] : averaged.tensors) {
        const auto& w0 = start.tensors.at(name).values;
        const auto& w1 = trained.tensors.at(name).values;
        ASSERT_EQ(a.values.size(), w1.size()) << name;
        for (std::size_t i = 0; i < w1.size(); ++i) {
            moved = std::max(moved, double(std::abs(w1[i] - w0[i])));
            worst = std::max(worst, double(std::abs(a.values[i] - (2.0 / 11.0 * w0[i] + 9.0 / 11.0 * w1[i]))));
        }
    }
    EXPECT_GT(moved, 1e-4);   // the step changed the weights,
    EXPECT_LT(worst, 1e-6);   // and the file holds their average
    TrainParams bad = avg;
    bad.ema_decay = 1.0;
    EXPECT_THROW(bad.validate(), Error);
}

TEST(Trainer, AugmentedTrainingLearnsTheToyTaskAndRecordsIt) {
    lt::TempDir dir;
    TrainParams p = toy_train_params(dir.file("aug.safetensors"));
    p.log_every = 10;
    p.augment_eq_db = 6;
    p.augment_pitch_semitones = 1;
    auto train = toy_cache(p.config, 6, 1), val = toy_cache(p.config, 3, 2);
    std::ostringstream log;
    auto r = train_model(p, train, &val, log);
    EXPECT_NE(log.str().find("augmentation: random EQ within ±6 dB"), std::string::npos) << log.str();
    EXPECT_LT(r.last_loss, 0.7 * r.first_loss) << log.str();
    EXPECT_GT(r.best.mean_sdr_model_db, r.best.mean_sdr_mixture_db) << log.str();
    EXPECT_GT(r.best.mean_sdr_model_db, r.best.mean_sdr_wrong_query_db + 3.0) << log.str();
    // The model file says how it was trained.
    EXPECT_NE(Separator::load(p.out)->config().training_data.find("augmented: random EQ ±6 dB, pitch ±1 semitones"),
              std::string::npos)
        << Separator::load(p.out)->config().training_data;
}

TEST(Trainer, GenericSoundsJoinTheToyTaskAndTheFinalWeightsCanBeKept) {
    lt::TempDir dir;
    TrainParams p = toy_train_params(dir.file("gen.safetensors"));
    p.log_every = 10;
    p.generic_fraction = 0.25;
    p.out_last = dir.file("gen_last.safetensors");
    auto train = toy_cache(p.config, 6, 1), val = toy_cache(p.config, 3, 2);
    std::ostringstream log;
    auto r = train_model(p, train, &val, log);
    EXPECT_NE(log.str().find("generic sounds: 25 % of examples"), std::string::npos) << log.str();
    // A quarter of the targets are sounds the toy instruments never make, yet the toy task is learned.
    EXPECT_LT(r.last_loss, 0.7 * r.first_loss) << log.str();
    EXPECT_GT(r.best.mean_sdr_model_db, r.best.mean_sdr_wrong_query_db + 3.0) << log.str();
    EXPECT_NE(Separator::load(p.out)->config().training_data.find("generic sounds (noise bands, harmonic tones) as 25 %"),
              std::string::npos);
    // --out-last: the run's final weights, a loadable model with every step in it.
    EXPECT_EQ(Separator::load(p.out_last)->config().training_steps, p.steps);
    TrainParams bad = p;
    bad.generic_fraction = 0.6;
    EXPECT_THROW(bad.validate(), Error);
}

// Trains the toy task with `loss`; the log must name the loss.
static TrainResult train_toy_with_loss(lt::TempDir& dir, TrainLoss loss, std::string& log_text) {
    TrainParams p = toy_train_params(dir.file(std::string(train_loss_name(loss)) + ".safetensors"));
    p.loss = loss;
    p.log_every = 10;
    auto train = toy_cache(p.config, 6, 1), val = toy_cache(p.config, 3, 2);
    std::ostringstream log;
    auto r = train_model(p, train, &val, log);
    log_text = log.str();
    EXPECT_NE(log_text.find(std::string(train_loss_name(loss)) + " loss"), std::string::npos);
    return r;
}

// The SDR loss is −SDR in dB: it must fall by several dB, the saved model must say it was trained with
// it, and it must separate by the validation's own SDR.
TEST(Trainer, SdrLossLearnsTheToyTaskToo) {
    EXPECT_EQ(parse_train_loss("sdr"), TrainLoss::Sdr);
    EXPECT_STREQ(train_loss_name(TrainLoss::Sdr), "sdr");
    lt::TempDir dir;
    std::string log;
    const auto r = train_toy_with_loss(dir, TrainLoss::Sdr, log);
    EXPECT_LT(r.last_loss, r.first_loss - 3.0) << log;
    EXPECT_NE(Separator::load(dir.file("sdr.safetensors"))->config().training_data.find("; sdr loss"), std::string::npos);
    EXPECT_GT(r.best.mean_sdr_model_db, r.best.mean_sdr_mixture_db + 3.0) << log;
    EXPECT_GT(r.best.mean_sdr_model_db, r.best.mean_sdr_wrong_query_db + 3.0) << log;
}

TEST(Trainer, PhaseSensitiveLossLearnsTheToyTaskToo) {
    EXPECT_EQ(parse_train_loss("psa"), TrainLoss::PhaseSensitive);
    EXPECT_EQ(parse_train_loss("magnitude"), TrainLoss::Magnitude);
    EXPECT_THROW(parse_train_loss("l2"), Error);
    EXPECT_STREQ(train_loss_name(TrainLoss::PhaseSensitive), "psa");
    lt::TempDir dir;
    std::string log;
    const auto r = train_toy_with_loss(dir, TrainLoss::PhaseSensitive, log);
    EXPECT_LT(r.last_loss, 0.7 * r.first_loss) << log;
    EXPECT_GT(r.best.mean_sdr_model_db, r.best.mean_sdr_mixture_db) << log;
    EXPECT_GT(r.best.mean_sdr_model_db, r.best.mean_sdr_wrong_query_db + 3.0) << log;
}

TEST(Trainer, ResumingWithSharedLevelsConvertsTheModelAndKeepsWhatItLearned) {
    TrainedToy toy;
    auto& [dir, p, train, val, log, first] = toy;
    // Share the whole encoder; a few steps at a tiny rate: the conversion alone must keep the skill.
    TrainParams q = resumed_from(p, dir.file("shared.safetensors"));
    q.shared_levels = int(p.config.unet_channels.size()) - 1;
    q.steps = 2;
    q.lr = 1e-7;
    const auto shared = train_model(q, train, &val, log);
    EXPECT_NE(log.str().find("shared the first"), std::string::npos);
    auto sep = Separator::load(q.out);
    EXPECT_EQ(sep->config().shared_levels, q.shared_levels);
    EXPECT_LT(sep->num_parameters(), Separator::load(p.out)->num_parameters());  // the FiLMs are gone
    EXPECT_GT(shared.best.mean_sdr_model_db, shared.best.mean_sdr_mixture_db) << log.str();
    EXPECT_GT(shared.best.mean_sdr_model_db, first.best.mean_sdr_model_db - 6.0) << log.str();
    // Levels once shared cannot be conditioned again.
    TrainParams back = resumed_from(q, dir.file("back.safetensors"));
    back.shared_levels = 0;
    EXPECT_THROW(train_model(back, train, &val, log), Error);
}

TEST(Trainer, ResumingWithAFilmTopDecoderConvertsAndTrainsOn) {
    TrainedToy toy;
    auto& [dir, p, train, val, log, first] = toy;
    TrainParams q = resumed_from(p, dir.file("film.safetensors"));
    q.top_decoder = TopDecoder::Film;
    const auto light = train_model(q, train, &val, log);
    EXPECT_NE(log.str().find("converted to film"), std::string::npos);
    auto sep = Separator::load(q.out);
    EXPECT_EQ(sep->config().top_decoder, TopDecoder::Film);
    EXPECT_LT(sep->num_parameters(), Separator::load(p.out)->num_parameters());  // the convolutions are gone
    EXPECT_LT(light.last_loss, light.first_loss) << log.str();                    // and it still learns
    EXPECT_GT(light.best.mean_sdr_model_db, light.best.mean_sdr_mixture_db) << log.str();
    // The convolutions cannot come back.
    TrainParams back = resumed_from(q, dir.file("back.safetensors"));
    back.top_decoder = TopDecoder::ResBlock;
    EXPECT_THROW(train_model(back, train, &val, log), Error);
}

TEST(Trainer, TimeFreqKernelsLearnTheToyTask) {
    lt::TempDir dir;
    TrainParams p = toy_train_params(dir.file("tf.safetensors"));
    p.block_kernels = BlockKernels::TimeFreq;
    auto train = toy_cache(p.config, 6, 1), val = toy_cache(p.config, 3, 2);
    std::ostringstream log;
    const auto r = train_model(p, train, &val, log);
    EXPECT_EQ(Separator::load(p.out)->config().block_kernels, BlockKernels::TimeFreq);
    EXPECT_LT(r.last_loss, 0.7 * r.first_loss) << log.str();
    EXPECT_GT(r.best.mean_sdr_model_db, r.best.mean_sdr_mixture_db) << log.str();
    // Time/frequency kernels cannot be resumed as 3x3 ones.
    TrainParams back = resumed_from(p, dir.file("back.safetensors"));
    back.block_kernels = BlockKernels::Square;
    EXPECT_THROW(train_model(back, train, &val, log), Error);
}

TEST(Trainer, SpaceToDepthNetLearnsTheToyTaskOnTwoReplicasAndIsNeverAConversion) {
    lt::TempDir dir;
    TrainParams p = toy_train_params(dir.file("s2d.safetensors"));
    p.space_to_depth = true;  // toy channels {8, 8, 16} → a U-Net {8, 16} on the folded grid
    p.shared_levels = 1;      // the dropped top level was the shared one: none left
    p.threads = 2;
    p.replicas = 2;
    auto train = toy_cache(p.config, 6, 1), val = toy_cache(p.config, 3, 2);
    std::ostringstream log;
    const auto r = train_model(p, train, &val, log);
    const auto sep = Separator::load(p.out);
    EXPECT_TRUE(sep->config().space_to_depth);
    EXPECT_EQ(sep->config().unet_channels, (std::vector<int>{8, 16}));
    EXPECT_EQ(sep->config().shared_levels, 0);
    EXPECT_NE(log.str().find("space-to-depth top level"), std::string::npos) << log.str();
    EXPECT_LT(r.last_loss, 0.7 * r.first_loss) << log.str();
    EXPECT_GT(r.best.mean_sdr_model_db, r.best.mean_sdr_mixture_db) << log.str();
    // Resumed with the option repeated: it has it, the run goes on.
    TrainParams more = resumed_from(p, dir.file("more.safetensors"));
    more.steps = 2;
    EXPECT_NO_THROW(train_model(more, train, &val, log));
    // A full-resolution net cannot be resumed as a space-to-depth one, and the dropped level cannot be widened.
    TrainParams full = toy_train_params(dir.file("full.safetensors"));
    full.steps = 2;
    train_model(full, train, &val, log);
    TrainParams convert = resumed_from(full, dir.file("convert.safetensors"));
    convert.space_to_depth = true;
    try {
        train_model(convert, train, &val, log);
        ADD_FAILURE() << "a full-resolution net resumed with --space-to-depth";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Usage);
        EXPECT_NE(std::string(e.what()).find("--space-to-depth"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("from scratch"), std::string::npos) << e.what();
    }
    TrainParams wide = toy_train_params(dir.file("wide.safetensors"));
    wide.space_to_depth = true;
    wide.top_channels = 16;
    EXPECT_THROW(train_model(wide, train, &val, log), Error);
}

TEST(Trainer, ResumingASquareNetWithTimeFreqKernelsConvertsAndTrainsOn) {
    lt::TempDir dir;
    TrainParams p = toy_train_params(dir.file("square.safetensors"));
    auto train = toy_cache(p.config, 6, 1), val = toy_cache(p.config, 3, 2);
    std::ostringstream log;
    train_model(p, train, &val, log);
    TrainParams q = resumed_from(p, dir.file("tf.safetensors"));
    q.block_kernels = BlockKernels::TimeFreq;
    const auto r = train_model(q, train, &val, log);
    EXPECT_NE(log.str().find("converted to time/frequency"), std::string::npos);
    EXPECT_EQ(Separator::load(q.out)->config().block_kernels, BlockKernels::TimeFreq);
    EXPECT_LT(Separator::load(q.out)->num_parameters(), Separator::load(p.out)->num_parameters());
    EXPECT_LT(r.last_loss, r.first_loss) << log.str();
    EXPECT_GT(r.best.mean_sdr_model_db, r.best.mean_sdr_mixture_db) << log.str();
}

namespace {
// Resumes the trained toy with `grow` applied to the parameters (a conversion whose new blocks or
// channels do not reach the masks yet) and trains on: the log names the conversion, the model has more
// parameters, and what the toy learned survives the resume. `shrink`, applied to a resume of the grown
// model, must be refused. Returns the grown model.
std::shared_ptr<const Separator> expect_growing_resume(TrainedToy& toy, const std::function<void(TrainParams&)>& grow,
                                                       const std::string& log_line,
                                                       const std::function<void(TrainParams&)>& shrink) {
    auto& [dir, p, train, val, log, first] = toy;
    TrainParams q = resumed_from(p, dir.file("grown.safetensors"));
    grow(q);
    q.warmup_steps = 20;
    q.steps = 40;
    const auto grown = train_model(q, train, &val, log);
    EXPECT_NE(log.str().find(log_line), std::string::npos) << log.str();
    auto sep = Separator::load(q.out);
    EXPECT_GT(sep->num_parameters(), Separator::load(p.out)->num_parameters());
    EXPECT_GT(grown.best.mean_sdr_model_db, grown.best.mean_sdr_mixture_db) << log.str();
    EXPECT_GT(grown.best.mean_sdr_model_db, first.best.mean_sdr_model_db - 3.0) << log.str();
    TrainParams back = resumed_from(q, dir.file("back.safetensors"));
    shrink(back);
    EXPECT_THROW(train_model(back, train, &val, log), Error);
    return sep;
}
}  // namespace

TEST(Trainer, ResumingWithMoreBottleneckBlocksDeepensTheModelAndTrainsOn) {
    TrainedToy toy;
    // New blocks start as the identity; blocks are never removed.
    const auto sep = expect_growing_resume(toy, [](TrainParams& q) { q.mid_blocks = 3; }, "bottleneck deepened from 1 to 3",
                                           [](TrainParams& q) { q.mid_blocks = 1; });
    EXPECT_EQ(sep->config().mid_blocks, 3);
}

TEST(Trainer, ResumingWithMoreTopChannelsWidensTheModelAndTrainsOn) {
    TrainedToy toy;
    // New channels start disconnected from the old ones' outputs; channels are never removed.
    const auto sep = expect_growing_resume(toy, [](TrainParams& q) { q.top_channels = 16; }, "top level widened from 8 to 16",
                                           [](TrainParams& q) { q.top_channels = 8; });
    EXPECT_EQ(sep->config().unet_channels, (std::vector<int>{16, 8, 16}));
}

TEST(Trainer, ResumingWithTheQueryProfileAddsItAndTrainsItsConvolutions) {
    TrainedToy toy;
    auto& [dir, p, train, val, log, first] = toy;
    TrainParams q = resumed_from(p, dir.file("profile.safetensors"));
    q.query_profile = true;
    q.warmup_steps = 20;
    q.steps = 40;
    const auto r = train_model(q, train, &val, log);
    EXPECT_NE(log.str().find("query band profile added"), std::string::npos) << log.str();
    const auto sep = Separator::load(q.out);
    EXPECT_TRUE(sep->config().query_profile);
    EXPECT_EQ(sep->num_parameters() - Separator::load(p.out)->num_parameters(), 2 * 3 * (8 + 8 + 16));
    EXPECT_GT(r.best.mean_sdr_model_db, r.best.mean_sdr_mixture_db) << log.str();
    EXPECT_GT(r.best.mean_sdr_model_db, first.best.mean_sdr_model_db - 3.0) << log.str();
    // The convolutions started at zero; training moved them (the profile reaches the loss).
    double moved = 0;
    for (const auto& [name, t] : read_safetensors(q.out).tensors)
        if (name.rfind("profile.", 0) == 0)
            for (float v : t.values) moved += std::abs(v);
    EXPECT_GT(moved, 1e-4);
    // Resuming the profile model without asking keeps its architecture.
    TrainParams again = resumed_from(q, dir.file("again.safetensors"));
    again.steps = 2;
    again.warmup_steps = 0;
    train_model(again, train, &val, log);
    EXPECT_TRUE(Separator::load(again.out)->config().query_profile);
}

TEST(Trainer, TheBinRefinementCanLearnAtItsOwnRate) {
    TrainedToy toy;
    // How far the refinement's weights (zero after the conversion) move in 10 steps at a given rate.
    auto moved_at = [&toy](double scale, const std::string& name) {
        TrainParams q = resumed_from(toy.p, toy.dir.file(name));
        q.fine_regions = 4;
        q.fine_lr_scale = scale;
        q.steps = 10;
        q.lr = 1e-4;
        train_model(q, toy.train, &toy.val, toy.log);
        double moved = 0;
        for (const auto& [key, t] : read_safetensors(q.out).tensors)
            if (key.rfind("fine_coef.", 0) == 0)
                for (float v : t.values) moved += std::abs(v);
        return moved;
    };
    const double plain = moved_at(1.0, "fine1.safetensors"), faster = moved_at(30.0, "fine30.safetensors");
    EXPECT_GT(plain, 0.0);
    // Adam's steps scale with the rate: 30 times the rate moves the weights many times as far.
    EXPECT_GT(faster, 8.0 * plain) << plain << " vs " << faster;
    EXPECT_NE(toy.log.str().find("the bin refinement learns at 30 x the learning rate"), std::string::npos) << toy.log.str();
}

TEST(Trainer, ParametersAreValidated) {
    TrainParams p;
    p.out = "/tmp/x";
    p.steps = 0;
    EXPECT_THROW(p.validate(), Error);
    p.steps = 10;
    p.lr = 0;
    EXPECT_THROW(p.validate(), Error);
    p.lr = 1e-3;
    p.shared_levels = int(p.config.unet_channels.size());  // one more than there are levels
    EXPECT_THROW(p.validate(), Error);
    p.shared_levels = -1;
    p.warmup_steps = p.steps + 1;  // a warm-up longer than the run
    EXPECT_THROW(p.validate(), Error);
    p.warmup_steps = 0;
    p.mid_blocks = 9;
    EXPECT_THROW(p.validate(), Error);
    p.mid_blocks = 0;
    p.top_channels = 2048;
    EXPECT_THROW(p.validate(), Error);
    p.top_channels = 0;
    p.fine_lr_scale = 0;
    EXPECT_THROW(p.validate(), Error);
    p.fine_lr_scale = 1;
    p.self_query_fraction = 1.5;
    try {
        p.validate();
        ADD_FAILURE() << "a self-query fraction above 1 was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Usage);
        EXPECT_NE(std::string(e.what()).find("--self-query-fraction"), std::string::npos) << e.what();
    }
    p.self_query_fraction = -0.1;
    EXPECT_THROW(p.validate(), Error);
    p.self_query_fraction = 1;
    EXPECT_NO_THROW(p.validate());
    p.out.clear();
    EXPECT_THROW(p.validate(), Error);
}

TEST(TrainCli, BadInvocationsAreUsageErrors) {
    auto run = [](const std::string& args) {
        return std::system((std::string(LOOPSEP_BINARY) + " train " + args + " >/dev/null 2>&1").c_str());
    };
    EXPECT_EQ(WEXITSTATUS(run("")), 2);
    EXPECT_EQ(WEXITSTATUS(run("--out /tmp/x.safetensors")), 2);
    EXPECT_EQ(WEXITSTATUS(run("--data /nonexistent-dir --out /tmp/x.safetensors")), 1);
    EXPECT_EQ(WEXITSTATUS(run("--data /tmp --out /tmp/x.safetensors --steps -3")), 2);
    EXPECT_EQ(WEXITSTATUS(run("--data /tmp --out /tmp/x.safetensors --loss l2")), 2);
    EXPECT_EQ(WEXITSTATUS(run("--data /tmp --out /tmp/x.safetensors --augment-eq 30")), 2);
    EXPECT_EQ(WEXITSTATUS(run("--data /tmp --out /tmp/x.safetensors --augment-pitch -1")), 2);
    EXPECT_EQ(WEXITSTATUS(run("--data /tmp --out /tmp/x.safetensors --self-query-fraction 1.5")), 2);
    EXPECT_EQ(WEXITSTATUS(run("--help")), 0);
}

TEST(TrainCli, SeveralCachesAreMergedForTraining) {
    lt::TempDir dir;
    const ModelConfig c;  // the CLI's default geometry
    write_segment_cache(dir.file("a.cache"), toy_cache(c, 3, 1));
    write_segment_cache(dir.file("b.cache"), toy_cache(c, 3, 2));
    const std::string base = std::string(LOOPSEP_BINARY) + " train --cache " + dir.file("a.cache") + " --cache " +
                             dir.file("b.cache") + " --out " + dir.file("m.safetensors");
    const std::string log = dir.file("log.txt");
    const int rc = std::system((base + " --steps 2 --batch 2 --threads 1 --val-cache " + dir.file("a.cache") +
                                " --val-examples 1 > " + log + " 2>&1").c_str());
    std::ifstream in(log);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_EQ(WEXITSTATUS(rc), 0) << text;
    EXPECT_NE(text.find(", 12 segments"), std::string::npos) << text;   // 2 caches × 3 songs × 2 stems
    EXPECT_EQ(Separator::load(dir.file("m.safetensors"))->config().training_steps, 2);
    // Folders are prepared into one cache file, not two.
    const int rc2 = std::system((base + " --data " + dir.path() + " > /dev/null 2>&1").c_str());
    EXPECT_EQ(WEXITSTATUS(rc2), 2);
    // Validation caches merge the same way (a repeated --val-cache used to keep only the last one).
    const int rc3 = std::system((base + " --force --steps 1 --batch 2 --threads 1 --val-cache " + dir.file("a.cache") +
                                 " --val-cache " + dir.file("b.cache") + " --val-examples 1 > " + log + " 2>&1").c_str());
    std::ifstream in3(log);
    const std::string text3((std::istreambuf_iterator<char>(in3)), std::istreambuf_iterator<char>());
    ASSERT_EQ(WEXITSTATUS(rc3), 0) << text3;
    EXPECT_NE(text3.find("reading validation cache " + dir.file("a.cache")), std::string::npos) << text3;
    EXPECT_NE(text3.find("reading validation cache " + dir.file("b.cache")), std::string::npos) << text3;
}

namespace {

// Several bars per song, a burst length of its own per song (1500, 1900 or 2300 samples).
SegmentCache toy_bars_cache(const ModelConfig& c, int songs, int bars, unsigned seed) {
    return toy_song_cache(c, songs, bars, seed, [](int s) { return 1500u + 400u * std::uint32_t(s % 3); }, "toy bars");
}

}  // namespace

TEST(Trainer, ResumingWithTheRepetitionInputAddsItAndTrainsItsConvolution) {
    TrainedToy toy;
    auto& [dir, p, train1, val1, log, first] = toy;
    const auto train = toy_bars_cache(p.config, 6, 4, 5), val = toy_bars_cache(p.config, 3, 4, 6);
    TrainParams q = resumed_from(p, dir.file("repetition.safetensors"));
    q.repetition_neighbours = 2;
    q.steps = 30;
    q.augment_pitch_semitones = 2;   // the context bars are resampled with their example
    q.augment_eq_db = 6;             // and equalised with it
    q.generic_fraction = 0.2;        // generic sounds repeat in every context bar
    q.pair_fraction = 0.3;           // a pair shares its context
    const auto r = train_model(q, train, &val, log);
    EXPECT_NE(log.str().find("repetition input over the 2 most alike bars added"), std::string::npos) << log.str();
    const auto sep = Separator::load(q.out);
    EXPECT_EQ(sep->config().repetition_neighbours, 2);
    EXPECT_TRUE(sep->uses_repetition());
    // One 3×3 convolution from the template's log bands to the 8 top-level channels, no bias.
    EXPECT_EQ(sep->num_parameters() - Separator::load(p.out)->num_parameters(), 8 * 9);
    EXPECT_TRUE(std::isfinite(r.last_loss));
    EXPECT_GT(r.best.mean_sdr_model_db, r.best.mean_sdr_mixture_db) << log.str();
    // The convolution started at zero; training moved it (the template reaches the loss).
    double moved = 0;
    for (const auto& [name, t] : read_safetensors(q.out).tensors)
        if (name.rfind("repetition.", 0) == 0)
            for (float v : t.values) moved += std::abs(v);
    EXPECT_GT(moved, 1e-4);
    // Another neighbour count for a model that has one is refused; resuming without asking keeps it.
    TrainParams other = resumed_from(q, dir.file("other.safetensors"));
    other.repetition_neighbours = 3;
    EXPECT_THROW(train_model(other, train, &val, log), Error);
    TrainParams again = resumed_from(q, dir.file("again.safetensors"));
    again.repetition_neighbours = 0;
    again.steps = 2;
    train_model(again, train, &val, log);
    EXPECT_EQ(Separator::load(again.out)->config().repetition_neighbours, 2);
}

namespace {

// Sum of |values| of the tensors of model file `path` whose names start with `prefix`.
double weight_mass(const std::string& path, const std::string& prefix) {
    double mass = 0;
    for (const auto& [name, t] : read_safetensors(path).tensors)
        if (name.rfind(prefix, 0) == 0)
            for (float v : t.values) mass += std::abs(v);
    return mass;
}

}  // namespace

// Both finer-frequency paths from scratch: the loss falls, and the weights that start at zero move.
TEST(Trainer, ANewModelWithTheBandSplitInputAndBinLogitsTrains) {
    lt::TempDir dir;
    TrainParams p = toy_train_params(dir.file("both.safetensors"));
    p.band_split_channels = 4;
    p.bin_logits = true;
    const auto train = toy_cache(p.config, 6, 1), val = toy_cache(p.config, 3, 2);
    std::ostringstream log;
    const auto r = train_model(p, train, &val, log);
    EXPECT_LT(r.last_loss, 0.7 * r.first_loss) << log.str();
    EXPECT_GT(r.best.mean_sdr_model_db, r.best.mean_sdr_mixture_db) << log.str();
    const auto sep = Separator::load(p.out);
    EXPECT_EQ(sep->config().band_split_channels, 4);
    EXPECT_TRUE(sep->has_bin_logits());
    EXPECT_GT(weight_mass(p.out, "band_split_conv."), 1e-3);
    EXPECT_GT(weight_mass(p.out, "bin_logit_weight"), 1e-3);
    EXPECT_GT(weight_mass(p.out, "bin_logit_bias"), 1e-3);
}

// Resuming a model with --band-split C --bin-logits converts it (its masks unchanged: tests/models),
// a few steps move the new weights from zero, and the architecture then stays.
TEST(Trainer, ResumingWithTheBandSplitInputAndBinLogitsAddsAndTrainsThem) {
    TrainedToy toy;
    auto& [dir, p, train, val, log, first] = toy;
    TrainParams q = resumed_from(p, dir.file("finer.safetensors"));
    q.band_split_channels = 4;
    q.bin_logits = true;
    q.steps = 10;
    q.lr = 1e-3;
    const auto r = train_model(q, train, &val, log);
    EXPECT_NE(log.str().find("band-split input of 4 values per band added"), std::string::npos) << log.str();
    EXPECT_NE(log.str().find("per-bin output logits added"), std::string::npos) << log.str();
    EXPECT_TRUE(std::isfinite(r.last_loss));
    const auto sep = Separator::load(q.out);
    const int bins = sep->config().num_bins();
    const auto entries = [&] {  // analysis filterbank entries of the toy config: what the per-band maps cover
        ModelConfig c = p.config;
        c.band_split_channels = 1;
        const std::string tmp = dir.file("one.safetensors");
        write_untrained_model(tmp, c, 1);
        return read_safetensors(tmp).tensors.at("band_split_weight").values.size();
    }();
    EXPECT_EQ(sep->num_parameters() - Separator::load(p.out)->num_parameters(),
              std::int64_t(entries * 4 + 32 * 4 + 8 * 4 * 9 + 8 + bins * (8 + 1)));
    EXPECT_GT(weight_mass(q.out, "band_split_conv."), 1e-4);
    EXPECT_GT(weight_mass(q.out, "bin_logit_"), 1e-4);
    // Another channel count for a model that has one is refused; resuming without asking keeps both.
    TrainParams other = resumed_from(q, dir.file("other.safetensors"));
    other.band_split_channels = 5;
    other.bin_logits = false;
    EXPECT_THROW(train_model(other, train, &val, log), Error);
    TrainParams again = resumed_from(q, dir.file("again.safetensors"));
    again.band_split_channels = 0;
    again.bin_logits = false;
    again.steps = 2;
    train_model(again, train, &val, log);
    EXPECT_EQ(Separator::load(again.out)->config().band_split_channels, 4);
    EXPECT_TRUE(Separator::load(again.out)->has_bin_logits());
    TrainParams bad = p;
    bad.band_split_channels = 65;
    EXPECT_NE(lt::message_of([&] { bad.validate(); }).find("--band-split"), std::string::npos);
}
