// `loopsep beats` end to end: JSON shape, text output, bad input → exit 1 and one line.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "loopsep/audio.h"
#include "signals.h"

namespace fs = std::filesystem;

namespace {

struct Result {
    int rc;
    std::string out, err;
};

class BeatsCli : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("loopsep_beats_cli_" + std::to_string(::getpid()));
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    Result run(const std::string& args) {
        const std::string err_file = (dir_ / "stderr.txt").string();
        const std::string cmd = std::string(LOOPSEP_BINARY) + " beats " + args + " 2>" + err_file;
        Result r;
        FILE* p = popen(cmd.c_str(), "r");
        std::array<char, 4096> buf;
        std::size_t n;
        while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
        const int status = pclose(p);
        r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        std::ifstream in(err_file);
        std::stringstream ss;
        ss << in.rdbuf();
        r.err = ss.str();
        return r;
    }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }

    fs::path dir_;
};

int lines(const std::string& s) { return int(std::count(s.begin(), s.end(), '\n')); }

TEST_F(BeatsCli, JsonIsOneObjectWithTheContractKeys) {
    const auto song = beat_test::click_song(90, 12.0, 1);
    loopsep::write_audio(path("song.wav"), song.audio);
    const Result r = run(path("song.wav") + " --genre hiphop --json");
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(lines(r.out), 1);
    const auto j = nlohmann::json::parse(r.out);
    for (const char* key : {"tempo_bpm", "beats", "downbeats", "segments", "confidence"})
        EXPECT_TRUE(j.contains(key)) << key;
    EXPECT_NEAR(j["tempo_bpm"].get<double>(), 90.0, 0.5);
    EXPECT_GE(j["beats"].size(), 15u);
    EXPECT_NEAR(j["downbeats"][0].get<double>(), song.downbeats[0], 0.02);
    const auto& segs = j["segments"];
    ASSERT_GE(segs.size(), 2u);
    EXPECT_DOUBLE_EQ(segs[0][0].get<double>(), 0.0);
    EXPECT_NEAR(segs.back()[1].get<double>(), 12.0, 1e-3);
    for (std::size_t i = 1; i < segs.size(); ++i) EXPECT_DOUBLE_EQ(segs[i][0].get<double>(), segs[i - 1][1].get<double>());
    const double c = j["confidence"].get<double>();
    EXPECT_GE(c, 0.0);
    EXPECT_LE(c, 1.0);
}

TEST_F(BeatsCli, TextOutputNamesTempoBeatsDownbeatsSegments) {
    const auto song = beat_test::click_song(128, 10.0);
    loopsep::write_audio(path("song.wav"), song.audio);
    const Result r = run(path("song.wav") + " --genre bachata");
    ASSERT_EQ(r.rc, 0) << r.err;
    for (const char* word : {"BPM", "beats:", "downbeats:", "segments:"})
        EXPECT_NE(r.out.find(word), std::string::npos) << word;
}

TEST_F(BeatsCli, MissingFileIsExit1OneLine) {
    const Result r = run(path("nope.wav") + " --json");
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_TRUE(r.out.empty());
}

TEST_F(BeatsCli, TextFileNamedWavIsExit1OneLine) {
    std::ofstream(path("fake.wav")) << "this is not audio\n";
    const Result r = run(path("fake.wav"));
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(lines(r.err), 1) << r.err;
}

TEST_F(BeatsCli, SilentSongIsAnErrorUnlessNoBeats) {
    loopsep::write_audio(path("silent.wav"), loopsep::Audio(2, 5 * beat_test::kSr));
    const Result r = run(path("silent.wav"));
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(lines(r.err), 1) << r.err;
    const Result f = run(path("silent.wav") + " --no-beats --json");
    ASSERT_EQ(f.rc, 0) << f.err;
    const auto j = nlohmann::json::parse(f.out);
    EXPECT_TRUE(j["beatless"].get<bool>());
    EXPECT_GE(j["segments"].size(), 2u);
}

TEST_F(BeatsCli, NoiseIsAnErrorNamingTheFile) {
    loopsep::write_audio(path("noise.wav"), beat_test::noise(8.0));
    const Result r = run(path("noise.wav"));
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("noise.wav"), std::string::npos) << r.err;
}

TEST_F(BeatsCli, BadGenreIsUsageError) {
    const auto song = beat_test::click_song(120, 5.0);
    loopsep::write_audio(path("song.wav"), song.audio);
    const Result r = run(path("song.wav") + " --genre polka");
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(lines(r.err), 1) << r.err;
}

}  // namespace

TEST_F(BeatsCli, DownbeatOffsetOneMovesEveryDownbeatOneBeatLater) {
    const auto song = beat_test::click_song(100, 14.0);
    loopsep::write_audio(path("song.wav"), song.audio);
    const Result a = run(path("song.wav") + " --json"), b = run(path("song.wav") + " --json --downbeat-offset 1");
    ASSERT_EQ(a.rc, 0) << a.err;
    ASSERT_EQ(b.rc, 0) << b.err;
    const auto ja = nlohmann::json::parse(a.out), jb = nlohmann::json::parse(b.out);
    ASSERT_EQ(ja["beats"], jb["beats"]);
    const auto beats = ja["beats"].get<std::vector<double>>();
    const auto da = ja["downbeats"].get<std::vector<double>>(), db = jb["downbeats"].get<std::vector<double>>();
    ASSERT_GE(da.size(), 4u);
    std::size_t checked = 0;
    for (double d : da) {
        const auto i = std::size_t(std::find(beats.begin(), beats.end(), d) - beats.begin());
        ASSERT_LT(i, beats.size());
        if (i + 1 < beats.size()) {
            EXPECT_NE(std::find(db.begin(), db.end(), beats[i + 1]), db.end()) << "downbeat " << d << " not moved";
            ++checked;
        }
        EXPECT_EQ(std::find(db.begin(), db.end(), d), db.end()) << "downbeat " << d << " still there";
    }
    EXPECT_GE(checked, da.size() - 1);
    // One section of one phase, reported in the JSON; the offset moves its phase by one.
    ASSERT_EQ(ja["downbeat_sections"].size(), 1u);
    EXPECT_EQ((ja["downbeat_sections"][0]["phase"].get<int>() + 1) % 4, jb["downbeat_sections"][0]["phase"].get<int>());
    EXPECT_EQ(run(path("song.wav") + " --downbeat-offset 4").rc, 2);
}

TEST_F(BeatsCli, SteadyToneIsAnErrorNamingTheConfidence) {
    const int sr = beat_test::kSr;
    std::vector<float> x(std::size_t(12 * sr));
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(2 * M_PI * 110.0 * double(i) / sr) >= 0 ? 0.99f : -0.99f;
    loopsep::Audio tone;
    tone.sample_rate_hz = sr;
    tone.channels = {x};
    loopsep::write_audio(path("tone.wav"), tone);
    const Result r = run(path("tone.wav"));
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("confidence"), std::string::npos) << r.err;
    const Result f = run(path("tone.wav") + " --json --no-beats");
    ASSERT_EQ(f.rc, 0) << f.err;
    const auto j = nlohmann::json::parse(f.out);
    EXPECT_TRUE(j["beatless"].get<bool>());
    EXPECT_NE(j["beatless_reason"].get<std::string>().find("confidence"), std::string::npos);
}
