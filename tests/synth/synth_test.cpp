// Tests for the synthetic multitrack generator (loopsep_synth / `loopsep synth`).
// Songs are rendered once per suite (20 s, the minimum) into a temp folder.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <set>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "loopsep/audio.h"
#include "loopsep/error.h"
#include "loopsep/synth.h"
#include "rng.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace loopsep;

namespace {

fs::path suite_dir() {
    static const fs::path dir = [] {
        fs::path d = fs::temp_directory_path() / ("loopsep_synth_test_" + std::to_string(::getpid()));
        fs::remove_all(d);
        fs::create_directories(d);
        return d;
    }();
    return dir;
}

synth::SynthParams params(synth::Genre g, std::uint64_t seed, const std::string& sub) {
    synth::SynthParams p;
    p.genre = g;
    p.seed = seed;
    p.songs = 1;
    p.duration_sec = 20.0;
    p.loops = true;
    p.quiet = true;
    p.out_dir = (suite_dir() / sub).string();
    return p;
}

// Renders (once) and returns the song folder.
fs::path song(synth::Genre g, std::uint64_t seed, const std::string& sub, int index = 0) {
    auto p = params(g, seed, sub);
    const fs::path dir = fs::path(p.out_dir) / synth::song_name(p, index);
    if (!fs::exists(dir / "meta.json")) {
        p.first_index = index;
        synth::render_songs(p);
    }
    return dir;
}

json load_json(const fs::path& path) {
    std::ifstream in(path);
    return json::parse(in);
}

std::string bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

Audio read_any(const fs::path& p) {
    ReadOptions o;
    o.target_rate_hz = 0;
    o.allow_silent = true;
    return read_audio(p.string(), o);
}

double rms_between(const Audio& a, double t0, double t1) {
    const std::size_t s = std::size_t(std::max(0.0, t0) * a.sample_rate_hz);
    const std::size_t e = std::min(a.frames(), std::size_t(t1 * a.sample_rate_hz));
    double sum = 0;
    std::size_t n = 0;
    for (const auto& ch : a.channels)
        for (std::size_t i = s; i < e; ++i, ++n) sum += double(ch[i]) * ch[i];
    return n ? std::sqrt(sum / n) : 0.0;
}

int run_cli(const std::string& args) {
    const std::string cmd = std::string(LOOPSEP_BINARY) + " synth " + args + " >/dev/null 2>&1";
    const int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

class SynthGenre : public ::testing::TestWithParam<synth::Genre> {};

}  // namespace

TEST_P(SynthGenre, StemsSumToMixAndSongIsLongEnough) {
    const auto dir = song(GetParam(), 7, "a");
    const Audio mix = read_any(dir / "mix.wav");
    EXPECT_EQ(mix.sample_rate_hz, 44100);
    EXPECT_EQ(mix.num_channels(), 2);
    EXPECT_GE(mix.duration_sec(), 20.0);
    Audio sum(mix.num_channels(), mix.frames(), mix.sample_rate_hz);
    for (const auto& inst : synth::genre_instruments(GetParam())) {
        const Audio s = read_any(dir / "stems" / (inst + ".wav"));
        ASSERT_EQ(s.frames(), mix.frames()) << inst;
        EXPECT_GT(s.rms(), 1e-4) << inst << " stem is silent";
        for (int c = 0; c < mix.num_channels(); ++c)
            for (std::size_t i = 0; i < s.frames(); ++i) sum.channels[c][i] += s.channels[c][i];
    }
    double worst = 0;
    for (int c = 0; c < mix.num_channels(); ++c)
        for (std::size_t i = 0; i < mix.frames(); ++i)
            worst = std::max(worst, double(std::fabs(sum.channels[c][i] - mix.channels[c][i])));
    // A train mixture may have been through MP3 (production.h), recorded in meta.json:
    // then the stems are the clean contributions and the mix only approximates their sum.
    const json m = load_json(dir / "meta.json");
    const bool codec = m.contains("production") && !m["production"]["codec"].is_null();
    EXPECT_LE(worst, codec ? 0.5 : 1e-4);
    EXPECT_GT(mix.peak(), 0.3f);
    EXPECT_LT(mix.peak(), 1.0f);
}

TEST_P(SynthGenre, BeatsFollowTheTempo) {
    const json m = load_json(song(GetParam(), 7, "a") / "meta.json");
    EXPECT_EQ(m["genre"], synth::genre_name(GetParam()));
    const double bpm = m["bpm"];
    // A train song may be sped up or slowed down as a whole (production.h): the genre's
    // range holds for the tempo before that.
    const double nominal = bpm / (m.contains("production") ? m["production"]["speed"].get<double>() : 1.0);
    if (GetParam() == synth::Genre::Bachata) {
        EXPECT_GE(nominal, 115.0);
        EXPECT_LE(nominal, 140.0);
    } else {
        EXPECT_GE(nominal, 75.0);
        EXPECT_LE(nominal, 100.0);
    }
    const auto beats = m["beats"].get<std::vector<double>>();
    const auto downbeats = m["downbeats"].get<std::vector<double>>();
    ASSERT_GE(beats.size(), 16u);
    for (std::size_t i = 1; i < beats.size(); ++i) {
        const double local = 60.0 / (beats[i] - beats[i - 1]);
        EXPECT_NEAR(local, bpm, bpm * 0.03) << "beat " << i;  // drift stays within ±3 %
    }
    ASSERT_EQ(downbeats.size(), (beats.size() + 3) / 4);
    for (std::size_t k = 0; k < downbeats.size(); ++k) EXPECT_DOUBLE_EQ(downbeats[k], beats[4 * k]);
    // Sections start on downbeats, in order, and name known sections.
    double prev = -1;
    for (const auto& s : m["sections"]) {
        const double t = s[0];
        EXPECT_GT(t, prev);
        prev = t;
        bool on_downbeat = false;
        for (double d : downbeats) on_downbeat |= std::fabs(d - t) < 1e-5;
        EXPECT_TRUE(on_downbeat) << s;
    }
    // Every stem names its sources.
    for (const auto& inst : synth::genre_instruments(GetParam())) {
        ASSERT_TRUE(m["stems"].contains(inst)) << inst;
        EXPECT_FALSE(m["stems"][inst]["sources"].empty()) << inst;
    }
}

TEST_P(SynthGenre, PresenceMatchesStemEnergy) {
    const auto dir = song(GetParam(), 7, "a");
    const json m = load_json(dir / "meta.json");
    const double end = read_any(dir / "mix.wav").duration_sec();
    for (const auto& inst : synth::genre_instruments(GetParam())) {
        const Audio s = read_any(dir / "stems" / (inst + ".wav"));
        const auto iv = m["presence"][inst];
        ASSERT_FALSE(iv.empty()) << inst;
        double inside = 0, inside_n = 0;
        double prev_end = 0;
        for (const auto& p : iv) {
            const double a = p[0], b = p[1];
            EXPECT_LT(a, b);
            EXPECT_GE(a, prev_end);
            inside += rms_between(s, a, b) * (b - a);
            inside_n += b - a;
            // Gaps of over a second between intervals are (nearly) silent.
            if (a - prev_end > 1.0) EXPECT_LT(rms_between(s, prev_end + 0.2, a - 0.2), 1e-3) << inst;
            prev_end = b;
        }
        if (end - prev_end > 1.0) EXPECT_LT(rms_between(s, prev_end + 0.2, end), 1e-3) << inst;
        EXPECT_GT(inside / inside_n, 3e-3) << inst;
    }
}

TEST(Synth, BongoIsSilentInTheMamboAndTheCowbellPlays) {
    const auto dir = song(synth::Genre::Bachata, 7, "a");
    const json m = load_json(dir / "meta.json");
    const Audio bongo = read_any(dir / "stems" / "bongo.wav");
    const auto& secs = m["sections"];
    int mambos = 0;
    for (std::size_t k = 0; k + 1 < secs.size(); ++k) {
        if (secs[k][1] != "mambo") continue;
        ++mambos;
        const double a = double(secs[k][0]) + 1.0, b = secs[k + 1][0];
        ASSERT_GT(b, a);
        EXPECT_LT(rms_between(bongo, a, b - 0.05), 0.01 * bongo.rms());  // the outro hit may come 10 ms early
        for (const auto& p : m["presence"]["bongo"]) EXPECT_FALSE(double(p[0]) < b - 0.1 && double(p[1]) > a + 0.5) << p;
        bool cowbell = false;
        for (const auto& p : m["presence"]["other"]) cowbell |= double(p[0]) <= a && double(p[1]) >= b;
        EXPECT_TRUE(cowbell);
    }
    EXPECT_GE(mambos, 1);
}

TEST_P(SynthGenre, LoopsAreFourBeatsAtTheirTempo) {
    const auto dir = song(GetParam(), 7, "a");
    const json loops = load_json(dir / "loops" / "loops.json");
    ASSERT_TRUE(loops.is_array());
    std::set<std::string> instruments;
    for (const auto& l : loops) {
        for (const char* key : {"file", "instrument", "genre", "section", "bpm", "beats", "key", "source"})
            ASSERT_TRUE(l.contains(key)) << key;
        EXPECT_EQ(l["genre"], synth::genre_name(GetParam()));
        EXPECT_EQ(l["beats"], 4);
        const Audio a = read_any(dir / "loops" / l["file"].get<std::string>());
        const double expected = 4.0 * 60.0 / l["bpm"].get<double>() * a.sample_rate_hz;
        EXPECT_NEAR(double(a.frames()), expected, 1.0) << l["file"];
        EXPECT_GT(a.rms(), 1e-4) << l["file"];
        instruments.insert(l["instrument"].get<std::string>());
    }
    for (const auto& inst : synth::genre_instruments(GetParam())) EXPECT_TRUE(instruments.count(inst)) << inst;
}

TEST_P(SynthGenre, SameSeedIsBitIdenticalAndShardingDoesNotMatter) {
    // Songs 0 and 1 in one run, then song 1 alone: song 1 must match byte for byte.
    auto p = params(GetParam(), 11, "shard_all");
    p.songs = 2;
    synth::render_songs(p);
    auto q = params(GetParam(), 11, "shard_one");
    q.first_index = 1;
    synth::render_songs(q);
    const fs::path a = fs::path(p.out_dir) / synth::song_name(p, 1), b = fs::path(q.out_dir) / synth::song_name(q, 1);
    int compared = 0;
    for (const auto& e : fs::recursive_directory_iterator(a)) {
        if (!e.is_regular_file()) continue;
        const fs::path rel = fs::relative(e.path(), a);
        ASSERT_TRUE(fs::exists(b / rel)) << rel;
        EXPECT_TRUE(bytes(e.path()) == bytes(b / rel)) << rel << " differs";
        ++compared;
    }
    EXPECT_GE(compared, 7);
    // Songs 0 and 1 (different derived seeds) differ.
    EXPECT_FALSE(bytes(fs::path(p.out_dir) / synth::song_name(p, 0) / "mix.wav") == bytes(a / "mix.wav"));
}

TEST(Synth, DifferentSeedsDiffer) {
    const auto a = song(synth::Genre::HipHop, 7, "a");
    const auto b = song(synth::Genre::HipHop, 8, "b");
    EXPECT_FALSE(bytes(a / "mix.wav") == bytes(b / "mix.wav"));
    EXPECT_FALSE(bytes(a / "meta.json") == bytes(b / "meta.json"));
}

TEST(Synth, FixedBpmMonoFloatAndValSplit) {
    auto p = params(synth::Genre::Bachata, 3, "opts");
    p.bpm = 128.0;
    p.mono = true;
    p.loops = false;
    p.format = synth::StemFormat::Float32;
    p.split = synth::SourceSplit::Val;
    p.sample_rate_hz = 32000;
    synth::render_songs(p);
    const fs::path dir = fs::path(p.out_dir) / synth::song_name(p, 0);
    const json m = load_json(dir / "meta.json");
    EXPECT_EQ(m["bpm"], 128.0);
    EXPECT_EQ(m["split"], "val");
    EXPECT_FALSE(m["tempo_drift"].get<bool>());
    const auto beats = m["beats"].get<std::vector<double>>();
    for (std::size_t i = 1; i < beats.size(); ++i) EXPECT_NEAR(beats[i] - beats[i - 1], 60.0 / 128.0, 2e-6);
    const Audio mix = read_any(dir / "mix.wav");
    EXPECT_EQ(mix.num_channels(), 1);
    EXPECT_EQ(mix.sample_rate_hz, 32000);
    EXPECT_FALSE(fs::exists(dir / "loops"));
    // val sources never use the training soundfonts
    for (auto& [inst, info] : m["stems"].items())
        for (const auto& s : info["sources"]) {
            const std::string src = s["source"];
            EXPECT_EQ(src.find("FluidR3"), std::string::npos) << src;
            EXPECT_EQ(src.find("Black_Pearl"), std::string::npos) << src;
            EXPECT_EQ(src.find("train variant"), std::string::npos) << src;
        }
}

TEST_P(SynthGenre, TrainSourcesNeverUseValTimbres) {
    const json m = load_json(song(GetParam(), 7, "a") / "meta.json");
    EXPECT_EQ(m["split"], "train");
    for (auto& [inst, info] : m["stems"].items())
        for (const auto& s : info["sources"]) {
            const std::string src = s["source"];
            for (const char* val : {"TimGM6mb", "sf_GMbank", "Red_Zeppelin", "val variant"})
                EXPECT_EQ(src.find(val), std::string::npos) << src;
        }
}

TEST(Synth, BadParametersAreUsageErrors) {
    auto p = params(synth::Genre::Bachata, 1, "bad");
    p.duration_sec = 5.0;
    EXPECT_THROW(synth::render_songs(p), Error);
    p = params(synth::Genre::Bachata, 1, "bad");
    p.out_dir.clear();
    EXPECT_THROW(p.validate(), Error);
    EXPECT_THROW(synth::parse_genre("salsa"), Error);
    EXPECT_THROW(synth::parse_split("test"), Error);
    p = params(synth::Genre::Bachata, 1, "bad");
    p.soundfont_dir = (suite_dir() / "no_such_dir").string();
    try {
        synth::render_songs(p);
        FAIL() << "missing soundfonts must throw";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Input);
    }
}

