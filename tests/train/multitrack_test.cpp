// Your own stems: the multitrack folder layout (loopsep/multitrack.h), its errors, the MUSDB18 layout,
// data preparation from it, and `loopsep train --resume` fine-tuning on it, then separating and
// benchmarking with the result. Songs are made here from analytic signals at 120 BPM.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

#include "loopsep/error.h"
#include "loopsep/model.h"
#include "loopsep/multitrack.h"
#include "loopsep/safetensors.h"
#include "loopsep/train.h"
#include "test_util.h"

using namespace loopsep;
namespace lt = loopsep::testing;
namespace fs = std::filesystem;

namespace {

constexpr int kRate = 44100;
constexpr double kBeatSec = 0.5;  // 120 BPM: a bar is 2 s

// One instrument of a song, `seconds` long: "drums" (kick on beats, hat on off-beats), "bass" (a
// note per bar), "keys" (a held three-partial chord), "vocals" (a gliding tone on beats 2–3), or a
// quiet "pad" (what a mixture can hold beyond its stems). `song` varies the pitches.
Audio instrument(const std::string& name, double seconds, int song, int channels = 1) {
    Audio a(channels, std::size_t(seconds * kRate), kRate);
    std::uint32_t lcg = 777u + std::uint32_t(song);
    for (std::size_t i = 0; i < a.frames(); ++i) {
        const double t = double(i) / kRate, in_beat = std::fmod(t, kBeatSec);
        const int beat = int(t / kBeatSec), bar = beat / 4;
        lcg = lcg * 1664525u + 1013904223u;
        double v = 0;
        if (name == "drums") {
            const double off = std::fmod(t + kBeatSec / 2, kBeatSec);
            v = (in_beat < 0.15 ? 0.8 * std::sin(2 * M_PI * 55 * in_beat) * std::exp(-in_beat * 25) : 0.0) +
                (off < 0.04 ? 0.3 * (double(lcg >> 8) / double(1u << 24) - 0.5) * std::exp(-off * 120) : 0.0);
        } else if (name == "bass") {
            const double hz = (bar % 2 ? 98.0 : 73.4) * (1.0 + 0.06 * song);
            v = 0.3 * std::sin(2 * M_PI * hz * t) * (0.6 + 0.4 * std::exp(-in_beat * 6));
        } else if (name == "keys") {
            for (double h : {1.0, 1.26, 1.5}) v += 0.08 * std::sin(2 * M_PI * 330 * (1.0 + 0.04 * song) * h * t);
        } else if (name == "vocals") {
            v = (beat % 4 == 1 || beat % 4 == 2) ? 0.2 * std::sin(2 * M_PI * (440 + 60 * in_beat) * t) : 0.0;
        } else if (name == "pad") {
            v = 0.05 * std::sin(2 * M_PI * 523.3 * t);
        }
        for (int c = 0; c < channels; ++c) a.channels[c][i] = float(0.5 * v * (c ? 0.9 : 1.0));  // sums stay < 1
    }
    return a;
}

void write_f32(const std::string& path, const Audio& a) { write_audio(path, a, {FileFormat::Wav, SampleBits::Float32}); }

Audio sum(const std::vector<Audio>& parts) {
    Audio out = parts.at(0);
    for (std::size_t k = 1; k < parts.size(); ++k)
        for (int c = 0; c < out.num_channels(); ++c)
            for (std::size_t i = 0; i < out.frames(); ++i) out.channels[c][i] += parts[k].channels[c % parts[k].num_channels()][i];
    return out;
}

// Song "a": stereo drums, mono bass (FLAC), stereo keys, a mixture holding a quiet pad beyond them,
// and an annotated beats.txt (beat-in-bar column). Returns the pad (the implicit "other").
Audio write_song_a(const std::string& dir, double seconds) {
    fs::create_directories(dir);
    const Audio drums = instrument("drums", seconds, 0, 2), keys = instrument("keys", seconds, 0, 2),
                pad = instrument("pad", seconds, 0, 2);
    write_f32(dir + "/drums.wav", drums);
    write_audio(dir + "/bass.flac", instrument("bass", seconds, 0), {FileFormat::Flac, SampleBits::Int16});
    write_f32(dir + "/keys.wav", keys);
    // The mixture from the stems as stored (the FLAC is 16-bit): its rest is exactly the pad.
    const Audio bass_back = read_audio(dir + "/bass.flac");
    write_f32(dir + "/mixture.wav", sum({drums, bass_back, keys, pad}));
    std::ostringstream beats;
    beats << "# time beat-in-bar\n";
    for (int b = 0; b * kBeatSec < seconds; ++b) beats << b * kBeatSec << "\t" << (b % 4 + 1) << "\n";
    lt::write_text(dir + "/beats.txt", beats.str());
    return pad;
}

// Song "b": stems only (no mixture, no beats.txt: the beats are estimated).
void write_song_b(const std::string& dir, double seconds) {
    fs::create_directories(dir);
    for (const char* name : {"drums", "bass", "keys"}) write_f32(dir + "/" + name + ".wav", instrument(name, seconds, 1, 2));
}

// A decoded MUSDB18 track: {mixture, drums, bass, other, vocals}.wav, stereo; the mixture is their
// sum plus a quiet pad (a mixture that is not quite the sum of its stems).
void write_musdb_track(const std::string& dir, double seconds, int song) {
    fs::create_directories(dir);
    std::vector<Audio> parts;
    for (const char* name : {"drums", "bass", "other", "vocals"}) {
        parts.push_back(instrument(std::string(name) == "other" ? "keys" : name, seconds, song, 2));
        write_audio(dir + "/" + name + ".wav", parts.back(), {});
        parts.back() = read_audio(dir + "/" + name + ".wav", [] { ReadOptions r; r.allow_silent = true; return r; }());
    }
    parts.push_back(instrument("pad", seconds, song, 2));
    write_audio(dir + "/mixture.wav", sum(parts), {});
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double worst = a.size() == b.size() ? 0.0 : INFINITY;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) worst = std::max(worst, double(std::abs(a[i] - b[i])));
    return worst;
}

