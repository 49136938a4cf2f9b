// `loopsep catalog` as users run it: spawning real processes for concurrency,
// kill -9 during import, refusals of bad --db files, read-only locations and
// bad audio.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <set>

#include "loopsep/catalog.h"
#include "test_util.h"

#if __has_include("loopsep/loopfile.h")  // the loops library is linked: exports carry acid/smpl
#include "loopsep/loopfile.h"
#define LOOPSEP_TEST_HAVE_LOOPFILE 1
#endif

using namespace loopsep;
using namespace loopsep::test;

namespace {

// Writes n distinct one-second loops (4 beats at 240 bpm) into dir (tone frequency base + 3 i).
std::vector<std::string> make_loop_files(const std::string& dir, int n, double base_hz) {
    fs::create_directories(dir);
    std::vector<std::string> files;
    for (int i = 0; i < n; ++i) {
        char name[64];
        std::snprintf(name, sizeof name, "loop_%03d.wav", i);
        const std::string path = (fs::path(dir) / name).string();
        write_audio(path, make_loop(base_hz + 3.0 * i, 240, 4));
        files.push_back(path);
    }
    return files;
}

pid_t spawn(const std::vector<std::string>& args, int stdout_fd) {
    pid_t pid = ::fork();
    if (pid == 0) {
        int null_fd = ::open("/dev/null", O_WRONLY);
        ::dup2(stdout_fd >= 0 ? stdout_fd : null_fd, 1);
        ::dup2(null_fd, 2);
        std::vector<char*> argv;
        std::string prog = LOOPSEP_BINARY;
        argv.push_back(prog.data());
        std::vector<std::string> copy = args;
        for (auto& a : copy) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(LOOPSEP_BINARY, argv.data());
        ::_exit(127);
    }
    return pid;
}

int wait_rc(pid_t pid) {
    int st = 0;
    ::waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::int64_t count_loops(const std::string& db) { return Catalog::open(db, false).count(); }

}  // namespace

TEST(CatalogCli, FourProcessesAddingAtOnceLoseNothing) {
    TempDir dir;
    const std::string db = dir / "c.db";  // not created beforehand: the four race to create it too
    std::vector<std::vector<std::string>> files;
    for (int p = 0; p < 4; ++p) files.push_back(make_loop_files(dir / ("in" + std::to_string(p)), 12, 200.0 + 100 * p));
    std::vector<pid_t> pids;
    for (int p = 0; p < 4; ++p)
        pids.push_back(spawn({"catalog", "--db", db, "import", dir / ("in" + std::to_string(p)), "--instrument",
                              "bongo", "--genre", "bachata", "--bpm", "120"},
                             -1));
    // And four single adds of the same file at once: exactly one row for it.
    write_audio(dir / "same.wav", make_loop(5000));
    for (int p = 0; p < 4; ++p)
        pids.push_back(spawn({"catalog", "--db", db, "add", dir / "same.wav", "--instrument", "bongo", "--genre",
                              "bachata", "--bpm", "120"},
                             -1));
    for (pid_t pid : pids) EXPECT_EQ(wait_rc(pid), 0);
    Catalog cat = Catalog::open(db, false);
    EXPECT_EQ(cat.count(), 4 * 12 + 1);
    std::set<std::string> sources;
    for (const auto& r : cat.list()) sources.insert(r.source);
    for (const auto& group : files)
        for (const auto& f : group) EXPECT_TRUE(sources.count(f)) << f;
    EXPECT_TRUE(cat.verify().ok());
}

TEST(CatalogCli, KillDuringImportKeepsEveryCommittedFile) {
    TempDir dir;
    const std::string db = dir / "c.db";
    const auto files = make_loop_files(dir / "in", 100, 150.0);
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = spawn({"catalog", "--db", db, "import", dir / "in", "--instrument", "bongo", "--genre", "bachata",
                       "--bpm", "240"},
                      fds[1]);
    ::close(fds[1]);
    FILE* in = ::fdopen(fds[0], "r");
    std::vector<std::string> committed;  // files the import reported as added
    char line[4096];
    bool killed = false;
    while (std::fgets(line, sizeof line, in)) {
        std::string l = line;
        if (l.rfind("added ", 0) == 0) committed.push_back(l.substr(6, l.find(" -> ") - 6));
        if (!killed && committed.size() >= 8) {
            ::kill(pid, SIGKILL);
            killed = true;
        }
    }
    std::fclose(in);
    EXPECT_EQ(wait_rc(pid), 128 + SIGKILL);
    ASSERT_TRUE(killed);
    ASSERT_LT(committed.size(), files.size()) << "import finished before the kill";

    auto v = run_loopsep({"catalog", "--db", db, "verify"}, dir.path.string());
    EXPECT_EQ(v.rc, 0) << v.out << v.err;
    std::set<std::string> sources;
    {
        Catalog cat = Catalog::open(db, false);
        for (const auto& r : cat.list()) sources.insert(r.source);
    }
    EXPECT_GE(sources.size(), committed.size());
    for (const auto& f : committed) EXPECT_TRUE(sources.count(f)) << f;

    // Running the import again completes it: nothing twice, nothing missing.
    auto again = run_loopsep({"catalog", "--db", db, "import", dir / "in", "--instrument", "bongo", "--genre",
                              "bachata", "--bpm", "240"},
                             dir.path.string());
    EXPECT_EQ(again.rc, 0) << again.err;
    EXPECT_NE(again.out.find(std::to_string(sources.size()) + " skipped"), std::string::npos) << again.out;
    EXPECT_EQ(count_loops(db), static_cast<std::int64_t>(files.size()));
}

TEST(CatalogCli, NonSqliteAndCorruptDbRefusedAndUntouched) {
    TempDir dir;
    write_audio(dir / "a.wav", make_loop(440));
    const std::string text = dir / "notes.txt";
    write_file(text, "shopping list: bongo, guira\n");
    for (const std::vector<std::string>& cmd :
         {std::vector<std::string>{"catalog", "--db", text, "init"},
          std::vector<std::string>{"catalog", "--db", text, "list"},
          std::vector<std::string>{"catalog", "--db", text, "add", dir / "a.wav", "--instrument", "bongo", "--genre",
                                   "bachata", "--bpm", "120"}}) {
        auto r = run_loopsep(cmd, dir.path.string());
        EXPECT_EQ(r.rc, 1) << cmd[3];
        EXPECT_NE(r.err.find("not a SQLite database"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(text), std::string::npos) << r.err;
        EXPECT_EQ(read_file(text), "shopping list: bongo, guira\n");
    }
    // A real catalog whose schema page was overwritten.
    const std::string db = dir / "c.db";
    ASSERT_EQ(run_loopsep({"catalog", "--db", db, "add", dir / "a.wav", "--instrument", "bongo", "--genre", "bachata",
                           "--bpm", "120"},
                          dir.path.string())
                  .rc,
              0);
    { Catalog cat = Catalog::open(db, false); }  // last close checkpoints the WAL into the file
    std::string bytes = read_file(db);
    ASSERT_GT(bytes.size(), 4096u);
    for (std::size_t i = 100; i < 4096; ++i) bytes[i] = static_cast<char>(i * 13);
    write_file(db, bytes);
    for (const char* sub : {"list", "verify", "init"}) {
        auto r = run_loopsep({"catalog", "--db", db, sub}, dir.path.string());
        EXPECT_EQ(r.rc, 1) << sub;
        EXPECT_NE(r.err.find(db), std::string::npos) << r.err;
        EXPECT_EQ(read_file(db), bytes) << sub;
    }
}

TEST(CatalogCli, ReadOnlyLocationGivesClearError) {
    TempDir dir;
    write_audio(dir / "a.wav", make_loop(440));
    std::string db;
    if (::geteuid() == 0) {
        db = "/sys/loopsep-catalog-test.db";  // root ignores permission bits; sysfs refuses new files even to root
    } else {
        fs::create_directories(dir.path / "ro");
        fs::permissions(dir.path / "ro", fs::perms::owner_read | fs::perms::owner_exec);
        db = dir / "ro/c.db";
    }
    for (const std::vector<std::string>& cmd :
         {std::vector<std::string>{"catalog", "--db", db, "init"},
          std::vector<std::string>{"catalog", "--db", db, "add", dir / "a.wav", "--instrument", "bongo", "--genre",
                                   "bachata", "--bpm", "120"}}) {
        auto r = run_loopsep(cmd, dir.path.string());
        EXPECT_EQ(r.rc, 1);
        EXPECT_NE(r.err.find("read-only"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(db), std::string::npos) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
    EXPECT_FALSE(fs::exists(db));
}

TEST(CatalogCli, BadAudioRefusedWithNothingWritten) {
    TempDir dir;
    const std::string db = dir / "c.db";
    write_file(dir / "text.wav", "this is not audio at all, just some text pretending");
    write_file(dir / "empty.wav", "");
    write_audio(dir / "silent.wav", Audio(1, 44100));
    for (const char* name : {"text.wav", "empty.wav", "silent.wav", "missing.wav"}) {
        auto r = run_loopsep({"catalog", "--db", db, "add", dir / name, "--instrument", "bongo", "--genre", "bachata",
                              "--bpm", "120"},
                             dir.path.string());
        EXPECT_EQ(r.rc, 1) << name;
        EXPECT_NE(r.err.find(name), std::string::npos) << r.err;
        EXPECT_FALSE(fs::exists(db)) << name;  // not even an empty catalog
    }
    ASSERT_EQ(run_loopsep({"catalog", "--db", db, "init"}, dir.path.string()).rc, 0);
    auto r = run_loopsep({"catalog", "--db", db, "add", dir / "silent.wav", "--instrument", "bongo", "--genre",
                          "bachata", "--bpm", "120"},
                         dir.path.string());
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.err.find("silent"), std::string::npos) << r.err;
    EXPECT_EQ(count_loops(db), 0);

    // import: the good file goes in, the bad ones are counted as refused, exit 1.
    fs::create_directories(dir.path / "mixed");
    write_audio(dir / "mixed/good.wav", make_loop(440));
    fs::copy_file(dir / "text.wav", dir / "mixed/bad.wav");
    fs::copy_file(dir / "silent.wav", dir / "mixed/quiet.wav");
    write_file(dir / "mixed/README.txt", "not audio, not considered");
    auto imp = run_loopsep({"catalog", "--db", db, "import", dir / "mixed", "--instrument", "bongo", "--genre",
                            "bachata", "--bpm", "120"},
                           dir.path.string());
    EXPECT_EQ(imp.rc, 1);
    EXPECT_NE(imp.out.find("1 added, 0 skipped (duplicates), 2 refused"), std::string::npos) << imp.out;
    EXPECT_EQ(count_loops(db), 1);
}

TEST(CatalogCli, DuplicateNotStoredTwiceAndCommandsWork) {
    TempDir dir;
    const std::string db = dir / "c.db";
    const std::string d = dir.path.string();
    write_audio(dir / "a.wav", make_loop(440, 128, 8));
    write_audio(dir / "b.wav", make_loop(660, 90, 4));
    EXPECT_EQ(run_loopsep({"catalog", "--db", db, "init"}, d).rc, 0);
    EXPECT_EQ(run_loopsep({"catalog", "--db", db, "init"}, d).rc, 0);  // idempotent
    auto a = run_loopsep({"catalog", "--db", db, "add", dir / "a.wav", "--instrument", "bongo", "--genre", "bachata",
                          "--bpm", "128", "--section", "derecho", "--key", "Am", "--source", "take \"1\"\\\tdemo"},
                         d);
    ASSERT_EQ(a.rc, 0) << a.err;
    auto dup = run_loopsep({"catalog", "--db", db, "add", dir / "a.wav", "--instrument", "bongo", "--genre",
                            "bachata", "--bpm", "128"},
                           d);
    EXPECT_EQ(dup.rc, 0);
    EXPECT_NE(dup.out.find("duplicate"), std::string::npos) << dup.out;
    // --db after the command works too.
    ASSERT_EQ(run_loopsep({"catalog", "add", dir / "b.wav", "--db", db, "--instrument", "drums", "--genre", "hiphop",
                           "--bpm", "90"},
                          d)
                  .rc,
              0);
    EXPECT_EQ(count_loops(db), 2);

    auto list = run_loopsep({"catalog", "--db", db, "list", "--instrument", "bongo", "--json"}, d);
    ASSERT_EQ(list.rc, 0);
    auto j = nlohmann::json::parse(list.out);
    ASSERT_EQ(j.size(), 1u);
    for (const char* k : {"id", "instrument", "genre", "section", "bpm", "beats", "key", "duration_sec", "source", "hash"})
        EXPECT_TRUE(j[0].contains(k)) << k;
    EXPECT_EQ(j[0]["section"], "derecho");
    EXPECT_EQ(j[0]["beats"], 8);
    EXPECT_EQ(j[0]["bpm"], 128.0);
    EXPECT_EQ(j[0]["source"], "take \"1\"\\\tdemo");  // escaped and parsed back exactly
    const long id = j[0]["id"];
    auto none = run_loopsep({"catalog", "--db", db, "list", "--bpm-min", "100", "--bpm-max", "110", "--json"}, d);
    EXPECT_EQ(nlohmann::json::parse(none.out).size(), 0u);

    auto show = run_loopsep({"catalog", "--db", db, "show", std::to_string(id)}, d);
    EXPECT_EQ(show.rc, 0);
    EXPECT_NE(show.out.find("derecho"), std::string::npos);
    auto exp = run_loopsep({"catalog", "--db", db, "export", "--instrument", "bongo", "--out", dir / "out"}, d);
    ASSERT_EQ(exp.rc, 0) << exp.err;
    char name[64];
    // --key Am reaches the file name (and the root note below).
    std::snprintf(name, sizeof name, "bachata_bongo_128bpm_amin_derecho_%04ld.wav", id);
    EXPECT_TRUE(fs::exists(dir.path / "out" / name)) << exp.out;
    EXPECT_EQ(read_audio(dir / ("out/" + std::string(name))).frames(), read_audio(dir / "a.wav").frames());
#ifdef LOOPSEP_TEST_HAVE_LOOPFILE
    LoopInfo info = read_loop_info(dir / ("out/" + std::string(name)));
    EXPECT_NEAR(info.tempo_bpm, 128, 1e-3);
    EXPECT_EQ(info.beats, 8);
    EXPECT_EQ(info.root_note, 69);  // A, from --key Am
#endif

    auto stats = run_loopsep({"catalog", "--db", db, "stats", "--json"}, d);
    ASSERT_EQ(stats.rc, 0);
    EXPECT_EQ(nlohmann::json::parse(stats.out)["loops"], 2);
    EXPECT_EQ(run_loopsep({"catalog", "--db", db, "verify"}, d).rc, 0);
    EXPECT_EQ(run_loopsep({"catalog", "--db", db, "remove", std::to_string(id)}, d).rc, 0);
    EXPECT_EQ(run_loopsep({"catalog", "--db", db, "remove", std::to_string(id)}, d).rc, 1);
    EXPECT_EQ(run_loopsep({"catalog", "--db", db, "show", std::to_string(id)}, d).rc, 1);
    EXPECT_EQ(count_loops(db), 1);
    // Reading commands do not create a catalog.
    EXPECT_EQ(run_loopsep({"catalog", "--db", dir / "nope.db", "list"}, d).rc, 1);
    EXPECT_FALSE(fs::exists(dir / "nope.db"));
}

TEST(CatalogCli, UsageErrors) {
    TempDir dir;
    const std::string d = dir.path.string();
    const std::string db = dir / "c.db";
    EXPECT_EQ(run_loopsep({"catalog"}, d).rc, 2);
    EXPECT_EQ(run_loopsep({"catalog", "--db", db, "frobnicate"}, d).rc, 2);
    EXPECT_EQ(run_loopsep({"catalog", "--db"}, d).rc, 2);
    EXPECT_EQ(run_loopsep({"catalog", "--db", db, "list", "--bpm-min", "fast"}, d).rc, 2);
    EXPECT_EQ(run_loopsep({"catalog", "--db", db, "show", "abc"}, d).rc, 2);
    EXPECT_EQ(run_loopsep({"catalog", "--db", db, "add", "x.wav", "--genre", "bachata"}, d).rc, 2);  // no instrument
    EXPECT_EQ(run_loopsep({"catalog", "--db", db, "export", "--out", dir / "o"}, d).rc, 2);          // nothing chosen
    EXPECT_EQ(run_loopsep({"catalog", "--help"}, d).rc, 0);
    EXPECT_EQ(run_loopsep({"catalog", "list", "--help"}, d).rc, 0);
}

TEST(CatalogCli, DefaultCatalogCreatedAndSeededOnFirstUse) {
    TempDir dir;
    fs::create_directories(dir.path / "samples/loops");
    write_audio(dir / "samples/loops/bongo.flac", make_loop(700, 128, 8), {FileFormat::Flac});
    write_file(dir / "samples/loops/loops.json",
               R"([{"file": "bongo.flac", "instrument": "bongo", "genre": "bachata", "section": "derecho",
                    "bpm": 128, "beats": 8, "key": "", "source": "synth"}])");
    const std::string env = "env -u LOOPSEP_CATALOG XDG_DATA_HOME=" + shell_quote(dir / "data") +
                            " LOOPSEP_SAMPLES=" + shell_quote(dir / "samples");
    auto r = run_loopsep({"catalog", "list", "--json"}, dir.path.string(), env);
    ASSERT_EQ(r.rc, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j.size(), 1u);
    EXPECT_EQ(j[0]["instrument"], "bongo");
    EXPECT_TRUE(fs::exists(dir.path / "data/loopsep/catalog.db"));
}

TEST(CatalogCli, AddWithoutBpmEstimatesIt) {
    if (!can_estimate_bpm()) GTEST_SKIP() << "tempo estimation not built in";
    TempDir dir;
    write_audio(dir / "a.wav", make_loop(440, 128, 8));  // 3.75 s: only 8 beats gives a plausible tempo
    auto r = run_loopsep({"catalog", "--db", dir / "c.db", "add", dir / "a.wav", "--instrument", "bongo", "--genre",
                          "bachata"},
                         dir.path.string());
    ASSERT_EQ(r.rc, 0) << r.err;
    Catalog cat = Catalog::open(dir / "c.db", false);
    auto rows = cat.list();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_NEAR(rows[0].bpm, 128, 1.0);
    EXPECT_EQ(rows[0].beats, 8);
}

TEST(CatalogCli, VerifyExitsNonZeroOnDamagedAudio) {
    TempDir dir;
    const std::string db = dir / "c.db";
    std::int64_t id;
    {
        Catalog cat = Catalog::open(db, true);
        LoopMeta m;
        m.instrument = "bongo";
        m.genre = "bachata";
        m.bpm = 120;
        id = cat.add(make_loop(440), m).id;
    }
    std::vector<unsigned char> other = encode_audio(make_loop(441));
    ASSERT_TRUE(overwrite_loop_audio(db, id, other));
    auto r = run_loopsep({"catalog", "--db", db, "verify"}, dir.path.string());
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.out.find("hash mismatch"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("DAMAGED"), std::string::npos) << r.out;
}
