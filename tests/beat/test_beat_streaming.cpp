// loopsep_beat: the streaming analysis (no whole-song mono copy) gives the grid the song
// itself implies: channel layout and sample rate must not move beats, and aubio's tempo
// chain fed our spectra must agree with aubio_tempo itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "../../beat/src/beat_internal.h"
#include "loopsep/beat.h"
#include "signals.h"

using namespace loopsep;
using beat_test::click_song;

namespace {

// A click song with a quiet noise bed, so the spectra are not all zeros between clicks.
Audio busy_click_song(double bpm, double seconds, int pickup = 1) {
    auto song = click_song(bpm, seconds, pickup).audio;
    std::mt19937 rng(7);
    std::normal_distribution<float> n(0.0f, 0.01f);
    for (auto& v : song.channels[0]) v += n(rng);
    song.channels.resize(1);
    return song;
}

void expect_same_grid(const BeatGrid& a, const BeatGrid& b) {
    EXPECT_EQ(a.beats_sec, b.beats_sec);
    EXPECT_EQ(a.downbeats_sec, b.downbeats_sec);
    EXPECT_EQ(a.tempo_bpm, b.tempo_bpm);
    EXPECT_EQ(a.confidence, b.confidence);
}

}  // namespace

TEST(StreamingAnalysis, MonoAndStereoCopiesGiveIdenticalGrids) {
    const Audio mono = busy_click_song(127, 30.0);
    Audio stereo = mono;
    stereo.channels.push_back(mono.channels[0]);
    Audio three = stereo;
    three.channels.push_back(mono.channels[0]);
    BeatParams p;
    p.genre = Genre::Bachata;
    const BeatGrid g = track_beats(mono, p);
    ASSERT_GT(g.beats_sec.size(), 50u);
    expect_same_grid(track_beats(stereo, p), g);
    // Three equal channels: the mean is not exactly the channel in float, but near enough.
    const BeatGrid g3 = track_beats(three, p);
    ASSERT_EQ(g3.beats_sec.size(), g.beats_sec.size());
    for (std::size_t i = 0; i < g.beats_sec.size(); ++i) EXPECT_NEAR(g3.beats_sec[i], g.beats_sec[i], 1e-3);
}

TEST(StreamingAnalysis, SignalBlocksAreTheGainedMonoMix) {
    Audio song = busy_click_song(100, 3.0);
    song.channels.push_back(song.channels[0]);
    for (auto& v : song.channels[1]) v *= -0.5f;  // channels that differ
    beat_detail::AnalysisSignal signal(song);
    const std::vector<float> mono = song.mono();
    ASSERT_EQ(signal.size(), mono.size());
    float peak = 0;
    double energy = 0;
    for (float v : mono) {
        peak = std::max(peak, std::fabs(v));
        energy += double(v) * v;
    }
    EXPECT_EQ(signal.peak(), peak);
    EXPECT_DOUBLE_EQ(signal.mean_square(), energy / mono.size());
    signal.set_gain(3.0);
    std::vector<float> block(1000);
    for (std::size_t pos : {std::size_t(0), std::size_t(12345), mono.size() - 300, mono.size() + 5}) {
        signal.read(pos, block.data(), block.size());
        for (std::size_t i = 0; i < block.size(); ++i) {
            const float want = pos + i < mono.size() ? float(mono[pos + i] * 3.0) : 0.0f;
            ASSERT_EQ(block[i], want) << "sample " << pos + i;
        }
    }
}

TEST(StreamingAnalysis, OtherSampleRateGivesBeatsWithinAFewMs) {
    const Audio song = busy_click_song(122, 30.0);
    const Audio song48 = resample(song, 48000);
    BeatParams p;
    p.genre = Genre::Bachata;
    const BeatGrid g = track_beats(song, p), g48 = track_beats(song48, p);
    ASSERT_EQ(g48.beats_sec.size(), g.beats_sec.size());
    for (std::size_t i = 0; i < g.beats_sec.size(); ++i) EXPECT_NEAR(g48.beats_sec[i], g.beats_sec[i], 0.004);
    EXPECT_EQ(g48.downbeats_sec.size(), g.downbeats_sec.size());
    EXPECT_NEAR(g48.tempo_bpm, g.tempo_bpm, 0.2);
}

// AubioBpm replaces aubio_tempo (and its phase vocoder) inside track_beats: same bpm.
TEST(StreamingAnalysis, AubioBpmOnOurSpectraEqualsAubioTempo) {
    for (double bpm : {88.0, 127.0, 151.0}) {
        const Audio song = busy_click_song(bpm, 25.0);
        beat_detail::AnalysisSignal signal(song);
        signal.set_gain(0.1 / std::sqrt(signal.mean_square()));
        const double ours = beat_detail::compute_features(signal).aubio_bpm;
        const double aubio = beat_detail::run_aubio_tempo(signal).bpm;
        EXPECT_GT(aubio, 0) << bpm;
        EXPECT_NEAR(ours, aubio, 1e-3) << bpm;
    }
}
