// `loopsep separate` over batches: folders and --list, output folders that mirror the songs' paths,
// resume (complete songs skipped, interrupted ones redone), shards from flags and from the
// scheduler's environment, and the default targets. Short songs and the small untrained model.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "loopsep/audio.h"
#include "model_fixture.h"
#include "song_fixture.h"
#include "test_util.h"

using namespace loopsep;
using loopsep::testing::file_exists;
using loopsep::testing::make_test_song;
using loopsep::testing::read_text;
using loopsep::testing::TempDir;
using loopsep::testing::write_text;
using loopsep::testing::count;

namespace fs = std::filesystem;

namespace {

constexpr int kTimeoutSec = 120;

// A model, a query loop and short mono songs of distinct lengths (each stem tells its song).
struct Batch {
    TempDir dir;
    Batch() {
        loopsep::testing::write_small_test_model(dir.file("m.safetensors"), 3);
        write_audio(dir.file("loop.wav"), make_test_song(120, 2.0, 1), {});
    }
    void song(const std::string& rel, double seconds) const {
        fs::create_directories(fs::path(dir.file(rel)).parent_path());
        write_audio(dir.file(rel), make_test_song(118, seconds, 1), {});
    }
    std::size_t frames(const std::string& rel) const { return read_audio(dir.file(rel), {0, 2, true}).frames(); }

    // `loopsep ARGS` in the folder, with `env` ("VAR=value ...") set and the scheduler's variables
    // of the machine running the tests unset (a CI job inside a Slurm array must not shard these).
    loopsep::testing::RunResult run(const std::string& args, const std::string& env = "") const {
        const std::string out = dir.file(".out"), err = dir.file(".err");
        const std::string cmd = "cd '" + dir.path() + "' && timeout " + std::to_string(kTimeoutSec) +
                                " env -u SLURM_ARRAY_TASK_ID -u SLURM_ARRAY_TASK_COUNT -u SLURM_ARRAY_TASK_MIN "
                                "-u SLURM_ARRAY_TASK_STEP -u JOB_COMPLETION_INDEX " + env + " '" + LOOPSEP_BINARY + "' " +
                                args + " >'" + out + "' 2>'" + err + "' </dev/null";
        const int status = std::system(cmd.c_str());
        loopsep::testing::RunResult r;
        r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        r.out = read_text(out);
        r.err = read_text(err);
        return r;
    }
    // One target from the query loop: the quickest separation.
    loopsep::testing::RunResult separate(const std::string& args, const std::string& env = "") const {
        return run("separate " + args + " --targets bongo --query loop.wav --query-bpm 120 --model m.safetensors", env);
    }
};

std::set<std::string> inputs_of(const nlohmann::json& run, const char* key) {
    std::set<std::string> s;
    for (const auto& x : run.at(key)) s.insert(x.at("input").get<std::string>());
    return s;
}


}  // namespace

TEST(SeparateBatchCli, SongsOfTheSameNameInTwoAlbumsGetTwoFolders) {
    Batch b;
    b.song("albums/albumA/01.wav", 4.0);
    b.song("albums/albumB/01.wav", 5.0);
    // Two album folders as arguments: each one's name comes first (a parent folder given instead,
    // out/albums/albumA/01/: tests/cli/test_song_list.cpp).
    auto r = b.separate("albums/albumA albums/albumB --outdir out");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(b.frames("out/albumA/01/bongo.wav"), b.frames("albums/albumA/01.wav"));
    EXPECT_EQ(b.frames("out/albumB/01/bongo.wav"), b.frames("albums/albumB/01.wav"));
    EXPECT_TRUE(file_exists(b.dir.file("out/albumA/01/.loopsep-done")));
}

