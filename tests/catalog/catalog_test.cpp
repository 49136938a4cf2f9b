// The catalog library: add/list/get/remove, dedupe, embeddings, verify, and the
// refusals on open (non-SQLite, corrupt, foreign, newer schema, missing).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "loopsep/catalog.h"
#include "loopsep/error.h"
#include "error_expect.h"
#include "test_util.h"

using namespace loopsep;
using namespace loopsep::test;

namespace {
LoopMeta meta(const std::string& instrument, const std::string& genre, double bpm, const std::string& section = "") {
    LoopMeta m;
    m.instrument = instrument;
    m.genre = genre;
    m.bpm = bpm;
    m.section = section;
    m.source = "test";
    return m;
}

using loopsep::testing::expect_input_error;

void raw_exec(const std::string& path, const char* sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
}
}  // namespace

TEST(Catalog, AddGetListRoundTrip) {
    TempDir dir;
    Catalog cat = Catalog::open(dir / "sub/folder/c.db", true);  // creates the folders
    Audio loop = make_loop(440, 120, 4, 2);
    AddResult r = cat.add(loop, meta(" Bongo ", "Bachata", 120, "Derecho"));
    EXPECT_EQ(r.status, AddStatus::Added);
    auto rec = cat.get(r.id);
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->instrument, "bongo");  // normalized
    EXPECT_EQ(rec->genre, "bachata");
    EXPECT_EQ(rec->section, "derecho");
    EXPECT_EQ(rec->beats, 4);             // derived from 2 s at 120 bpm
    EXPECT_EQ(rec->channels, 2);
    EXPECT_EQ(rec->sample_rate_hz, 44100);
    EXPECT_EQ(rec->frames, static_cast<std::int64_t>(loop.frames()));
    EXPECT_NEAR(rec->duration_sec, 2.0, 1e-6);
    EXPECT_EQ(rec->hash.size(), 64u);
    EXPECT_EQ(rec->created_at.size(), 20u);

    Audio back = cat.load_audio(r.id);
    ASSERT_EQ(back.frames(), loop.frames());
    ASSERT_EQ(back.num_channels(), 2);
    double max_err = 0;
    for (int c = 0; c < 2; ++c)
        for (std::size_t i = 0; i < loop.frames(); ++i)
            max_err = std::max(max_err, double(std::abs(back.channels[c][i] - loop.channels[c][i])));
    EXPECT_LT(max_err, 1.0 / 32768 + 1e-6);  // 16-bit FLAC
    EXPECT_EQ(audio_content_hash(back), rec->hash);
    EXPECT_FALSE(cat.get(r.id + 100));
    expect_input_error([&] { cat.load_audio(r.id + 100); });
}

TEST(Catalog, DuplicateSameInstrumentNotStoredTwice) {
    TempDir dir;
    Catalog cat = Catalog::open(dir / "c.db", true);
    Audio loop = make_loop(330);
    AddResult a = cat.add(loop, meta("bongo", "bachata", 120));
    AddResult b = cat.add(loop, meta("BONGO", "salsa", 120));
    EXPECT_EQ(b.status, AddStatus::Duplicate);
    EXPECT_EQ(b.id, a.id);
    // Same audio tagged as another instrument is a different entry.
    AddResult c = cat.add(loop, meta("guira", "bachata", 120));
    EXPECT_EQ(c.status, AddStatus::Added);
    EXPECT_EQ(cat.count(), 2);
}

TEST(Catalog, FiltersAndInstruments) {
    TempDir dir;
    Catalog cat = Catalog::open(dir / "c.db", true);
    cat.add(make_loop(200), meta("bongo", "bachata", 128, "derecho"));
    cat.add(make_loop(210), meta("bongo", "bachata", 120, "mambo"));
    cat.add(make_loop(220), meta("guira", "bachata", 128, "derecho"));
    cat.add(make_loop(230), meta("drums", "hiphop", 90));
    EXPECT_EQ(cat.list().size(), 4u);
    LoopFilter f;
    f.instrument = "Bongo";
    EXPECT_EQ(cat.list(f).size(), 2u);
    f.section = "mambo";
    ASSERT_EQ(cat.list(f).size(), 1u);
    EXPECT_EQ(cat.list(f)[0].bpm, 120);
    LoopFilter g;
    g.bpm_min = 100;
    g.bpm_max = 125;
    EXPECT_EQ(cat.list(g).size(), 1u);
    LoopFilter h;
    h.genre = "bachata";
    h.limit = 2;
    EXPECT_EQ(cat.list(h).size(), 2u);
    EXPECT_EQ(cat.instruments(), (std::vector<std::string>{"bongo", "drums", "guira"}));
    EXPECT_EQ(cat.genres(), (std::vector<std::string>{"bachata", "hiphop"}));
    CatalogStats st = cat.stats();
    EXPECT_EQ(st.loops, 4);
    EXPECT_EQ(st.schema_version, kCatalogSchemaVersion);
    ASSERT_EQ(st.per_instrument.size(), 3u);
    EXPECT_EQ(st.per_instrument[0], (std::pair<std::string, std::int64_t>{"bongo", 2}));
}

