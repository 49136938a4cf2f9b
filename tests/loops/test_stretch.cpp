// Rubber Band stretching (exact lengths, pitch kept), loop tempo estimation,
// TempoMap and warp_rows.
#include <gtest/gtest.h>

#include <cmath>

#include "loop_signals.h"
#include "loopsep/error.h"
#include "loopsep/stretch.h"
#include "test_util.h"

using namespace loopsep;
using loopsep::testing::click_loop;
using loopsep::testing::zero_crossing_hz;

namespace {
StretchParams engine(StretchEngine e, bool short_window = false) {
    StretchParams p;
    p.engine = e;
    p.short_window = short_window;
    return p;
}
}  // namespace

TEST(Stretch, ParsesEngineNames) {
    EXPECT_EQ(parse_stretch_engine("r3"), StretchEngine::Finer);
    EXPECT_EQ(parse_stretch_engine("finer"), StretchEngine::Finer);
    EXPECT_EQ(parse_stretch_engine("r2"), StretchEngine::Faster);
    EXPECT_EQ(parse_stretch_engine("faster"), StretchEngine::Faster);
    try {
        parse_stretch_engine("r4");
        FAIL() << "r4 accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Usage);
    }
    EXPECT_EQ(std::string(stretch_engine_name(StretchEngine::Finer)), "r3");
}

TEST(Stretch, OutputHasExactlyTheRequestedFramesMonoAndStereo) {
    for (StretchEngine e : {StretchEngine::Finer, StretchEngine::Faster})
        for (int channels : {1, 2}) {
            Audio in = loopsep::testing::noise(1.0, channels, 7);
            // 120→124 BPM, 1.033, ×1.25, ×0.8, a 4-beat segment at 131.7 BPM to 120, and an odd count.
            for (std::size_t out_frames : {std::size_t(42677), std::size_t(45555), std::size_t(55125),
                                           std::size_t(35280), std::size_t(48400), std::size_t(44101)}) {
                Audio out = stretch_to_frames(in, out_frames, engine(e));
                ASSERT_EQ(out.num_channels(), channels);
                EXPECT_EQ(out.frames(), out_frames) << stretch_engine_name(e) << " ch=" << channels;
                EXPECT_EQ(out.sample_rate_hz, in.sample_rate_hz);
                EXPECT_GT(out.rms(), 0.5 * in.rms());  // not silence, not truncated to nothing
            }
        }
    Audio in = loopsep::testing::noise(0.5, 2, 3);
    EXPECT_EQ(stretch_to_frames(in, 30000, engine(StretchEngine::Finer, true)).frames(), 30000u);
}

TEST(Stretch, FramesForTempoChange) {
    EXPECT_EQ(stretched_frames(88200, 120, 100), 105840u);
    EXPECT_EQ(stretched_frames(88200, 120, 128), 82688u);  // 82687.5 rounds up
    EXPECT_THROW(stretched_frames(88200, 120, 0), Error);
    EXPECT_THROW(stretched_frames(88200, -1, 120), Error);
}

TEST(Stretch, SineKeepsItsPitch) {
    // R3 (the default) keeps every pure tone within 1 %.
    for (double freq : {110.0, 440.0, 1000.0}) {
        Audio in = loopsep::testing::sine(freq, 2.0, 1);
        for (double ratio : {0.8, 1.033, 1.25}) {
            Audio out = stretch_to_frames(in, std::size_t(std::llround(in.frames() * ratio)));
            EXPECT_NEAR(zero_crossing_hz(out.channels[0], out.sample_rate_hz), freq, 0.01 * freq)
                << "r3 " << freq << " Hz ratio " << ratio;
        }
    }
    // R2 with its default crisp transients bends steady LOW tones (measured: up to
    // ±4 % at 110 Hz, ±1 % at 440 Hz); above ~1 kHz it keeps them within 1 %.
    Audio in = loopsep::testing::sine(1000, 2.0, 1);
    for (double ratio : {0.8, 1.033, 1.25}) {
        Audio out = stretch_to_frames(in, std::size_t(std::llround(in.frames() * ratio)), engine(StretchEngine::Faster));
        EXPECT_NEAR(zero_crossing_hz(out.channels[0], out.sample_rate_hz), 1000.0, 10.0) << "r2 ratio " << ratio;
    }
}

