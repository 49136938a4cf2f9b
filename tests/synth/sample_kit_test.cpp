// Tests for the training pool's new sources: drum kits assembled from
// lmms-common's one-shot samples (render_samples.cpp) and the OPL3 FM soundfont.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <unistd.h>
#include <string>

#include "loopsep/error.h"
#include "render.h"
#include "sources.h"

using namespace loopsep;
using namespace loopsep::synth;

namespace {

constexpr int kRate = 44100;
constexpr std::size_t kFrames = 3 * kRate;

// 120 BPM, beat 0 at 0.5 s.
Song song_120() {
    Song s;
    for (int b = 0; b <= 8; ++b) s.tempo.beat_sec.push_back(0.5 + 0.5 * b);
    s.bars = 2;
    return s;
}

Part kit_part(std::uint64_t variant, std::vector<NoteEvent> notes) {
    Part p;
    p.stem = "drums";
    p.role = "drums";
    p.source.kind = SourceKind::SampleKit;
    p.source.file = "lmms-samples";
    p.source.variant = variant;
    p.notes = std::move(notes);
    return p;
}

NoteEvent hit(double beat, int key) { return {beat, 0.25, key, 100, 0.0}; }

Audio render(const Part& part, std::string* label = nullptr) {
    std::string l;
    Audio a = render_sample_kit(part, song_120(), "/usr/share/lmms/samples", kRate, kFrames, l);
    if (label) *label = l;
    return a;
}

double rms(const std::vector<float>& x, std::size_t from, std::size_t to) {
    double s = 0;
    for (std::size_t i = from; i < to; ++i) s += double(x[i]) * x[i];
    return to > from ? std::sqrt(s / double(to - from)) : 0.0;
}

}  // namespace

TEST(SampleKit, PlaysEachHitAtItsOnsetAndNothingBefore) {
    std::string label;
    const Audio a = render(kit_part(11, {hit(0, 36), hit(1, 38)}), &label);
    ASSERT_EQ(a.channels.size(), 1u);
    ASSERT_EQ(a.frames(), kFrames);
    const auto& x = a.channels[0];
    const std::size_t kick = kRate / 2, snare = kRate;
    EXPECT_EQ(rms(x, 0, kick), 0.0);
    EXPECT_GT(rms(x, kick, kick + kRate / 50), 1e-3);    // the kick's first 20 ms
    EXPECT_GT(rms(x, snare, snare + kRate / 50), 1e-3);  // the snare's
    // The label names the two files it played, and only those.
    EXPECT_EQ(label.rfind("lmms-samples:", 0), 0u) << label;
    EXPECT_TRUE(label.find("kick") != std::string::npos || label.find("bassdrum") != std::string::npos) << label;
    EXPECT_NE(label.find("snare"), std::string::npos) << label;
    EXPECT_EQ(label.find("hihat"), std::string::npos) << label;
}

TEST(SampleKit, ClosedHatChokesTheOpenHat) {
    const std::uint64_t v = 5;
    const Audio open = render(kit_part(v, {hit(0, 46)}));
    const Audio closed = render(kit_part(v, {hit(0.5, 42)}));
    const Audio both = render(kit_part(v, {hit(0, 46), hit(0.5, 42)}));
    const std::size_t choke = kRate / 2 + kRate / 4, fade = kRate / 200;
    // What the open hat contributes when the closed one follows: the full
    // sample up to the fade before the choke, nothing after it.
    double before = 0, after = 0;
    for (std::size_t i = 0; i < kFrames; ++i) {
        const double open_part = double(both.channels[0][i]) - closed.channels[0][i];
        if (i + fade < choke) before = std::max(before, std::fabs(open_part - open.channels[0][i]));
        else if (i >= choke) after = std::max(after, std::fabs(open_part));
    }
    EXPECT_LT(before, 1e-6);
    EXPECT_LT(after, 1e-6);
    // …and the open hat alone still rings past that point, so the choke did something.
    EXPECT_GT(rms(open.channels[0], choke, choke + kRate / 10), 1e-4);
}

