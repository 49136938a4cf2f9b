// What `separate` does for batches beyond one song (tools/cli/separate_batch.h): default targets per
// genre, and the completion markers a re-run reads to skip finished songs.
#include <gtest/gtest.h>

#include <filesystem>

#include "loopsep/error.h"
#include "separate_batch.h"
#include "test_util.h"

using namespace loopsep;
using namespace loopsep::cli;
using loopsep::testing::TempDir;
using loopsep::testing::write_text;

namespace fs = std::filesystem;

TEST(SeparateBatch, DefaultTargetsFollowTheGenre) {
    const std::vector<std::string> catalog{"bass", "bongo", "hand drum", "residual", "shaker"};
    EXPECT_EQ(default_targets("bachata", catalog), (std::vector<std::string>{"bongo", "guira", "bass", "guitar"}));
    EXPECT_EQ(default_targets("hiphop", {}), (std::vector<std::string>{"drums", "bass", "vocals"}));
    // Any other genre: the catalog's instruments that can name a file, "residual" aside.
    EXPECT_EQ(default_targets("neutral", catalog), (std::vector<std::string>{"bass", "bongo", "shaker"}));
    try {
        default_targets("neutral", {});
        FAIL() << "an empty catalog gives no targets";
    } catch (const Error& e) {
        EXPECT_EQ(e.exit_code(), 1);
        EXPECT_NE(std::string(e.what()).find("--targets"), std::string::npos) << e.what();
    }
}

TEST(SeparateBatch, ASongIsCompleteOnlyAfterItsDoneMarker) {
    TempDir dir;
    const std::string song = dir.file("out/a");
    fs::create_directories(song);
    const std::vector<std::string> files{"bongo.wav", "residual.wav"};
    for (const auto& f : files) write_text(song + "/" + f, "x");
    EXPECT_FALSE(song_is_complete(song, files));  // stems without a marker: someone else's, or unfinished

    mark_song_writing(song, files, "a.wav");
    EXPECT_FALSE(song_is_complete(song, files));  // renaming in progress
    EXPECT_EQ(partial_outputs(song), files);      // ... and these are ours to redo
    mark_song_done(song);
    EXPECT_TRUE(song_is_complete(song, files));
    EXPECT_TRUE(partial_outputs(song).empty());
    EXPECT_FALSE(song_is_complete(song, {"bongo.wav", "guira.wav"}));  // another target set is not done

    fs::remove(song + "/residual.wav");
    EXPECT_FALSE(song_is_complete(song, files));  // a listed stem gone: not complete
    write_text(song + "/residual.wav", "x");

    // A later run adding a target into the same folder keeps the earlier ones in the marker.
    write_text(song + "/guira.wav", "x");
    mark_song_writing(song, {"guira.wav"}, "a.wav");
    EXPECT_FALSE(song_is_complete(song, files));  // the done marker is gone while writing
    mark_song_done(song);
    EXPECT_TRUE(song_is_complete(song, {"bongo.wav", "guira.wav", "residual.wav"}));
    // No temporary is left beside the markers.
    int entries = 0;
    for (auto it = fs::directory_iterator(song); it != fs::directory_iterator(); ++it) ++entries;
    EXPECT_EQ(entries, 4);  // three stems and .loopsep-done, nothing else
}
