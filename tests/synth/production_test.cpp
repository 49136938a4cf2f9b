// Tests for the production stage (tools/synth/src/production.h): each effect
// measured on signals made here, the stem-sum contract, an end-to-end train
// render, and the val split pinned to the files the code wrote before the stage existed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "loopsep/audio.h"
#include "loopsep/synth.h"
#include "production.h"
#include "rng.h"

namespace fs = std::filesystem;
using namespace loopsep;
using namespace loopsep::synth;

namespace {

constexpr double kPi = 3.141592653589793;
constexpr int kRate = 44100;

Audio sine(double freq_hz, double amp, double sec, int channels = 1) {
    Audio a(channels, std::size_t(sec * kRate), kRate);
    for (auto& ch : a.channels)
        for (std::size_t i = 0; i < ch.size(); ++i) ch[i] = float(amp * std::sin(2 * kPi * freq_hz * double(i) / kRate));
    return a;
}

// Peak |x| over [t0, t1) seconds, in dBFS.
double peak_db(const Audio& a, double t0, double t1) {
    float p = 0;
    for (const auto& ch : a.channels)
        for (std::size_t i = std::size_t(t0 * a.sample_rate_hz); i < std::min(ch.size(), std::size_t(t1 * a.sample_rate_hz)); ++i)
            p = std::max(p, std::fabs(ch[i]));
    return 20 * std::log10(std::max(1e-12f, p));
}

double out_db_after_compression(double in_db) {
    Audio a = sine(1000, std::pow(10.0, in_db / 20), 1.0);
    CompressorSettings c;
    c.threshold_db = -30;
    c.ratio = 4;
    c.attack_ms = 5;
    c.release_ms = 100;
    apply_gain(a, compressor_gain(a, c));
    return peak_db(a, 0.5, 1.0);
}

// Frequency from zero crossings (rising) over the middle of channel 0.
double measured_hz(const Audio& a) {
    const auto& x = a.channels[0];
    const std::size_t s = x.size() / 4, e = 3 * x.size() / 4;
    double first = -1, last = -1;
    int count = 0;
    for (std::size_t i = s; i + 1 < e; ++i)
        if (x[i] <= 0 && x[i + 1] > 0) {
            const double t = double(i) + x[i] / (x[i] - x[i + 1]);  // interpolated crossing
            if (first < 0) first = t;
            last = t;
            ++count;
        }
    return (count - 1) * double(a.sample_rate_hz) / (last - first);
}

fs::path temp_dir(const std::string& sub) {
    const fs::path d = fs::temp_directory_path() / ("loopsep_production_test_" + std::to_string(::getpid())) / sub;
    fs::create_directories(d);
    return d;
}

Audio read_file(const fs::path& p) {
    ReadOptions o;
    o.target_rate_hz = 0;
    o.allow_silent = true;
    return read_audio(p.string(), o);
}

std::uint64_t fnv1a(const std::string& s, std::uint64_t h = 1469598103934665603ull) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}
std::string file_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
}
std::uint64_t fnv1a_file(const fs::path& p) { return fnv1a(file_bytes(p)); }
// One FNV-1a stream over every file under root, in byte order of the relative
// paths: each path, a NUL, then the file's bytes. Counts the files too.
std::uint64_t fnv1a_tree(const fs::path& root, int& files) {
    std::vector<std::string> rel;
    for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.is_regular_file()) rel.push_back(fs::relative(e.path(), root).generic_string());
    std::sort(rel.begin(), rel.end());
    std::uint64_t h = 1469598103934665603ull;
    for (const auto& r : rel) h = fnv1a(file_bytes(root / r), fnv1a(std::string(r) + '\0', h));
    files = int(rel.size());
    return h;
}

fs::path render(Genre g, SourceSplit split, std::uint64_t seed, const std::string& sub, bool loops = false) {
    SynthParams p;
    p.loops = loops;
    p.genre = g;
    p.split = split;
    p.seed = seed;
    p.duration_sec = 20.0;
    p.quiet = true;
    p.out_dir = temp_dir(sub).string();
    render_songs(p);
    return fs::path(p.out_dir) / song_name(p, 0);
}

}  // namespace

