// The separation report: its spectrogram scale, and `separate --report` / `loopsep report` end to end
// (files, schema, players, reference scores, a rebuild from the folder alone).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "json_schema.h"
#include "loopsep/audio.h"
#include "loopsep/metrics.h"
#include "model_fixture.h"
#include "report/report.h"
#include "song_fixture.h"
#include "test_util.h"

using namespace loopsep;
using loopsep::testing::file_exists;
using loopsep::testing::read_text;
using loopsep::testing::run_loopsep;
using loopsep::testing::TempDir;
using loopsep::testing::count;

namespace {


bool near(report::Rgb a, report::Rgb b, int tolerance) {
    return std::abs(a.r - b.r) <= tolerance && std::abs(a.g - b.g) <= tolerance && std::abs(a.b - b.b) <= tolerance;
}

}  // namespace

TEST(ReportSpectrogram, ASineShowsAtItsRowAndLevelOnTheFixedScale) {
    // 990.5 Hz sits on FFT bin 46 exactly (no scalloping): amplitude 0.01 is -40 dBFS on the scale.
    const double hz = 46 * 44100.0 / 2048;
    const auto tone = loopsep::testing::sine(hz, 2.0, 1, 44100, 0.01f);
    const report::Image img = report::spectrogram_image(tone.channels[0], 44100);
    ASSERT_EQ(img.width, report::kImageWidth);
    ASSERT_EQ(img.height, report::kSpectrogramHeight);
    const int row = report::spectrogram_row(hz, 44100);
    const int mid = img.width / 2;
    EXPECT_TRUE(near(img.get(mid, row), report::spectrogram_colour(-40.0), 2))
        << int(img.get(mid, row).r) << "," << int(img.get(mid, row).g) << "," << int(img.get(mid, row).b);
    // An octave away it is dark (the window's sidelobes are far under the floor).
    for (int other : {report::spectrogram_row(hz * 2, 44100), report::spectrogram_row(hz / 2, 44100)})
        EXPECT_TRUE(near(img.get(mid, other), report::spectrogram_colour(report::kSpectrogramFloorDb), 2)) << other;
    // Louder is lighter: the same tone 20 dB up gives the colour of -20 dBFS.
    const auto loud = loopsep::testing::sine(hz, 2.0, 1, 44100, 0.1f);
    EXPECT_TRUE(near(report::spectrogram_image(loud.channels[0], 44100).get(mid, row), report::spectrogram_colour(-20.0), 2));
    EXPECT_FALSE(near(report::spectrogram_colour(-20.0), report::spectrogram_colour(-40.0), 10));
}

TEST(ReportCli, SeparateWritesThePageAndReportRebuildsItFromTheFolder) {
    TempDir dir;
    loopsep::testing::write_small_test_model(dir.file("m.safetensors"), 3);
    const Audio song = loopsep::testing::make_test_song(122, 6.0);
    write_audio(dir.file("song.wav"), song, {});
    write_audio(dir.file("loop.wav"), loopsep::testing::make_test_song(120, 2.0, 1), {});
    // A true stem for target a: the song's first half-second silenced (anything not silent will do).
    std::filesystem::create_directories(dir.file("truth/song"));
    Audio truth = song;
    for (auto& ch : truth.channels) std::fill(ch.begin(), ch.begin() + 22050, 0.0f);
    write_audio(dir.file("truth/song/a.wav"), truth, {});

    auto r = run_loopsep("separate song.wav --targets a,b --query loop.wav --query loop.wav --query-bpm 120 --residual "
                         "--outdir out --report --reference-dir truth --model m.safetensors",
                         dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("out/report.html"), std::string::npos) << r.out;
    ASSERT_TRUE(file_exists(dir.file("out/report.html")));
    ASSERT_TRUE(file_exists(dir.file("out/run.json")));

    // run.json: the schema's shape, paths relative to its folder.
    const auto run = nlohmann::json::parse(read_text(dir.file("out/run.json")));
    const auto schema = nlohmann::json::parse(read_text(std::string(LOOPSEP_SOURCE_DIR) + "/docs/separate.schema.json"));
    EXPECT_TRUE(loopsep::testing::validate_json(schema, run).empty());
    const auto& s = run["songs"][0];
    EXPECT_EQ(s["input"], "../song.wav");
    EXPECT_EQ(s["targets"][0]["path"], "song/a.wav");
    EXPECT_EQ(s["residual"]["path"], "song/residual.wav");
    // The reference score is the one eval computes; b has no true stem, so no score.
    ASSERT_TRUE(s["targets"][0].contains("reference"));
    EXPECT_FALSE(s["targets"][1].contains("reference"));
    const Audio est = read_audio(dir.file("out/song/a.wav"), {0, 2, true});
    const Audio ref = read_audio(dir.file("truth/song/a.wav"), {0, 2, false});
    const Audio mix = read_audio(dir.file("song.wav"), {0, 2, false});
    EXPECT_NEAR(s["targets"][0]["reference"]["sdr_db"].get<double>(), compare(ref, est).sdr_db, 1e-6);
    EXPECT_NEAR(s["targets"][0]["reference"]["mixture_sdr_db"].get<double>(), compare(ref, mix).sdr_db, 1e-6);

    // The page: a spectrogram per track (mixture, a, b, residual), a player per track, the levels,
    // the query, the SDR next to the mixture's.
    const std::string html = read_text(dir.file("out/report.html"));
    EXPECT_EQ(count(html, "<img class=\"spec\""), 4);
    EXPECT_EQ(count(html, "<svg class=\"timeline\""), 1);
    EXPECT_EQ(count(html, "<audio controls"), 4);
    for (const char* needle : {"src=\"song/a.wav\"", "src=\"song/residual.wav\"", "src=\"../song.wav\"", "query: loop file ../loop.wav",
                               "of the mixture's energy", "mixture as estimate", "m.safetensors"})
        EXPECT_NE(html.find(needle), std::string::npos) << needle;
    char sdr[64];
    std::snprintf(sdr, sizeof sdr, "SDR %.2f dB", compare(ref, est).sdr_db);
    EXPECT_NE(html.find(sdr), std::string::npos) << sdr;

    // `loopsep report DIR` rebuilds the same page from the folder alone.
    std::filesystem::remove(dir.file("out/report.html"));
    auto again = run_loopsep("report out", dir.path());
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(read_text(dir.file("out/report.html")), html);

    // A folder without a run is one line naming what is missing.
    std::filesystem::create_directories(dir.file("empty"));
    auto none = run_loopsep("report empty", dir.path());
    EXPECT_EQ(none.exit_code, 1);
    EXPECT_EQ(loopsep::testing::count_lines(none.err), 1) << none.err;
    EXPECT_NE(none.err.find("empty/run.json"), std::string::npos) << none.err;
    // An existing report is kept unless --force, like every output.
    auto kept = run_loopsep("separate song.wav --targets a --query loop.wav --outdir out --force --report --model m.safetensors",
                            dir.path());
    EXPECT_EQ(kept.exit_code, 0) << kept.err;
    auto refused = run_loopsep("separate song.wav --targets c --query loop.wav --outdir out --report --model m.safetensors",
                               dir.path());
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_NE(refused.err.find("run.json"), std::string::npos) << refused.err;
}
