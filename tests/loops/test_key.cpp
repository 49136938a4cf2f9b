// Key names and key estimation on analytic signals: chord progressions of sine
// and sawtooth tones in a known key (with a bass line and a little noise) must
// come out in that key, detuned or not.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "loopsep/error.h"
#include "loopsep/key.h"

using namespace loopsep;

namespace {

constexpr int kRate = 44100;

enum class Wave { Sine, Saw };

// Chords as semitone offsets from the tonic (scale degrees already resolved); each lasts one
// second with a 20 ms attack/release, a bass note on the chord root an octave and a half down,
// and noise 30 dB below. `cents` detunes everything (a song played faster, say).
Audio progression(int tonic_pc, const std::vector<std::vector<int>>& chords, Wave wave, double cents = 0) {
    const double chord_sec = 1.0;
    Audio a(1, std::size_t(chord_sec * kRate * double(chords.size())), kRate);
    std::mt19937 rng(7);
    std::normal_distribution<float> noise(0.0f, 0.003f);
    auto hz_of = [&](double midi) { return 440.0 * std::pow(2.0, (midi - 69.0 + cents / 100.0) / 12.0); };
    for (std::size_t c = 0; c < chords.size(); ++c) {
        std::vector<double> notes;
        for (int off : chords[c]) notes.push_back(hz_of(60 + tonic_pc + off));      // the chord around C4
        notes.push_back(hz_of(36 + tonic_pc + chords[c][0]));                        // bass: chord root
        const std::size_t start = std::size_t(double(c) * chord_sec * kRate), len = std::size_t(chord_sec * kRate);
        for (std::size_t i = 0; i < len; ++i) {
            const double t = double(i) / kRate;
            const double env = std::min({1.0, t / 0.02, (chord_sec - t) / 0.02});
            double v = 0;
            for (double f : notes) {
                if (wave == Wave::Sine) {
                    v += std::sin(2 * M_PI * f * t);
                } else {
                    const double ph = f * t - std::floor(f * t);  // naive saw: harmonics 1/n, all of them
                    v += 2.0 * ph - 1.0;
                }
            }
            a.channels[0][start + i] = float(0.15 * env * v) + noise(rng);
        }
    }
    return a;
}

// Major: I–IV–V7–I (C E G, F A C, G B D F, C E G) as offsets from the tonic.
const std::vector<std::vector<int>> kMajorCadence = {{0, 4, 7}, {5, 9, 12}, {7, 11, 14, 17}, {0, 4, 7}};
// Harmonic minor: i–iv–V7–i (A C E, D F A, E G# B D, A C E).
const std::vector<std::vector<int>> kMinorCadence = {{0, 3, 7}, {5, 8, 12}, {7, 11, 14, 17}, {0, 3, 7}};

}  // namespace

TEST(Key, NamesParseAndRootNotes) {
    EXPECT_EQ(key_name(*parse_key("Am")), "Am");
    EXPECT_EQ(key_name(*parse_key("a minor")), "Am");
    EXPECT_EQ(key_name(*parse_key("Bb")), "A#");
    EXPECT_EQ(key_name(*parse_key("bbm")), "A#m");
    EXPECT_EQ(key_name(*parse_key("B")), "B");
    EXPECT_EQ(key_name(*parse_key("Bmin")), "Bm");
    EXPECT_EQ(key_name(*parse_key("F# major")), "F#");
    EXPECT_EQ(key_name(*parse_key("Cb")), "B");
    EXPECT_FALSE(parse_key(""));
    EXPECT_FALSE(parse_key("H"));
    EXPECT_FALSE(parse_key("Am7"));
    EXPECT_FALSE(parse_key("x"));
    EXPECT_EQ(key_root_note(*parse_key("C")), 60);
    EXPECT_EQ(key_root_note(*parse_key("Am")), 69);
    EXPECT_EQ(key_root_note(*parse_key("B")), 71);
}

TEST(Key, RelationsFollowMirex) {
    const MusicalKey c{0, false}, am{9, true}, g{7, false}, f{5, false}, cm{0, true}, em{4, true}, d{2, false};
    EXPECT_EQ(key_relation(c, c), KeyRelation::Exact);
    EXPECT_EQ(key_relation(g, c), KeyRelation::Fifth);
    EXPECT_EQ(key_relation(f, c), KeyRelation::Fifth);
    EXPECT_EQ(key_relation(am, c), KeyRelation::Relative);
    EXPECT_EQ(key_relation(c, am), KeyRelation::Relative);
    EXPECT_EQ(key_relation(cm, c), KeyRelation::Parallel);
    EXPECT_EQ(key_relation(em, c), KeyRelation::Other);
    EXPECT_EQ(key_relation(d, c), KeyRelation::Other);
}

TEST(Key, ChordProgressionsComeOutInTheirKey) {
    for (KeyProfile profile : {KeyProfile::Krumhansl, KeyProfile::Temperley}) {
        for (Wave wave : {Wave::Sine, Wave::Saw}) {
            for (int tonic : {0, 3, 6, 9, 11}) {
                for (bool minor : {false, true}) {
                    const Audio a = progression(tonic, minor ? kMinorCadence : kMajorCadence, wave);
                    const KeyEstimate e = estimate_key(a, profile);
                    const MusicalKey want{tonic, minor};
                    EXPECT_EQ(key_name(e.key), key_name(want))
                        << key_profile_name(profile) << (wave == Wave::Saw ? " saw" : " sine") << " r=" << e.correlation;
                    EXPECT_GT(e.correlation, 0.6);
                    EXPECT_GT(e.margin, 0.0);
                    EXPECT_NEAR(e.tuning_cents, 0.0, 5.0);
                }
            }
        }
    }
}

TEST(Key, DetunedRecordingsKeepTheirKeyAndReportTheTuning) {
    // 45 cents sharp: without the tuning step half of the energy folds onto the next semitone.
    for (double cents : {45.0, -40.0}) {
        const Audio a = progression(2, kMinorCadence, Wave::Saw, cents);  // D minor
        const KeyEstimate e = estimate_key(a);
        EXPECT_EQ(key_name(e.key), "Dm") << cents;
        EXPECT_NEAR(e.tuning_cents, cents, 6.0);
    }
}

TEST(Key, ChromaIsANormalisedPitchClassProfile) {
    const KeyEstimate e = estimate_key(progression(0, kMajorCadence, Wave::Sine));
    double sum = 0;
    for (double c : e.chroma) sum += c;
    EXPECT_NEAR(sum, 1.0, 1e-9);
    // C, E, G carry the tonic chord twice over; C# and F# are in no chord.
    EXPECT_GT(e.chroma[0], 4 * e.chroma[1]);
    EXPECT_GT(e.chroma[7], 4 * e.chroma[6]);
}

TEST(Key, SilenceAndLowRatesAreErrors) {
    Audio silent(1, kRate, kRate);
    try {
        estimate_key(silent, KeyProfile::Krumhansl, "quiet.wav");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Input);
        EXPECT_NE(std::string(e.what()).find("quiet.wav"), std::string::npos);
    }
    Audio low(1, 4000, 4000);
    low.channels[0][10] = 0.5f;
    EXPECT_THROW(estimate_key(low), Error);
    EXPECT_THROW(parse_key_profile("shaath"), Error);
    EXPECT_EQ(parse_key_profile("temperley"), KeyProfile::Temperley);
}