TEST(Catalog, EmbeddingsRoundTripAndCascade) {
    TempDir dir;
    Catalog cat = Catalog::open(dir / "c.db", true);
    auto id = cat.add(make_loop(500), meta("bongo", "bachata", 120)).id;
    std::vector<float> e = {0.25f, -1.5f, 3.0f, 1e-7f};
    cat.set_embedding(id, "unet-v1", e);
    EXPECT_EQ(cat.embedding(id, "unet-v1").value(), e);
    EXPECT_FALSE(cat.embedding(id, "other"));
    cat.set_embedding(id, "unet-v1", {1.0f});  // replaces
    EXPECT_EQ(cat.embedding(id, "unet-v1").value(), std::vector<float>{1.0f});
    expect_input_error([&] { cat.set_embedding(id + 1, "unet-v1", e); });
    EXPECT_TRUE(cat.remove(id));
    EXPECT_FALSE(cat.remove(id));
    EXPECT_EQ(cat.stats().embeddings, 0);  // ON DELETE CASCADE
    EXPECT_TRUE(cat.verify().ok());
}

TEST(Catalog, RefusesSilentAndEmptyAudioWritingNothing) {
    TempDir dir;
    Catalog cat = Catalog::open(dir / "c.db", true);
    Audio silent(1, 44100);
    EXPECT_NE(expect_input_error([&] { cat.add(silent, meta("bongo", "bachata", 120)); }).find("silent"),
              std::string::npos);
    Audio tiny(1, 44100);
    tiny.channels[0][10] = 1e-6f;  // below one 16-bit step: silent once stored
    expect_input_error([&] { cat.add(tiny, meta("bongo", "bachata", 120)); });
    Audio empty;
    expect_input_error([&] { cat.add(empty, meta("bongo", "bachata", 120)); });
    EXPECT_THROW(cat.add(make_loop(300), meta("", "bachata", 120)), Error);
    EXPECT_THROW(cat.add(make_loop(300), meta("bongo", "bachata", 0)), Error);
    EXPECT_EQ(cat.count(), 0);
}

TEST(Catalog, VerifyDetectsDamagedAudio) {
    TempDir dir;
    const std::string db = dir / "c.db";
    std::int64_t id;
    {
        Catalog cat = Catalog::open(db, true);
        id = cat.add(make_loop(440), meta("bongo", "bachata", 120)).id;
        cat.add(make_loop(450), meta("bongo", "bachata", 120));
        EXPECT_TRUE(cat.verify().ok());
        EXPECT_EQ(cat.verify().loops_checked, 2);
    }
    // Another valid FLAC under the first loop: decodes fine, but the hash no longer matches.
    std::vector<unsigned char> other = encode_audio(make_loop(880));
    ASSERT_TRUE(overwrite_loop_audio(db, id, other));
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(h, "UPDATE loop_audio SET data = x'00112233' WHERE loop_id <> 1", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(h);
    Catalog cat = Catalog::open(db, false);
    VerifyReport r = cat.verify();
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.integrity, "ok");
    ASSERT_EQ(r.problems.size(), 2u);
    EXPECT_NE(r.problems[0].find("hash mismatch"), std::string::npos);
}

