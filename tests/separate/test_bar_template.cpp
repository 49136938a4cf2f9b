// Bar templates (bench/adaptive/bar_template.h): the median over the other bars keeps what repeats
// in every bar and drops what plays once, across bars of different tempi; the nearest bars of a bar
// are the bars that play its pattern. Checked on tone patterns whose spectra are known.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "bar_template.h"
#include "loopsep/stft.h"

using namespace loopsep;
using namespace loopsep::adaptive;

namespace {

constexpr int kRateHz = 44100;
constexpr double kPi = 3.14159265358979323846;
constexpr double kPickupSec = 1.2;

// Bar b lasts 2.0 s (even b) or 2.4 s (odd b): the song's tempo moves, the pattern scales with it.
std::vector<double> downbeats(int num_bars) {
    std::vector<double> d;
    double t = kPickupSec;
    for (int b = 0; b < num_bars; ++b) {
        d.push_back(t);
        t += b % 2 == 0 ? 2.0 : 2.4;
    }
    return d;
}

// Adds a sine of freq_hz over [begin_sec, end_sec), with 5 ms ramps so its edges stay narrow-band.
void add_tone(std::vector<float>& x, double freq_hz, double begin_sec, double end_sec, double amplitude) {
    const double ramp_sec = 0.005;
    for (std::size_t i = std::size_t(begin_sec * kRateHz); i < std::size_t(end_sec * kRateHz) && i < x.size(); ++i) {
        const double t = double(i) / kRateHz;
        const double env = std::min({1.0, (t - begin_sec) / ramp_sec, (end_sec - t) / ramp_sec});
        x[i] += float(amplitude * env * std::sin(2 * kPi * freq_hz * t));
    }
}

int bin_of(double freq_hz, const StftParams& p) { return int(std::lround(freq_hz * p.n_fft / kRateHz)); }

struct Song {
    Bars bars;
    Spectrogram spec;
    std::vector<float> power;
    double frames_per_sec = 0;
    std::size_t frame_at(std::size_t bar, double position) const {
        return std::size_t(std::lround((bars.begin_sec[bar] + position * bars.length_sec(bar)) * frames_per_sec));
    }
    float power_at(std::size_t frame, int bin) const { return power[frame * std::size_t(spec.num_bins) + std::size_t(bin)]; }
};

// 8 bars; every bar: 440 Hz over its first quarter, 1000 Hz over its third quarter; bar 5 alone
// also holds a 2500 Hz tone throughout.
Song repeating_song(Stft& stft) {
    const std::vector<double> d = downbeats(8);
    const double song_sec = d.back() + 2.4 + 1.0;
    std::vector<float> x(std::size_t(song_sec * kRateHz), 0.0f);
    for (std::size_t b = 0; b < d.size(); ++b) {
        const double len = b % 2 == 0 ? 2.0 : 2.4;
        add_tone(x, 440, d[b], d[b] + 0.25 * len, 0.3);
        add_tone(x, 1000, d[b] + 0.5 * len, d[b] + 0.75 * len, 0.3);
    }
    add_tone(x, 2500, d[5], d[5] + 2.4, 0.3);
    Song s;
    s.bars = bars_from_downbeats(d, song_sec);
    s.spec = stft.forward(x.data(), x.size());
    s.power.resize(s.spec.data.size());
    for (std::size_t i = 0; i < s.power.size(); ++i) s.power[i] = std::norm(s.spec.data[i]);
    s.frames_per_sec = double(kRateHz) / stft.params().hop;
    return s;
}

}  // namespace

TEST(BarTemplate, BarsRunFromDownbeatToDownbeatAndTheLastLastsAsLongAsTheOneBefore) {
    const Bars bars = bars_from_downbeats({0.5, 2.5, 4.9}, 10.0);
    ASSERT_EQ(bars.size(), 3u);
    EXPECT_DOUBLE_EQ(bars.end_sec[0], 2.5);
    EXPECT_DOUBLE_EQ(bars.end_sec[1], 4.9);
    EXPECT_NEAR(bars.end_sec[2], 7.3, 1e-12);
    EXPECT_NEAR(bars_from_downbeats({0.5, 2.5, 4.9}, 6.0).end_sec[2], 6.0, 1e-12);  // clipped to the song
}

