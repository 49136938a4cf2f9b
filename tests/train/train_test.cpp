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
using lt::toy_cache;
using lt::toy_song_cache;

namespace {

// Small windows: 32 frames (28 + 2·2 context) → 15872 samples; a tiny net.
ModelConfig toy_config() {
    ModelConfig c;
    c.segment_frames = 28;
    c.context_frames = 2;
    c.num_bands = 32;
    c.unet_channels = {8, 8, 16};
    c.query_channels = {8, 8};
    c.embedding_size = 16;
    return c;
}

// The toy training run both trainer tests start from: 60 steps of the toy net, writing `out`.
TrainParams toy_train_params(const std::string& out) {
    TrainParams p;
    p.config = toy_config();
    p.out = out;
    p.steps = 60;
    p.batch = 8;
    p.lr = 3e-3;
    p.val_every = 1000;
    p.val_examples = 4;
    p.threads = 1;  // OpenMP spin-waits badly on a loaded 2-core machine
    return p;
}

// `p` continued from the model it wrote, into `out`.
TrainParams resumed_from(const TrainParams& p, const std::string& out) {
    TrainParams q = p;
    q.resume = p.out;
    q.out = out;
    return q;
}

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

// ---------------------------------------------------------------------------
// Full checkpoints (TrainParams::checkpoint; models/src/checkpoint.h)

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

// ---------------------------------------------------------------------------
// Same-song queries (TrainParams::self_query_fraction; models/src/train_data.h)

namespace {
// Toy songs of 4 bars where "sine" is silent (inactive) in bar 2 of song 0.
SegmentCache toy_cache_with_a_gap() {
    auto c = toy_song_cache(toy_config(), 3, 4, 5, [](int) { return 2000u; }, "toy");
    for (auto& seg : c.segments)
        if (seg.song == 0 && seg.bar == 2 && seg.instrument == 0) seg.active = false;
    return c;
}
}  // namespace

TEST(SelfQuery, ComesFromAnotherBarOfTheSameSongWhereTheInstrumentPlays) {
    const auto c = toy_cache_with_a_gap();
    const train_data::Index ix(c);
    std::mt19937_64 srng(3);
    std::map<std::uint32_t, int> seen;
    double lo = 0, hi = -100, sum = 0;
    const int n = 400;
    for (int k = 0; k < n; ++k) {
        const auto q = train_data::pick_self_query(c, ix, 0, 1, 0, srng);
        ASSERT_GE(q.target, 0);
        const auto& t = c.segments[std::size_t(q.target)];
        EXPECT_EQ(t.song, 0u);
        EXPECT_EQ(t.instrument, 0u);
        EXPECT_EQ(t.bar, q.bar);
        EXPECT_NE(q.bar, 1u);            // never the example's own bar
        EXPECT_NE(q.bar, 2u);            // nor a bar where the instrument is silent
        ASSERT_EQ(q.rest.size(), 1u);    // the rest of that bar: its noise stem
        EXPECT_EQ(c.segments[std::size_t(q.rest[0])].song, 0u);
        EXPECT_EQ(c.segments[std::size_t(q.rest[0])].bar, q.bar);
        EXPECT_EQ(c.segments[std::size_t(q.rest[0])].instrument, 1u);
        ++seen[q.bar];
        lo = std::min(lo, q.leak_db); hi = std::max(hi, q.leak_db); sum += q.leak_db;
    }
    EXPECT_EQ(seen.size(), 2u);          // bars 0 and 3, both drawn
    EXPECT_GT(seen[0], n / 3);
    EXPECT_GT(seen[3], n / 3);
    EXPECT_GE(lo, train_data::kSelfQueryLeakMinDb);
    EXPECT_LE(hi, train_data::kSelfQueryLeakMaxDb);
    EXPECT_LT(lo, -23.0);                // the whole range is used
    EXPECT_GT(hi, -7.0);
    EXPECT_NEAR(sum / n, -15.0, 1.0);
    // A song of one bar (or an instrument in no other bar) has no same-song query.
    const auto one = toy_cache(toy_config(), 3, 1);
    const train_data::Index ix1(one);
    EXPECT_EQ(train_data::pick_self_query(one, ix1, 1, 0, 0, srng).target, -1);
    // Validation: the same rule, from its own stream.
    const auto val = train_data::val_self_queries(c, {ix.bars.at({0, 1}), ix.bars.at({0, 2})}, {0, 0}, 7);
    ASSERT_EQ(val.size(), 2u);
    for (int64_t v : val) {
        ASSERT_GE(v, 0);
        EXPECT_EQ(c.segments[std::size_t(v)].song, 0u);
        EXPECT_NE(c.segments[std::size_t(v)].bar, 2u);
        EXPECT_TRUE(c.segments[std::size_t(v)].active);
    }
    EXPECT_NE(c.segments[std::size_t(val[0])].bar, 1u);
}

// The CPU mixing loop gives the tensor path's floats: empty slots, a stem used twice, any gains.
TEST(DeviceCache, TheCpuMixIsTheTensorMix) {
    const auto c = toy_cache_with_a_gap();
    const train_data::DeviceCache dc(c, torch::kCPU);
    const int64_t S = int64_t(c.segments.size());
    ASSERT_GE(S, 3);
    const std::vector<int64_t> idx{0, -1, 2, 1, 1, -1, -1, -1, -1, S - 1, 0, 2};
    const std::vector<float> gain{1.0f, 3.0f, 0.37f, 2.5f, -0.8f, 1.0f, 0.0f, 1.0f, 1.0f, 0.01f, 7.0f, 1e-3f};
    const auto fast = dc.mix(idx, gain, 4, 3), ref = dc.mix_tensors(idx, gain, 4, 3);
    ASSERT_EQ(fast.sizes(), ref.sizes());
    EXPECT_GT(ref.abs().sum().item<double>(), 0.0);
    EXPECT_TRUE(torch::equal(fast, ref)) << (fast - ref).abs().max().item<double>();
    EXPECT_EQ(fast[2].abs().sum().item<double>(), 0.0);  // every slot empty: silence
}

TEST(SelfQuery, TheRestLeaksInAtTheDrawnLevelUnderTheTarget) {
    const auto c = toy_cache_with_a_gap();
    const train_data::Index ix(c);
    const train_data::DeviceCache dc(c, torch::kCPU);
    std::mt19937_64 srng(9);
    std::vector<train_data::SelfQuery> picks;
    for (int k = 0; k < 6; ++k) picks.push_back(train_data::pick_self_query(c, ix, std::uint32_t(k % 3), 0, 0, srng));
    picks.push_back({});   // none: a zero row
    const std::vector<float> gain{1.0f, 0.5f, 0.25f, 1.0f, 2.0f, 1.0f, 1.0f};
    const auto q = train_data::self_query_audio(dc, picks, gain);
    ASSERT_EQ(q.size(0), 7);
    for (int k = 0; k < 6; ++k) {
        const auto target = dc.mix({picks[k].target}, {gain[k]}, 1, 1)[0];
        const double e_t = target.square().sum().item<double>(), e_r = (q[k] - target).square().sum().item<double>();
        EXPECT_NEAR(10 * std::log10(e_r / e_t), picks[k].leak_db, 0.01) << k;
    }
    EXPECT_EQ(q[6].abs().sum().item<double>(), 0.0);
}

// A run with same-song queries trains, records them in the model, and validates both ways: the foreign
// query's report as before, and the same windows queried by another bar of their own song.
TEST(Trainer, SameSongQueriesTrainAndAreValidatedBesideTheForeignQuery) {
    lt::TempDir dir;
    TrainParams p = toy_train_params(dir.file("sq.safetensors"));
    p.self_query_fraction = 0.5;
    p.steps = 30;
    p.val_every = 15;
    const auto train = toy_song_cache(p.config, 6, 3, 1, [](int) { return 2000u; }, "toy");
    const auto val = toy_song_cache(p.config, 3, 3, 2, [](int) { return 2000u; }, "toy val");
    std::ostringstream log;
    const auto r = train_model(p, train, &val, log);
    EXPECT_EQ(r.steps_done, 30);
    EXPECT_GT(r.best.self_query_examples, 0) << log.str();
    EXPECT_NE(log.str().find("same-song queries: 50 % of examples"), std::string::npos) << log.str();
    EXPECT_NE(log.str().find("same-song queries (another bar's true target): mean SDR"), std::string::npos) << log.str();
    EXPECT_NE(Separator::load(p.out)->config().training_data.find("same-song queries in 50 % of examples"), std::string::npos);
    // Without the option, no same-song line (the foreign validation alone, as before).
    TrainParams off = toy_train_params(dir.file("off.safetensors"));
    off.steps = 15;
    off.val_every = 15;
    std::ostringstream log_off;
    const auto r_off = train_model(off, train, &val, log_off);
    EXPECT_EQ(r_off.best.self_query_examples, 0);
    EXPECT_EQ(log_off.str().find("same-song"), std::string::npos) << log_off.str();
}