TEST(Catalog, OpenRefusals) {
    TempDir dir;
    // Missing without create.
    EXPECT_NE(expect_input_error([&] { Catalog::open(dir / "none.db", false); }).find("no such catalog"),
              std::string::npos);
    EXPECT_FALSE(fs::exists(dir / "none.db"));
    // Not SQLite: refused, bytes unchanged.
    const std::string text = dir / "notes.db";
    write_file(text, "these are my notes, not a database\n");
    EXPECT_NE(expect_input_error([&] { Catalog::open(text, true); }).find("not a SQLite database"), std::string::npos);
    EXPECT_EQ(read_file(text), "these are my notes, not a database\n");
    // A folder.
    expect_input_error([&] { Catalog::open(dir.path.string(), true); });
    // Another application's SQLite database.
    const std::string other = dir / "other.db";
    raw_exec(other, "CREATE TABLE contacts(name TEXT); INSERT INTO contacts VALUES('x');");
    const std::string before = read_file(other);
    EXPECT_NE(expect_input_error([&] { Catalog::open(other, true); }).find("not a loopsep catalog"), std::string::npos);
    EXPECT_EQ(read_file(other), before);
    // A newer schema.
    const std::string newer = dir / "newer.db";
    Catalog::open(newer, true);
    raw_exec(newer, "PRAGMA user_version=99");
    EXPECT_NE(expect_input_error([&] { Catalog::open(newer, false); }).find("newer"), std::string::npos);
}

// A catalog that cannot be written (read-only media or folder, another user's file): every read works,
// every write is an input error naming the file, and nothing appears beside it.
TEST(Catalog, OpenReadOnlyReadsEverythingAndWritesNothing) {
    TempDir dir;
    const std::string path = dir / "c.db";
    std::int64_t id = 0;
    {
        Catalog cat = Catalog::open(path, true);
        id = cat.add(make_loop(500), meta("bongo", "bachata", 120)).id;
        cat.set_embedding(id, "unet-v1", {0.5f, 2.0f});
        EXPECT_FALSE(cat.read_only());
    }
    ASSERT_FALSE(fs::exists(path + "-wal"));   // closed cleanly: the file is the whole catalog
    const std::string before = read_file(path);
    Catalog ro = Catalog::open_read_only(path);
    EXPECT_TRUE(ro.read_only());
    ASSERT_EQ(ro.list().size(), 1u);
    EXPECT_EQ(ro.instruments(), std::vector<std::string>{"bongo"});
    EXPECT_EQ(ro.load_audio(id).frames(), make_loop(500).frames());
    EXPECT_EQ(ro.embedding(id, "unet-v1").value(), (std::vector<float>{0.5f, 2.0f}));
    EXPECT_NE(expect_input_error([&] { ro.set_embedding(id, "unet-v2", {1.0f}); }).find(path + ": "), std::string::npos);
    EXPECT_NE(expect_input_error([&] { ro.add(make_loop(700), meta("bongo", "bachata", 120)); }).find(path + ": "),
              std::string::npos);
    EXPECT_EQ(read_file(path), before);
    EXPECT_FALSE(fs::exists(path + "-wal"));
    EXPECT_FALSE(fs::exists(path + "-shm"));
    // open_for_queries opens a writable catalog for writing (as root every file is writable).
    EXPECT_FALSE(Catalog::open_for_queries(path, false).read_only());
    // An empty file or another application's database is refused, as by open.
    write_file(dir / "empty.db", "");
    expect_input_error([&] { Catalog::open_read_only(dir / "empty.db"); });
}

TEST(Catalog, CorruptHeaderPageRefusedUntouched) {
    TempDir dir;
    const std::string db = dir / "c.db";
    {
        Catalog cat = Catalog::open(db, true);
        cat.add(make_loop(440), meta("bongo", "bachata", 120));
    }
    raw_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
    std::string bytes = read_file(db);
    ASSERT_GT(bytes.size(), 4096u);
    for (std::size_t i = 100; i < 4096; ++i) bytes[i] = static_cast<char>(0xA5 ^ (i * 31));  // schema page garbage
    write_file(db, bytes);
    fs::remove(db + "-wal");
    fs::remove(db + "-shm");
    const std::string msg = expect_input_error([&] { Catalog::open(db, true); });
    EXPECT_NE(msg.find(db), std::string::npos);
    EXPECT_EQ(read_file(db), bytes);
}

TEST(Catalog, EmptyFileBecomesACatalogAndOpenIsIdempotent) {
    TempDir dir;
    const std::string db = dir / "c.db";
    write_file(db, "");
    { Catalog cat = Catalog::open(db, false); EXPECT_EQ(cat.count(), 0); }
    { Catalog cat = Catalog::open(db, true); cat.add(make_loop(440), meta("bongo", "bachata", 120)); }
    { Catalog cat = Catalog::open(db, true); EXPECT_EQ(cat.count(), 1); }
    Catalog a = Catalog::open(db, false);
    Catalog b = std::move(a);  // movable
    EXPECT_EQ(b.count(), 1);
    EXPECT_EQ(b.stats().schema_version, 1);
}

