// Harvest's pure parts on signals made here: cutting bars on a grid, exact loop
// lengths, scores (level, share, leakage, silence), fingerprints and selection.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "loopsep/error.h"
#include "loopsep/harvest.h"
#include "test_util.h"

using namespace loopsep;

namespace {

constexpr int kRate = 44100;

// A grid at `bpm` with the first downbeat at `offset_sec` and `bars` bars, beats
// every 60/bpm s (plus a pickup beat before the first downbeat).
BeatGrid grid_at(double bpm, double offset_sec, int bars) {
    BeatGrid g;
    g.tempo_bpm = bpm;
    const double beat = 60.0 / bpm;
    if (offset_sec >= beat) g.beats_sec.push_back(offset_sec - beat);
    for (int b = 0; b <= bars * 4; ++b) {
        g.beats_sec.push_back(offset_sec + b * beat);
        if (b % 4 == 0) g.downbeats_sec.push_back(offset_sec + b * beat);
    }
    return g;
}

// Clicks (decaying noise bursts through a one-pole colour) at the given beat
// positions of every bar: a percussion part whose rhythm we choose.
Audio clicks(double bpm, double seconds, const std::vector<double>& beats_in_bar, float amp, double bright,
             unsigned seed = 3, int channels = 2) {
    Audio a(channels, std::size_t(seconds * kRate), kRate);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(-1, 1);
    const double beat = 60.0 / bpm;
    for (double bar_start = 0; bar_start < seconds; bar_start += 4 * beat)
        for (double b : beats_in_bar) {
            const std::size_t s = std::size_t((bar_start + b * beat) * kRate);
            float y = 0;
            for (std::size_t i = 0; i < std::size_t(0.08 * kRate) && s + i < a.frames(); ++i) {
                y = float(bright) * d(rng) + float(1 - bright) * y;
                const float v = amp * y * float(std::exp(-double(i) / (0.015 * kRate)));
                for (int c = 0; c < channels; ++c) a.channels[c][s + i] += v;
            }
        }
    return a;
}

Audio scaled(const Audio& a, float g) {
    Audio out = a;
    for (auto& ch : out.channels)
        for (float& v : ch) v *= g;
    return out;
}

Audio sum(const Audio& a, const Audio& b) {
    Audio out = a;
    for (int c = 0; c < a.num_channels(); ++c)
        for (std::size_t i = 0; i < a.frames(); ++i) out.channels[c][i] += b.channels[c][i];
    return out;
}

}  // namespace

TEST(HarvestCut, WholeBarsDownbeatToDownbeatSkippingPickupAndTail) {
    const BeatGrid g = grid_at(120, 0.7, 5);          // bars start at 0.7, 2.7, ..., last downbeat 10.7
    const std::size_t total = std::size_t(11.5 * kRate);  // audio goes on after the last downbeat: a tail
    auto bars = cut_bars(g, total, kRate, 1);
    ASSERT_EQ(bars.size(), 5u);
    for (std::size_t i = 0; i < bars.size(); ++i) {
        EXPECT_EQ(bars[i].first_bar, int(i));
        EXPECT_EQ(bars[i].start_frame, std::size_t(std::llround((0.7 + 2.0 * double(i)) * kRate)));
        EXPECT_EQ(bars[i].end_frame - bars[i].start_frame, std::size_t(2 * kRate));  // four beats at 120 BPM
        EXPECT_NEAR(bars[i].start_sec, 0.7 + 2.0 * double(i), 1e-4);
    }
    auto two = cut_bars(g, total, kRate, 2);  // 5 bars → 2 runs of 2, the odd one left out
    ASSERT_EQ(two.size(), 2u);
    EXPECT_EQ(two[0].first_bar, 0);
    EXPECT_EQ(two[1].first_bar, 2);
    EXPECT_EQ(two[1].end_frame - two[1].start_frame, std::size_t(4 * kRate));
    EXPECT_TRUE(cut_bars(g, total, kRate, 8).empty());
    // A song that ends before the last downbeat loses that bar.
    EXPECT_EQ(cut_bars(g, std::size_t(10.0 * kRate), kRate, 1).size(), 4u);
}