TEST(SynthCli, UsageErrorsExitTwo) {
    const std::string out = (suite_dir() / "cli").string();
    EXPECT_EQ(run_cli("--help"), 0);
    EXPECT_EQ(run_cli("--songs 1 --out " + out), 2);                      // no --genre
    EXPECT_EQ(run_cli("--genre salsa --out " + out), 2);
    EXPECT_EQ(run_cli("--genre bachata --out " + out + " --duration-sec 10"), 2);
    EXPECT_EQ(run_cli("--genre bachata --out " + out + " --bpm fast"), 2);
    EXPECT_EQ(run_cli("--genre bachata --out " + out + " --bogus"), 2);
    EXPECT_FALSE(fs::exists(fs::path(out) / "bachata_1_0000"));
}

TEST(SynthCli, WritesASong) {
    const std::string out = (suite_dir() / "cli_ok").string();
    ASSERT_EQ(run_cli("--genre hiphop --songs 1 --seed 5 --duration-sec 20 --quiet --loops --out " + out), 0);
    EXPECT_TRUE(fs::exists(fs::path(out) / "hiphop_5_0000" / "mix.wav"));
    EXPECT_TRUE(fs::exists(fs::path(out) / "hiphop_5_0000" / "loops" / "loops.json"));
    for (const char* s : {"drums", "bass", "vocals", "other"})
        EXPECT_TRUE(fs::exists(fs::path(out) / "hiphop_5_0000" / "stems" / (std::string(s) + ".wav"))) << s;
}