// The message of the loopsep::Error `f` throws ("" if none).
template <class F> std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(Multitrack, ReadsStemsAndMakesTheMixturesRestTheOtherStem) {
    lt::TempDir dir;
    const Audio pad = write_song_a(dir.file("my/a"), 6.0);
    const MultitrackSong s = read_multitrack_song(dir.file("my/a"));
    EXPECT_EQ(s.name, "my/a");
    ASSERT_EQ(s.instruments, (std::vector<std::string>{"bass", "drums", "keys", "other"}));
    ASSERT_EQ(s.mixture.num_channels(), 2);
    ASSERT_EQ(s.mixture.frames(), std::size_t(6 * kRate));
    for (const Audio& stem : s.stems) {
        ASSERT_EQ(stem.num_channels(), 2);
        ASSERT_EQ(stem.frames(), s.mixture.frames());
    }
    EXPECT_EQ(s.stems[0].channels[0], s.stems[0].channels[1]);  // the mono bass, on both channels
    for (int c = 0; c < 2; ++c) EXPECT_LT(max_abs_diff(s.stems[3].channels[c], pad.channels[c]), 1e-5) << c;
    // The bar starts from beats.txt: every fourth beat, 2 s apart.
    ASSERT_EQ(s.downbeats_sec.size(), 3u);
    EXPECT_DOUBLE_EQ(s.downbeats_sec[1], 2.0);
    // Mono reading (the trainer's view) keeps the same stems, one channel each.
    MultitrackReadOptions mono;
    mono.mono = true;
    const MultitrackSong m = read_multitrack_song(dir.file("my/a"), mono);
    EXPECT_EQ(m.instruments, s.instruments);
    EXPECT_EQ(m.stems[1].num_channels(), 1);
}

