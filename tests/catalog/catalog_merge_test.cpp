// catalog merge: per-shard catalogs into one (loopsep/catalog_merge.h). Duplicates kept once with
// their tags reconciled, ids remapped (loops, embeddings, harvest song records), all or nothing,
// and shards whose writer was killed mid-transaction or whose log was cut short.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "loopsep/catalog.h"
#include "loopsep/catalog_merge.h"
#include "loopsep/error.h"
#include "error_expect.h"
#include "test_util.h"

using namespace loopsep;
using namespace loopsep::test;

namespace {

LoopMeta meta(const std::string& instrument, const std::string& genre, const std::string& section = "",
              const std::string& key = "", const std::string& source = "") {
    LoopMeta m;
    m.instrument = instrument;
    m.genre = genre;
    m.bpm = 120;
    m.section = section;
    m.key = key;
    m.source = source;
    return m;
}

std::int64_t add(Catalog& c, double freq_hz, const LoopMeta& m) {
    AddResult r = c.add(make_loop(freq_hz), m);
    EXPECT_EQ(r.status, AddStatus::Added);
    return r.id;
}

std::string record(const std::vector<std::int64_t>& ids) {
    nlohmann::json loops = nlohmann::json::array();
    for (auto id : ids) loops.push_back({{"id", id}, {"bar", 0}});
    return nlohmann::json{{"song", "s/mix.wav"}, {"target", "bongo"}, {"loops", loops}}.dump();
}

std::vector<std::int64_t> record_ids(const Catalog& c, const std::string& key) {
    std::vector<std::int64_t> ids;
    const nlohmann::json j = nlohmann::json::parse(c.meta_value(key));
    for (const auto& l : j.at("loops")) ids.push_back(l.at("id").get<std::int64_t>());
    return ids;
}

std::optional<LoopRecord> by_hash(const Catalog& c, const std::string& hash) {
    for (const auto& r : c.list())
        if (r.hash == hash) return r;
    return std::nullopt;
}

std::vector<std::string> files_in(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

using loopsep::testing::expect_input_error;

// Two shards sharing one loop (440 Hz) and a third catalog of one more loop.
struct Shards {
    TempDir dir;
    std::string a = dir / "a.db", b = dir / "b.db";
    std::string hash_shared, hash_a_only, hash_b_only;
    std::int64_t b_shared_id = 0, b_only_id = 0;
    Shards() {
        Catalog ca = Catalog::open(a, true);
        const std::int64_t a1 = add(ca, 300, meta("bongo", "bachata", "verse", "", "a/song1 bar 1"));
        const std::int64_t a2 = add(ca, 440, meta("bongo", "bachata", "", "", "a/song1 bar 5"));
        ca.set_embedding(a2, "fnv64:m1/query-r2", {1, 2, 3});
        ca.set_meta_value("harvest:h1:bongo", record({a1, a2}));
        ca.set_meta_value("seeded_from", "a-manifest");
        Catalog cb = Catalog::open(b, true);
        b_only_id = add(cb, 550, meta("bongo", "bachata", "derecho", "", "b/song2 bar 1"));
        // The shared loop again: a conflicting genre and source, and a section and key that a lacks.
        b_shared_id = add(cb, 440, meta("bongo", "salsa", "mambo", "Am", "b/song2 bar 3"));
        cb.set_embedding(b_shared_id, "fnv64:m1/query-r2", {9, 9, 9});  // a's copy comes first and wins
        cb.set_embedding(b_shared_id, "fnv64:m2/query-r2", {4, 5});      // a model a has none for: carried
        cb.set_embedding(b_only_id, "fnv64:m2/query-r2", {6, 7});
        cb.set_meta_value("harvest:h2:bongo", record({b_only_id, b_shared_id}));
        cb.set_meta_value("seeded_from", "b-manifest");
        hash_a_only = ca.get(a1)->hash;
        hash_shared = ca.get(a2)->hash;
        hash_b_only = cb.get(b_only_id)->hash;
    }
};

}  // namespace

TEST(CatalogMerge, DuplicatesOnceTagsReconciledIdsRemapped) {
    Shards s;
    const std::string out = s.dir / "out.db";
    MergeReport r = merge_catalogs(out, {s.a, s.b});
    EXPECT_TRUE(r.created);
    EXPECT_EQ(r.loops_before, 0);
    EXPECT_EQ(r.loops_after, 3);
    // Complete under its name, nothing else left: no temporary, no log.
    EXPECT_EQ(files_in(s.dir.path.string()), (std::vector<std::string>{"a.db", "b.db", "out.db"}));
    ASSERT_EQ(r.inputs.size(), 2u);
    EXPECT_EQ(r.inputs[0].added, 2);
    EXPECT_EQ(r.inputs[1].loops, 2);
    EXPECT_EQ(r.inputs[1].added, 1);
    EXPECT_EQ(r.inputs[1].duplicates, 1);
    EXPECT_EQ(r.inputs[1].tags_filled, 2);    // section and key were empty in a's copy
    EXPECT_EQ(r.inputs[1].tag_conflicts, 2);  // genre and source differ: a's kept

    Catalog c = Catalog::open(out, false);
    EXPECT_EQ(c.count(), 3);
    auto shared = by_hash(c, s.hash_shared);
    ASSERT_TRUE(shared);
    EXPECT_EQ(shared->genre, "bachata");
    EXPECT_EQ(shared->source, "a/song1 bar 5");
    EXPECT_EQ(shared->section, "mambo");
    EXPECT_EQ(shared->key, "Am");
    auto b_only = by_hash(c, s.hash_b_only);
    ASSERT_TRUE(b_only);
    EXPECT_EQ(b_only->id, 3);  // b's loop #1 took the next free id of out
    EXPECT_EQ(b_only->source, "b/song2 bar 1");

    // Embeddings: one per (loop, model), the first copy's where both had one.
    EXPECT_EQ(c.embedding(shared->id, "fnv64:m1/query-r2"), (std::vector<float>{1, 2, 3}));
    EXPECT_EQ(c.embedding(shared->id, "fnv64:m2/query-r2"), (std::vector<float>{4, 5}));
    EXPECT_EQ(c.embedding(b_only->id, "fnv64:m2/query-r2"), (std::vector<float>{6, 7}));
    EXPECT_EQ(r.inputs[1].embeddings_added, 2);
    EXPECT_EQ(r.inputs[1].embeddings_kept_existing, 1);

    // Harvest records point at the merged ids: b's song lists its loops under their new ids.
    EXPECT_EQ(record_ids(c, "harvest:h1:bongo"), (std::vector<std::int64_t>{1, 2}));
    EXPECT_EQ(record_ids(c, "harvest:h2:bongo"), (std::vector<std::int64_t>{b_only->id, shared->id}));
    EXPECT_EQ(c.meta_value("seeded_from"), "a-manifest");
    EXPECT_TRUE(c.verify().ok());
}

TEST(CatalogMerge, IntoExistingKeepsItsDataAndAgainAddsNothing) {
    Shards s;
    const std::string out = s.dir / "lib.db";
    std::int64_t own = 0;
    {
        Catalog c = Catalog::open(out, true);
        own = add(c, 440, meta("bongo", "merengue", "", "", "my library"));  // out's copy of the shared loop
        add(c, 700, meta("bass", "bachata"));
    }
    MergeReport r = merge_catalogs(out, {s.a, s.b});
    EXPECT_FALSE(r.created);
    EXPECT_EQ(r.loops_before, 2);
    EXPECT_EQ(r.loops_after, 4);
    Catalog c = Catalog::open(out, false);
    auto shared = c.get(own);
    ASSERT_TRUE(shared);
    EXPECT_EQ(shared->genre, "merengue");  // out comes first
    EXPECT_EQ(shared->source, "my library");
    EXPECT_EQ(record_ids(c, "harvest:h1:bongo"), (std::vector<std::int64_t>{3, own}));

    MergeReport again = merge_catalogs(out, {s.a, s.b});
    EXPECT_EQ(again.loops_after, 4);
    EXPECT_EQ(again.inputs[0].added + again.inputs[1].added, 0);
    EXPECT_EQ(again.inputs[0].duplicates + again.inputs[1].duplicates, 4);
    EXPECT_EQ(again.inputs[1].song_records_existing, 1);
    EXPECT_TRUE(c.verify().ok());
}

TEST(CatalogMerge, SameAudioUnderAnotherInstrumentIsAnotherLoop) {
    // As Catalog::add: a duplicate is the same audio filed under the same instrument.
    TempDir dir;
    {
        Catalog a = Catalog::open(dir / "a.db", true), b = Catalog::open(dir / "b.db", true);
        add(a, 300, meta("bongo", "bachata"));
        add(b, 300, meta("guira", "bachata"));
    }
    MergeReport r = merge_catalogs(dir / "out.db", {dir / "a.db", dir / "b.db"});
    EXPECT_EQ(r.loops_after, 2);
    EXPECT_EQ(Catalog::open(dir / "out.db", false).instruments(), (std::vector<std::string>{"bongo", "guira"}));
}

TEST(CatalogMerge, AFailureHalfWayWritesNothing) {
    Shards s;
    // A third shard whose loop pages are damaged: it opens (its header and schema are fine)
    // but reading its rows fails, after a and b were already merged into the transaction.
    const std::string bad = s.dir / "bad.db";
    {
        Catalog c = Catalog::open(bad, true);
        for (int i = 0; i < 12; ++i) add(c, 800 + 37 * i, meta("guira", "bachata"));
    }
    {
        std::string bytes = read_file(bad);
        ASSERT_GT(bytes.size(), 64u * 1024);
        std::fill(bytes.begin() + long(bytes.size() / 2), bytes.end(), '\xff');
        write_file(bad, bytes);
    }
    const std::string out_new = s.dir / "new.db";
    const std::string msg = expect_input_error([&] { merge_catalogs(out_new, {s.a, s.b, bad}); });
    EXPECT_NE(msg.find(bad), std::string::npos) << msg;
    EXPECT_FALSE(fs::exists(out_new));
    for (const auto& name : files_in(s.dir.path.string())) EXPECT_EQ(name.find(".tmp-"), std::string::npos) << name;

    const std::string out_old = s.dir / "old.db";
    {
        Catalog c = Catalog::open(out_old, true);
        add(c, 990, meta("bass", "bachata"));
    }
    const std::string before = read_file(out_old);
    expect_input_error([&] { merge_catalogs(out_old, {s.a, s.b, bad}); });
    Catalog c = Catalog::open(out_old, false);
    EXPECT_EQ(c.count(), 1);
    EXPECT_TRUE(c.meta_value("harvest:h1:bongo").empty());
    EXPECT_TRUE(c.verify().ok());
}

TEST(CatalogMerge, RefusesBadInputsBeforeWritingAnything) {
    Shards s;
    const std::string out = s.dir / "out.db";
    EXPECT_NE(expect_input_error([&] { merge_catalogs(out, {s.a, s.dir / "missing.db"}); }).find("missing.db"),
              std::string::npos);
    write_file(s.dir / "text.db", "hello, not a database at all");
    EXPECT_NE(expect_input_error([&] { merge_catalogs(out, {s.dir / "text.db"}); }).find("not a SQLite"),
              std::string::npos);
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open((s.dir / "other.db").c_str(), &db), SQLITE_OK);
        sqlite3_exec(db, "CREATE TABLE t(x)", nullptr, nullptr, nullptr);
        sqlite3_close(db);
    }
    EXPECT_NE(expect_input_error([&] { merge_catalogs(out, {s.dir / "other.db"}); }).find("not a loopsep catalog"),
              std::string::npos);
    EXPECT_FALSE(fs::exists(out));
    // The output among the inputs (any spelling of it).
    EXPECT_NE(expect_input_error([&] { merge_catalogs(s.a, {s.b, s.dir / "./a.db"}); }).find("also an input"),
              std::string::npos);
    EXPECT_EQ(Catalog::open(s.a, false).count(), 2);
}