namespace {
// Removes the suite's temporary folder at the end.
class Cleanup : public ::testing::Environment {
public:
    void TearDown() override { fs::remove_all(suite_dir()); }
};
const auto* const kCleanup = ::testing::AddGlobalTestEnvironment(new Cleanup);
}  // namespace

INSTANTIATE_TEST_SUITE_P(Genres, SynthGenre, ::testing::Values(synth::Genre::Bachata, synth::Genre::HipHop),
                         [](const auto& info) { return synth::genre_name(info.param); });

// The own synths' training parameters may lie on both sides of the held-out validation range: draws
// never fall inside it, reach both sides in proportion to their widths, and stay within the outer range.
TEST(SynthRng, UniformAroundSkipsTheGapAndFillsBothSides) {
    loopsep::synth::Rng rng(7);
    int below = 0, above = 0;
    double lo = 1e9, hi = -1e9;
    for (int i = 0; i < 20000; ++i) {
        const double x = rng.uniform_around(370, 480, 560, 650);  // the bongo's pitch: 110 Hz below, 90 above
        EXPECT_FALSE(x > 480 && x < 560) << x;
        (x < 480 ? below : above)++;
        lo = std::min(lo, x);
        hi = std::max(hi, x);
    }
    EXPECT_NEAR(double(below) / 20000, 110.0 / 200.0, 0.02);
    EXPECT_NEAR(double(above) / 20000, 90.0 / 200.0, 0.02);
    EXPECT_GE(lo, 370.0);
    EXPECT_LT(lo, 371.0);
    EXPECT_LE(hi, 650.0);
    EXPECT_GT(hi, 649.0);
}
