// harvest's progress bar: over the songs on a terminal, each song's line above it; nothing when
// stderr is not a terminal.
#include <gtest/gtest.h>

#include "loopsep/audio.h"
#include "model_fixture.h"
#include "song_fixture.h"
#include "test_util.h"
#include "tty_util.h"

using namespace loopsep;
using loopsep::testing::read_text;
using loopsep::testing::run_loopsep;
using loopsep::testing::run_loopsep_on_tty;
using loopsep::testing::TempDir;

TEST(HarvestProgress, ABarOverTheSongsOnATerminalOnly) {
    if (!loopsep::testing::has_script_command()) GTEST_SKIP() << "script(1) (util-linux) is not installed";
    TempDir dir;
    loopsep::testing::write_small_test_model(dir.file("m.safetensors"), 7);
    write_audio(dir.file("one.wav"), loopsep::testing::make_test_song(124, 10.0), {});
    write_audio(dir.file("two.wav"), loopsep::testing::make_test_song(118, 10.0), {});
    write_audio(dir.file("q.wav"), loopsep::testing::make_test_song(120, 2.0), {});
    const std::string common = " --target bongo --genre bachata --query q.wav --query-bpm 120 --model m.safetensors "
                               "--min-quality 0 --max-loops 2";
    auto tty = run_loopsep_on_tty("harvest one.wav two.wav --catalog a.db" + common, dir.path(), dir.file("out.txt"));
    ASSERT_EQ(tty.exit_code, 0) << tty.terminal;
    EXPECT_NE(tty.terminal.find("harvest ["), std::string::npos) << tty.terminal;
    EXPECT_NE(tty.terminal.find("song 2/2"), std::string::npos) << tty.terminal;
    EXPECT_NE(tty.terminal.find("one.wav: "), std::string::npos) << tty.terminal;  // the song lines stay
    const std::string out = read_text(dir.file("out.txt"));
    EXPECT_NE(out.find("2 songs harvested"), std::string::npos) << out;
    EXPECT_EQ(out.find("ETA"), std::string::npos) << out;

    auto quiet = run_loopsep_on_tty("harvest one.wav two.wav --catalog b.db --quiet" + common, dir.path(), dir.file("out2.txt"));
    ASSERT_EQ(quiet.exit_code, 0) << quiet.terminal;
    EXPECT_EQ(quiet.terminal.find("harvest ["), std::string::npos) << quiet.terminal;

    auto piped = run_loopsep("harvest one.wav two.wav --catalog c.db" + common, dir.path());
    ASSERT_EQ(piped.exit_code, 0) << piped.err;
    EXPECT_EQ(piped.err.find("harvest ["), std::string::npos) << piped.err;
    EXPECT_EQ(piped.err.find('\r'), std::string::npos) << piped.err;
    EXPECT_EQ(loopsep::testing::count_lines(piped.err), 2) << piped.err;  // one line per song
}
