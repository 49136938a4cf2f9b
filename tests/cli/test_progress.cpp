// The progress bar: its line (ETA, width), and that it is drawn on a terminal only, never on stdout,
// never with --quiet (catalog import and synth here; separate in tests/separate).
#include <gtest/gtest.h>

#include <filesystem>

#include "loopsep/audio.h"
#include "progress.h"
#include "test_util.h"
#include "tty_util.h"

using namespace loopsep;
using loopsep::cli::format_duration;
using loopsep::cli::progress_line;
using loopsep::testing::read_text;
using loopsep::testing::run_loopsep;
using loopsep::testing::run_loopsep_on_tty;
using loopsep::testing::TempDir;

TEST(Progress, LineShowsTheBarPercentAndAnEtaFromThePaceSoFar) {
    // Half done in 10 s: 10 s to go.
    EXPECT_EQ(progress_line("separate", 0.5, "song 1/2", 10.0), "separate [##########..........]  50%  ETA 0:10  song 1/2");
    EXPECT_EQ(progress_line("train", 0.25, "", 60.0), "train [#####...............]  25%  ETA 3:00");
    EXPECT_EQ(progress_line("synth", 0.0, "song 1/3", 0.0), "synth [....................]   0%  ETA --:--  song 1/3");
    EXPECT_EQ(progress_line("x", 1.0, "", 5.0), "x [####################] 100%  ETA 0:00");
    // A narrow terminal cuts the line (the detail goes first).
    EXPECT_EQ(progress_line("separate", 0.5, "song 1/2 a-long-song-name", 10.0, 40), "separate [##########..........]  50%  ET");
    EXPECT_EQ(format_duration(3723), "1:02:03");
    EXPECT_EQ(format_duration(59.6), "1:00");
}

namespace {

// Three 2-s loops (four beats at 120 BPM) to import.
void write_loops(const TempDir& dir) {
    std::filesystem::create_directories(dir.file("loops"));
    for (int i = 0; i < 3; ++i)
        write_audio(dir.file("loops/l" + std::to_string(i) + ".wav"),
                    loopsep::testing::noise(2.0, 1, unsigned(10 + i), 44100, 0.2f), {});
}

bool has_bar(const std::string& text, const std::string& label) {
    return text.find(label + " [") != std::string::npos && text.find("ETA") != std::string::npos;
}

}  // namespace

TEST(Progress, CatalogImportDrawsTheBarOnATerminalOnly) {
    if (!loopsep::testing::has_script_command()) GTEST_SKIP() << "script(1) (util-linux) is not installed";
    TempDir dir;
    write_loops(dir);
    const std::string import = "catalog --db c.db import loops --instrument bongo --genre bachata --bpm 120";
    auto tty = run_loopsep_on_tty(import, dir.path(), dir.file("out.txt"));
    ASSERT_EQ(tty.exit_code, 0) << tty.terminal;
    EXPECT_TRUE(has_bar(tty.terminal, "import")) << tty.terminal;
    EXPECT_NE(tty.terminal.find("file 3/3"), std::string::npos) << tty.terminal;
    // stdout (a file here) has the import's lines and nothing of the bar.
    const std::string out = read_text(dir.file("out.txt"));
    EXPECT_NE(out.find("import loops: 3 added"), std::string::npos) << out;
    EXPECT_EQ(out.find("ETA"), std::string::npos) << out;
    EXPECT_EQ(out.find('\r'), std::string::npos) << out;
    // --quiet: no bar even on a terminal.
    auto quiet = run_loopsep_on_tty(import + " --quiet", dir.path(), dir.file("out2.txt"));
    ASSERT_EQ(quiet.exit_code, 0) << quiet.terminal;
    EXPECT_FALSE(has_bar(quiet.terminal, "import")) << quiet.terminal;
    // stderr to a file (not a terminal): nothing of the bar.
    auto piped = run_loopsep("catalog --db d.db import loops --instrument bongo --genre bachata --bpm 120", dir.path());
    ASSERT_EQ(piped.exit_code, 0) << piped.err;
    EXPECT_TRUE(piped.err.empty()) << piped.err;
}

TEST(Progress, SynthDrawsTheBarOverSongsOnATerminalAndKeepsItsLinesOtherwise) {
    if (!loopsep::testing::has_script_command()) GTEST_SKIP() << "script(1) (util-linux) is not installed";
    TempDir dir;
    const std::string synth = "synth --genre hiphop --songs 2 --seed 3 --duration-sec 20";
    auto tty = run_loopsep_on_tty(synth + " --out a", dir.path(), dir.file("out.txt"));
    ASSERT_EQ(tty.exit_code, 0) << tty.terminal;
    EXPECT_TRUE(has_bar(tty.terminal, "synth")) << tty.terminal;
    EXPECT_NE(tty.terminal.find("song 2/2"), std::string::npos) << tty.terminal;
    EXPECT_NE(tty.terminal.find("100%"), std::string::npos) << tty.terminal;
    EXPECT_NE(tty.terminal.find("synth: wrote a/hiphop_3_0001"), std::string::npos) << tty.terminal;
    EXPECT_EQ(read_text(dir.file("out.txt")).find("ETA"), std::string::npos);
    // Not a terminal: the per-song lines as before, no bar, no carriage returns.
    auto piped = run_loopsep(synth + " --out b", dir.path());
    ASSERT_EQ(piped.exit_code, 0) << piped.err;
    EXPECT_EQ(loopsep::testing::count_lines(piped.err), 2) << piped.err;
    EXPECT_EQ(piped.err.find('\r'), std::string::npos) << piped.err;
    EXPECT_EQ(piped.err.find("ETA"), std::string::npos) << piped.err;
}