TEST(Stretch, StereoChannelsStayApartAndInPlace) {
    Audio in(2, 44100);
    Audio left = loopsep::testing::sine(330, 1.0, 1);
    in.channels[0] = left.channels[0];  // right channel silent
    Audio out = stretch_to_frames(in, 52000);
    double l = 0, r = 0;
    for (std::size_t i = 0; i < out.frames(); ++i) {
        l += out.channels[0][i] * out.channels[0][i];
        r += out.channels[1][i] * out.channels[1][i];
    }
    EXPECT_GT(l, 1000 * r + 1e-9);
    EXPECT_NEAR(zero_crossing_hz(out.channels[0], 44100), 330.0, 3.3);
}

TEST(Stretch, UnitRatioIsACopyAndBadRequestsAreUsageErrors) {
    Audio in = loopsep::testing::noise(0.2, 1, 5);
    Audio same = stretch_to_frames(in, in.frames());
    EXPECT_EQ(same.channels, in.channels);
    EXPECT_THROW(stretch_to_frames(in, 0), Error);
    EXPECT_THROW(stretch_to_frames(in, in.frames() * 10), Error);
    EXPECT_THROW(stretch_to_frames(Audio(), 100), Error);
}

// ---------------------------------------------------------------- loop tempo

TEST(LoopTempo, FourBeatClickLoopOfTwoSecondsIs120) {
    int beats = 0;
    EXPECT_NEAR(estimate_loop_bpm(click_loop(2.0, 4), &beats), 120.0, 1e-9);
    EXPECT_EQ(beats, 4);
}

TEST(LoopTempo, EightBeatLoopOf375SecondsIs128) {
    int beats = 0;
    EXPECT_NEAR(estimate_loop_bpm(click_loop(3.75, 8, 0.8f, 0.3f, 2), &beats), 128.0, 1e-9);
    EXPECT_EQ(beats, 8);
}

TEST(LoopTempo, HalfDoubleAmbiguityFollowsTheStrongBeats) {
    // 3 s fits 4 beats (80 BPM) and 8 beats (160 BPM); strong beats every 0.75 s
    // with weak eighths between say 80.
    int beats = 0;
    EXPECT_NEAR(estimate_loop_bpm(click_loop(3.0, 4, 0.9f, 0.2f), &beats), 80.0, 1e-9);
    EXPECT_EQ(beats, 4);
    // Same length, equally strong clicks every 0.375 s: 160 BPM (8 beats).
    EXPECT_NEAR(estimate_loop_bpm(click_loop(3.0, 8), &beats), 160.0, 1e-9);
    EXPECT_EQ(beats, 8);
}

TEST(LoopTempo, BoomBapTwoBarsIsNotReadAtDoubleTempo) {
    // 5.333 s fits 8 beats (90 BPM) and 16 beats (180 BPM); the hats on the eighths must not win.
    int beats = 0;
    EXPECT_NEAR(estimate_loop_bpm(loopsep::testing::boom_bap_loop(90), &beats), 90.0, 0.01);
    EXPECT_EQ(beats, 8);
    EXPECT_NEAR(estimate_loop_bpm(loopsep::testing::boom_bap_loop(85), &beats), 85.0, 0.01);
}

TEST(LoopTempo, ThreeAndTwoBeatLoopsWhenNoFourBeatGridFits) {
    int beats = 0;
    // 2.25 s could be 4 beats at 106.7 BPM, but the clicks sit every 0.75 s: 3 beats at 80.
    EXPECT_NEAR(estimate_loop_bpm(click_loop(2.25, 3), &beats), 80.0, 1e-9);
    EXPECT_EQ(beats, 3);
    // 1.2 s: 4 beats would be 200 BPM (implausible); 2 beats at 100.
    EXPECT_NEAR(estimate_loop_bpm(click_loop(1.2, 2), &beats), 100.0, 1e-9);
    EXPECT_EQ(beats, 2);
}

TEST(LoopTempo, SilentShortOrOverlongLoopsAreInputErrors) {
    auto expect_input_error = [](const Audio& a) {
        try {
            estimate_loop_bpm(a);
            FAIL() << "no error";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::Input);
        }
    };
    expect_input_error(Audio(1, 88200));                 // silent
    expect_input_error(click_loop(0.3, 1));              // too short
    expect_input_error(click_loop(40.0, 40));            // 40 s: no 2..32-beat reading at 70..180
}