TEST(Catalog, SeedFromManifestAndExport) {
    TempDir dir;
    fs::create_directories(dir.path / "samples/loops/bachata");
    write_audio(dir / "samples/loops/bachata/bongo1.flac", make_loop(300, 128, 8), {FileFormat::Flac});
    write_audio(dir / "samples/loops/bachata/guira1.wav", make_loop(3000, 128, 8));
    write_file(dir / "samples/loops/broken.wav", "RIFF....not really");
    write_file(dir / "samples/loops/loops.json", R"([
      {"file": "bachata/bongo1.flac", "instrument": "bongo", "genre": "bachata", "section": "derecho",
       "bpm": 128, "beats": 8, "key": "Am", "source": "synth"},
      {"file": "bachata/guira1.wav", "instrument": "guira", "genre": "bachata", "section": "majao", "bpm": 128},
      {"file": "broken.wav", "instrument": "bongo", "genre": "bachata", "bpm": 128},
      {"nofile": true}
    ])");
    Catalog cat = Catalog::open(dir / "c.db", true);
    SeedReport r = seed_from_manifest(cat, dir / "samples/loops/loops.json");
    EXPECT_EQ(r.added, 2);
    EXPECT_EQ(r.refused, 2);
    EXPECT_EQ(seed_from_manifest(cat, dir / "samples/loops/loops.json").duplicates, 2);
    LoopFilter f;
    f.instrument = "bongo";
    auto bongo = cat.list(f);
    ASSERT_EQ(bongo.size(), 1u);
    EXPECT_EQ(bongo[0].key, "Am");
    EXPECT_EQ(bongo[0].beats, 8);
    EXPECT_EQ(bongo[0].source, "synth");
    expect_input_error([&] { seed_from_manifest(cat, dir / "missing.json"); });

    auto paths = export_loops(cat, {bongo[0].id}, dir / "out");
    ASSERT_EQ(paths.size(), 1u);
    char expected[64];
    std::snprintf(expected, sizeof expected, "bachata_bongo_128bpm_amin_derecho_%04lld.wav", static_cast<long long>(bongo[0].id));
    EXPECT_EQ(fs::path(paths[0]).filename().string(), expected);
    Audio back = read_audio(paths[0]);
    EXPECT_EQ(back.frames(), cat.load_audio(bongo[0].id).frames());
    expect_input_error([&] { export_loops(cat, {9999}, dir / "out"); });
}

TEST(Catalog, DefaultPathFollowsEnvironment) {
    const char* old_home = std::getenv("HOME");
    const std::string saved_home = old_home ? old_home : "";
    ::setenv("LOOPSEP_CATALOG", "/x/y.db", 1);
    EXPECT_EQ(default_catalog_path(), "/x/y.db");
    ::unsetenv("LOOPSEP_CATALOG");
    ::setenv("XDG_DATA_HOME", "/data", 1);
    EXPECT_EQ(default_catalog_path(), "/data/loopsep/catalog.db");
    ::unsetenv("XDG_DATA_HOME");
    ::setenv("HOME", "/home/u", 1);
    EXPECT_EQ(default_catalog_path(), "/home/u/.local/share/loopsep/catalog.db");
    if (old_home) ::setenv("HOME", saved_home.c_str(), 1);
}

TEST(Catalog, DefaultCatalogSeedsOnce) {
    TempDir dir;
    fs::create_directories(dir.path / "samples/loops");
    write_audio(dir / "samples/loops/a.wav", make_loop(700, 120, 4));
    write_file(dir / "samples/loops/loops.json",
               R"([{"file": "a.wav", "instrument": "bongo", "genre": "bachata", "bpm": 120, "beats": 4}])");
    ::setenv("LOOPSEP_CATALOG", (dir / "home/catalog.db").c_str(), 1);
    ::setenv("LOOPSEP_SAMPLES", (dir / "samples").c_str(), 1);
    {
        Catalog cat = open_default_catalog();
        EXPECT_EQ(cat.count(), 1);
        cat.remove(cat.list()[0].id);
    }
    EXPECT_EQ(open_default_catalog().count(), 0);  // seeded only once: a removal sticks
    ::unsetenv("LOOPSEP_CATALOG");
    ::unsetenv("LOOPSEP_SAMPLES");
}