TEST(CatalogMerge, ReadsInputsWithoutWritingBesideThem) {
    // A name that needs escaping in SQLite's URI syntax, and a shard closed cleanly (no log):
    // merging it leaves its folder exactly as it was (no -wal/-shm appear).
    TempDir dir;
    const std::string in = dir / "shard?1#%.db";
    {
        Catalog c = Catalog::open(in, true);
        add(c, 321, meta("bongo", "bachata"));
    }
    const auto before = files_in(dir.path.string());
    const std::string bytes = read_file(in);
    TempDir out_dir;
    MergeReport r = merge_catalogs(out_dir / "out.db", {in, in});  // the same shard twice: its loop once
    EXPECT_EQ(r.loops_after, 1);
    EXPECT_EQ(r.inputs[1].duplicates, 1);
    EXPECT_EQ(files_in(dir.path.string()), before);
    EXPECT_EQ(read_file(in), bytes);
}

// The crash: a harvest task's process killed with SIGKILL while a transaction is open and
// SQLite has already spilled some of its pages into the log. What was committed is merged,
// the spilled pages are reported, the shard's files are not modified.
TEST(CatalogMerge, ShardKilledMidTransactionGivesWhatWasCommitted) {
    TempDir dir;
    const std::string shard = dir / "shard_3.db";
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::close(ready[0]);
        try {
            Catalog c = Catalog::open(shard, true);  // stays open: its commits stay in the log
            std::vector<std::int64_t> ids;
            for (int i = 0; i < 3; ++i) ids.push_back(add(c, 250 + 50 * i, meta("bongo", "bachata")));
            c.set_meta_value("harvest:h9:bongo", record({ids[0], ids[1]}));  // the third song never finished
            sqlite3* db = nullptr;
            sqlite3_open(shard.c_str(), &db);
            sqlite3_exec(db, "PRAGMA cache_size=8; BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
            for (int i = 0; i < 40; ++i) {  // ~2 MB into a cache of 8 pages: spilled to the log as it goes
                std::string q = "INSERT INTO loops(instrument, genre, bpm, beats, sample_rate_hz, channels, frames, "
                                "duration_sec, hash) VALUES('bongo', 'bachata', 120, 4, 44100, 1, 88200, 2, 'h" +
                                std::to_string(i) + "'); INSERT INTO loop_audio VALUES(last_insert_rowid(), 'flac16', "
                                "randomblob(50000))";
                sqlite3_exec(db, q.c_str(), nullptr, nullptr, nullptr);
            }
            if (::write(ready[1], "x", 1) != 1) ::_exit(3);
            ::pause();  // killed here, the transaction still open
        } catch (...) {
        }
        ::_exit(2);
    }
    ::close(ready[1]);
    char x = 0;
    ASSERT_EQ(::read(ready[0], &x, 1), 1) << "the writer died before its transaction";
    ::close(ready[0]);
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int st = 0;
    ::waitpid(pid, &st, 0);
    ASSERT_TRUE(WIFSIGNALED(st));
    ASSERT_TRUE(fs::exists(shard + "-wal"));
    const std::string db_bytes = read_file(shard), wal_bytes = read_file(shard + "-wal");

    const std::string out = dir / "merged.db";
    MergeReport r = merge_catalogs(out, {shard});
    ASSERT_EQ(r.inputs.size(), 1u);
    EXPECT_EQ(r.loops_after, 3);
    EXPECT_GT(r.inputs[0].uncommitted_frames, 0);  // what SQLite spilled of the open transaction (17 here)
    EXPECT_FALSE(r.inputs[0].torn_frame);
    EXPECT_EQ(r.inputs[0].loops_without_song_record, 1);
    std::string notes;
    for (const auto& n : r.inputs[0].notes) notes += n + "\n";
    EXPECT_NE(notes.find("never committed"), std::string::npos) << notes;
    EXPECT_NE(notes.find("1 loops belong to no finished harvest song"), std::string::npos) << notes;
    Catalog c = Catalog::open(out, false);
    EXPECT_EQ(c.count(), 3);
    EXPECT_EQ(record_ids(c, "harvest:h9:bongo"), (std::vector<std::int64_t>{1, 2}));
    EXPECT_TRUE(c.verify().ok());
    // Only read: the shard's database and log are byte for byte what the crash left.
    EXPECT_EQ(read_file(shard), db_bytes);
    EXPECT_EQ(read_file(shard + "-wal"), wal_bytes);
}

