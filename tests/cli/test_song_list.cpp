// The song list of batch commands (tools/cli/song_list.h): which songs, their output names, and the
// shard each belongs to. Files here are empty placeholders: listing never reads audio.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "loopsep/error.h"
#include "song_list.h"
#include "test_util.h"

using namespace loopsep;
using namespace loopsep::cli;
using loopsep::testing::TempDir;
using loopsep::testing::write_text;

namespace fs = std::filesystem;

namespace {

void touch(const TempDir& dir, const std::string& rel) {
    fs::create_directories(fs::path(dir.file(rel)).parent_path());
    write_text(dir.file(rel), "");
}

std::map<std::string, std::string> names_by_path(const std::vector<Song>& songs, const std::string& root) {
    std::map<std::string, std::string> m;
    for (const auto& s : songs) m[fs::absolute(s.path).lexically_normal().lexically_relative(root).lexically_normal().generic_string()] = s.output_name;
    return m;
}

// The message and kind of the error `f` throws ("" when it throws none).
template <class F>
std::pair<std::string, int> error_of(F f) {
    try {
        f();
    } catch (const Error& e) {
        return {e.what(), e.exit_code()};
    }
    return {"", 0};
}

// Runs from `dir` so relative paths resolve there; restores the working directory.
struct InDir {
    fs::path saved = fs::current_path();
    explicit InDir(const std::string& dir) { fs::current_path(dir); }
    ~InDir() { fs::current_path(saved); }
};

}  // namespace

TEST(SongList, FoldersAreScannedAndOutputsMirrorTheirRelativePaths) {
    TempDir dir;
    for (const char* f : {"albums/albumA/01.wav", "albums/albumB/01.wav", "albums/albumB/02.FLAC", "albums/albumB/cover.jpg",
                          "albums/albumB/.03.wav", "albums/.hidden/04.wav", "albums/albumB/sub/05.mp3"})
        touch(dir, f);
    InDir in(dir.path());
    auto songs = resolve_songs({"albums"}, {});
    EXPECT_EQ(names_by_path(songs, dir.path()),
              (std::map<std::string, std::string>{{"albums/albumA/01.wav", "albums/albumA/01"},
                                                  {"albums/albumB/01.wav", "albums/albumB/01"},
                                                  {"albums/albumB/02.FLAC", "albums/albumB/02"},
                                                  {"albums/albumB/sub/05.mp3", "albums/albumB/sub/05"}}));
    // Two folders given: each one's name comes first, so their 01.wav never share a folder.
    songs = resolve_songs({"albums/albumA/", "albums/albumB"}, {});
    ASSERT_EQ(songs.size(), 4u);
    EXPECT_EQ(songs[0].output_name, "albumA/01");
    EXPECT_EQ(songs[1].output_name, "albumB/01");
    // A file argument is its stem, as before.
    songs = resolve_songs({"albums/albumA/01.wav"}, {});
    ASSERT_EQ(songs.size(), 1u);
    EXPECT_EQ(songs[0].output_name, "01");
    EXPECT_EQ(songs[0].path, "albums/albumA/01.wav");
}

TEST(SongList, SameNamesAreToldApartTheSameWayWhateverTheOrder) {
    TempDir dir;
    for (const char* f : {"d1/x.wav", "d2/x.wav", "d3/x-2.wav", "mix/y.wav", "mix/y.flac"}) touch(dir, f);
    InDir in(dir.path());
    const std::map<std::string, std::string> expected{
        {"d1/x.wav", "x"}, {"d2/x.wav", "x-3"}, {"d3/x-2.wav", "x-2"}};  // x-2 is d3's own name: d2 skips it
    EXPECT_EQ(names_by_path(resolve_songs({"d1/x.wav", "d2/x.wav", "d3/x-2.wav"}, {}), dir.path()), expected);
    EXPECT_EQ(names_by_path(resolve_songs({"d3/x-2.wav", "d2/x.wav", "d1/x.wav"}, {}), dir.path()), expected);
    // Order is kept as given.
    auto songs = resolve_songs({"d2/x.wav", "d1/x.wav"}, {});
    EXPECT_EQ(songs[0].path, "d2/x.wav");
    EXPECT_EQ(songs[0].output_name, "x-2");
    EXPECT_EQ(songs[1].output_name, "x");
    // One folder with y.flac and y.wav: sorted by path, y.flac keeps the name.
    EXPECT_EQ(names_by_path(resolve_songs({"mix"}, {}), dir.path()),
              (std::map<std::string, std::string>{{"mix/y.flac", "mix/y"}, {"mix/y.wav", "mix/y-2"}}));
}

TEST(SongList, OneSongReachedSeveralWaysIsListedOnce) {
    TempDir dir;
    touch(dir, "a/s.wav");
    InDir in(dir.path());
    write_text(dir.file("list.txt"), "a/s.wav\n");
    auto songs = resolve_songs({"a/s.wav", "./a/s.wav", "a/../a/s.wav", "a"}, {"list.txt"});
    ASSERT_EQ(songs.size(), 1u);
    EXPECT_EQ(songs[0].path, "a/s.wav");
    EXPECT_EQ(songs[0].output_name, "a/s");  // the smaller of "s" and "a/s", whichever came first
}