TEST(Production, CompressorReducesByItsRatioAboveThresholdOnly) {
    const double quiet = out_db_after_compression(-40), mid = out_db_after_compression(-16), loud = out_db_after_compression(-6);
    EXPECT_NEAR(quiet, -40.0, 0.05);           // below threshold: untouched
    EXPECT_NEAR(loud, -30 + 24.0 / 4, 0.3);    // 24 dB over threshold → 6 dB over: 18 dB gain reduction
    EXPECT_NEAR(mid, -30 + 14.0 / 4, 0.3);
    EXPECT_NEAR((-6 - -16) / (loud - mid), 4.0, 0.2);  // the static slope is the ratio
}

TEST(Production, LimiterKeepsEveryPeakUnderItsCeiling) {
    Rng rng(5);
    Audio a(2, std::size_t(kRate * 2), kRate);
    for (auto& ch : a.channels)
        for (std::size_t i = 0; i < ch.size(); ++i) {
            const double burst = (i / 4410) % 3 == 0 ? 1.0 : 0.15;  // 0.1 s loud bursts between quieter stretches
            ch[i] = float(burst * rng.uniform(-1.0, 1.0));
        }
    const Audio before = a;
    const double ceiling = 0.3;
    apply_gain(a, limiter_gain(a, ceiling, 5.0, 80.0));
    EXPECT_LE(a.peak(), ceiling + 1e-6);
    EXPECT_GT(a.peak(), ceiling * 0.97);  // and it does not simply turn everything down
    // The quiet stretches recover (release 80 ms): 180 ms into the first one, gain is back above 0.8.
    const std::size_t at = std::size_t(0.28 * kRate);
    EXPECT_NEAR(a.channels[0][at] / before.channels[0][at], 1.0, 0.2);
}

TEST(Production, ReverbTailStartsAfterPredelayAndDecaysAtItsRt60) {
    Audio imp(2, std::size_t(kRate * 3), kRate);
    const std::size_t at = std::size_t(0.1 * kRate);
    imp.channels[0][at] = imp.channels[1][at] = 1.0f;
    ReverbSettings r;
    r.predelay_ms = 30;
    r.rt60_sec = 1.2;
    r.damping = 0.2;
    const Audio wet = reverb_wet(imp, r);
    const Audio again = reverb_wet(imp, r);
    EXPECT_EQ(wet.channels, again.channels);  // deterministic
    EXPECT_NE(wet.channels[0], wet.channels[1]);  // stereo: the channels are decorrelated
    auto energy = [&](double t0, double t1) {
        double e = 0;
        for (const auto& ch : wet.channels)
            for (std::size_t i = std::size_t(t0 * kRate); i < std::size_t(t1 * kRate); ++i) e += double(ch[i]) * ch[i];
        return e;
    };
    const double onset = 0.1, pre = r.predelay_ms * 1e-3;
    EXPECT_EQ(energy(0.0, onset + pre), 0.0);             // nothing before the pre-delay
    EXPECT_GT(energy(onset + 2 * pre, onset + 3 * pre), 0.0);  // the tail has begun by twice the pre-delay
    // 100 ms blocks from 0.1 s after the onset fall monotonically; the slope of
    // their level gives the RT60.
    std::vector<double> t, level_db;
    for (double s = onset + pre + 0.1; s + 0.1 <= onset + pre + 1.5; s += 0.1) {
        t.push_back(s);
        level_db.push_back(10 * std::log10(energy(s, s + 0.1)));
    }
    for (std::size_t k = 1; k < level_db.size(); ++k) EXPECT_LT(level_db[k], level_db[k - 1]) << "block " << k;
    double mt = 0, ml = 0;
    for (std::size_t k = 0; k < t.size(); ++k) { mt += t[k]; ml += level_db[k]; }
    mt /= double(t.size());
    ml /= double(t.size());
    double num = 0, den = 0;
    for (std::size_t k = 0; k < t.size(); ++k) { num += (t[k] - mt) * (level_db[k] - ml); den += (t[k] - mt) * (t[k] - mt); }
    const double rt60 = -60.0 / (num / den);
    EXPECT_NEAR(rt60, r.rt60_sec, 0.2 * r.rt60_sec);
}

TEST(Production, SaturationIsOddUnityForSmallSignalsAndBounded) {
    for (double drive : {1.2, 2.5, 4.0})
        for (double x = -5.0; x <= 5.0; x += 0.01) {
            const float y = saturate(float(x), drive, 0.8);
            EXPECT_EQ(y, -saturate(float(-x), drive, 0.8));
            EXPECT_LT(std::fabs(y), 0.8 / drive + 1e-6);
        }
    EXPECT_NEAR(saturate(1e-4f, 3.0, 0.8) / 1e-4f, 1.0, 1e-3);
    EXPECT_LT(saturate(0.5f, 3.0, 0.8), saturate(0.6f, 3.0, 0.8));  // monotonic: no fold-back
}