// A log cut short in its last transaction (a full disk, a node lost while writing): the
// transactions before it are merged, the torn one is reported.
TEST(CatalogMerge, TruncatedLogLosesOnlyItsLastTransaction) {
    TempDir dir;
    const std::string shard = dir / "shard_0.db";
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        try {
            Catalog c = Catalog::open(shard, true);
            for (int i = 0; i < 4; ++i) add(c, 250 + 50 * i, meta("bongo", "bachata"));
            ::raise(SIGKILL);  // dies with the 4 commits still in its log (no checkpoint on close)
        } catch (...) {
        }
        ::_exit(2);
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    ASSERT_TRUE(WIFSIGNALED(st));
    const std::string wal = shard + "-wal";
    const auto wal_size = fs::file_size(wal);
    ASSERT_GT(wal_size, 4096u * 4);
    fs::resize_file(wal, wal_size - 2048);  // half of the last frame (4 kB pages + 24-byte headers)

    MergeReport r = merge_catalogs(dir / "out.db", {shard});
    EXPECT_EQ(r.loops_after, 3);
    EXPECT_TRUE(r.inputs[0].torn_frame);
    EXPECT_GT(r.inputs[0].uncommitted_frames, 0);  // the last transaction's frames before its commit frame
    Catalog c = Catalog::open(dir / "out.db", false);
    EXPECT_TRUE(c.verify().ok());
}