TEST(SeparateBatchCli, AReRunSkipsCompleteSongsAndRedoesTheRest) {
    Batch b;
    b.song("c/a.wav", 4.0);
    b.song("c/b.wav", 4.5);
    b.song("c/d.wav", 5.0);
    write_text(b.dir.file("c/list.txt"), "# three songs\na.wav\nb.wav\n\nd.wav\n");
    auto first = b.separate("--list c/list.txt --outdir out --json");
    ASSERT_EQ(first.exit_code, 0) << first.err;
    EXPECT_EQ(nlohmann::json::parse(first.out)["songs"].size(), 3u);

    // Everything complete: nothing is redone, not even the model is loaded (it is missing now).
    const auto written = fs::last_write_time(b.dir.file("out/a/bongo.wav"));
    fs::rename(b.dir.file("m.safetensors"), b.dir.file("m.keep"));
    auto again = b.separate("--list c/list.txt --outdir out --json");
    ASSERT_EQ(again.exit_code, 0) << again.err;
    auto j = nlohmann::json::parse(again.out);
    EXPECT_TRUE(j["songs"].empty());
    EXPECT_EQ(inputs_of(j, "skipped"), (std::set<std::string>{"c/a.wav", "c/b.wav", "c/d.wav"}));
    EXPECT_EQ(count(again.err, "already separated"), 3) << again.err;
    EXPECT_EQ(fs::last_write_time(b.dir.file("out/a/bongo.wav")), written);
    fs::rename(b.dir.file("m.keep"), b.dir.file("m.safetensors"));

    // b: killed while its stems were being renamed (the partial marker left, a stem cut short):
    // redone without --force. d: stems without any marker (not known to be ours): refused, the
    // batch goes on and exits 1.
    fs::rename(b.dir.file("out/b/.loopsep-done"), b.dir.file("out/b/.loopsep-partial"));
    write_text(b.dir.file("out/b/bongo.wav"), "cut short");
    fs::remove(b.dir.file("out/d/.loopsep-done"));
    auto resumed = b.separate("--list c/list.txt --outdir out --json");
    EXPECT_EQ(resumed.exit_code, 1) << resumed.err;
    j = nlohmann::json::parse(resumed.out);
    EXPECT_EQ(inputs_of(j, "songs"), std::set<std::string>{"c/b.wav"});
    EXPECT_EQ(inputs_of(j, "skipped"), std::set<std::string>{"c/a.wav"});
    EXPECT_EQ(inputs_of(j, "failed"), std::set<std::string>{"c/d.wav"});
    EXPECT_NE(resumed.err.find("out/d/bongo.wav: exists (use --force"), std::string::npos) << resumed.err;
    EXPECT_EQ(b.frames("out/b/bongo.wav"), b.frames("c/b.wav"));
    EXPECT_TRUE(file_exists(b.dir.file("out/b/.loopsep-done")));
    EXPECT_FALSE(file_exists(b.dir.file("out/b/.loopsep-partial")));

    // --force redoes a complete song (the file argument c/a.wav names the same folder, out/a/).
    auto forced = b.separate("c/a.wav --outdir out --json --force");
    ASSERT_EQ(forced.exit_code, 0) << forced.err;
    EXPECT_EQ(inputs_of(nlohmann::json::parse(forced.out), "songs"), std::set<std::string>{"c/a.wav"});
    EXPECT_NE(fs::last_write_time(b.dir.file("out/a/bongo.wav")), written);
}