TEST(Production, SpeedChangeShortensAndRaisesPitchTogether) {
    const Audio a = sine(1000, 0.5, 2.0, 2);
    for (double f : {1.05, 0.95}) {
        const Audio b = change_speed(a, f);
        EXPECT_EQ(double(b.frames()), std::round(double(a.frames()) / f));
        EXPECT_NEAR(measured_hz(b), 1000 * f, 1000 * f * 0.01);
        EXPECT_NEAR(peak_db(b, 0.5, 1.5), peak_db(a, 0.5, 1.5), 0.1);  // in-band level kept
    }
    // Speeding up must not alias: 21.5 kHz × 1.06 lies above 22.05 kHz and must vanish, not fold down.
    const Audio hi = change_speed(sine(21500, 0.5, 1.0), 1.06);
    EXPECT_LT(peak_db(hi, 0.3, 0.7), -40.0);
}

TEST(Production, BusDynamicsOnStemsSumToTheProcessedBus) {
    Rng rng(9);
    std::vector<Audio> stems = {sine(110, 0.4, 1.0, 2), sine(660, 0.2, 1.0, 2), Audio(2, std::size_t(kRate), kRate)};
    for (auto& ch : stems[2].channels)
        for (std::size_t i = 0; i < ch.size(); ++i) ch[i] = float(((i / 5000) % 2 ? 0.5 : 0.05) * rng.uniform(-1.0, 1.0));
    auto sum_of = [&](const std::vector<Audio>& s) {
        Audio m(2, s[0].frames(), kRate);
        for (const auto& a : s)
            for (int c = 0; c < 2; ++c)
                for (std::size_t i = 0; i < m.frames(); ++i) m.channels[c][i] += a.channels[c][i];
        return m;
    };
    Audio bus = sum_of(stems);
    CompressorSettings c;
    c.threshold_db = -12;
    c.ratio = 3;
    const std::vector<float> g = compressor_gain(bus, c);
    const std::vector<float> l = limiter_gain(bus, 0.4, 5, 50);
    for (auto& s : stems) { apply_gain(s, g); apply_gain(s, l); }
    apply_gain(bus, g);
    apply_gain(bus, l);
    const Audio summed = sum_of(stems);
    double worst = 0;
    for (int ch = 0; ch < 2; ++ch)
        for (std::size_t i = 0; i < bus.frames(); ++i) worst = std::max(worst, double(std::fabs(summed.channels[ch][i] - bus.channels[ch][i])));
    EXPECT_LT(worst, 1e-5);
    EXPECT_LT(peak_db(bus, 0.0, 1.0), 20 * std::log10(0.4) + 1e-4);  // and the processing did act
}

TEST(Production, Mp3RoundTripKeepsLengthAndAlignment) {
    // MPEG-1 (44.1/48 kHz) and MPEG-2 (22.05 kHz) frames, stereo and mono: the
    // encoder delay and padding are removed on decoding (LAME tag, gapless mpg123).
    for (const auto& [rate, channels] : std::vector<std::pair<int, int>>{{44100, 2}, {48000, 1}, {22050, 2}}) {
        Audio a(channels, std::size_t(3 * rate), rate);
        for (int c = 0; c < channels; ++c)
            for (std::size_t i = 0; i < a.frames(); ++i)
                a.channels[c][i] = float(0.3 * std::sin(2 * kPi * 440 * double(i) / rate) +
                                         0.2 * std::sin(2 * kPi * 3000 * double(i) / rate + c));
        const Audio b = mp3_round_trip(a, 128, (temp_dir("mp3") / "x.mp3").string());
        ASSERT_EQ(b.frames(), a.frames());
        ASSERT_EQ(b.num_channels(), channels);
        EXPECT_FALSE(fs::exists(temp_dir("mp3") / "x.mp3"));  // the temp file is gone
        // Aligned: the error at lag 0 is far below the signal; one sample off is much worse.
        auto err_db = [&](long lag) {
            double s = 0, e = 0;
            for (int c = 0; c < channels; ++c)
                for (std::size_t i = std::size_t(rate) / 2; i < std::size_t(rate) * 5 / 2; ++i) {  // edges left out
                    s += double(a.channels[c][i]) * a.channels[c][i];
                    const double d = b.channels[c][std::size_t(long(i) + lag)] - a.channels[c][i];
                    e += d * d;
                }
            return 10 * std::log10(e / s);
        };
        EXPECT_LT(err_db(0), -25.0) << rate;
        EXPECT_GT(err_db(1), err_db(0) + 10.0) << rate;
        EXPECT_GT(err_db(-1), err_db(0) + 10.0) << rate;
    }
}