TEST(Multitrack, WithoutAMixtureTheMixtureIsTheSumAndAnOtherStemTakesTheRest) {
    lt::TempDir dir;
    write_song_b(dir.file("b"), 4.0);
    const MultitrackSong b = read_multitrack_song(dir.file("b"));
    ASSERT_EQ(b.instruments, (std::vector<std::string>{"bass", "drums", "keys"}));  // no rest, no "other"
    EXPECT_TRUE(b.downbeats_sec.empty());
    EXPECT_LT(max_abs_diff(b.mixture.channels[1], sum(b.stems).channels[1]), 1e-6);
    // MUSDB18: the mixture's rest (the pad) joins the existing "other" stem, so the stems add up to the
    // mixture exactly.
    write_musdb_track(dir.file("t"), 4.0, 2);
    const MultitrackSong t = read_multitrack_song(dir.file("t"));
    ASSERT_EQ(t.instruments, (std::vector<std::string>{"bass", "drums", "other", "vocals"}));
    EXPECT_LT(max_abs_diff(t.mixture.channels[0], sum(t.stems).channels[0]), 1e-6);
}

TEST(Multitrack, BadFoldersGiveOneLineErrorsNamingTheFile) {
    lt::TempDir dir;
    write_song_b(dir.file("s"), 4.0);
    // Lengths: 0.05 s short is padded; 0.5 s short is refused, naming the file and the tolerance.
    write_f32(dir.file("s/bass.wav"), instrument("bass", 3.95, 1));
    EXPECT_EQ(read_multitrack_song(dir.file("s")).stems[0].frames(), std::size_t(4 * kRate));
    write_f32(dir.file("s/bass.wav"), instrument("bass", 3.5, 1));
    const std::string len = error_of([&] { read_multitrack_song(dir.file("s")); });
    EXPECT_NE(len.find(dir.file("s/bass.wav") + ": 3.50 s long, but drums.wav is 4.00 s"), std::string::npos) << len;
    EXPECT_NE(len.find("within 0.1 s"), std::string::npos) << len;
    write_f32(dir.file("s/bass.wav"), instrument("bass", 4.0, 1));
    // An unreadable stem is named.
    lt::write_text(dir.file("s/keys.wav"), "not audio at all");
    EXPECT_NE(error_of([&] { read_multitrack_song(dir.file("s")); }).find(dir.file("s/keys.wav")), std::string::npos);
    fs::remove(dir.file("s/keys.wav"));
    // Two files for one instrument.
    write_audio(dir.file("s/drums.flac"), instrument("drums", 4.0, 1), {FileFormat::Flac, SampleBits::Int16});
    EXPECT_NE(error_of([&] { read_multitrack_song(dir.file("s")); }).find("a second file for instrument 'drums'"),
              std::string::npos);
    // A mixture alone: no stems.
    fs::create_directories(dir.file("m"));
    write_f32(dir.file("m/mixture.wav"), instrument("drums", 4.0, 1));
    EXPECT_NE(error_of([&] { read_multitrack_song(dir.file("m")); }).find(dir.file("m") + ": no stems"), std::string::npos);
    // beats.txt: a bad line is named by file and line; a single column numbers the bars itself.
    lt::write_text(dir.file("beats.txt"), "0.0 1\n0.5 2\nzero 3\n");
    EXPECT_NE(error_of([&] { read_beat_annotation(dir.file("beats.txt")); }).find("beats.txt:3: expected '<time_sec> [<beat_in_bar>]'"),
              std::string::npos);
    lt::write_text(dir.file("beats.txt"), "0.0\n0.5\n0.4\n");
    EXPECT_NE(error_of([&] { read_beat_annotation(dir.file("beats.txt")); }).find("beats.txt:3: beat times must increase"),
              std::string::npos);
    lt::write_text(dir.file("beats.txt"), "0\n0.5\n1\n1.5\n2\n2.5\n3\n3.5\n4\n");
    EXPECT_EQ(read_beat_annotation(dir.file("beats.txt")), (std::vector<double>{0.0, 2.0, 4.0}));
    lt::write_text(dir.file("beats.txt"), "0\n0.5\n");
    EXPECT_NE(error_of([&] { read_beat_annotation(dir.file("beats.txt")); }).find("fewer than two bar starts"),
              std::string::npos);
}

