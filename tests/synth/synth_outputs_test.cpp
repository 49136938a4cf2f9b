// `loopsep synth --out DIR` under the output rule (loopsep/files.h): a song folder it would write that
// already exists is refused without --force (one line naming it, before anything is rendered); other
// content of DIR is left alone; with --force the song folder is replaced as a whole; a path that is
// not a folder is never replaced.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "test_util.h"

namespace lt = loopsep::testing;

namespace {

lt::RunResult synth(const lt::TempDir& dir, const std::string& extra) {
    return lt::run_loopsep("synth --genre bachata --seed 7 --duration-sec 20 --mono --quiet --out d " + extra, dir.path());
}

}  // namespace

TEST(SynthOutputs, AnExistingSongFolderIsRefusedWithoutForceAndReplacedWithIt) {
    lt::TempDir dir;
    ASSERT_EQ(::mkdir(dir.file("d").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir(dir.file("d/bachata_7_0001").c_str(), 0755), 0);
    lt::write_text(dir.file("d/bachata_7_0001/mine.txt"), "keep");
    lt::write_text(dir.file("d/notes.txt"), "keep");
    // Song 0 is free, song 1 exists: refused before song 0 is rendered.
    const auto refused = synth(dir, "--songs 2");
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_EQ(refused.err, "loopsep: d/bachata_7_0001: song folder exists (use --force to overwrite)\n");
    EXPECT_FALSE(lt::file_exists(dir.file("d/bachata_7_0000")));
    EXPECT_EQ(lt::read_text(dir.file("d/bachata_7_0001/mine.txt")), "keep");
    // Other content of DIR (a note, another song) does not matter.
    const auto other = synth(dir, "--songs 1");
    ASSERT_EQ(other.exit_code, 0) << other.err;
    EXPECT_TRUE(lt::file_exists(dir.file("d/bachata_7_0000/mix.wav")));
    EXPECT_EQ(lt::read_text(dir.file("d/notes.txt")), "keep");
    // --force replaces the folder as a whole: nothing of what was there stays beside the new song.
    const std::string mix = lt::read_text(dir.file("d/bachata_7_0000/mix.wav"));
    lt::write_text(dir.file("d/bachata_7_0000/stale.txt"), "old");
    EXPECT_EQ(synth(dir, "--songs 1").exit_code, 1);
    const auto forced = synth(dir, "--songs 1 --force");
    ASSERT_EQ(forced.exit_code, 0) << forced.err;
    EXPECT_FALSE(lt::file_exists(dir.file("d/bachata_7_0000/stale.txt")));
    EXPECT_EQ(lt::read_text(dir.file("d/bachata_7_0000/mix.wav")), mix);   // the same song again
    EXPECT_EQ(lt::read_text(dir.file("d/notes.txt")), "keep");
}

TEST(SynthOutputs, ASongPathThatIsNotAFolderIsNeverReplaced) {
    lt::TempDir dir;
    ASSERT_EQ(::mkdir(dir.file("d").c_str(), 0755), 0);
    ASSERT_EQ(::mkfifo(dir.file("d/bachata_7_0000").c_str(), 0644), 0);
    const auto fifo = synth(dir, "--songs 1 --force");
    EXPECT_EQ(fifo.exit_code, 1);
    EXPECT_EQ(fifo.err, "loopsep: d/bachata_7_0000: exists and is not a song folder, refusing to replace it\n");
    struct stat st {};
    ASSERT_EQ(::stat(dir.file("d/bachata_7_0000").c_str(), &st), 0);
    EXPECT_TRUE(S_ISFIFO(st.st_mode));
}