TEST(SongList, ListFilesSkipCommentsAndResolveRelativeToTheirFolder) {
    TempDir dir;
    for (const char* f : {"lists/albumA/01.wav", "lists/albumB/01.wav", "lists/box/in/02.ogg", "elsewhere/03.wav"}) touch(dir, f);
    write_text(dir.file("lists/songs.txt"),
               "# my collection\n"
               "\n"
               "albumA/01.wav\r\n"
               "   albumB/01.wav  \n"
               "  # indented comment\n"
               "box\n" +
                   dir.file("elsewhere/03.wav") + "\n");
    InDir in(dir.path());
    auto songs = resolve_songs({}, {"lists/songs.txt"});
    ASSERT_EQ(songs.size(), 4u);
    EXPECT_EQ(songs[0].path, "lists/albumA/01.wav");
    EXPECT_EQ(songs[0].output_name, "albumA/01");
    EXPECT_EQ(songs[1].output_name, "albumB/01");
    EXPECT_EQ(songs[2].path, "lists/box/in/02.ogg");
    EXPECT_EQ(songs[2].output_name, "box/in/02");
    // Outside the list's folder: the absolute path, without its leading '/'.
    EXPECT_EQ(songs[3].output_name, fs::path(dir.file("elsewhere/03")).relative_path().generic_string());

    const auto missing = error_of([] { resolve_songs({}, {"nope.txt"}); });
    EXPECT_NE(missing.first.find("nope.txt"), std::string::npos) << missing.first;
    EXPECT_NE(missing.first.find("--list"), std::string::npos) << missing.first;
    EXPECT_EQ(missing.second, 1);
    fs::create_directories(dir.file("empty"));
    const auto empty = error_of([] { resolve_songs({"empty"}, {}); });
    EXPECT_NE(empty.first.find("empty: no audio files"), std::string::npos) << empty.first;
    write_text(dir.file("blank.txt"), "# nothing\n\n");
    EXPECT_EQ(error_of([] { resolve_songs({}, {"blank.txt"}); }).second, 2);
}

TEST(SongList, TheOutputFolderIsNotScanned) {
    TempDir dir;
    for (const char* f : {"music/a.wav", "music/separated/a/bongo.wav"}) touch(dir, f);
    InDir in(dir.path());
    SongListOptions o;
    o.exclude_dirs = {"music/./separated"};
    auto songs = resolve_songs({"music"}, {}, o);
    ASSERT_EQ(songs.size(), 1u);
    EXPECT_EQ(songs[0].output_name, "music/a");
    EXPECT_EQ(resolve_songs({"music"}, {}).size(), 2u);  // without the exclusion it would be taken
}

TEST(SongList, ShardsCoverEverySongExactlyOnceWhateverTheOrder) {
    TempDir dir;
    std::vector<std::string> lines;
    for (int a = 0; a < 4; ++a)
        for (int t = 1; t <= 10; ++t) {
            const std::string rel = "album" + std::to_string(a) + "/" + (t < 10 ? "0" : "") + std::to_string(t) + ".wav";
            touch(dir, "c/" + rel);
            lines.push_back(rel);
        }
    std::mt19937 rng(7);
    std::map<std::string, long> first_assignment;  // song → shard, for each N from the first order
    for (int order = 0; order < 3; ++order) {
        std::shuffle(lines.begin(), lines.end(), rng);
        std::string text;
        for (const auto& l : lines) text += l + "\n";
        write_text(dir.file("c/list.txt"), text);
        // Each time the list is named from another working directory (nodes of a cluster differ):
        // the shards must not depend on how the list's path is spelled.
        const std::vector<std::string> cwd{"/", dir.path(), dir.file("c")}, list{dir.file("c/list.txt"), "c/list.txt", "list.txt"};
        InDir in(cwd[order]);
        const auto songs = resolve_songs({}, {list[order]});
        ASSERT_EQ(songs.size(), 40u);
        for (long n = 1; n <= 5; ++n) {
            std::map<std::string, int> seen;
            for (long i = 0; i < n; ++i) {
                const auto part = select_shard(songs, Shard{i, n, "--shard"});
                // No shard is left idle (the hash spreads "01".."10" of four albums).
                EXPECT_GE(part.size(), 3u) << "shard " << i << "/" << n;
                for (const auto& s : part) {
                    ++seen[s.output_name];
                    const std::string key = std::to_string(n) + ":" + s.output_name;
                    if (order == 0) first_assignment[key] = i;
                    else EXPECT_EQ(first_assignment.at(key), i) << key;  // stable: the same shard in any order
                }
            }
            ASSERT_EQ(seen.size(), 40u) << "N=" << n;
            for (const auto& [name, count] : seen) EXPECT_EQ(count, 1) << name << " N=" << n;
        }
    }
}

