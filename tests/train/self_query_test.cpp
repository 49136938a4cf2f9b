// Tests of same-song queries (TrainParams::self_query_fraction; models/src/train_data.h): where they come
// from, what leaks into them, and that a run trains and validates them.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "loopsep/model.h"
#include "loopsep/train.h"
#include "train_data.h"
#include "test_util.h"
#include "toy_cache.h"

using namespace loopsep;
namespace lt = loopsep::testing;
using lt::toy_cache;
using lt::toy_config;
using lt::toy_song_cache;
using lt::toy_train_params;

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
