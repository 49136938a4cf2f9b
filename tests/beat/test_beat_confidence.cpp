// loopsep_beat: confidence that means something (issue #43, #40 item 9) — a steady tone, noise and
// a click track, on signals made here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "loopsep/beat.h"
#include "loopsep/error.h"
#include "signals.h"

using namespace loopsep;

namespace {

// A full-scale square wave: its 110 Hz period and the analysis hop beat into a periodic ripple of
// the onset envelope, which the tracker once took for 92.3 BPM at confidence 1.0.
Audio square_wave(double hz, double seconds) {
    const int sr = beat_test::kSr;
    std::vector<float> x(std::size_t(seconds * sr));
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(2 * M_PI * hz * double(i) / sr) >= 0 ? 1.0f : -1.0f;
    Audio a;
    a.sample_rate_hz = sr;
    a.channels = {x, x};
    return a;
}

}  // namespace

TEST(Confidence, SteadySquareWaveHasNone) {
    const Audio tone = square_wave(110, 20.0);
    BeatParams keep;
    keep.min_confidence = 0.0;  // see the grid it would have made and its confidence
    const BeatGrid g = track_beats(tone, keep);
    EXPECT_LT(g.confidence, 0.1) << g.tempo_bpm << " BPM";
    // With the default threshold the grid is refused: an input error naming the confidence...
    try {
        track_beats(tone);
        FAIL() << "a steady tone got a beat grid";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Input);
        EXPECT_NE(std::string(e.what()).find("confidence"), std::string::npos) << e.what();
    }
    // ...or, with allow_beatless, the fixed grid, saying why.
    BeatParams fallback;
    fallback.allow_beatless = true;
    const BeatGrid f = track_beats(tone, fallback);
    EXPECT_TRUE(f.beatless);
    EXPECT_EQ(f.confidence, 0.0);
    EXPECT_NE(f.beatless_reason.find("confidence"), std::string::npos) << f.beatless_reason;
}

TEST(Confidence, WhiteNoiseHasNone) {
    BeatParams fallback;
    fallback.allow_beatless = true;
    const BeatGrid g = track_beats(beat_test::noise(15.0), fallback);
    EXPECT_TRUE(g.beatless);
    EXPECT_EQ(g.confidence, 0.0);
    EXPECT_FALSE(g.beatless_reason.empty());
}

TEST(Confidence, ClickTrackIsConfident) {
    const auto song = beat_test::click_song(120, 20.0);
    const BeatGrid g = track_beats(song.audio);
    EXPECT_FALSE(g.beatless);
    EXPECT_GT(g.confidence, 0.9);
    EXPECT_NEAR(g.tempo_bpm, 120.0, 0.5);
}

TEST(Confidence, ThresholdIsValidated) {
    BeatParams p;
    p.min_confidence = 1.5;
    try {
        p.validate();
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Usage);
        EXPECT_NE(std::string(e.what()).find("min_confidence"), std::string::npos);
    }
}

// The hand correction and the per-section phases (beats --downbeat-offset, --json downbeat_sections).
TEST(DownbeatOffset, ShiftsEveryDownbeatByOneBeatKeepingBarsWhole) {
    BeatGrid g;
    for (int i = 0; i < 17; ++i) g.beats_sec.push_back(0.5 * i);
    for (int i = 0; i < 17; i += 4) g.downbeats_sec.push_back(0.5 * i);  // beats 0, 4, 8, 12, 16
    BeatGrid later = g;
    shift_downbeats(later, 1);
    EXPECT_EQ(later.downbeats_sec, (std::vector<double>{0.5, 2.5, 4.5, 6.5}));  // beats 1, 5, 9, 13
    BeatGrid earlier = g;
    shift_downbeats(earlier, -1);  // beats 3, 7, 11, 15 (beat 0's bar moves off the start)
    EXPECT_EQ(earlier.downbeats_sec, (std::vector<double>{1.5, 3.5, 5.5, 7.5}));
    BeatGrid same = g;
    shift_downbeats(same, 0);
    EXPECT_EQ(same.downbeats_sec, g.downbeats_sec);
}

TEST(DownbeatOffset, TrackBeatsAppliesIt) {
    const auto song = beat_test::click_song(110, 14.0);
    const BeatGrid a = track_beats(song.audio);
    BeatParams p;
    p.downbeat_offset = 1;
    const BeatGrid b = track_beats(song.audio, p);
    ASSERT_EQ(a.beats_sec, b.beats_sec);
    ASSERT_GE(a.downbeats_sec.size(), 3u);
    for (std::size_t k = 0; k + 1 < a.downbeats_sec.size(); ++k) {
        const auto i = std::size_t(std::find(a.beats_sec.begin(), a.beats_sec.end(), a.downbeats_sec[k]) - a.beats_sec.begin());
        ASSERT_LT(i + 1, a.beats_sec.size());
        EXPECT_NE(std::find(b.downbeats_sec.begin(), b.downbeats_sec.end(), a.beats_sec[i + 1]), b.downbeats_sec.end());
    }
    p.downbeat_offset = 4;
    EXPECT_THROW(p.validate(), Error);
}

TEST(DownbeatSections, APhaseChangeStartsANewSection) {
    BeatGrid g;
    for (int i = 0; i < 30; ++i) g.beats_sec.push_back(0.5 * i);
    // Bars on beats 1, 5, 9 (phase 1), then a bar of 6 beats and bars on 15, 19, 23, 27 (phase 3).
    for (int i : {1, 5, 9, 15, 19, 23, 27}) g.downbeats_sec.push_back(0.5 * i);
    const auto s = downbeat_sections(g);
    ASSERT_EQ(s.size(), 2u);
    EXPECT_EQ(s[0].phase, 1);
    EXPECT_EQ(s[0].bars, 3u);
    EXPECT_DOUBLE_EQ(s[0].start_sec, 0.0);
    EXPECT_DOUBLE_EQ(s[0].end_sec, 7.5);
    EXPECT_EQ(s[1].phase, 3);
    EXPECT_EQ(s[1].bars, 4u);
    EXPECT_DOUBLE_EQ(s[1].first_downbeat_sec, 7.5);
    EXPECT_DOUBLE_EQ(s[1].end_sec, 14.5);
}
