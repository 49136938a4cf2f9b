// loopsep_beat: beat phase and downbeats from what marks the bar (meter.cpp), on drum patterns
// synthesised in the test (drum_signals.h). These test the bar template (DownbeatModel::Pattern);
// test_beat_learned.cpp tests the learned stage, the default for hip-hop.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "loopsep/beat.h"
#include "drum_signals.h"
#include "signals.h"

using namespace loopsep;
using beat_test::compare;
using beat_test::kSr;
using namespace beat_test;

namespace {

TEST(Meter, BreakWithAPickupGetsItsFirstDownbeat) {
    // Boom-bap: kick on 1 and the "and" of 3, snare on 2 and 4, hats on the eighths; two beats
    // of pickup before the first downbeat.
    const Pattern pat{"x         x     ", "    x       x   ", "x x x x x x x x "};
    const auto song = drum_song(pat, 90, 12, 2);
    const BeatGrid g = hiphop_grid(song, DownbeatModel::Pattern);
    EXPECT_NEAR(g.tempo_bpm, 90, 1.0);
    ASSERT_FALSE(g.downbeats_sec.empty());
    EXPECT_NEAR(g.downbeats_sec.front(), song.downbeats.front(), 0.03);
    const auto [worst, missed] = compare(song.downbeats, g.downbeats_sec, 0.03);
    EXPECT_LT(worst, 0.03) << "a downbeat off the bar starts";
    EXPECT_EQ(missed, 0);
    EXPECT_EQ(compare(song.beats, g.beats_sec, 0.03).second, 0);
}

// DISABLED: fails today — the grid sits on the claps (half a beat off, 47 of 48 beats missed): the
// template counts claps on the beat as backbeat snares and cannot tell "on every beat" from "on 2
// and 4" (a linear score). Kept as the statement of what is still wanted (bench/beats_real/results.md).
// Measured (issue #43, second pass): it passes with the snare's four beat weights summing to zero
// AND a kick band of 30–100 Hz less a flat attack's share (the clap's noise and 190 Hz body lift
// the 30–150 Hz flux as much as the kick does); either alone fails. Together they cost generated
// hip-hop beat F 0.884 → 0.844 (two songs), so they are not in.
TEST(Meter, DISABLED_OffBeatClapsAndHatsDoNotMoveTheGridOffTheKick) {
    // Kick on every beat; loud claps and open hats on every off-beat eighth, louder in the full
    // band than the kick: the onsets alone favour the off-beats, the bar template the kick.
    Pattern pat{"x   x   x   x   ", "  x   x   x   x ", "  x   x   x   x "};
    pat.kick_gain = 0.5;
    pat.snare_gain = 0.9;
    pat.hat_gain = 0.6;
    const auto song = drum_song(pat, 95, 12, 0);
    const BeatGrid g = hiphop_grid(song, DownbeatModel::Pattern);
    EXPECT_NEAR(g.tempo_bpm, 95, 1.0);
    const auto [worst, missed] = compare(song.beats, g.beats_sec, 0.03);
    EXPECT_LT(worst, 0.03) << "a beat off the kicks (the off-beat claps are not beats)";
    EXPECT_EQ(missed, 0);
    EXPECT_EQ(compare(song.downbeats, g.downbeats_sec, 0.03).second, 0);
}

TEST(Meter, HalfTimePatternKeepsTheTempoAndTheKickOnOne) {
    // Half-time feel at 80 BPM: kick on 1, snare only on 3, hats on the eighths.
    const Pattern pat{"x     x         ", "        x       ", "x x x x x x x x "};
    const auto song = drum_song(pat, 80, 12, 1);
    const BeatGrid g = hiphop_grid(song, DownbeatModel::Pattern);
    EXPECT_NEAR(g.tempo_bpm, 80, 1.0);
    const auto [worst, missed] = compare(song.beats, g.beats_sec, 0.03);
    EXPECT_LT(worst, 0.03);
    EXPECT_EQ(missed, 0);
    const auto down = compare(song.downbeats, g.downbeats_sec, 0.03);
    EXPECT_LT(down.first, 0.03);
    EXPECT_EQ(down.second, 0);
}

// DISABLED: fails today — the downbeats come out one beat off (0.68 s) on this texture (the same
// off-beat-clap grid problem as above). Kept as the statement of what is still wanted.
// Measured: with the grid right, what is left is the pad starting after silence on the pickup beat,
// which the half-beat chroma change takes for a chord change; ignoring mostly silent windows fixes
// it here but costs both benches (songs more often start on one than on a pickup).
TEST(Meter, DISABLED_ChordChangesPlaceTheBarWhereTheDrumsAreAmbiguous) {
    // A sampled-loop texture that repeats every beat (no backbeat, no kick pattern): only the pad's
    // chord changes say where the bar starts. One beat of pickup.
    const Pattern pat{"x   x   x   x   ", "  x   x   x   x ", "x x x x x x x x "};
    const auto song = drum_song(pat, 88, 12, 1);
    const BeatGrid g = hiphop_grid(song, DownbeatModel::Pattern);
    const auto [worst, missed] = compare(song.downbeats, g.downbeats_sec, 0.03);
    EXPECT_LT(worst, 0.03);
    EXPECT_EQ(missed, 0);
}

TEST(Meter, ADottedEighthLayerDoesNotSetTheTempoToFourThirds) {
    // A slow boom-bap bar (70 BPM: kick on 1 and 3, snare on 2 and 4, hats on the eighths) under a
    // quiet clap every three sixteenths straight through the bars (a dotted-eighth layer, as in
    // chopped breaks). The log flux hears the quiet claps nearly as well as the drums, and the
    // layer is periodic at 4/3 of the tempo: 93.3 BPM, nearer the hip-hop prior's centre than 70.
    // Only the beat's half being an onset period too (the hats) tells the two apart.
    Pattern pat{"x       x       ", "    x       x   ", "x x x x x x x x "};
    pat.hat_gain = 0.15;
    auto song = drum_song(pat, 70, 16, 0, /*pad=*/false);
    const double six = 60.0 / 70 / 4;
    std::mt19937 rng(9);
    for (double t = song.downbeats.front(); t < song.beats.back() + 0.5; t += 3 * six)
        add_noise_burst(song.audio.channels[0], t, 0.05, 0.05, false, rng);
    const BeatGrid g = hiphop_grid(song, DownbeatModel::Pattern);
    EXPECT_NEAR(g.tempo_bpm, 70, 1.0);
    EXPECT_EQ(compare(song.beats, g.beats_sec, 0.03).second, 0);
}


}  // namespace
