// loopsep_beat: tempo, beat positions, downbeats, errors and segments on signals made here.
#include <gtest/gtest.h>

#include <thread>

#include "loopsep/beat.h"
#include "loopsep/error.h"
#include "signals.h"

using namespace loopsep;
using beat_test::click_song;
using beat_test::compare;

namespace {

struct TempoCase {
    double bpm;
    Genre genre;
};

class ClickTempo : public ::testing::TestWithParam<TempoCase> {};

TEST_P(ClickTempo, ExactTempoNoOctaveErrorBeatsOnClicks) {
    const auto [bpm, genre] = GetParam();
    const auto song = click_song(bpm, 20.0, 0, 0, 0.25, /*accents=*/false);
    BeatParams p;
    p.genre = genre;
    const BeatGrid g = track_beats(song.audio, p);
    EXPECT_NEAR(g.tempo_bpm, bpm, 0.5) << genre_name(genre);
    EXPECT_FALSE(g.beatless);
    EXPECT_GT(g.confidence, 0.5);
    const auto [worst, missed] = compare(song.beats, g.beats_sec, 0.02);
    EXPECT_LT(worst, 0.02) << "an estimated beat is more than 20 ms from every click";
    EXPECT_EQ(missed, 0) << "clicks without a beat within 20 ms";
    EXPECT_EQ(g.beats_sec.size(), song.beats.size());
}

INSTANTIATE_TEST_SUITE_P(Tempi, ClickTempo,
                         ::testing::Values(TempoCase{75, Genre::Neutral}, TempoCase{90, Genre::HipHop},
                                           TempoCase{90, Genre::Neutral}, TempoCase{100, Genre::Neutral},
                                           TempoCase{120, Genre::Neutral}, TempoCase{128, Genre::Bachata},
                                           TempoCase{128, Genre::Neutral}, TempoCase{140, Genre::Bachata},
                                           TempoCase{170, Genre::Neutral}, TempoCase{72, Genre::HipHop}));

TEST(TrackBeats, FollowsATempoRamp) {
    // 100 → 116 BPM over 30 s (16 %): the grid must follow, not average.
    const auto song = click_song(100, 30.0, 0, 116, 0.25, false);
    const BeatGrid g = track_beats(song.audio);
    const auto [worst, missed] = compare(song.beats, g.beats_sec, 0.03);
    EXPECT_LT(worst, 0.03);
    EXPECT_EQ(missed, 0);
    EXPECT_GT(g.tempo_bpm, 100);
    EXPECT_LT(g.tempo_bpm, 116);
}

TEST(TrackBeats, FollowsFourPercentDrift) {
    const auto song = click_song(120, 40.0, 0, 124.8, 0.25, false);
    const BeatGrid g = track_beats(song.audio);
    const auto [worst, missed] = compare(song.beats, g.beats_sec, 0.02);
    EXPECT_LT(worst, 0.02);
    EXPECT_EQ(missed, 0);
}

TEST(TrackBeats, SoftIntroBeforeTheDrumsGetsItsBeats) {
    // Eight soft clicks (−21 dB), then the loud ones with a kick on each bar: the grid must
    // reach back into the intro from the first second on, and the phase must hold.
    const auto song = click_song(110, 24.0, 0, 0, 0.3, true, 8);
    const BeatGrid g = track_beats(song.audio);
    const auto [worst, missed] = compare(song.beats, g.beats_sec, 0.03);
    EXPECT_LT(worst, 0.03);
    EXPECT_EQ(missed, 0);
    EXPECT_EQ(compare(song.downbeats, g.downbeats_sec, 0.03).second, 0);
}

TEST(TrackBeats, PickupAndAccentedKickGiveTheDownbeats) {
    for (int pickup : {0, 1, 2, 3}) {
        const auto song = click_song(120, 20.0, pickup);
        const BeatGrid g = track_beats(song.audio);
        ASSERT_FALSE(g.downbeats_sec.empty());
        EXPECT_NEAR(g.downbeats_sec.front(), song.downbeats.front(), 0.02) << "pickup " << pickup;
        const auto [worst, missed] = compare(song.downbeats, g.downbeats_sec, 0.02);
        EXPECT_LT(worst, 0.02) << "pickup " << pickup;
        EXPECT_EQ(missed, 0) << "pickup " << pickup;
    }
}

TEST(TrackBeats, DownbeatsAreASubsetOfBeats) {
    const auto song = click_song(110, 15.0, 1);
    const BeatGrid g = track_beats(song.audio);
    for (double d : g.downbeats_sec)
        EXPECT_NE(std::find(g.beats_sec.begin(), g.beats_sec.end(), d), g.beats_sec.end());
}

TEST(TrackBeats, LateStartIsNotFilledWithBeats) {
    const auto song = click_song(120, 16.0, 0, 0, /*start_sec=*/3.0, false);
    const BeatGrid g = track_beats(song.audio);
    ASSERT_FALSE(g.beats_sec.empty());
    EXPECT_NEAR(g.beats_sec.front(), 3.0, 0.02);
}

TEST(TrackBeats, OtherSampleRateIsAnalysedAtTheEngineRate) {
    auto song = click_song(120, 12.0, 0, 0, 0.25, false);
    Audio a48 = resample(song.audio, 48000);
    const BeatGrid g = track_beats(a48);
    EXPECT_NEAR(g.tempo_bpm, 120, 0.5);
    EXPECT_EQ(compare(song.beats, g.beats_sec, 0.02).second, 0);
}

TEST(TrackBeats, ConcurrentCallsGiveTheSameGrid) {
    const auto song = click_song(100, 10.0, 1);
    const BeatGrid ref = track_beats(song.audio);
    std::vector<BeatGrid> out(3);
    std::vector<std::thread> pool;
    for (auto& g : out) pool.emplace_back([&] { g = track_beats(song.audio); });
    for (auto& t : pool) t.join();
    for (const auto& g : out) {
        EXPECT_EQ(g.beats_sec, ref.beats_sec);
        EXPECT_EQ(g.downbeats_sec, ref.downbeats_sec);
    }
}

TEST(TrackBeats, SilenceIsAnInputError) {
    Audio silent(2, 10 * beat_test::kSr);
    try {
        track_beats(silent);
        FAIL() << "no error for silence";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Input);
        EXPECT_NE(std::string(e.what()).find("silent"), std::string::npos) << e.what();
    }
}

