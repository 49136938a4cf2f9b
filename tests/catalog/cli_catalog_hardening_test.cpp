// `loopsep catalog` against careless use: FIFOs as the database, exports over existing files,
// tags that contradict the audio (length vs beats vs tempo), rows changed behind its back, and
// float files above full scale.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "loopsep/catalog.h"
#include "loopsep/error.h"
#include "loopsep/loopfile.h"
#include "test_util.h"

using namespace loopsep;
using namespace loopsep::test;

namespace {
const std::string kTimeout = "timeout 20";

void expect_refusal(const RunResult& r, int code, const std::string& needle) {
    EXPECT_EQ(r.rc, code) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

int count_rows(const std::string& db) {
    return int(Catalog::open(db, false).count());
}

// A change made with another tool (what a hand edit or a bad merge leaves), CHECK constraints off.
void raw_sql(const std::string& db, const std::string& sql) {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    const std::string all = "PRAGMA ignore_check_constraints = ON; " + sql;
    EXPECT_EQ(sqlite3_exec(h, all.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
    sqlite3_close(h);
}
}  // namespace

TEST(CatalogHardening, AFifoAsTheDatabaseIsRefusedNotWaitedOn) {
    TempDir dir;
    ASSERT_EQ(::mkfifo((dir / "c.db").c_str(), 0644), 0);
    expect_refusal(run_loopsep({"catalog", "--db", dir / "c.db", "list"}, dir.path.string(), kTimeout), 1,
                   "not a regular file");
    expect_refusal(run_loopsep({"catalog", "--db", dir / "c.db", "init"}, dir.path.string(), kTimeout), 1,
                   "not a regular file");
}

TEST(CatalogHardening, ExportRefusesExistingFilesWithoutForceAndFifosAlways) {
    TempDir dir;
    const std::string db = dir / "c.db", d = dir.path.string();
    write_audio(dir / "a.wav", make_loop(440, 128, 8));
    ASSERT_EQ(run_loopsep({"catalog", "--db", db, "add", dir / "a.wav", "--instrument", "bongo", "--genre", "bachata",
                           "--bpm", "128"},
                          d)
                  .rc,
              0);
    auto first = run_loopsep({"catalog", "--db", db, "export", "1", "--out", dir / "out"}, d, kTimeout);
    ASSERT_EQ(first.rc, 0) << first.err;
    const std::string file = first.out.substr(0, first.out.find('\n'));
    write_file(file, "mine");
    expect_refusal(run_loopsep({"catalog", "--db", db, "export", "1", "--out", dir / "out"}, d, kTimeout), 1, "--force");
    EXPECT_EQ(read_file(file), "mine");
    auto forced = run_loopsep({"catalog", "--db", db, "export", "1", "--out", dir / "out", "--force"}, d, kTimeout);
    ASSERT_EQ(forced.rc, 0) << forced.err;
    EXPECT_EQ(read_audio(file).frames(), read_audio(dir / "a.wav").frames());
    fs::remove(file);
    ASSERT_EQ(::mkfifo(file.c_str(), 0644), 0);
    expect_refusal(run_loopsep({"catalog", "--db", db, "export", "1", "--out", dir / "out", "--force"}, d, kTimeout), 1,
                   "not a regular file");
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

TEST(CatalogHardening, AddRefusesTagsThatContradictTheLength) {
    TempDir dir;
    const std::string db = dir / "c.db", d = dir.path.string();
    write_audio(dir / "four.wav", make_loop(440, 120, 4));  // 2 s: four beats at 120 BPM
    // Eight beats in 2 s is 240 BPM, not 120.
    expect_refusal(run_loopsep({"catalog", "--db", db, "add", dir / "four.wav", "--instrument", "bongo", "--genre",
                                "bachata", "--bpm", "120", "--beats", "8"},
                               d),
                   1, "beats");
    // Within 10 %: accepted.
    auto ok = run_loopsep({"catalog", "--db", db, "add", dir / "four.wav", "--instrument", "bongo", "--genre", "bachata",
                           "--bpm", "125", "--beats", "4"},
                          d);
    ASSERT_EQ(ok.rc, 0) << ok.err;
    // Shorter than one beat: 0.3 s at 120 BPM is 0.6 of a beat.
    Audio blip = make_loop(330, 120, 4);
    for (auto& ch : blip.channels) ch.resize(13230);
    write_audio(dir / "blip.wav", blip);
    expect_refusal(run_loopsep({"catalog", "--db", db, "add", dir / "blip.wav", "--instrument", "bongo", "--genre",
                                "bachata", "--bpm", "120"},
                               d),
                   1, "shorter than one beat");
    EXPECT_EQ(count_rows(db), 1);
}

TEST(CatalogHardening, ImportRefusesInconsistentFilesAndKeepsTheRest) {
    TempDir dir;
    const std::string db = dir / "c.db", d = dir.path.string();
    fs::create_directories(dir / "in");
    write_audio(dir / "in/a.wav", make_loop(440, 120, 4));  // 2 s = 4 beats at 120
    write_audio(dir / "in/b.wav", make_loop(550, 60, 4));   // 4 s = 8 beats at 120: contradicts --beats 4
    auto r = run_loopsep({"catalog", "--db", db, "import", dir / "in", "--instrument", "bongo", "--genre", "bachata",
                          "--bpm", "120", "--beats", "4"},
                         d);
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("1 added"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("1 refused"), std::string::npos) << r.out;
    EXPECT_EQ(count_rows(db), 1);
}

// Issue #40 item 10: a row whose bpm was changed outside loopsep made `export` fail with exit 2 (a usage
// error) and "loop_file_name: bpm must be positive": the user had typed nothing wrong. Now an input
// error naming the catalog, the loop and the field, and nothing is written.
TEST(CatalogHardening, ExportOfATamperedRowIsAnInputErrorNamingTheRow) {
    TempDir dir;
    const std::string db = dir / "c.db", d = dir.path.string();
    write_audio(dir / "a.wav", make_loop(440, 120, 4));
    ASSERT_EQ(run_loopsep({"catalog", "--db", db, "add", dir / "a.wav", "--instrument", "bongo", "--genre", "bachata",
                           "--bpm", "120"},
                          d)
                  .rc,
              0);
    raw_sql(db, "UPDATE loops SET bpm = -3 WHERE id = 1");
    auto bpm = run_loopsep({"catalog", "--db", db, "export", "1", "--out", dir / "out"}, d, kTimeout);
    expect_refusal(bpm, 1, "loop #1: bpm -3");
    EXPECT_EQ(std::count(bpm.err.begin(), bpm.err.end(), '\n'), 1) << bpm.err;
    raw_sql(db, "UPDATE loops SET bpm = 120, beats = 0 WHERE id = 1");
    expect_refusal(run_loopsep({"catalog", "--db", db, "export", "1", "--out", dir / "out"}, d, kTimeout), 1,
                   "loop #1: beats 0");
    EXPECT_FALSE(fs::exists(dir / "out") && !fs::is_empty(dir / "out"));
}

// One tempo limit for tags and loop files (kMaxLoopBpm, the acid chunk's 999): a row at 999.5 BPM passed
// the tag check (up to 1000) and then made export fail with exit 2 in the acid writer. Now add refuses
// it, a row changed to it is an input error naming the row, and 999 itself exports with its tempo.
TEST(CatalogHardening, TheTempoLimitIsTheSameForTagsAndExportedLoopFiles) {
    TempDir dir;
    const std::string db = dir / "c.db", d = dir.path.string();
    {
        Catalog c = Catalog::open(db, true);
        LoopMeta m;
        m.instrument = "bongo";
        m.genre = "bachata";
        m.bpm = 999.5;
        m.beats = 16;
        EXPECT_THROW(c.add(make_loop(440, 999.5, 16), m), loopsep::Error);
        EXPECT_EQ(c.count(), 0);
        m.bpm = 999;
        ASSERT_EQ(c.add(make_loop(440, 999, 16), m).id, 1);
    }
    ASSERT_EQ(run_loopsep({"catalog", "--db", db, "export", "1", "--out", dir / "ok"}, d, kTimeout).rc, 0);
    ASSERT_EQ(std::distance(fs::directory_iterator(dir / "ok"), fs::directory_iterator()), 1);
    EXPECT_DOUBLE_EQ(read_loop_info(fs::directory_iterator(dir / "ok")->path().string()).tempo_bpm, 999.0);
    raw_sql(db, "UPDATE loops SET bpm = 999.5 WHERE id = 1");
    auto r = run_loopsep({"catalog", "--db", db, "export", "1", "--out", dir / "out"}, d, kTimeout);
    expect_refusal(r, 1, "loop #1: bpm 999.5 is not in (0, 999]");
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(dir / "out") && !fs::is_empty(dir / "out"));
}

// Issue #40 item 8: a float file above full scale (×1e6 in the report) was stored as 16-bit FLAC with
// nearly every sample at full scale, silently. It is still added (the tags are right), with a warning.
TEST(CatalogHardening, AddAndImportWarnWhenAFloatFileAboveFullScaleIsClipped) {
    TempDir dir;
    const std::string db = dir / "c.db", d = dir.path.string();
    Audio hot = make_loop(440, 120, 4);
    const float scale = 3.0f / hot.peak();
    for (auto& ch : hot.channels)
        for (auto& v : ch) v *= scale;
    fs::create_directories(dir / "in");
    write_audio(dir / "in/hot.wav", hot, {FileFormat::Wav, SampleBits::Float32});
    write_audio(dir / "cool.wav", make_loop(330, 120, 4), {FileFormat::Wav, SampleBits::Float32});
    const std::vector<std::string> tags = {"--instrument", "bongo", "--genre", "bachata", "--bpm", "120"};
    auto with_tags = [&](std::vector<std::string> args) {
        args.insert(args.end(), tags.begin(), tags.end());
        return args;
    };

    auto add = run_loopsep(with_tags({"catalog", "--db", db, "add", dir / "in/hot.wav"}), d);
    ASSERT_EQ(add.rc, 0) << add.err;
    EXPECT_NE(add.err.find("hot.wav: peak 3 is above full scale"), std::string::npos) << add.err;
    EXPECT_LE(Catalog::open(db, false).load_audio(1).peak(), 1.0f);
    auto cool = run_loopsep(with_tags({"catalog", "--db", db, "add", dir / "cool.wav"}), d);
    ASSERT_EQ(cool.rc, 0) << cool.err;
    EXPECT_EQ(cool.err.find("full scale"), std::string::npos) << cool.err;

    auto import = run_loopsep(with_tags({"catalog", "--db", dir / "d.db", "import", dir / "in"}), d);
    ASSERT_EQ(import.rc, 0) << import.err;
    EXPECT_NE(import.err.find("hot.wav: peak 3 is above full scale"), std::string::npos) << import.err;
}