TEST(HarvestCut, BarWithTheWrongNumberOfBeatsIsNotAWholeBar) {
    BeatGrid g = grid_at(120, 0.0, 4);
    // Drop one beat inside bar 2: bars 0, 1, 3 remain; a 2-bar run cannot span the hole.
    g.beats_sec.erase(g.beats_sec.begin() + 9);
    auto bars = cut_bars(g, 9 * kRate, kRate, 1);
    ASSERT_EQ(bars.size(), 3u);
    EXPECT_EQ(bars[0].first_bar, 0);
    EXPECT_EQ(bars[1].first_bar, 1);
    EXPECT_EQ(bars[2].first_bar, 3);
    auto two = cut_bars(g, 9 * kRate, kRate, 2);
    ASSERT_EQ(two.size(), 1u);
    EXPECT_EQ(two[0].first_bar, 0);
}

TEST(HarvestCut, SongTempoIsTheMedianBarToTheHundredth) {
    std::vector<LoopSpan> bars;
    std::size_t at = 0;
    for (std::size_t len : {82688u, 82687u, 82688u, 90000u, 82688u}) {  // 128 BPM with jitter and one outlier
        bars.push_back({at, at + len, int(bars.size()), double(at) / kRate});
        at += len;
    }
    EXPECT_DOUBLE_EQ(song_loop_bpm(bars, kRate), 128.0);
    EXPECT_THROW(song_loop_bpm({}, kRate), Error);
}

TEST(HarvestFit, LoopsAreExactlyFourBeatsAtTheirTempo) {
    for (double bpm : {128.0, 117.37, 90.0}) {
        const std::size_t exact = std::size_t(std::llround(4 * 60.0 / bpm * kRate));
        // Jitter of a few frames: trimmed / padded, the waveform untouched.
        Audio near = loopsep::testing::sine(440, double(exact + 5) / kRate, 2);
        Audio fit = fit_loop_length(near, bpm, 4);
        ASSERT_EQ(fit.frames(), exact);
        EXPECT_EQ(fit.num_channels(), 2);
        for (std::size_t i = 0; i < exact / 2; i += 997) EXPECT_EQ(fit.channels[0][i], near.channels[0][i]);
        EXPECT_NEAR(fit.channels[0][exact - 1], 0.0f, 1e-6);  // faded out at the wrap
        // A bar 6 % slower: stretched (Rubber Band) to the exact length.
        Audio far = loopsep::testing::sine(440, double(exact) * 1.06 / kRate, 1);
        Audio st = fit_loop_length(far, bpm, 4);
        ASSERT_EQ(st.frames(), exact);
        EXPECT_GT(st.rms(), 0.2);  // still the tone, not silence
    }
    Audio a = loopsep::testing::sine(440, 1.0);
    EXPECT_EQ(fit_loop_length(a, 120, 8).frames(), std::size_t(4 * kRate));
    EXPECT_THROW(fit_loop_length(a, 0, 4), Error);
    EXPECT_THROW(fit_loop_length(Audio(1, 0), 120, 4), Error);
}