TEST(TrackBeats, EmptyAudioIsAnInputError) {
    EXPECT_THROW(track_beats(Audio()), Error);
}

TEST(TrackBeats, NoiseIsBeatless) {
    try {
        track_beats(beat_test::noise(15.0));
        FAIL() << "no error for white noise";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Input);
    }
}

TEST(TrackBeats, SustainedToneIsBeatless) {
    EXPECT_THROW(track_beats(beat_test::sine(440, 10.0)), Error);
}

TEST(TrackBeats, NoBeatsFallbackGivesFixedGridAtPriorCentre) {
    BeatParams p;
    p.allow_beatless = true;
    p.genre = Genre::Bachata;
    const BeatGrid g = track_beats(beat_test::noise(10.0), p);
    EXPECT_TRUE(g.beatless);
    EXPECT_DOUBLE_EQ(g.tempo_bpm, tempo_prior(Genre::Bachata).center_bpm);
    ASSERT_GE(g.beats_sec.size(), 8u);
    EXPECT_NEAR(g.beats_sec[1] - g.beats_sec[0], 60.0 / g.tempo_bpm, 1e-9);
    EXPECT_EQ(g.downbeats_sec.size(), (g.beats_sec.size() + 3) / 4);
    const BeatGrid s = track_beats(Audio(1, 5 * beat_test::kSr), p);
    EXPECT_TRUE(s.beatless);
}

TEST(Segments, CoverTheSongExactlyWithPickupAndTail) {
    const auto song = click_song(120, 20.0, 2);
    const BeatGrid g = track_beats(song.audio);
    const std::size_t total = song.audio.frames();
    const auto segs = four_beat_segments(g, total, song.audio.sample_rate_hz);
    ASSERT_GE(segs.size(), 3u);
    EXPECT_EQ(segs.front().start_frame, 0u);
    EXPECT_EQ(segs.back().end_frame, total);
    for (std::size_t i = 1; i < segs.size(); ++i) EXPECT_EQ(segs[i].start_frame, segs[i - 1].end_frame);
    for (const auto& s : segs) EXPECT_GT(s.end_frame, s.start_frame);
    // Pickup: 0.25 s lead-in + 2 beats of 0.5 s → first downbeat at 1.25 s, 2.5 beats before it.
    EXPECT_NEAR(segs[0].end_frame / double(beat_test::kSr), 1.25, 0.02);
    EXPECT_NEAR(segs[0].beats, 2.5, 0.1);
    for (std::size_t i = 1; i + 1 < segs.size(); ++i) {
        EXPECT_DOUBLE_EQ(segs[i].beats, 4.0) << "segment " << i;
        EXPECT_NEAR((segs[i].end_frame - segs[i].start_frame) / double(beat_test::kSr), 2.0, 0.03);
    }
    EXPECT_LE(segs.back().beats, 4.0 + 1e-9);
}