TEST(BarTemplate, MedianOfTheOtherBarsKeepsTheRepeatingPatternAndDropsTheOneOff) {
    Stft stft({2048, 512});
    const Song s = repeating_song(stft);
    const int bins = s.spec.num_bins;
    const int f440 = bin_of(440, stft.params()), f1000 = bin_of(1000, stft.params()), f2500 = bin_of(2500, stft.params());
    constexpr int kFramesPerBar = 256;
    const BarSpectra bar_power = bar_spectra(s.power, s.spec.num_frames, bins, s.bars, s.frames_per_sec, kFramesPerBar);
    std::vector<std::vector<float>> per_bar;
    for (std::size_t b = 0; b < s.bars.size(); ++b) per_bar.push_back(median_template(bar_power, other_bars(s.bars.size(), b)));
    const std::vector<float> outside = median_template(bar_power, other_bars(s.bars.size(), s.bars.size()));
    const std::vector<float> t =
        templates_to_frames(per_bar, outside, s.bars, kFramesPerBar, bins, s.spec.num_frames, s.frames_per_sec);
    auto tmpl = [&](std::size_t frame, int bin) { return t[frame * std::size_t(bins) + std::size_t(bin)]; };

    // Bar 5 (2.4 s long) with the one-off tone; the median never saw bar 5 itself.
    // The 440 Hz quarter at 0.2 of the bar: 0.48 s in, past the end of the tone in a 2.0 s bar
    // measured in seconds (0.5 s minus the ramp's leakage) — only a tempo-normalised template has it here.
    for (double pos : {0.1, 0.2}) {
        const std::size_t f = s.frame_at(5, pos);
        const float actual = s.power_at(f, f440);
        ASSERT_GT(actual, 1.0f);
        EXPECT_NEAR(tmpl(f, f440) / actual, 1.0, 0.1) << "position " << pos;
        EXPECT_LT(tmpl(f, f1000), 1e-3f * s.power_at(s.frame_at(5, 0.625), f1000)) << "position " << pos;
    }
    const std::size_t f_third = s.frame_at(5, 0.625);
    EXPECT_NEAR(tmpl(f_third, f1000) / s.power_at(f_third, f1000), 1.0, 0.1);
    EXPECT_LT(tmpl(f_third, f440), 1e-3f * s.power_at(s.frame_at(5, 0.1), f440));
    // The one-off 2500 Hz tone plays throughout bar 5 and is gone from its template.
    for (double pos : {0.1, 0.4, 0.625, 0.9}) {
        const std::size_t f = s.frame_at(5, pos);
        ASSERT_GT(s.power_at(f, f2500), 1.0f);
        EXPECT_LT(tmpl(f, f2500), 1e-4f * s.power_at(f, f2500)) << "position " << pos;
    }
    // Every other bar's template has bar 5 among its sources, and the median still leaves the
    // one-off out (a mean would keep a seventh of its power).
    const float one_off = s.power_at(s.frame_at(5, 0.4), f2500);
    for (std::size_t b = 0; b < s.bars.size(); ++b)
        if (b != 5) EXPECT_LT(tmpl(s.frame_at(b, 0.4), f2500), 1e-4f * one_off) << "bar " << b;
    // The pick-up before the first downbeat reads the template of all bars at its place in a bar
    // extrapolated backwards (2.0 s long, as bar 0): 0.8 s before the downbeat is 0.6 of it, in the
    // 1000 Hz quarter; 0.1 s before is 0.95, where nothing plays. In the tail after the last bar,
    // 0.1 of a 2.4 s bar in, the 440 Hz quarter plays in the template.
    const std::size_t f_pickup_third = std::size_t(std::lround((kPickupSec - 0.8) * s.frames_per_sec));
    EXPECT_NEAR(tmpl(f_pickup_third, f1000) / s.power_at(f_third, f1000), 1.0, 0.1);
    const std::size_t f_pickup_end = std::size_t(std::lround((kPickupSec - 0.1) * s.frames_per_sec));
    EXPECT_LT(tmpl(f_pickup_end, f440), 1e-3f * s.power_at(s.frame_at(5, 0.1), f440));
    EXPECT_LT(tmpl(f_pickup_end, f1000), 1e-3f * s.power_at(f_third, f1000));
    const std::size_t f_tail = std::size_t(std::lround((s.bars.end_sec[7] + 0.1 * 2.4) * s.frames_per_sec));
    EXPECT_NEAR(tmpl(f_tail, f440) / s.power_at(s.frame_at(5, 0.1), f440), 1.0, 0.1);
}

TEST(BarTemplate, NearestBarsPlayTheSamePattern) {
    // Even bars play 440 Hz over their first half, odd bars 660 Hz over their second half (a verse and a
    // chorus taking turns); the nearest bars of an even bar are even, of an odd bar odd.
    Stft stft({2048, 512});
    const std::vector<double> d = downbeats(10);
    const double song_sec = d.back() + 2.4 + 0.5;
    std::vector<float> x(std::size_t(song_sec * kRateHz), 0.0f);
    for (std::size_t b = 0; b < d.size(); ++b) {
        const double len = b % 2 == 0 ? 2.0 : 2.4;
        if (b % 2 == 0) add_tone(x, 440, d[b], d[b] + 0.5 * len, 0.3);
        else add_tone(x, 660, d[b] + 0.5 * len, d[b] + len, 0.3);
    }
    const Spectrogram spec = stft.forward(x.data(), x.size());
    std::vector<float> power(spec.data.size());
    for (std::size_t i = 0; i < power.size(); ++i) power[i] = std::norm(spec.data[i]);
    const Bars bars = bars_from_downbeats(d, song_sec);
    const BarSpectra logs = log_bar_spectra(
        bar_spectra(power, spec.num_frames, spec.num_bins, bars, double(kRateHz) / stft.params().hop, 128));
    for (std::size_t b : {2u, 3u}) {
        const std::vector<std::size_t> near = nearest_bars(logs, b, 4);
        ASSERT_EQ(near.size(), 4u);
        for (std::size_t n : near) {
            EXPECT_NE(n, b);
            EXPECT_EQ(n % 2, b % 2) << "bar " << b << " neighbour " << n;
        }
    }
}