TEST(Production, DisabledDrawsNothingAndChangesNothing) {
    Audio a = sine(220, 0.3, 1.0, 2);
    const Audio before = a;
    std::vector<ProducedStem> s = {{"bass", &a}};
    Rng r(3), untouched(3);
    const ProductionResult res = produce(s, {0.0, 0.5}, r, false);
    EXPECT_FALSE(res.enabled);
    EXPECT_EQ(res.speed, 1.0);
    EXPECT_EQ(res.codec_kbps, 0);
    EXPECT_EQ(a.channels, before.channels);
    EXPECT_EQ(r.next(), untouched.next());
    EXPECT_FALSE(split_gets_production(SourceSplit::Val));
    EXPECT_TRUE(split_gets_production(SourceSplit::Train));
    EXPECT_TRUE(split_gets_production(SourceSplit::RealVal));
}

// The whole stage with every effect taken (odds 1) but the speed change and the
// codec: each stem gets its full chain, the bus limiter holds the SUM of the
// processed stems under its ceiling (the bus gain came from the sum, not from
// each stem), and the same seed gives the same samples.
TEST(Production, EveryEffectTakenKeepsTheStemSumUnderTheBusCeiling) {
    auto make = [] {
        Rng src(21);
        std::vector<Audio> s = {sine(55, 0.3, 4.0, 2), sine(440, 0.2, 4.0, 2), Audio(2, std::size_t(4 * kRate), kRate)};
        for (auto& ch : s[2].channels)
            for (std::size_t i = 0; i < ch.size(); ++i) ch[i] = float(((i / 3000) % 4 == 0 ? 0.6 : 0.05) * src.uniform(-1.0, 1.0));
        return s;
    };
    ProductionOdds all;
    all.eq = all.width = all.balance = all.ride = all.glue = all.limiter = 1.0;
    for (int k = 0; k < 4; ++k) all.compressor[k] = all.saturation[k] = all.reverb[k] = 1.0;
    all.speed = all.codec = 0.0;
    const std::vector<std::string> names = {"bass", "guitar", "bongo"};
    const std::vector<double> bars = {0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5};
    auto run = [&](std::vector<Audio>& s) {
        std::vector<ProducedStem> ps;
        for (std::size_t k = 0; k < s.size(); ++k) ps.push_back({names[k], &s[k]});
        Rng rng(77);
        return produce(ps, bars, rng, true, true, all);
    };
    std::vector<Audio> a = make(), b = make();
    const ProductionResult res = run(a);
    run(b);
    for (std::size_t k = 0; k < a.size(); ++k) EXPECT_EQ(a[k].channels, b[k].channels) << names[k];  // deterministic
    ASSERT_EQ(res.record["bus"].size(), 2u);
    EXPECT_EQ(res.record["bus"][0]["effect"], "glue_compressor");
    EXPECT_EQ(res.record["bus"][1]["effect"], "limiter");
    EXPECT_EQ(res.speed, 1.0);
    EXPECT_EQ(res.codec_kbps, 0);
    EXPECT_EQ(res.record["stems"]["bass"].size(), 6u);    // eq comp sat width ride reverb (bass is never panned)
    EXPECT_EQ(res.record["stems"]["guitar"].size(), 7u);  // … and balance
    const double ceiling = res.record["bus"][1]["ceiling"];
    Audio sum(2, a[0].frames(), kRate);
    for (const auto& s : a)
        for (int c = 0; c < 2; ++c)
            for (std::size_t i = 0; i < sum.frames(); ++i) sum.channels[c][i] += s.channels[c][i];
    EXPECT_LE(sum.peak(), ceiling * (1 + 1e-5));
    EXPECT_GT(sum.peak(), ceiling * 0.95);
}

