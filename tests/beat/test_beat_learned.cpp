// loopsep_beat: the learned meter stage (downbeat_model.cpp): its forward pass on hand-set weights,
// its deterministic training, and the trained weights on drum breaks made in the test.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "../../beat/src/beat_internal.h"
#include "drum_signals.h"
#include "loopsep/error.h"

using namespace loopsep;
using namespace loopsep::beat_detail;
using namespace beat_test;

namespace {

TEST(LearnedMeter, ForwardPassIsASoftmaxOverTheSixteenPositions) {
    TatumClassifier c;
    constexpr int row = kClassifierInputs + 1;
    c.w[3 * row] = 1.0f;            // class 3: bias 1
    c.w[5 * row + 1 + 7] = 2.0f;    // class 5: weight 2 on input 7
    c.w[9 * row + 1 + 7] = -1.0f;   // class 9: weight −1 on input 7
    std::vector<float> in(kClassifierInputs, 0.0f);
    in[7] = 1.5f;
    const auto lp = log_posterior(c, in.data());
    // Logits: 1 (class 3), 3 (class 5), −1.5 (class 9), 0 for the other 13.
    const double norm = std::log(13.0 + std::exp(1.0) + std::exp(3.0) + std::exp(-1.5));
    EXPECT_NEAR(lp[3], 1.0 - norm, 1e-9);
    EXPECT_NEAR(lp[5], 3.0 - norm, 1e-9);
    EXPECT_NEAR(lp[9], -1.5 - norm, 1e-9);
    EXPECT_NEAR(lp[0], -norm, 1e-9);
    double total = 0;
    for (double v : lp) total += std::exp(v);
    EXPECT_NEAR(total, 1.0, 1e-12);
}

TEST(LearnedMeter, InputsAreTheTatumAndItsNeighboursBandByBandZeroPastTheEnds) {
    TatumEvidence e;
    const std::size_t m = 6;
    e.tatum_frames.assign(m, 0.0);
    e.on_dp.assign(m, false);
    for (int b = 0; b < kMeterBands; ++b) {
        e.x[b].resize(m);
        for (std::size_t j = 0; j < m; ++j) e.x[b][j] = 100.0 * b + double(j) + 1;  // never 0
    }
    std::vector<float> in(kClassifierInputs);
    classifier_inputs(e, 1, in.data());
    constexpr int width = 2 * kContextTatums + 1;
    for (int b = 0; b < kMeterBands; ++b)
        for (int d = -kContextTatums; d <= kContextTatums; ++d) {
            const long t = 1 + d;
            const float want = t >= 0 && t < long(m) ? float(100.0 * b + double(t) + 1) : 0.0f;
            EXPECT_EQ(in[std::size_t(b * width + d + kContextTatums)], want) << "band " << b << " offset " << d;
        }
}

// Samples whose position is marked by which input is high (with noise): learnable.
void toy_samples(std::vector<float>& inputs, std::vector<int>& labels, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> noise(0.0f, 0.5f);
    for (int i = 0; i < 1600; ++i) {
        const int p = i % kBarPositions;
        for (int k = 0; k < kClassifierInputs; ++k) inputs.push_back(noise(rng) + (k == 2 * p ? 2.0f : 0.0f));
        labels.push_back(p);
    }
}

TEST(LearnedMeter, TrainingIsDeterministicAndLearns) {
    std::vector<float> inputs;
    std::vector<int> labels;
    toy_samples(inputs, labels, 11);
    ClassifierTraining o;
    o.seed = 7;
    o.epochs = 16;
    const TatumClassifier a = train_classifier(inputs, labels, o);
    const TatumClassifier b = train_classifier(inputs, labels, o);
    EXPECT_EQ(a.w, b.w) << "same samples and seed: the same weights bit for bit";
    o.seed = 8;
    const TatumClassifier c = train_classifier(inputs, labels, o);
    EXPECT_NE(a.w, c.w) << "the seed orders the mini-batches";
    int ok = 0;
    for (std::size_t i = 0; i < labels.size(); ++i) {
        const auto lp = log_posterior(a, inputs.data() + i * kClassifierInputs);
        ok += int(std::max_element(lp.begin(), lp.end()) - lp.begin()) == labels[i];
    }
    EXPECT_GT(ok, int(0.95 * labels.size()));
    EXPECT_THROW(train_classifier(inputs, std::vector<int>(labels.size() + 1, 0), o), Error);
}

TEST(LearnedMeter, ParameterIsValidatedAndParsed) {
    EXPECT_EQ(parse_downbeat_model("Learned"), DownbeatModel::Learned);
    EXPECT_EQ(parse_downbeat_model("both"), DownbeatModel::Both);
    EXPECT_EQ(parse_downbeat_model("AUTO"), DownbeatModel::Auto);
    EXPECT_EQ(BeatParams{}.downbeat_model, DownbeatModel::Auto);
    EXPECT_THROW(parse_downbeat_model("viterbi"), Error);
    BeatParams p;
    p.downbeat_model = static_cast<DownbeatModel>(7);
    try {
        p.validate();
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Usage);
        EXPECT_NE(std::string(e.what()).find("downbeat_model"), std::string::npos);
    }
}