TEST(CatalogMerge, CommandLine) {
    Shards s;
    const std::string out = s.dir / "out.db";
    auto r = run_loopsep({"catalog", "merge", out, s.a, s.b}, s.dir.path.string());
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("merged 2 catalogs into " + out + " (new): 3 loops (was 0), 2 tag conflicts (first kept)"),
              std::string::npos)
        << r.out;
    auto j = run_loopsep({"catalog", "merge", out, s.a, s.b, "--json"}, s.dir.path.string());
    EXPECT_EQ(j.rc, 0) << j.err;
    auto parsed = nlohmann::json::parse(j.out);
    EXPECT_EQ(parsed["loops_after"], 3);
    EXPECT_EQ(parsed["inputs"][1]["duplicates"], 2);
    auto usage = run_loopsep({"catalog", "--db", out, "merge", out, s.a}, s.dir.path.string());
    EXPECT_EQ(usage.rc, 2);
    EXPECT_NE(usage.err.find("first argument"), std::string::npos) << usage.err;
    auto one = run_loopsep({"catalog", "merge", out}, s.dir.path.string());
    EXPECT_EQ(one.rc, 2);
    auto missing = run_loopsep({"catalog", "merge", s.dir / "x.db", s.dir / "nope.db"}, s.dir.path.string());
    EXPECT_EQ(missing.rc, 1);
    EXPECT_NE(missing.err.find("nope.db"), std::string::npos) << missing.err;
    EXPECT_FALSE(fs::exists(s.dir / "x.db"));
}
