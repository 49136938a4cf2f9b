// Recorded loops chopped onto the song grid (render_loops.cpp): onset
// detection, slicing real sonic-pi loops, the Chop and Stretch modes, the
// file pools and their guards.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <unistd.h>

#include "loopsep/error.h"
#include "render.h"
#include "render_loops.h"
#include "reserved.h"

using namespace loopsep;
using namespace loopsep::synth;
namespace fs = std::filesystem;

namespace {

constexpr int kRate = 44100;

// A decaying noise burst (a hit), with 0.5 ms of rise.
void add_hit(std::vector<float>& x, std::size_t at, float amp, std::uint64_t seed) {
    Rng rng(seed);
    for (std::size_t i = 0; i < std::size_t(kRate / 10) && at + i < x.size(); ++i) {
        const double rise = std::min(1.0, double(i) / 22.0);
        x[at + i] += float(amp * rise * std::exp(-double(i) / (0.012 * kRate)) * rng.uniform(-1.0, 1.0));
    }
}

// Song with `bars` bars at `bpm` (beat 0 at 0.5 s); `drift` bends every beat by up to ±1 %.
Song song_at(double bpm, int bars, bool drift = false) {
    Song s;
    s.bpm = bpm;
    s.bars = bars;
    double t = 0.5;
    for (int b = 0; b <= 4 * bars; ++b) {
        s.tempo.beat_sec.push_back(t);
        t += 60.0 / bpm * (drift ? 1.0 + 0.01 * std::sin(0.7 * b) : 1.0);
    }
    return s;
}

std::size_t frames_for(const Song& s) { return std::size_t((s.tempo.beat_sec.back() + 1.0) * kRate); }
std::size_t frame_of(const Song& s, double beat) { return onset_frame(s, beat, 0.0, kRate); }

Part loop_part(const std::string& file, std::uint64_t variant, const std::vector<int>& bars) {
    Part p;
    p.stem = "drums";
    p.role = "drums";
    p.source.kind = SourceKind::RecordedLoop;
    p.source.file = file;
    p.source.variant = variant;
    for (int b : bars)
        for (int beat = 0; beat < 4; ++beat) p.notes.push_back({4.0 * b + beat, 0.25, 36, 100, 0.0});
    return p;
}

// The first variant (from 1) whose drawn mode is `mode`.
std::uint64_t variant_for(LoopMode mode) {
    std::uint64_t v = 1;
    while (drawn_loop_mode(v) != mode) ++v;
    return v;
}

// A test loop, `bars` bars at 100 BPM: noise hits on 16th slots (the same
// pattern every bar), over a faint noise floor (so a stretched cycle never has
// exact zeros of its own).
struct TestLoop {
    fs::path dir, file;
    std::vector<int> slots = {0, 2, 4, 6, 7, 8, 10, 12, 14};
    explicit TestLoop(int bars = 1) {
        dir = fs::temp_directory_path() / ("loopsep_loops_test_" + std::to_string(::getpid()));
        fs::create_directories(dir);
        file = dir / "test_break.wav";
        for (int b = 1; b < bars; ++b)
            for (int i = 0; i < 9; ++i) slots.push_back(16 * b + slots[std::size_t(i)]);
        const double slot_sec = 60.0 / 100.0 / 4.0;
        Audio a(1, std::size_t(std::lround(16 * bars * slot_sec * kRate)), kRate);
        Rng floor_rng(99);
        for (auto& v : a.channels[0]) v = float(1e-3 * floor_rng.uniform(-1.0, 1.0));
        for (std::size_t i = 0; i < slots.size(); ++i)
            add_hit(a.channels[0], std::size_t(std::lround(slots[i] * slot_sec * kRate)), slots[i] % 4 == 0 ? 0.8f : 0.4f, i + 1);
        write_audio(file.string(), a);
    }
    ~TestLoop() { fs::remove_all(dir); }
};

// Distance (frames) from `f` to the nearest of `targets`.
long nearest(const std::vector<std::size_t>& targets, std::size_t f) {
    long best = 1L << 40;
    for (std::size_t t : targets) best = std::min(best, std::labs(long(t) - long(f)));
    return best;
}

std::vector<float> mono(const Audio& a) { return a.mono(); }

}  // namespace