TEST(HarvestScore, LevelShareAndSilence) {
    const double bpm = 120;
    Audio target = clicks(bpm, 4.0, {0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5}, 0.5f, 0.9);  // eighths, bright
    Audio other = clicks(bpm, 4.0, {0, 2}, 0.5f, 0.05, 9);                       // dull, on 1 and 3
    const LoopSpan bar0{0, std::size_t(2 * kRate), 0, 0.0};
    LoopScore s = score_loop(target, other, bar0, 4);
    EXPECT_GT(s.level_dbfs, -40);
    EXPECT_LT(s.level_dbfs, 0);
    EXPECT_GT(s.share_db, -6);   // the target is most of this bar
    EXPECT_LT(s.share_db, 1);
    EXPECT_EQ(s.silence, 0.0);  // eighths fill every beat

    // A part that plays only in the first beat: three of the four beats are silent.
    Audio sparse = clicks(bpm, 4.0, {0}, 0.5f, 0.9);
    for (auto& ch : sparse.channels)
        for (std::size_t i = std::size_t(0.2 * kRate); i < ch.size(); ++i) ch[i] = 0;
    LoopScore sp = score_loop(sparse, other, bar0, 4);
    EXPECT_EQ(sp.silence, 0.75);

    // Silent stem: lowest level and share.
    Audio zero(2, target.frames());
    LoopScore z = score_loop(zero, sum(target, other), bar0, 4);
    EXPECT_LT(z.level_dbfs, -150);
    EXPECT_LT(z.share_db, -150);
    EXPECT_THROW(score_loop(target, other, {0, target.frames() + 1, 0, 0}, 4), Error);
}

TEST(HarvestScore, LeakageIsLowForCleanSplitsAndHighForAScaledMixture) {
    const double bpm = 120;
    Audio a = clicks(bpm, 2.0, {0, 1, 2, 3}, 0.5f, 0.9);
    Audio b = loopsep::testing::sine(110, 2.0, 2, kRate, 0.3f);
    Audio mix = sum(a, b);
    const LoopSpan bar{0, std::size_t(2 * kRate), 0, 0};
    // A perfect split: stem = the clicks, residual = the bass.
    LoopScore clean = score_loop(a, b, bar, 4);
    // A mask that cannot tell them apart: stem = 0.4·mix, residual = 0.6·mix.
    LoopScore leaky = score_loop(scaled(mix, 0.4f), scaled(mix, 0.6f), bar, 4);
    EXPECT_LT(clean.leakage, 0.3);
    EXPECT_GT(leaky.leakage, 0.98);
}

TEST(HarvestScore, QualityFollowsTheSongsTypicalLevel) {
    HarvestParams p;
    p.target = "bongo";
    std::vector<LoopScore> s(10);
    for (int i = 0; i < 10; ++i) {
        s[std::size_t(i)].level_dbfs = i < 8 ? -20.0 : -50.0;  // two bars where the target is 30 dB down
        s[std::size_t(i)].leakage = 0.2;
        s[std::size_t(i)].silence = 0.0;
    }
    finish_scores(s, p);
    EXPECT_NEAR(s[0].rel_level_db, 0.0, 1e-9);
    EXPECT_NEAR(s[0].quality, 0.8, 1e-9);
    EXPECT_NEAR(s[9].rel_level_db, -30.0, 1e-9);
    EXPECT_NEAR(s[9].quality, 0.0, 1e-9);
}

TEST(HarvestFingerprint, SameRhythmAndTimbreAreDuplicatesOthersAreNot) {
    const double bpm = 120;
    const auto eighths = std::vector<double>{0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5};
    Audio a = clicks(bpm, 2.0, eighths, 0.5f, 0.9, 1);
    Audio a2 = scaled(clicks(bpm, 2.0, eighths, 0.5f, 0.9, 2), 0.7f);  // other noise, quieter: same loop
    Audio rhythm = clicks(bpm, 2.0, {0, 0.75, 1.5, 2, 3}, 0.5f, 0.9, 1);  // same sound, another pattern
    Audio dull = clicks(bpm, 2.0, eighths, 0.5f, 0.03, 1);                // same pattern, another sound
    const auto fa = fingerprint_loop(a, 4), fa2 = fingerprint_loop(a2, 4);
    const auto fr = fingerprint_loop(rhythm, 4), fd = fingerprint_loop(dull, 4);
    EXPECT_GT(fingerprint_similarity(fa, fa2), 0.9);
    EXPECT_LT(fingerprint_similarity(fa, fr), 0.85);
    EXPECT_LT(fingerprint_similarity(fa, fd), 0.85);
    EXPECT_NEAR(fingerprint_similarity(fa, fa), 1.0, 1e-6);
    // Timbre alone: the same sound in another rhythm matches, another sound does not.
    EXPECT_GT(timbre_similarity(fa, fr), 0.9);
    EXPECT_LT(timbre_similarity(fa, fd), 0.85);
    EXPECT_EQ(fingerprint_similarity(fa, fingerprint_loop(clicks(bpm, 4.0, eighths, 0.5f, 0.9, 1), 8)), 0.0);
}