// A level ride alone: the stem's level passes through each recorded breakpoint
// (sine of 0.3 measured ±10 ms around it) and moves smoothly between them.
// With every odds 0 the stage leaves the stem bit-identical.
TEST(Production, LevelRideFollowsItsRecordedBreakpoints) {
    ProductionOdds none;
    none.eq = none.width = none.balance = none.ride = none.plate = none.glue = none.limiter = none.speed = none.codec = 0.0;
    for (int k = 0; k < 4; ++k) none.compressor[k] = none.saturation[k] = none.reverb[k] = 0.0;
    const std::vector<double> bars = {0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5};
    {
        Audio a = sine(500, 0.3, 4.0, 2);
        const Audio before = a;
        std::vector<ProducedStem> ps = {{"bass", &a}};
        Rng rng(8);
        const ProductionResult res = produce(ps, bars, rng, true, true, none);
        EXPECT_EQ(a.channels, before.channels);
        EXPECT_TRUE(res.record["bus"].empty());
        EXPECT_TRUE(res.record["stems"]["bass"].empty());
    }
    ProductionOdds ride = none;
    ride.ride = 1.0;
    Audio a = sine(500, 0.3, 4.0, 2);
    std::vector<ProducedStem> ps = {{"bass", &a}};
    Rng rng(8);
    const ProductionResult res = produce(ps, bars, rng, true, true, ride);
    ASSERT_EQ(res.record["stems"]["bass"].size(), 1u);
    const auto& rec = res.record["stems"]["bass"][0];
    EXPECT_EQ(rec["effect"], "level_ride");
    ASSERT_GE(rec["points_sec_db"].size(), 2u);
    for (const auto& pt : rec["points_sec_db"]) {
        const double t = pt[0], want_db = pt[1];
        if (t < 0.02) continue;
        EXPECT_NEAR(peak_db(a, t - 0.01, t + 0.01) - 20 * std::log10(0.3), want_db, 0.1) << "at " << t;
        EXPECT_LE(std::fabs(want_db), 3.0);
    }
    float worst_step = 0;  // smooth: no frame-to-frame jump beyond the sine's own slope (2π·500/44100·0.3·max gain)
    for (std::size_t i = 1; i < a.frames(); ++i) worst_step = std::max(worst_step, std::fabs(a.channels[0][i] - a.channels[0][i - 1]));
    EXPECT_LT(worst_step, 2 * kPi * 500 / kRate * 0.3 * std::pow(10.0, 3.0 / 20) * 1.01);
}

// End to end: train songs carry a recorded production chain; their stems sum
// exactly to the mix unless the MP3 round trip is recorded, in which case the
// mix is the sum through the codec (close, aligned, not equal). Seeds 3 and 9
// (bachata, 20 s) were picked because 3 draws the codec and 9 a speed change of
// 1.034 (+0.57 semitones: the key as heard is one semitone up).
TEST(Production, TrainSongsStemsSumToTheMixUnlessTheCodecIsRecorded) {
    int with_codec = 0, with_speed = 0;
    for (std::uint64_t seed : {3u, 9u}) {
        const fs::path dir = render(Genre::Bachata, SourceSplit::Train, seed, "train");
        std::ifstream in(dir / "meta.json");
        const auto meta = nlohmann::json::parse(in);
        ASSERT_TRUE(meta.contains("production"));
        const auto& prod = meta["production"];
        for (const auto& name : genre_instruments(Genre::Bachata)) EXPECT_TRUE(prod["stems"].contains(name));
        const Audio mix = read_file(dir / "mix.wav");
        Audio sum(mix.num_channels(), mix.frames(), mix.sample_rate_hz);
        for (const auto& name : genre_instruments(Genre::Bachata)) {
            const Audio s = read_file(dir / "stems" / (name + ".wav"));
            ASSERT_EQ(s.frames(), mix.frames());
            for (int c = 0; c < mix.num_channels(); ++c)
                for (std::size_t i = 0; i < mix.frames(); ++i) sum.channels[c][i] += s.channels[c][i];
        }
        double err = 0, sig = 0, worst = 0;
        for (int c = 0; c < mix.num_channels(); ++c)
            for (std::size_t i = 0; i < mix.frames(); ++i) {
                const double d = double(mix.channels[c][i]) - sum.channels[c][i];
                err += d * d;
                sig += double(sum.channels[c][i]) * sum.channels[c][i];
                worst = std::max(worst, std::fabs(d));
            }
        if (prod["codec"].is_null()) {
            EXPECT_TRUE(prod["mix_is_sum_of_stems"].get<bool>());
            EXPECT_LT(worst, 1e-6) << dir;  // 16-bit integers summed exactly
        } else {
            ++with_codec;
            EXPECT_FALSE(prod["mix_is_sum_of_stems"].get<bool>());
            EXPECT_EQ(prod["codec"]["name"], "mp3");
            EXPECT_GT(prod["codec"]["bitrate_kbps"].get<int>(), 0);
            EXPECT_GT(worst, 0.0);
            // MP3 keeps the sound, not the waveform: ~18 dB waveform SNR at 160 kbit/s, aligned
            // (one frame of lag costs ~9 dB more, measured); a misaligned or broken decode is ~0 dB.
            EXPECT_LT(10 * std::log10(err / sig), -12.0) << dir;
        }
        const double speed = prod["speed"].get<double>();
        if (speed != 1.0) {
            ++with_speed;
            // Beat times and bpm were scaled together: the median beat period matches the bpm.
            std::vector<double> beats = meta["beats"].get<std::vector<double>>(), period;
            for (std::size_t k = 1; k < beats.size(); ++k) period.push_back(beats[k] - beats[k - 1]);
            std::nth_element(period.begin(), period.begin() + long(period.size() / 2), period.end());
            EXPECT_NEAR(60.0 / period[period.size() / 2], meta["bpm"].get<double>(), 0.01 * meta["bpm"].get<double>());
            EXPECT_GE(meta["duration_sec"].get<double>(), 20.0);
            // The pitch moved too: recorded, and the key is the nearest one as heard.
            const double semis = 12 * std::log2(speed);
            EXPECT_NEAR(prod["pitch_shift_semitones"].get<double>(), semis, 1e-3);
            EXPECT_NEAR(prod["detune_cents"].get<double>(), 100 * (semis - std::round(semis)), 0.1);
            static const std::vector<std::string> names = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};
            auto pc = [&](std::string k) {
                if (!k.empty() && k.back() == 'm') k.pop_back();
                return int(std::find(names.begin(), names.end(), k) - names.begin());
            };
            const int composed = pc(prod["key_as_composed"].get<std::string>()), heard = pc(meta["key"].get<std::string>());
            EXPECT_EQ(((heard - composed) % 12 + 12) % 12, ((int(std::lround(semis)) % 12) + 12) % 12);
        }
    }
    EXPECT_EQ(with_codec, 1);
    EXPECT_EQ(with_speed, 1);
}