// A one-bar break (kick on 1 and the "and" of 3, snare on 2 and 4, hats on the eighths) chopped
// into its four beats and re-sequenced the way a producer does: every other bar plays the first
// half-bar twice (beat 1's slice again on 3, beat 2's on 4). Two beats of pickup (the break's last
// two beats) before the first downbeat.
}  // namespace
DrumSong resequenced_break(double bpm, int bars) {
    const Pattern pat{"x         x     ", "    x       x   ", "x x x x x x x x "};
    const DrumSong one = drum_song(pat, bpm, 1, 0, false, 9);
    const double beat = 60.0 / bpm, start = 0.4;
    const auto slice_len = std::size_t(std::lround(beat * kSr));
    const auto slice0 = std::size_t(std::lround((one.downbeats[0] - 0.005) * kSr));
    auto slice = [&](int k, std::vector<float>& x, double at) {
        const auto a = slice0 + std::size_t(k) * slice_len, dst = std::size_t(std::lround((at - 0.005) * kSr));
        for (std::size_t i = 0; i < slice_len && dst + i < x.size(); ++i) x[dst + i] += one.audio.channels[0][a + i];
    };
    DrumSong s;
    const int pickup = 2;
    std::vector<float> x(std::size_t((start + (pickup + 4 * bars) * beat + 1.0) * kSr), 0.0f);
    for (int i = 0; i < pickup; ++i) slice(4 - pickup + i, x, start + i * beat);
    for (int b = 0; b < bars; ++b) {
        const int order[2][4] = {{0, 1, 2, 3}, {0, 1, 0, 1}};
        for (int k = 0; k < 4; ++k) slice(order[b % 2][k], x, start + (pickup + 4 * b + k) * beat);
    }
    for (int i = 0; i < pickup + 4 * bars; ++i) s.beats.push_back(start + i * beat);
    for (int b = 0; b < bars; ++b) s.downbeats.push_back(start + (pickup + 4 * b) * beat);
    s.audio.sample_rate_hz = kSr;
    s.audio.channels = {x};
    return s;
}

namespace {

TEST(LearnedMeter, ResequencedBreakGetsItsFirstDownbeat) {
    const DrumSong song = resequenced_break(92, 12);
    const BeatGrid g = hiphop_grid(song, DownbeatModel::Learned);
    EXPECT_NEAR(g.tempo_bpm, 92, 1.0);
    ASSERT_FALSE(g.downbeats_sec.empty());
    EXPECT_NEAR(g.downbeats_sec.front(), song.downbeats.front(), 0.03);
    const auto [worst, missed] = compare(song.downbeats, g.downbeats_sec, 0.03);
    EXPECT_EQ(missed, 0) << "worst downbeat off by " << worst << " s";
    EXPECT_EQ(compare(song.beats, g.beats_sec, 0.03).second, 0);
}

TEST(LearnedMeter, OffBeatHeavyPatternKeepsTheGridOnTheKick) {
    // Boom-bap kick and snare under loud open hats on every off-beat eighth, louder in the full
    // band than the kick: the onsets alone favour the off-beats.
    Pattern pat{"x     x   x     ", "    x       x   ", "  x   x   x   x "};
    pat.kick_gain = 0.5;
    pat.snare_gain = 0.4;
    pat.hat_gain = 0.9;
    const auto song = drum_song(pat, 88, 12, 1);
    const BeatGrid g = hiphop_grid(song, DownbeatModel::Learned);
    EXPECT_NEAR(g.tempo_bpm, 88, 1.0);
    const auto [worst, missed] = compare(song.beats, g.beats_sec, 0.03);
    EXPECT_EQ(missed, 0) << "a beat off the kicks and snares (worst " << worst << " s)";
    EXPECT_EQ(compare(song.downbeats, g.downbeats_sec, 0.03).second, 0);
}

}  // namespace