TEST(SongList, ShardComesFromTheFlagThenTheScheduler) {
    const Environment none;
    auto usage = [](auto f) { return error_of(f); };
    // --shard I/N, 0-based.
    Shard s = resolve_shard(std::string("2/5"), std::nullopt, none);
    EXPECT_EQ(s.index, 2);
    EXPECT_EQ(s.count, 5);
    EXPECT_FALSE(resolve_shard(std::nullopt, std::nullopt, none).active());
    for (const char* bad : {"5/5", "1/0", "x/3", "3", "-1/4"}) {
        const auto e = usage([&] { resolve_shard(std::string(bad), std::nullopt, none); });
        EXPECT_EQ(e.second, 2) << bad;
        EXPECT_NE(e.first.find("--shard"), std::string::npos) << e.first;
    }
    EXPECT_EQ(usage([&] { resolve_shard(std::string("0/2"), std::string("2"), none); }).second, 2);

    // Slurm: I = ID - MIN whether the array is 0-9 or 1-10; N = COUNT.
    const Environment slurm0{{"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_ARRAY_TASK_MIN", "0"}, {"SLURM_ARRAY_TASK_COUNT", "10"}};
    const Environment slurm1{{"SLURM_ARRAY_TASK_ID", "10"}, {"SLURM_ARRAY_TASK_MIN", "1"}, {"SLURM_ARRAY_TASK_COUNT", "10"}};
    s = resolve_shard(std::nullopt, std::nullopt, slurm0);
    EXPECT_EQ(std::make_pair(s.index, s.count), std::make_pair(0L, 10L));
    EXPECT_EQ(s.source, "SLURM_ARRAY_TASK_ID");
    s = resolve_shard(std::nullopt, std::nullopt, slurm1);
    EXPECT_EQ(std::make_pair(s.index, s.count), std::make_pair(9L, 10L));
    // --array=0-8:2 (IDs 0,2,4,6,8; COUNT 5, STEP 2): ID 6 is shard 3.
    s = resolve_shard(std::nullopt, std::nullopt,
                      {{"SLURM_ARRAY_TASK_ID", "6"}, {"SLURM_ARRAY_TASK_MIN", "0"}, {"SLURM_ARRAY_TASK_COUNT", "5"},
                       {"SLURM_ARRAY_TASK_STEP", "2"}});
    EXPECT_EQ(std::make_pair(s.index, s.count), std::make_pair(3L, 5L));
    // --array=1,5,7 (COUNT 3): ID 7 is no shard of 3: an error, not a silently lost shard.
    auto e = usage([] {
        resolve_shard(std::nullopt, std::nullopt,
                      {{"SLURM_ARRAY_TASK_ID", "7"}, {"SLURM_ARRAY_TASK_MIN", "1"}, {"SLURM_ARRAY_TASK_COUNT", "3"}});
    });
    EXPECT_EQ(e.second, 2);
    EXPECT_NE(e.first.find("SLURM_ARRAY_TASK_COUNT=3"), std::string::npos) << e.first;
    e = usage([] { resolve_shard(std::nullopt, std::nullopt, {{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_MIN", "0"}}); });
    EXPECT_NE(e.first.find("SLURM_ARRAY_TASK_COUNT is not set"), std::string::npos) << e.first;
    // The flag wins over the environment.
    s = resolve_shard(std::string("1/2"), std::nullopt, slurm1);
    EXPECT_EQ(std::make_pair(s.index, s.count), std::make_pair(1L, 2L));
    // --shards N takes the index from the scheduler (and overrides Slurm's count).
    s = resolve_shard(std::nullopt, std::string("20"), slurm1);
    EXPECT_EQ(std::make_pair(s.index, s.count), std::make_pair(9L, 20L));

    // Kubernetes Indexed Job: JOB_COMPLETION_INDEX with --shards.
    const Environment k8s{{"JOB_COMPLETION_INDEX", "3"}};
    s = resolve_shard(std::nullopt, std::string("4"), k8s);
    EXPECT_EQ(std::make_pair(s.index, s.count), std::make_pair(3L, 4L));
    EXPECT_EQ(s.source, "JOB_COMPLETION_INDEX");
    e = usage([&] { resolve_shard(std::nullopt, std::string("3"), k8s); });
    EXPECT_NE(e.first.find("JOB_COMPLETION_INDEX"), std::string::npos) << e.first;
    e = usage([&] { resolve_shard(std::nullopt, std::nullopt, k8s); });
    EXPECT_NE(e.first.find("--shards"), std::string::npos) << e.first;
    e = usage([&] { resolve_shard(std::nullopt, std::string("4"), none); });
    EXPECT_EQ(e.second, 2);
    EXPECT_NE(e.first.find("--shards needs"), std::string::npos) << e.first;
    EXPECT_EQ(usage([&] { resolve_shard(std::nullopt, std::string("0"), k8s); }).second, 2);
}

TEST(SongList, ShardHashIsAPureFunctionOfTheName) {
    // Pinned: a song must land in the same shard in every build and on every node of a cluster.
    // The values are FNV-1a 64 + splitmix64's finalizer computed independently (Python, song_list.h).
    EXPECT_EQ(shard_hash(""), 0x4ea0537ff367da6bull);
    EXPECT_EQ(shard_hash("albumA/01"), 0xcb200b89da5ed2e0ull);
}