TEST(SeparateBatchCli, ShardsSeparateEverySongOnceAndTheSchedulerPicksTheShard) {
    Batch b;
    std::string list;
    for (int i = 0; i < 5; ++i) {
        b.song("s/" + std::to_string(i) + ".wav", 4.0 + 0.25 * i);
        list += std::to_string(i) + ".wav\n";
    }
    write_text(b.dir.file("s/list.txt"), list);
    std::vector<std::set<std::string>> shard(3);
    std::multiset<std::string> all;
    for (int i = 0; i < 3; ++i) {
        auto r = b.separate("--list s/list.txt --outdir out --json --shard " + std::to_string(i) + "/3");
        ASSERT_EQ(r.exit_code, 0) << r.err;
        shard[i] = inputs_of(nlohmann::json::parse(r.out), "songs");
        all.insert(shard[i].begin(), shard[i].end());
        EXPECT_NE(r.err.find("shard " + std::to_string(i) + "/3 (--shard): " + std::to_string(shard[i].size()) + " of 5"),
                  std::string::npos)
            << r.err;
    }
    EXPECT_EQ(all, (std::multiset<std::string>{"s/0.wav", "s/1.wav", "s/2.wav", "s/3.wav", "s/4.wav"}));
    for (int i = 0; i < 5; ++i)
        EXPECT_EQ(b.frames("out/" + std::to_string(i) + "/bongo.wav"), b.frames("s/" + std::to_string(i) + ".wav"));

    // Every song is complete now: a run lists its shard's songs as skipped, without separating.
    auto shard_of = [&](const std::string& env, const std::string& flags) {
        auto r = b.separate("--list s/list.txt --outdir out --json " + flags, env);
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return r.exit_code == 0 ? inputs_of(nlohmann::json::parse(r.out), "skipped") : std::set<std::string>{};
    };
    // Slurm, --array=1-3: task 1 is shard 0.
    EXPECT_EQ(shard_of("SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=3", ""), shard[0]);
    // Slurm, --array=0-2: task 2 is shard 2.
    EXPECT_EQ(shard_of("SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_COUNT=3", ""), shard[2]);
    // Kubernetes Indexed Job: JOB_COMPLETION_INDEX with --shards.
    EXPECT_EQ(shard_of("JOB_COMPLETION_INDEX=1", "--shards 3"), shard[1]);
    // The flag wins over the environment.
    EXPECT_EQ(shard_of("SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=3", "--shard 2/3"), shard[2]);
    // Song files given one by one are not a collection to shard: an array task handed its own
    // songs processes them all (here: finds them complete).
    auto files = b.separate("s/0.wav s/1.wav s/2.wav s/3.wav s/4.wav --outdir out --json",
                            "SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=3");
    ASSERT_EQ(files.exit_code, 0) << files.err;
    EXPECT_EQ(nlohmann::json::parse(files.out)["skipped"].size(), 5u);
    // A task outside the array's range is refused naming the variable, before any work.
    auto bad = b.separate("--list s/list.txt --outdir out", "SLURM_ARRAY_TASK_ID=4 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=3");
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_EQ(loopsep::testing::count_lines(bad.err), 1) << bad.err;
    EXPECT_NE(bad.err.find("SLURM_ARRAY_TASK_COUNT=3"), std::string::npos) << bad.err;
    auto no_count = b.separate("--list s/list.txt --outdir out", "JOB_COMPLETION_INDEX=1");
    EXPECT_EQ(no_count.exit_code, 2);
    EXPECT_NE(no_count.err.find("--shards"), std::string::npos) << no_count.err;
}

TEST(SeparateBatchCli, WithoutTargetsTheGenresSetAndTheResidualGoToSeparated) {
    Batch b;
    b.song("song.wav", 4.0);
    // A catalog holding a loop of each instrument, so every default target has a prototype.
    for (const char* inst : {"bongo", "guira", "bass", "guitar"})
        ASSERT_EQ(b.run(std::string("catalog --db c.db add loop.wav --genre bachata --bpm 120 --instrument ") + inst).exit_code, 0);
    auto r = b.run("separate song.wav --genre bachata --catalog c.db --model m.safetensors --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    std::vector<std::string> names;
    for (const auto& t : j["songs"][0]["targets"]) names.push_back(t["name"]);
    EXPECT_EQ(names, (std::vector<std::string>{"bongo", "guira", "bass", "guitar"}));
    for (const char* f : {"bongo", "guira", "bass", "guitar", "residual"})
        EXPECT_EQ(b.frames(std::string("separated/song/") + f + ".wav"), b.frames("song.wav")) << f;
    // No genre: every instrument of the catalog.
    r = b.run("separate song.wav --catalog c.db --model m.safetensors --outdir all --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    names.clear();
    j = nlohmann::json::parse(r.out);
    for (const auto& t : j["songs"][0]["targets"]) names.push_back(t["name"]);
    EXPECT_EQ(names, (std::vector<std::string>{"bass", "bongo", "guira", "guitar"}));
    EXPECT_TRUE(file_exists(b.dir.file("all/song/residual.wav")));
    // A query needs the targets it belongs to.
    auto q = b.run("separate song.wav --query loop.wav --model m.safetensors");
    EXPECT_EQ(q.exit_code, 2);
    EXPECT_NE(q.err.find("--targets"), std::string::npos) << q.err;
}