TEST(Multitrack, SongFoldersAreFoundInPlainAndMusdbLayouts) {
    lt::TempDir dir;
    write_song_b(dir.file("my/b"), 2.0);
    write_song_b(dir.file("my/a"), 2.0);
    fs::create_directories(dir.file("my/notes"));  // no audio: not a song
    fs::create_directories(dir.file("my/cut/stems"));  // an interrupted synth song (no meta.json yet): skipped
    write_f32(dir.file("my/cut/mix.wav"), instrument("drums", 2.0, 0));
    fs::create_directories(dir.file("my/s"));
    lt::write_text(dir.file("my/s/meta.json"), "{}");  // a synth song
    const auto found = find_song_folders(dir.file("my"), "train");
    ASSERT_EQ(found.size(), 3u);
    EXPECT_EQ(found[0].dir, dir.file("my/a"));
    EXPECT_FALSE(found[0].synth);
    EXPECT_TRUE(found[2].synth);
    write_musdb_track(dir.file("musdb/train/Artist - Song One"), 2.0, 2);
    write_musdb_track(dir.file("musdb/train/Artist - Song Two"), 2.0, 3);
    write_musdb_track(dir.file("musdb/test/Artist - Song Three"), 2.0, 4);
    EXPECT_EQ(find_song_folders(dir.file("musdb"), "train").size(), 2u);
    ASSERT_EQ(find_song_folders(dir.file("musdb"), "test").size(), 1u);
    EXPECT_EQ(find_song_folders(dir.file("musdb"), "test")[0].dir, dir.file("musdb/test/Artist - Song Three"));
    fs::create_directories(dir.file("empty"));
    EXPECT_NE(error_of([&] { find_song_folders(dir.file("empty"), "train"); }).find(dir.file("empty") + ": no songs inside"),
              std::string::npos);
}

TEST(Multitrack, PreparesWindowsWithAnnotatedOrEstimatedBeats) {
    lt::TempDir dir;
    write_song_a(dir.file("my/a"), 6.0);
    write_song_b(dir.file("my/b"), 6.0);
    PrepareParams p;
    p.data_dirs = {dir.file("my")};
    p.threads = 1;
    std::ostringstream log;
    // Without a beat tracker, the song without beats.txt is an error naming it.
    EXPECT_NE(error_of([&] { prepare_segments(p, ModelConfig(), log); }).find(dir.file("my/b") + ": no beats.txt"),
              std::string::npos);
    int estimated = 0;
    p.estimate_downbeats = [&](const Audio& mix) {
        ++estimated;
        EXPECT_EQ(mix.frames(), std::size_t(6 * kRate));
        return std::vector<double>{0.0, 2.0, 4.0};
    };
    const SegmentCache c = prepare_segments(p, ModelConfig(), log);
    EXPECT_EQ(estimated, 1);  // song b only
    EXPECT_EQ(c.songs, (std::vector<std::string>{"my/a", "my/b"}));
    EXPECT_EQ(c.segments.size(), 2u * 4 + 2u * 3);  // two bars × (4 stems of a, 3 of b)
    EXPECT_EQ(c.instruments, (std::vector<std::string>{"bass", "drums", "keys", "other"}));
    EXPECT_NE(c.description.find("2 multitrack songs (my)"), std::string::npos) << c.description;
    EXPECT_NE(log.str().find("my/a (8 windows, beats from beats.txt)"), std::string::npos) << log.str();
    EXPECT_NE(log.str().find("my/b (6 windows, beats estimated)"), std::string::npos) << log.str();
    for (const auto& seg : c.segments)
        if (c.instruments[seg.instrument] == "drums") EXPECT_TRUE(seg.active);
}