// ---------------------------------------------------------------- TempoMap / warp_rows

TEST(TempoMapTest, RoundTripsAcrossSegmentsWithDifferentTempi) {
    TempoMap m;
    // Song: a 100-frame bar, then a 90-frame bar (tempo went up), both mapped to 96 reference frames.
    m.add_segment(10, 110, 0, 96);
    m.add_segment(110, 200, 96, 192);
    EXPECT_DOUBLE_EQ(m.to_reference(10), 0);
    EXPECT_DOUBLE_EQ(m.to_reference(60), 48);
    EXPECT_DOUBLE_EQ(m.to_reference(110), 96);
    EXPECT_DOUBLE_EQ(m.to_reference(155), 144);
    EXPECT_DOUBLE_EQ(m.to_song(144), 155);
    for (double s = 0; s <= 220; s += 0.7) EXPECT_NEAR(m.to_song(m.to_reference(s)), s, 1e-9) << s;
    for (double r = -10; r <= 200; r += 0.9) EXPECT_NEAR(m.to_reference(m.to_song(r)), r, 1e-9) << r;
    // Before the first segment: its slope (0.96) extrapolates; after the last: 96/90.
    EXPECT_DOUBLE_EQ(m.to_reference(0), -9.6);
    EXPECT_NEAR(m.to_reference(209), 192 + 9 * 96.0 / 90.0, 1e-12);
    EXPECT_EQ(m.num_segments(), 2u);
}

TEST(TempoMapTest, GapsAreBridgedAndBadSegmentsRefused) {
    TempoMap m;
    m.add_segment(0, 100, 0, 50);
    m.add_segment(200, 300, 100, 150);  // gap 100..200 song ↔ 50..100 reference
    EXPECT_DOUBLE_EQ(m.to_reference(150), 75);
    EXPECT_DOUBLE_EQ(m.to_song(75), 150);
    EXPECT_THROW(m.add_segment(250, 350, 150, 200), Error);  // overlaps on the song axis
    EXPECT_THROW(m.add_segment(400, 390, 200, 250), Error);  // backwards
    TempoMap empty;
    EXPECT_THROW(empty.to_reference(1), Error);
    EXPECT_THROW(empty.to_song(1), Error);
}

TEST(WarpRows, InterpolatesARampAndClampsAtTheEnds) {
    const std::size_t rows = 5;
    const int width = 3;
    std::vector<float> m(rows * width);
    for (std::size_t i = 0; i < rows; ++i)
        for (int k = 0; k < width; ++k) m[i * width + k] = float(10 * i + k);
    std::vector<double> pos{-2.0, 0.0, 0.5, 1.25, 3.999, 4.0, 7.5};
    std::vector<float> out = warp_rows(m.data(), rows, width, pos);
    ASSERT_EQ(out.size(), pos.size() * width);
    const double expect_row[] = {0, 0, 5, 12.5, 39.99, 40, 40};
    for (std::size_t j = 0; j < pos.size(); ++j)
        for (int k = 0; k < width; ++k) EXPECT_NEAR(out[j * width + k], expect_row[j] + k, 1e-4) << j << "," << k;
    EXPECT_THROW(warp_rows(m.data(), 0, width, pos), Error);
    EXPECT_THROW(warp_rows(m.data(), rows, 0, pos), Error);
    EXPECT_TRUE(warp_rows(m.data(), rows, width, {}).empty());
}

TEST(WarpRows, TempoMapDrivesAMaskBackToSongFrames) {
    // A mask on the reference grid (192 rows) brought back to 200 song rows via the map.
    TempoMap map;
    map.add_segment(0, 100, 0, 96);
    map.add_segment(100, 200, 96, 192);
    std::vector<float> ref_mask(192);
    for (std::size_t r = 0; r < 192; ++r) ref_mask[r] = float(r);  // width 1: value = reference row
    std::vector<double> pos(200);
    for (std::size_t t = 0; t < 200; ++t) pos[t] = map.to_reference(double(t));
    std::vector<float> song_mask = warp_rows(ref_mask.data(), 192, 1, pos);
    EXPECT_NEAR(song_mask[50], 48.0, 1e-4);
    EXPECT_NEAR(song_mask[150], 144.0, 1e-4);
}