// Clicks at irregular, known times over a noise floor: every one found, within 5 ms, nothing else.
TEST(RecordedLoops, OnsetsOfASyntheticClickTrain) {
    const std::vector<double> times = {0.100, 0.351, 0.520, 0.903, 1.230, 1.502, 2.011, 2.600, 2.777};
    std::vector<float> x(std::size_t(3 * kRate), 0.0f);
    Rng rng(7);
    for (auto& v : x) v = float(3e-4 * rng.uniform(-1.0, 1.0));
    for (std::size_t i = 0; i < times.size(); ++i)
        add_hit(x, std::size_t(std::lround(times[i] * kRate)), i % 3 == 0 ? 0.9f : 0.3f, 10 + i);
    const auto onsets = detect_onsets(x, kRate);
    ASSERT_EQ(onsets.size(), times.size());
    for (std::size_t i = 0; i < times.size(); ++i)
        EXPECT_LE(std::fabs(double(onsets[i]) / kRate - times[i]), 0.005) << "click " << i << " at " << times[i];
}

// Every loop in the pools decodes, gets a tempo and a plausible slicing.
TEST(RecordedLoops, RealLoopsSliceIntoPlausiblePieces) {
    for (const char* role : {"drums", "bongo", "guira"})
        for (bool held_out : {false, true})
            for (const auto& path : recorded_loops_for(role, held_out)) {
                const SlicedLoop loop = load_sliced_loop(path, kRate);
                const auto on = detect_onsets(loop.audio.mono(), kRate);
                std::printf("%-22s %-6s %s bpm %6.1f beats %2d sec %5.2f onsets %3zu slices %3zu\n",
                            fs::path(path).filename().c_str(), role, held_out ? "held" : "train", loop.bpm,
                            loop.beats, loop.audio.duration_sec(), on.size(), loop.slots.size());
                EXPECT_GE(int(loop.slots.size()), loop.beats) << path;      // at least a hit a beat
                EXPECT_LE(int(loop.slots.size()), 4 * loop.beats) << path;  // at most one per 16th
                EXPECT_TRUE(std::is_sorted(loop.start_frames.begin(), loop.start_frames.end())) << path;
            }
    // One break in detail: one bar at 97 BPM, a hit on most 8ths, never all 16ths.
    const SlicedLoop m = load_sliced_loop(std::string(kRecordedLoopsDir) + "/loop_mehackit1.flac", kRate);
    EXPECT_EQ(m.beats, 4);
    EXPECT_NEAR(m.bpm, 97.0, 0.5);
    EXPECT_GE(m.slots.size(), 8u);
    EXPECT_LE(m.slots.size(), 14u);
}

// Chop at 90 BPM (the test loop is 100 BPM): every slice's hit lands on its
// grid slot in the song, nothing lands off the grid, and the bar without
// notes is silent.
TEST(RecordedLoops, ChopPlacesSlicesOnTheSongGridAndRestsInBarsWithoutNotes) {
    const TestLoop tl;
    const Song song = song_at(90.0, 4);
    const Part part = loop_part(tl.file.string(), variant_for(LoopMode::Chop), {0, 1, 3});
    std::string label;
    const Audio a = render_recorded_loop(part, song, kRate, frames_for(song), label);
    EXPECT_NE(label.find("chop"), std::string::npos) << label;
    const SlicedLoop loop = load_sliced_loop(tl.file.string(), kRate);
    ASSERT_EQ(loop.slots, tl.slots);  // every hit its own slice, on its own slot
    std::vector<std::size_t> expected, grid;
    for (int bar : {0, 1, 3})
        for (int s : loop.slots) expected.push_back(frame_of(song, 4.0 * bar + s / 4.0));
    for (int q = 0; q < 4 * 16; ++q) grid.push_back(frame_of(song, q / 4.0));
    const auto found = detect_onsets(mono(a), kRate);
    const long tol = long(0.010 * kRate);
    for (std::size_t e : expected) EXPECT_LE(nearest(found, e), tol) << "no hit near " << double(e) / kRate << " s";
    for (std::size_t f : found) EXPECT_LE(nearest(grid, f), tol) << "hit off the grid at " << double(f) / kRate << " s";
    EXPECT_EQ(found.size(), expected.size());
    // Bar 2: nothing at all (the fade into it ends at its downbeat).
    float peak = 0.0f;
    for (const auto& ch : a.channels)
        for (std::size_t i = frame_of(song, 8.0); i < frame_of(song, 12.0); ++i) peak = std::max(peak, std::fabs(ch[i]));
    EXPECT_EQ(peak, 0.0f);
    // ...while bar 1 plays.
    double e1 = 0.0;
    for (std::size_t i = frame_of(song, 4.0); i < frame_of(song, 8.0); ++i) e1 += double(a.channels[0][i]) * a.channels[0][i];
    EXPECT_GT(e1, 1.0);
}

