// loopsep_beat: beat phase and downbeats from what marks the bar (meter.cpp), on drum patterns
// synthesised here: a kick (pitch-dropping sine), a snare/clap (noise burst with a body tone),
// a hat (differenced noise: mostly above 6 kHz) and a chord pad whose chord changes on each bar.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "loopsep/beat.h"
#include "signals.h"

using namespace loopsep;
using beat_test::compare;
using beat_test::kSr;

namespace {

// One bar of sixteenths: a hit on position p when the string has a non-space char there.
struct Pattern {
    std::string kick, snare, hat;   // 16 chars each
    double kick_gain = 0.8, snare_gain = 0.5, hat_gain = 0.3;
};

struct DrumSong {
    Audio audio;
    std::vector<double> beats, downbeats;
};

void add_kick(std::vector<float>& x, double t, double gain) { beat_test::add_click(x, t, gain, true); }

void add_noise_burst(std::vector<float>& x, double t, double gain, double decay_sec, bool high, std::mt19937& rng) {
    std::normal_distribution<float> n(0.0f, 1.0f);
    const long start = long(std::lround(t * kSr));
    const int len = int(6 * decay_sec * kSr);
    float prev = 0;
    for (int i = 0; i < len; ++i) {
        const long j = start + i;
        if (j < 0 || j >= long(x.size())) continue;
        const float w = n(rng);
        // Differenced noise for the hat (a first-order high-pass: energy towards 10+ kHz); plain
        // noise plus a 190 Hz body for the snare.
        float v = high ? w - prev : w + 1.5f * float(std::sin(2 * M_PI * 190.0 * i / kSr));
        prev = w;
        x[j] += float(gain * v * std::exp(-double(i) / kSr / decay_sec));
    }
}

// Chord pad: three partials per chord (root·2, third, fifth, 200–500 Hz) sustained for the bar,
// the chord changing on every downbeat (A, F, C, G minor/major triads in turn).
void add_pad(std::vector<float>& x, double t0, double t1, int bar, double gain) {
    static const double roots[4] = {220.0, 174.6, 261.6, 196.0};
    const double r = roots[bar % 4];
    const double partials[3] = {r, r * std::pow(2.0, (bar % 4 == 0 ? 3 : 4) / 12.0), r * 1.5};
    const long a = long(t0 * kSr), b = std::min(long(x.size()), long(t1 * kSr));
    for (long j = std::max(0L, a); j < b; ++j) {
        const double t = double(j - a) / kSr;
        const double env = std::min(1.0, t / 0.01) * std::min(1.0, double(b - j) / (0.01 * kSr));
        double v = 0;
        for (double hz : partials) v += std::sin(2 * M_PI * hz * t);
        x[j] += float(gain * env * v / 3);
    }
}

// `bars` bars of `pat` at `bpm`, after `pickup` beats of the pattern's last beats; the pad changes
// chord on every downbeat (the pickup gets the last chord).
DrumSong drum_song(const Pattern& pat, double bpm, int bars, int pickup, bool pad = true, unsigned seed = 5) {
    DrumSong s;
    const double beat = 60.0 / bpm, six = beat / 4, start = 0.4;
    const double first_down = start + pickup * beat;
    const double end = first_down + bars * 4 * beat;
    std::vector<float> x(std::size_t((end + 1.0) * kSr), 0.0f);
    std::mt19937 rng(seed);
    for (int i = 0; i < pickup + bars * 4; ++i) s.beats.push_back(start + i * beat);
    for (int b = 0; b < bars; ++b) s.downbeats.push_back(first_down + b * 4 * beat);
    for (int k = -4 * pickup; k < 16 * bars; ++k) {
        const int p = ((k % 16) + 16) % 16;
        const double t = first_down + k * six;
        if (pat.kick[p] != ' ') add_kick(x, t, pat.kick_gain);
        if (pat.snare[p] != ' ') add_noise_burst(x, t, pat.snare_gain, 0.05, false, rng);
        if (pat.hat[p] != ' ') add_noise_burst(x, t, pat.hat_gain, 0.03, true, rng);
    }
    if (pad) {
        if (pickup > 0) add_pad(x, start, first_down, 3, 0.08);
        for (int b = 0; b < bars; ++b)
            add_pad(x, first_down + b * 4 * beat, first_down + (b + 1) * 4 * beat, b, 0.08);
    }
    s.audio.sample_rate_hz = kSr;
    s.audio.channels = {x};
    return s;
}

// The grid's beats and downbeats within the played bars (±0.1 s): the last hits ring on, and a
// beat or downbeat where the next bar would start is not an error.
BeatGrid hiphop_grid(const DrumSong& s) {
    BeatParams p;
    p.genre = Genre::HipHop;
    BeatGrid g = track_beats(s.audio, p);
    const double lo = s.beats.front() - 0.1, hi = s.beats.back() + 0.1;
    for (auto* v : {&g.beats_sec, &g.downbeats_sec})
        v->erase(std::remove_if(v->begin(), v->end(), [&](double t) { return t < lo || t > hi; }), v->end());
    return g;
}

TEST(Meter, BreakWithAPickupGetsItsFirstDownbeat) {
    // Boom-bap: kick on 1 and the "and" of 3, snare on 2 and 4, hats on the eighths; two beats
    // of pickup before the first downbeat.
    const Pattern pat{"x         x     ", "    x       x   ", "x x x x x x x x "};
    const auto song = drum_song(pat, 90, 12, 2);
    const BeatGrid g = hiphop_grid(song);
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
    const BeatGrid g = hiphop_grid(song);
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
    const BeatGrid g = hiphop_grid(song);
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
    const BeatGrid g = hiphop_grid(song);
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
    const BeatGrid g = hiphop_grid(song);
    EXPECT_NEAR(g.tempo_bpm, 70, 1.0);
    EXPECT_EQ(compare(song.beats, g.beats_sec, 0.03).second, 0);
}


}  // namespace