TEST(HarvestSelect, GatesQualityDedupeAndLimit) {
    HarvestParams p;
    p.target = "bongo";
    p.max_loops = 2;
    p.min_quality = 0.3;
    auto mk = [](double level, double share, double rel, double leak, double sil, double q) {
        LoopScore s;
        s.level_dbfs = level;
        s.share_db = share;
        s.rel_level_db = rel;
        s.leakage = leak;
        s.silence = sil;
        s.quality = q;
        return s;
    };
    std::vector<LoopScore> s = {
        mk(-20, -5, 0, 0.1, 0.0, 0.90),   // 0 best
        mk(-20, -5, 0, 0.1, 0.0, 0.85),   // 1 same print as 0: duplicate
        mk(-70, -5, 0, 0.1, 0.0, 0.90),   // 2 below the absolute floor: silent
        mk(-20, -40, 0, 0.1, 0.0, 0.90),  // 3 a sliver of the mix: silent
        mk(-20, -5, -25, 0.1, 0.0, 0.0),  // 4 far below the song's level: silent
        mk(-20, -5, 0, 0.8, 0.0, 0.20),   // 5 leaky
        mk(-20, -5, 0, 0.1, 0.8, 0.18),   // 6 gaps
        mk(-20, -5, -15, 0.1, 0.0, 0.2),  // 7 quiet
        mk(-20, -5, 0, 0.1, 0.0, 0.80),   // 8 distinct: kept
        mk(-20, -5, 0, 0.1, 0.0, 0.70),   // 9 distinct but over the limit
    };
    LoopFingerprint same{{1, 0, 0}, {1, 0}}, other{{0, 1, 0}, {1, 0}}, third{{0, 0, 1}, {1, 0}};
    std::vector<LoopFingerprint> f = {same, same, same, same, same, same, same, same, other, third};
    auto d = select_loops(s, f, p);
    const std::vector<DropReason> want = {DropReason::Kept,   DropReason::Duplicate, DropReason::Silent, DropReason::Silent,
                                          DropReason::Silent, DropReason::Leakage,   DropReason::Gaps,   DropReason::Quiet,
                                          DropReason::Kept,   DropReason::Limit};
    ASSERT_EQ(d.size(), want.size());
    for (std::size_t i = 0; i < d.size(); ++i) EXPECT_EQ(d[i], want[i]) << "loop " << i << ": " << drop_reason_name(d[i]);
    p.min_quality = 0;  // no quality gate: the leaky / gappy / quiet ones compete (and are duplicates of 0)
    d = select_loops(s, f, p);
    EXPECT_EQ(d[5], DropReason::Duplicate);
    // Half the beats silent: a gappy loop whatever its quality.
    EXPECT_EQ(select_loops({mk(-20, -5, 0, 0.0, 0.5, 0.9)}, {same}, p)[0], DropReason::Gaps);
    EXPECT_EQ(select_loops({mk(-20, -5, 0, 0.0, 0.25, 0.9)}, {same}, p)[0], DropReason::Kept);
    EXPECT_THROW(select_loops(s, {}, p), Error);
}