// The same on a real break: the hits the output has sit on the song's 16th grid.
TEST(RecordedLoops, ChopOfARealBreakAt90BpmHitsTheGrid) {
    const std::string path = std::string(kRecordedLoopsDir) + "/loop_mehackit1.flac";
    const Song song = song_at(90.0, 4);
    const Audio a = [&] {
        std::string label;
        return render_recorded_loop(loop_part(path, variant_for(LoopMode::Chop), {0, 1, 2, 3}), song, kRate,
                                    frames_for(song), label);
    }();
    const SlicedLoop loop = load_sliced_loop(path, kRate);
    ASSERT_EQ(loop.beats, 4);  // 2.474 s: one bar at 97 BPM
    std::vector<std::size_t> slots_in_song;
    for (int bar = 0; bar < 4; ++bar)
        for (int s : loop.slots) slots_in_song.push_back(frame_of(song, 4.0 * bar + s / 4.0));
    const auto found = detect_onsets(mono(a), kRate);
    const long tol = long(0.010 * kRate);
    int on_slot = 0;
    for (std::size_t f : found) on_slot += nearest(slots_in_song, f) <= tol;
    std::printf("real chop: %zu onsets, %d on a slice slot, %zu slots\n", found.size(), on_slot, slots_in_song.size());
    EXPECT_GE(found.size(), slots_in_song.size() * 3 / 4);
    EXPECT_GE(on_slot, int(found.size() * 9 / 10));
}

// Stretch: every cycle takes exactly its frames in the song (here with a
// drifting tempo): the output starts on the first downbeat, has no gap or
// overlap seam anywhere, and ends exactly at the end of the last active bar,
// even though the 2-bar loop's second cycle runs on into the silent bar 3.
TEST(RecordedLoops, StretchFillsExactlyTheActiveBars) {
    const TestLoop tl(2);
    const Song song = song_at(90.0, 4, /*drift=*/true);
    const Part part = loop_part(tl.file.string(), variant_for(LoopMode::Stretch), {0, 1, 2});
    std::string label;
    const Audio a = render_recorded_loop(part, song, kRate, frames_for(song), label);
    EXPECT_NE(label.find("stretch"), std::string::npos) << label;
    const std::size_t start = frame_of(song, 0.0), end = frame_of(song, 12.0);
    std::size_t first = a.frames(), last = 0, zeros_inside = 0;
    for (std::size_t i = 0; i < a.frames(); ++i) {
        const bool nz = a.channels[0][i] != 0.0f;
        if (nz) first = std::min(first, i), last = i;
        if (!nz && i >= start && i < end) ++zeros_inside;
    }
    EXPECT_EQ(first, start);
    EXPECT_EQ(last, end - 1);
    EXPECT_LE(zeros_inside, 2u);
    // The stretched hits land on the drifting grid too, within 5 ms (Rubber Band keeps
    // transients in place; a cycle stretched evenly, not beat by beat, is 15 ms off).
    std::vector<std::size_t> expected;
    for (int bar = 0; bar < 3; ++bar)
        for (int s = 0; s < 9; ++s) expected.push_back(frame_of(song, 4.0 * bar + tl.slots[std::size_t(s)] / 4.0));
    const auto found = detect_onsets(mono(a), kRate);
    long worst = 0;
    for (std::size_t e : expected) worst = std::max(worst, nearest(found, e));
    std::printf("stretch: worst hit %.2f ms from its grid time\n", 1000.0 * worst / kRate);
    for (std::size_t e : expected) EXPECT_LE(nearest(found, e), long(0.005 * kRate)) << double(e) / kRate;
}

TEST(RecordedLoops, SameVariantSameSamples) {
    const std::string path = std::string(kRecordedLoopsDir) + "/loop_perc1.flac";
    const Song song = song_at(92.0, 4);
    for (LoopMode mode : {LoopMode::Stretch, LoopMode::Chop, LoopMode::Vinyl}) {
        const std::uint64_t v = variant_for(mode);
        std::string l1, l2;
        const Audio a = render_recorded_loop(loop_part(path, v, {0, 1, 3}), song, kRate, frames_for(song), l1);
        const Audio b = render_recorded_loop(loop_part(path, v, {0, 1, 3}), song, kRate, frames_for(song), l2);
        EXPECT_EQ(a.channels, b.channels) << loop_mode_name(mode);
        EXPECT_EQ(l1, l2);
    }
    // Chop's edits come from the variant: another Chop variant, other samples.
    std::uint64_t v1 = variant_for(LoopMode::Chop), v2 = v1 + 1;
    while (drawn_loop_mode(v2) != LoopMode::Chop) ++v2;
    std::string l1, l2;
    const Audio a = render_recorded_loop(loop_part(path, v1, {0, 1, 2, 3}), song, kRate, frames_for(song), l1);
    const Audio c = render_recorded_loop(loop_part(path, v2, {0, 1, 2, 3}), song, kRate, frames_for(song), l2);
    EXPECT_NE(a.channels, c.channels);
}

