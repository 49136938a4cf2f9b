// `loopsep separate` from the command line: outputs and the bad-input contract
// (one stderr line naming the file, exit 1/2, no partial output).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "loopsep/model.h"
#include "song_fixture.h"
#include "model_fixture.h"
#include "test_util.h"

using namespace loopsep;
using loopsep::testing::file_exists;
using loopsep::testing::run_loopsep;
using loopsep::testing::TempDir;

namespace {

struct Fixture {
    TempDir dir;
    Fixture() {
        loopsep::testing::write_small_test_model(dir.file("m.safetensors"), 3);
        write_audio(dir.file("song.wav"), loopsep::testing::make_test_song(122, 7.0), {});
        write_audio(dir.file("loop.wav"), loopsep::testing::make_test_song(120, 2.0, 1), {});
        write_audio(dir.file("silent.wav"), Audio(1, 88200), {});
        loopsep::testing::write_text(dir.file("notes.wav"), "not audio\n");
        loopsep::testing::write_text(dir.file("bad.safetensors"), "garbage that is not a model");
    }
    std::string base() const { return "--model m.safetensors "; }
};

void expect_one_line_error(const loopsep::testing::RunResult& r, int code, const std::string& needle) {
    EXPECT_EQ(r.exit_code, code) << r.err;
    EXPECT_EQ(loopsep::testing::count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

}  // namespace

TEST(SeparateCli, WritesAFullLengthStemAndAJsonSummary) {
    Fixture f;
    auto r = run_loopsep("separate song.wav --target bongo --query loop.wav --query-bpm 120 --output out.flac --json " + f.base(),
                         f.dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["songs"][0]["targets"][0]["path"], "out.flac");
    EXPECT_NEAR(j["songs"][0]["tempo_bpm"].get<double>(), 122, 1.0);
    Audio song = read_audio(f.dir.file("song.wav")), out = read_audio(f.dir.file("out.flac"), {0, 2, true});
    EXPECT_EQ(out.frames(), song.frames());
    EXPECT_EQ(out.num_channels(), 2);
    // An existing output is kept unless --force.
    auto again = run_loopsep("separate song.wav --target bongo --query loop.wav --output out.flac " + f.base(), f.dir.path());
    expect_one_line_error(again, 1, "--force");
}

TEST(SeparateCli, BatchModeWritesOneFolderPerSongWithResidual) {
    Fixture f;
    write_audio(f.dir.file("second.wav"), loopsep::testing::make_test_song(100, 6.0), {});
    auto r = run_loopsep("separate song.wav second.wav --targets a,b --query loop.wav --query loop.wav --residual --outdir out " +
                             f.base(), f.dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const char* p : {"out/song/a.wav", "out/song/b.wav", "out/song/residual.wav", "out/second/a.wav", "out/second/residual.wav"})
        EXPECT_TRUE(file_exists(f.dir.file(p))) << p;
}

TEST(SeparateCli, ARefusedFirstSongDoesNotHandItsAudioToTheNext) {
    // The first song is decoded while the model loads; when it is then refused (its output exists),
    // the second song must still be separated from its own audio.
    Fixture f;
    write_audio(f.dir.file("second.wav"), loopsep::testing::make_test_song(100, 5.0), {});
    ASSERT_EQ(run_loopsep("separate song.wav --targets a --query loop.wav --outdir out " + f.base(), f.dir.path()).exit_code, 0);
    // Without its completion marker the folder is not known to be complete (nor ours): song.wav is
    // refused rather than skipped (see test_batch_cli.cpp for the skip).
    std::filesystem::remove(f.dir.file("out/song/.loopsep-done"));
    auto r = run_loopsep("separate song.wav second.wav --targets a --query loop.wav --outdir out " + f.base(), f.dir.path());
    EXPECT_EQ(r.exit_code, 1) << r.err;  // song.wav refused: out/song/a.wav exists
    EXPECT_NE(r.err.find("exists"), std::string::npos) << r.err;
    const Audio second = read_audio(f.dir.file("second.wav"));
    EXPECT_EQ(read_audio(f.dir.file("out/second/a.wav"), {0, 2, true}).frames(), second.frames());
}

TEST(SeparateCli, BadInputsGiveOneLineAndNoOutput) {
    Fixture f;
    expect_one_line_error(run_loopsep("separate missing.wav --target x --query loop.wav --output o.wav " + f.base(), f.dir.path()), 1,
                          "missing.wav");
    expect_one_line_error(run_loopsep("separate notes.wav --target x --query loop.wav --output o.wav " + f.base(), f.dir.path()), 1,
                          "notes.wav");
    expect_one_line_error(run_loopsep("separate song.wav --target x --query notes.wav --output o.wav " + f.base(), f.dir.path()), 1,
                          "notes.wav");
    expect_one_line_error(run_loopsep("separate song.wav --target x --query silent.wav --output o.wav " + f.base(), f.dir.path()), 1,
                          "silent.wav");
    expect_one_line_error(run_loopsep("separate song.wav --target x --query loop.wav --output o.wav --model bad.safetensors", f.dir.path()),
                          1, "bad.safetensors");
    // A target with no query and no loop of it in the catalog: the error lists what the catalog has.
    ASSERT_EQ(run_loopsep("catalog --db c.db init", f.dir.path()).exit_code, 0);
    ASSERT_EQ(run_loopsep("catalog --db c.db add loop.wav --instrument bongo --genre bachata --bpm 120", f.dir.path()).exit_code, 0);
    expect_one_line_error(run_loopsep("separate song.wav --target theremin --catalog c.db --output o.wav " + f.base(), f.dir.path()), 1,
                          "bongo");
    // A pure tone has no beat: an error, or the fixed-grid fallback when asked.
    write_audio(f.dir.file("tone.wav"), loopsep::testing::sine(440, 6.0), {});
    expect_one_line_error(run_loopsep("separate tone.wav --target x --query loop.wav --output o.wav " + f.base(), f.dir.path()), 1,
                          "tone.wav");
    EXPECT_FALSE(file_exists(f.dir.file("o.wav")));
    // Batch mode: the failed song leaves no folder and no temporary file behind.
    expect_one_line_error(run_loopsep("separate tone.wav --targets x,y --query loop.wav --query loop.wav --residual --outdir out " +
                                          f.base(), f.dir.path()), 1, "tone.wav");
    EXPECT_FALSE(file_exists(f.dir.file("out/tone")));
    for (const auto& entry : std::filesystem::recursive_directory_iterator(f.dir.path()))
        EXPECT_EQ(entry.path().string().find(".tmp-"), std::string::npos) << entry.path();
    EXPECT_EQ(run_loopsep("separate tone.wav --target x --query loop.wav --output o.wav --no-beats " + f.base(), f.dir.path()).exit_code, 0);
    // Usage errors: exit 2.
    expect_one_line_error(run_loopsep("separate song.wav --target x " + f.base(), f.dir.path()), 2, "--output");
    expect_one_line_error(run_loopsep("separate song.wav --target x --output o2.wav --threads 0 " + f.base(), f.dir.path()), 2, "--threads");
    EXPECT_FALSE(file_exists(f.dir.file("o2.wav")));
}