TEST(HarvestParams, ValidateNamesTheParameter) {
    HarvestParams p;
    p.target = "bongo";
    EXPECT_NO_THROW(p.validate());
    auto msg = [](HarvestParams q) {
        try {
            q.validate();
        } catch (const Error& e) {
            EXPECT_EQ(e.exit_code(), 2);
            return std::string(e.what());
        }
        return std::string();
    };
    HarvestParams q = p;
    q.bars = 3;
    EXPECT_NE(msg(q).find("--bars"), std::string::npos);
    q = p;
    q.bpm = 10;
    EXPECT_NE(msg(q).find("--bpm"), std::string::npos);
    q = p;
    q.max_loops = 0;
    EXPECT_NE(msg(q).find("--max-loops"), std::string::npos);
    q = p;
    q.min_quality = 1.5;
    EXPECT_NE(msg(q).find("--min-quality"), std::string::npos);
    q = p;
    q.target = "";
    EXPECT_NE(msg(q).find("--target"), std::string::npos);
}

// The bar criterion with a known split: a part that plays in bars 2–5 and 8–9 only,
// over a louder band playing throughout. With the ideal split (stem = the part) and
// with a leaky one (stem = part + 10 % of the band), every loop kept comes from a bar
// where the part plays, and every such bar survives the gates.
TEST(HarvestSelect, KeepsOnlyBarsWhereTheTargetPlays) {
    const double bpm = 125, bar_sec = 4 * 60.0 / bpm;
    const int bars = 12;
    const BeatGrid g = grid_at(bpm, 0.3, bars);
    const double seconds = 0.3 + bars * bar_sec + 0.5;
    const auto plays = [&](int bar) { return (bar >= 2 && bar <= 5) || bar == 8 || bar == 9; };
    // The click trains start at t = 0 and the grid at 0.3 s: the part is shifted onto the grid.
    Audio shifted(2, std::size_t(seconds * kRate));
    const std::size_t off = std::size_t(0.3 * kRate);
    Audio raw = clicks(bpm, seconds, {0.5, 1.5, 2.5, 3.5}, 0.3f, 0.9, 5);
    for (int c = 0; c < 2; ++c)
        for (std::size_t i = off; i < shifted.frames(); ++i) {
            const int bar = int((double(i - off) / kRate) / bar_sec);
            shifted.channels[c][i] = bar < bars && plays(bar) ? raw.channels[c][i - off] : 0.0f;
        }
    Audio band = sum(clicks(bpm, seconds, {0, 1, 2, 3}, 0.8f, 0.05, 11), loopsep::testing::sine(98, seconds, 2, kRate, 0.3f));
    for (auto& ch : band.channels) ch.resize(shifted.frames());

    HarvestParams p;
    p.target = "bongo";
    p.max_loops = 100;
    p.duplicate_similarity = 1.0;  // keep every good bar: the criterion is what is tested
    for (double leak : {0.0, 0.1}) {
        Audio stem = sum(shifted, scaled(band, float(leak)));
        Audio residual = scaled(band, float(1 - leak));
        const auto spans = cut_bars(g, stem.frames(), kRate, 1);
        ASSERT_EQ(spans.size(), std::size_t(bars));
        std::vector<LoopScore> scores;
        std::vector<LoopFingerprint> prints;
        for (const auto& s : spans) {
            scores.push_back(score_loop(stem, residual, s, 4));
            Audio a(2, s.end_frame - s.start_frame);
            for (int c = 0; c < 2; ++c)
                std::copy(stem.channels[c].begin() + long(s.start_frame), stem.channels[c].begin() + long(s.end_frame),
                          a.channels[c].begin());
            prints.push_back(fingerprint_loop(a, 4));
        }
        finish_scores(scores, p);
        const auto d = select_loops(scores, prints, p);
        for (int b = 0; b < bars; ++b)
            EXPECT_EQ(d[std::size_t(b)] == DropReason::Kept, plays(b))
                << "leak " << leak << " bar " << b << ": " << drop_reason_name(d[std::size_t(b)]) << " q=" << scores[std::size_t(b)].quality
                << " level=" << scores[std::size_t(b)].level_dbfs << " leakage=" << scores[std::size_t(b)].leakage;
    }
}
