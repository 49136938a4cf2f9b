// `loopsep harvest` takes its songs like `separate` (folders, --list, shards; tools/cli/song_list.h):
// two shard tasks into two catalogs harvest every song of a folder exactly once, and a re-run of a
// shard skips what its catalog already holds (checked on shard 0).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "loopsep/audio.h"
#include "model_fixture.h"
#include "song_fixture.h"
#include "test_util.h"

using namespace loopsep;
using loopsep::testing::run_loopsep;
using loopsep::testing::TempDir;
namespace fs = std::filesystem;

TEST(HarvestShardCli, TwoShardsHarvestEverySongOfAFolderOnce) {
    TempDir dir;
    loopsep::testing::write_small_test_model(dir.file("m.safetensors"), 7);
    write_audio(dir.file("loop.wav"), loopsep::testing::make_test_song(120, 2.0, 1), {});
    fs::create_directories(dir.file("songs/b"));
    const std::vector<std::string> songs{"songs/a.wav", "songs/b/c.wav", "songs/b/d.wav"};
    for (std::size_t i = 0; i < songs.size(); ++i)
        write_audio(dir.file(songs[i]), loopsep::testing::make_test_song(118 + 4.0 * double(i), 6.0, 1), {});
    const std::string common = " --target bongo --genre bachata --query loop.wav --query-bpm 120 --model m.safetensors "
                               "--min-quality 0 --max-loops 1 --json";
    std::multiset<std::string> harvested;
    for (int i = 0; i < 2; ++i) {
        const std::string db = "shard" + std::to_string(i) + ".db";
        auto r = run_loopsep("harvest songs --shard " + std::to_string(i) + "/2 --catalog " + db + common, dir.path());
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_TRUE(fs::exists(dir.file(db)));  // an empty shard leaves its (empty) catalog too
        const auto j = nlohmann::json::parse(r.out);
        for (const auto& s : j["songs"]) harvested.insert(s["song"].get<std::string>());
        EXPECT_EQ(j["songs_harvested"], j["songs"].size());
        if (i > 0) continue;
        // Re-run: the shard's catalog has its songs; each is skipped.
        auto again = run_loopsep("harvest songs --shard " + std::to_string(i) + "/2 --catalog " + db + common, dir.path());
        ASSERT_EQ(again.exit_code, 0) << again.err;
        const auto j2 = nlohmann::json::parse(again.out);
        EXPECT_EQ(j2["songs_harvested"], 0);
        EXPECT_EQ(j2["songs_skipped"], j["songs"].size());
    }
    EXPECT_EQ(harvested, (std::multiset<std::string>{"songs/a.wav", "songs/b/c.wav", "songs/b/d.wav"}));
}
