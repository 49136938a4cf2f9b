// separate's progress bar: segments across songs on a terminal; nothing on stdout, nothing with
// --quiet, nothing when stderr is not a terminal.
#include <gtest/gtest.h>

#include "loopsep/model.h"
#include "model_fixture.h"
#include "song_fixture.h"
#include "test_util.h"
#include "tty_util.h"

using namespace loopsep;
using loopsep::testing::read_text;
using loopsep::testing::run_loopsep;
using loopsep::testing::run_loopsep_on_tty;
using loopsep::testing::TempDir;

TEST(SeparateProgress, ABarAcrossSongsOnATerminalOnly) {
    if (!loopsep::testing::has_script_command()) GTEST_SKIP() << "script(1) (util-linux) is not installed";
    TempDir dir;
    loopsep::testing::write_small_test_model(dir.file("m.safetensors"), 3);
    write_audio(dir.file("one.wav"), loopsep::testing::make_test_song(122, 6.0), {});
    write_audio(dir.file("two.wav"), loopsep::testing::make_test_song(110, 6.0), {});
    write_audio(dir.file("loop.wav"), loopsep::testing::make_test_song(120, 2.0, 1), {});
    const std::string run = "separate one.wav two.wav --targets a --query loop.wav --query-bpm 120 --model m.safetensors --force";

    auto tty = run_loopsep_on_tty(run + " --outdir o1", dir.path(), dir.file("out.txt"));
    ASSERT_EQ(tty.exit_code, 0) << tty.terminal;
    EXPECT_NE(tty.terminal.find("separate ["), std::string::npos) << tty.terminal;
    EXPECT_NE(tty.terminal.find("ETA"), std::string::npos) << tty.terminal;
    // Redraws are at most ten a second, so which segments show depends on the pace; the first draw
    // of each song and the last (100 %) always show.
    EXPECT_NE(tty.terminal.find("song 1/2 one"), std::string::npos) << tty.terminal;
    EXPECT_NE(tty.terminal.find("song 2/2 two, segment 3/3"), std::string::npos) << tty.terminal;
    EXPECT_NE(tty.terminal.find("100%"), std::string::npos) << tty.terminal;
    // The second song starts at 50 %: the bar is over the whole run, not per song.
    EXPECT_NE(tty.terminal.find("[##########..........]  50%"), std::string::npos) << tty.terminal;
    const std::string out = read_text(dir.file("out.txt"));
    EXPECT_NE(out.find("o1/one/a.wav"), std::string::npos) << out;
    EXPECT_EQ(out.find("ETA"), std::string::npos) << out;
    EXPECT_EQ(out.find('\r'), std::string::npos) << out;

    auto quiet = run_loopsep_on_tty(run + " --outdir o2 --quiet", dir.path(), dir.file("out2.txt"));
    ASSERT_EQ(quiet.exit_code, 0) << quiet.terminal;
    EXPECT_EQ(quiet.terminal.find("ETA"), std::string::npos) << quiet.terminal;

    auto piped = run_loopsep(run + " --outdir o3", dir.path());
    ASSERT_EQ(piped.exit_code, 0) << piped.err;
    EXPECT_TRUE(piped.err.empty()) << piped.err;
}