// Vinyl: within ±12 % the whole record is resampled (pitch and tempo together).
TEST(RecordedLoops, VinylOnlyWithinTwelvePercent) {
    const std::string path = std::string(kRecordedLoopsDir) + "/loop_perc1.flac";  // 97 BPM
    const std::uint64_t v = variant_for(LoopMode::Vinyl);
    std::string near_label, far_label;
    const Song near = song_at(90.0, 2), far = song_at(70.0, 2);
    render_recorded_loop(loop_part(path, v, {0, 1}), near, kRate, frames_for(near), near_label);
    render_recorded_loop(loop_part(path, v, {0, 1}), far, kRate, frames_for(far), far_label);
    EXPECT_NE(near_label.find("vinyl"), std::string::npos) << near_label;
    EXPECT_NE(far_label.find("chop"), std::string::npos) << far_label;  // 97 → 70 is −28 %
}

TEST(RecordedLoops, AReservedLoopIsRefusedEvenWhenAskedForByName) {
    const Song song = song_at(90.0, 2);
    for (const char* f : {"loop_amen.flac", "loop_amen_full.flac", "loop_breakbeat.flac"}) {
        const std::string path = std::string(kRecordedLoopsDir) + "/" + f;
        std::string label;
        try {
            render_recorded_loop(loop_part(path, 1, {0}), song, kRate, frames_for(song), label);
            ADD_FAILURE() << "rendered " << path;
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::Input);
            EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
        }
        EXPECT_THROW(load_sliced_loop(path, kRate), Error);
    }
    // No pool lists one, and no draw returns one.
    Rng rng(5);
    for (const char* role : {"drums", "bongo", "guira"}) {
        for (bool held : {false, true})
            for (const auto& p : recorded_loops_for(role, held)) EXPECT_FALSE(is_reserved_source(p)) << p;
        for (int i = 0; i < 50; ++i) {
            const Source s = pick_recorded_loop(rng, role);
            EXPECT_EQ(s.kind, SourceKind::RecordedLoop);
            EXPECT_FALSE(is_reserved_source(s.file)) << s.file;
        }
    }
}

TEST(RecordedLoops, ACorruptLoopFileIsAnInputErrorNamingIt) {
    const fs::path dir = fs::temp_directory_path() / ("loopsep_loops_bad_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const fs::path bad = dir / "loop_broken.flac";
    std::ofstream(bad) << "fLaC but then nothing a decoder could read";
    const Song song = song_at(90.0, 2);
    std::string label;
    try {
        render_recorded_loop(loop_part(bad.string(), 1, {0}), song, kRate, frames_for(song), label);
        ADD_FAILURE() << "rendered a corrupt file";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Input);
        EXPECT_NE(std::string(e.what()).find(bad.string()), std::string::npos) << e.what();
    }
    fs::remove_all(dir);
}

// Train and held-out files: both non-empty for every role, disjoint, about a
// third held out, all installed; the train draw covers the train files and
// only those.
TEST(RecordedLoops, HeldOutFilesAreAboutAThirdAndDisjoint) {
    for (const char* role : {"drums", "bongo", "guira"}) {
        const auto train = recorded_loops_for(role, false), held = recorded_loops_for(role, true);
        ASSERT_FALSE(train.empty()) << role;
        ASSERT_FALSE(held.empty()) << role;
        const double share = double(held.size()) / double(train.size() + held.size());
        EXPECT_GE(share, 0.25) << role;
        EXPECT_LE(share, 0.4) << role;
        for (const auto& h : held) EXPECT_EQ(std::count(train.begin(), train.end(), h), 0) << h;
        for (const auto& p : train) EXPECT_TRUE(fs::is_regular_file(p)) << p;
        for (const auto& p : held) EXPECT_TRUE(fs::is_regular_file(p)) << p;
        Rng rng(11);
        std::set<std::string> drawn;
        for (int i = 0; i < 200; ++i) drawn.insert(pick_recorded_loop(rng, role).file);
        EXPECT_EQ(drawn, std::set<std::string>(train.begin(), train.end())) << role;
    }
    EXPECT_THROW(recorded_loops_for("rap", false), Error);
}