TEST(Segments, HandMadeGridIsExactInFrames) {
    BeatGrid g;
    g.tempo_bpm = 120;
    for (int i = 0; i < 11; ++i) g.beats_sec.push_back(0.3 + 0.5 * i);  // downbeat after a 1-beat pickup
    for (int i = 1; i < 11; i += 4) g.downbeats_sec.push_back(g.beats_sec[i]);
    const std::size_t total = std::size_t(6.0 * 1000);
    const auto segs = four_beat_segments(g, total, 1000);
    // [0, 800) pickup, [800, 2800), [2800, 4800), [4800, 6000) tail of 2.4 beats.
    ASSERT_EQ(segs.size(), 4u);
    EXPECT_EQ(segs[0].start_frame, 0u);
    EXPECT_EQ(segs[0].end_frame, 800u);
    EXPECT_NEAR(segs[0].beats, 1.6, 1e-9);
    EXPECT_EQ(segs[1].end_frame, 2800u);
    EXPECT_EQ(segs[2].end_frame, 4800u);
    EXPECT_EQ(segs[3].end_frame, 6000u);
    EXPECT_DOUBLE_EQ(segs[1].beats, 4.0);
    EXPECT_NEAR(segs[3].beats, 2.4, 1e-9);
    EXPECT_TRUE(four_beat_segments(g, 0, 1000).empty());
    EXPECT_THROW(four_beat_segments(g, 10, 0), Error);
}

TEST(Segments, LongIntroBecomesBarsPlusAShortPiece) {
    BeatGrid g;
    g.tempo_bpm = 120;
    for (int i = 0; i < 16; ++i) g.beats_sec.push_back(5.0 + 0.5 * i);
    for (int i = 0; i < 16; i += 4) g.downbeats_sec.push_back(g.beats_sec[i]);
    const auto segs = four_beat_segments(g, 13 * 1000, 1000);
    // 5 s before the first beat: [0,1000) 2 beats, [1000,3000), [3000,5000) virtual bars.
    ASSERT_GE(segs.size(), 3u);
    EXPECT_EQ(segs[0].end_frame, 1000u);
    EXPECT_NEAR(segs[0].beats, 2.0, 1e-9);
    EXPECT_EQ(segs[1].end_frame, 3000u);
    EXPECT_DOUBLE_EQ(segs[1].beats, 4.0);
    for (const auto& s : segs) EXPECT_LE(s.beats, 4.0 + 1e-9);
    EXPECT_EQ(segs.back().end_frame, 13000u);
}

TEST(Segments, BeatlessGridGivesFixedWindows) {
    const BeatGrid g = fixed_grid(120, 9.0);
    EXPECT_TRUE(g.beatless);
    const auto segs = four_beat_segments(g, 9 * 1000, 1000);
    ASSERT_EQ(segs.size(), 5u);
    EXPECT_EQ(segs[0].end_frame, 2000u);
    EXPECT_EQ(segs[4].start_frame, 8000u);
    EXPECT_EQ(segs[4].end_frame, 9000u);
    EXPECT_NEAR(segs[4].beats, 2.0, 1e-9);
}

TEST(Genre, ParseAndPriors) {
    EXPECT_EQ(parse_genre("bachata"), Genre::Bachata);
    EXPECT_EQ(parse_genre("Hip-Hop"), Genre::HipHop);
    EXPECT_EQ(parse_genre("hiphop"), Genre::HipHop);
    EXPECT_EQ(parse_genre(""), Genre::Neutral);
    EXPECT_EQ(parse_genre("auto"), Genre::Neutral);
    EXPECT_THROW(parse_genre("polka"), Error);
    EXPECT_STREQ(genre_name(Genre::HipHop), "hiphop");
    for (Genre g : {Genre::Neutral, Genre::Bachata, Genre::HipHop}) {
        const TempoPrior p = tempo_prior(g);
        EXPECT_LT(p.min_bpm, p.center_bpm);
        EXPECT_LT(p.center_bpm, p.max_bpm);
    }
}

TEST(Params, ValidateNamesTheParameter) {
    BeatParams p;
    p.tightness = -1;
    try {
        p.validate();
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Usage);
        EXPECT_NE(std::string(e.what()).find("tightness"), std::string::npos);
    }
}

}  // namespace