// The documented fine-tune of the shipped model: `loopsep train --data MY --data MUSDB --resume
// models/<shipped> --steps N --lr 1e-4`, then separating with the result and benchmarking it.
TEST(Multitrack, FineTunesTheShippedModelOnOwnStemsThenSeparatesAndBenchmarks) {
    lt::TempDir dir;
    write_song_a(dir.file("my/a"), 8.0);
    write_song_b(dir.file("my/b"), 8.0);
    write_musdb_track(dir.file("musdb/train/Artist - One"), 8.0, 2);
    write_musdb_track(dir.file("musdb/test/Artist - Two"), 8.0, 3);
    const std::string shipped = std::string(LOOPSEP_SOURCE_DIR) + "/" + kShippedModelFile;
    const auto r = lt::run_loopsep("train --data my --data musdb --resume '" + shipped +
                                       "' --steps 3 --batch 2 --lr 1e-4 --threads 1 --quiet --out tuned.safetensors",
                                   dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("3 songs, 5 instruments"), std::string::npos) << r.err;  // MUSDB's test/ is not trained on
    EXPECT_NE(r.err.find("my/a (12 windows, beats from beats.txt)"), std::string::npos) << r.err;  // 3 bars × 4 stems
    const auto b_line = r.err.find("prepared my/b (");
    ASSERT_NE(b_line, std::string::npos) << r.err;
    EXPECT_NE(r.err.substr(b_line, r.err.find('\n', b_line) - b_line).find("beats estimated)"), std::string::npos) << r.err;
    // "done after 3 steps; loss X → Y": both finite and positive.
    const auto at = r.err.find("done after 3 steps; loss ");
    ASSERT_NE(at, std::string::npos) << r.err;
    std::istringstream losses(r.err.substr(at + 25));
    double first = NAN, last = NAN;
    std::string arrow;
    losses >> first >> arrow >> last;
    EXPECT_TRUE(std::isfinite(first) && first > 0) << r.err;
    EXPECT_TRUE(std::isfinite(last) && last > 0) << r.err;
    // The weights moved, and the file says what it was trained on.
    const auto before = read_safetensors(shipped), after = read_safetensors(dir.file("tuned.safetensors"));
    double moved = 0;
    for (const auto& [name, t] : after.tensors) moved = std::max(moved, max_abs_diff(t.values, before.tensors.at(name).values));
    EXPECT_GT(moved, 1e-5);
    const auto tuned = Separator::load(dir.file("tuned.safetensors"));
    EXPECT_EQ(tuned->config().training_steps, Separator::load(shipped)->config().training_steps + 3);
    EXPECT_NE(tuned->config().training_data.find("3 multitrack songs (my, musdb)"), std::string::npos);

    // Separating song a's drums, and its keys — an instrument the shipped model never trained on (the
    // net follows the query, whatever its name) — with bars of song b's stems as the queries. The stems
    // have the mixture's length; the drums are not silent (3 steps at the default --lr 1e-3 silence the
    // shipped model: Adam's first steps after a resume move every weight by about the learning rate).
    write_audio(dir.file("q_drums.wav"), instrument("drums", 2.0, 1));
    write_audio(dir.file("q_keys.wav"), instrument("keys", 2.0, 1));
    const auto s = lt::run_loopsep("separate my/a/mixture.wav --targets drums,keys --query q_drums.wav --query q_keys.wav "
                                   "--query-bpm 120 --outdir out --model tuned.safetensors --quiet",
                                   dir.path());
    ASSERT_EQ(s.exit_code, 0) << s.err;
    ReadOptions silent_ok;
    silent_ok.allow_silent = true;
    const Audio drums = read_audio(dir.file("out/mixture/drums.wav"), silent_ok);
    EXPECT_EQ(drums.frames(), std::size_t(8 * kRate));
    EXPECT_EQ(read_audio(dir.file("out/mixture/keys.wav"), silent_ok).frames(), std::size_t(8 * kRate));
    EXPECT_GT(drums.rms(), 1e-3) << s.err;  // above −60 dBFS

    // The separation benchmark takes the multitrack folder as it is (queries: the other song's bars).
#ifndef LOOPSEP_BENCH_SEPARATE
    GTEST_SKIP() << "bench_separate is not built";
#else
    const std::string bench = std::string(LOOPSEP_BENCH_SEPARATE) + " --data " + dir.file("my") + " --model " +
                              dir.file("tuned.safetensors") + " --variants query --threads 1 > " + dir.file("bench.txt") +
                              " 2>&1";
    ASSERT_EQ(WEXITSTATUS(std::system(bench.c_str())), 0) << lt::read_text(dir.file("bench.txt"));
    const std::string table = lt::read_text(dir.file("bench.txt"));
    EXPECT_NE(table.find("mean over 2 songs"), std::string::npos) << table;
    for (const char* row : {"\nbass ", "\ndrums ", "\nkeys "}) EXPECT_NE(table.find(row), std::string::npos) << row << table;
#endif
}