TEST(SampleKit, TheVariantPicksTheKitAndRepeats) {
    const std::vector<NoteEvent> groove = {hit(0, 36), hit(1, 38), hit(1.5, 42), hit(2, 39), hit(3.5, 46)};
    std::set<std::string> labels;
    for (std::uint64_t v = 0; v < 12; ++v) {
        std::string l;
        render(kit_part(v * 7919, groove), &l);
        labels.insert(l);
    }
    EXPECT_GE(labels.size(), 10u);  // 12 draws from ≥ 6 kicks × 20 snares × 5 hats...
    const Audio a = render(kit_part(42, groove)), b = render(kit_part(42, groove));
    EXPECT_EQ(a.channels[0], b.channels[0]);
}

TEST(SampleKit, AMissingLibraryIsAnInputErrorNamingTheFolder) {
    std::string label;
    try {
        render_sample_kit(kit_part(1, {hit(0, 36)}), song_120(), "/nonexistent/lmms", kRate, kFrames, label);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Input);
        EXPECT_NE(std::string(e.what()).find("/nonexistent/lmms/drums"), std::string::npos) << e.what();
    }
}

// A file the library names as audio but that does not decode (lmms-common's
// kick04.ogg is a malformed WAV) is skipped; with nothing left for the part's
// keys the kit is an input error naming the folder.
TEST(SampleKit, UnreadableFilesAreSkipped) {
    namespace fs = std::filesystem;
    const fs::path lib = fs::temp_directory_path() / ("loopsep_kit_test_" + std::to_string(::getpid()));
    fs::create_directories(lib / "drums");
    std::ofstream(lib / "drums" / "kick_bad.ogg") << "RIFF....WAVEfmt not really";
    Audio good(1, kRate / 10, kRate);
    for (std::size_t i = 0; i < good.frames(); ++i) good.channels[0][i] = float(0.5 * std::sin(0.01 * double(i)));
    write_audio((lib / "drums" / "kick_good.wav").string(), good);
    std::set<std::string> labels;
    for (std::uint64_t v = 0; v < 8; ++v) {
        std::string label;
        const Audio a = render_sample_kit(kit_part(v, {hit(0, 36)}), song_120(), lib.string(), kRate, kFrames, label);
        labels.insert(label);
        EXPECT_GT(rms(a.channels[0], kRate / 2, kRate / 2 + kRate / 20), 0.1);
    }
    EXPECT_EQ(labels, std::set<std::string>{"lmms-samples: kick_good"});
    fs::remove(lib / "drums" / "kick_good.wav");
    std::string label;
    try {
        render_sample_kit(kit_part(1, {hit(0, 36)}), song_120(), lib.string(), kRate, kFrames, label);
        ADD_FAILURE() << "no error with only an unreadable kick";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find((lib / "drums").string()), std::string::npos) << e.what();
    }
    fs::remove_all(lib);
}

// The new families join the train pool only: the held-out val pool, and so
// the validation songs, stay as they were.
TEST(SourcePools, SampledKitsAndOpl3AreTrainOnly) {
    for (const auto split : {SourceSplit::Train, SourceSplit::Val}) {
        Rng rng(3);
        int sample_kits = 0, opl3 = 0, picks = 0;
        for (const char* role : {"drums", "bongo", "guira", "bass", "requinto", "hh_bass"})
            for (int i = 0; i < 300; ++i, ++picks) {
                const Source s = pick_source(rng, role, split);
                sample_kits += s.kind == SourceKind::SampleKit;
                opl3 += s.file == "OPL-3_FM_128M.sf2";
            }
        if (split == SourceSplit::Train) {
            EXPECT_GT(sample_kits, 15) << "of " << picks;  // ≈ 11 % of 300 drum parts (60 % are real recordings)
            // Expected ≈ 141 of 1800 (OPL3 kits and presets in the non-real draws of these roles),
            // σ ≈ 11: a bound 3σ under it, so the count of a redrawn pool does not flake.
            EXPECT_GT(opl3, 105) << "of " << picks;
        } else {
            EXPECT_EQ(sample_kits, 0);
            EXPECT_EQ(opl3, 0);
        }
    }
}