// The val split is byte-identical to what the code wrote before the production
// stage existed (FNV-1a of each file, rendered by main at d4dc481 with
// `loopsep synth --split val --seed 7 --duration-sec 20 --loops`; the tree hash
// covers every file, loops and loops.json included). Tied to the Debian 12
// package versions of fluidsynth, the soundfonts and espeak-ng.
TEST(Production, ValSplitIsUnchanged) {
    const std::map<std::string, std::map<std::string, std::uint64_t>> expected = {
        {"bachata", {{"mix.wav", 0x030738258a87a8baull},
                     {"meta.json", 0x2868c1fa63da04feull},
                     {"stems/bass.wav", 0xe5561316b6584b4cull},
                     {"stems/bongo.wav", 0x74b0246eeba2c64eull},
                     {"stems/guira.wav", 0x04eedee62f74bac7ull},
                     {"stems/guitar.wav", 0xf2089faecd749083ull},
                     {"stems/other.wav", 0x01068d1337b062a8ull}}},
        {"hiphop", {{"mix.wav", 0x1a8a7458743da551ull},
                    {"meta.json", 0xf970808e47447486ull},
                    {"stems/bass.wav", 0x280946bc7ed81da5ull},
                    {"stems/drums.wav", 0x587cd0294f21553bull},
                    {"stems/other.wav", 0xfaa5274660022c6bull},
                    {"stems/vocals.wav", 0x39c7657f7d83ee6eull}}}};
    const std::map<std::string, std::pair<std::uint64_t, int>> tree = {{"bachata", {0xd7b3ed63136d584eull, 19}},
                                                                        {"hiphop", {0xa67ac69f2297b4baull, 14}}};
    for (Genre g : {Genre::Bachata, Genre::HipHop}) {
        const fs::path dir = render(g, SourceSplit::Val, 7, "val", true);
        for (const auto& [file, hash] : expected.at(genre_name(g))) EXPECT_EQ(fnv1a_file(dir / file), hash) << dir / file;
        int files = 0;
        EXPECT_EQ(fnv1a_tree(dir, files), tree.at(genre_name(g)).first) << dir;
        EXPECT_EQ(files, tree.at(genre_name(g)).second) << dir;
    }
}
