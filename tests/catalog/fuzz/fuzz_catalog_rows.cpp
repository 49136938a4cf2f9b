// libFuzzer target: a catalog whose rows were written behind the API's back (another tool, a bad
// merge, a hand edit) must still be readable: every reading path returns or throws loopsep::Error.
// Per run: a fresh copy of a small template catalog (one good loop with its FLAC audio and an
// embedding) gets the fuzz input written into its row with raw SQL — any field, any SQLite type, CHECK
// constraints off — plus a damaged audio blob, a stray embedding and a second row; then list, for_each,
// get, load_audio, embeddings, stats, verify, export and the length/tag check read it all back.
// Export must keep every file inside its folder, whatever the row's text says.
#include <sqlite3.h>
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "loopsep/catalog.h"
#include "loopsep/error.h"

namespace fs = std::filesystem;

namespace {

const char* const kColumns[] = {"instrument", "genre",    "section", "bpm",    "beats",        "key",  "source",
                                "sample_rate_hz", "channels", "frames", "duration_sec", "hash", "created_at"};

struct Scratch {
    fs::path dir, db, out;
    std::string template_bytes;
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// The template: one 1-s, 120-BPM, two-beat loop as Catalog::add stores it, and an embedding.
Scratch make_scratch() {
    Scratch s;
    const char* base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    s.dir = fs::path(base) / ("loopsep-fuzz-catalog-" + std::to_string(getpid()));
    fs::remove_all(s.dir);
    fs::create_directories(s.dir);
    s.db = s.dir / "fuzz.db";
    s.out = s.dir / "export";
    const fs::path tmpl = s.dir / "template.db";
    {
        loopsep::Catalog c = loopsep::Catalog::open(tmpl.string(), true);
        loopsep::Audio a(1, 44100);
        for (std::size_t i = 0; i < a.frames(); ++i) a.channel(0)[i] = 0.5f * float(std::sin(0.05 * double(i)));
        loopsep::LoopMeta m;
        m.instrument = "bongo";
        m.genre = "bachata";
        m.bpm = 120;
        m.beats = 2;
        m.key = "A minor";
        m.section = "verse";
        const auto id = c.add(a, m).id;
        c.set_embedding(id, "tag", std::vector<float>(8, 0.25f));
    }  // closing the last connection checkpoints the WAL into the file
    s.template_bytes = slurp(tmpl);
    return s;
}

const Scratch& scratch() {
    static const Scratch s = make_scratch();
    static const bool cleanup = std::atexit([] {
        std::error_code ec;
        fs::remove_all(scratch().dir, ec);
    }) == 0;
    (void)cleanup;
    return s;
}

void exec(sqlite3* db, const char* sql) { sqlite3_exec(db, sql, nullptr, nullptr, nullptr); }

// Binds one fuzz-chosen value of any SQLite type.
void bind_any(sqlite3_stmt* st, int i, FuzzedDataProvider& in) {
    switch (in.ConsumeIntegralInRange<int>(0, 4)) {
        case 0: sqlite3_bind_int64(st, i, in.ConsumeIntegral<std::int64_t>()); break;
        case 1: sqlite3_bind_double(st, i, in.ConsumeFloatingPoint<double>()); break;
        case 2: {
            const std::string t = in.ConsumeRandomLengthString(64);
            sqlite3_bind_text(st, i, t.data(), int(t.size()), SQLITE_TRANSIENT);
            break;
        }
        case 3: {
            const auto b = in.ConsumeBytes<unsigned char>(in.ConsumeIntegralInRange<int>(0, 32));
            sqlite3_bind_blob(st, i, b.data(), int(b.size()), SQLITE_TRANSIENT);
            break;
        }
        default: sqlite3_bind_null(st, i);
    }
}

void run_sql(sqlite3* db, const std::string& sql, FuzzedDataProvider& in, int values) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) return;
    for (int i = 1; i <= values; ++i) bind_any(st, i, in);
    sqlite3_step(st);
    sqlite3_finalize(st);
}

void tamper(const fs::path& path, FuzzedDataProvider& in) {
    sqlite3* db = nullptr;
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
        sqlite3_close(db);
        return;
    }
    exec(db, "PRAGMA ignore_check_constraints = ON; PRAGMA foreign_keys = OFF;");
    for (const char* col : kColumns)
        if (in.ConsumeBool()) run_sql(db, std::string("UPDATE loops SET ") + col + " = ?1 WHERE id = 1", in, 1);
    switch (in.ConsumeIntegralInRange<int>(0, 4)) {  // the stored audio
        case 1: exec(db, "UPDATE loop_audio SET data = substr(data, 1, length(data) / 2)"); break;
        case 2: {
            const int at = in.ConsumeIntegralInRange<int>(1, 4096);
            const int byte = in.ConsumeIntegral<std::uint8_t>();
            const std::string sql = "UPDATE loop_audio SET data = substr(data, 1, " + std::to_string(at - 1) +
                                    ") || x'" + "0123456789abcdef"[byte >> 4] + "0123456789abcdef"[byte & 15] +
                                    "' || substr(data, " + std::to_string(at + 1) + ")";
            exec(db, sql.c_str());
            break;
        }
        case 3: run_sql(db, "UPDATE loop_audio SET data = ?1, format = ?2", in, 2); break;
        case 4: exec(db, "DELETE FROM loop_audio"); break;
        default: break;
    }
    if (in.ConsumeBool())  // an embedding whose dim and bytes need not agree
        run_sql(db, "INSERT OR REPLACE INTO embeddings(loop_id, model_tag, dim, data) VALUES (1, ?1, ?2, ?3)", in, 3);
    if (in.ConsumeBool())  // a second row, every field fuzzed, no audio unless the input gives one
        run_sql(db,
                "INSERT INTO loops(id, instrument, genre, section, bpm, beats, key, source, sample_rate_hz, channels, "
                "frames, duration_sec, hash) VALUES (2, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                in, 12);
    if (in.ConsumeBool()) run_sql(db, "INSERT INTO loop_audio(loop_id, format, data) VALUES (2, 'flac', ?1)", in, 1);
    sqlite3_close(db);
}

template <class F>
void survive(F&& f) {
    try {
        f();
    } catch (const loopsep::Error&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const Scratch& s = scratch();
    FuzzedDataProvider in(data, size);
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(s.db.string() + suffix);
    fs::remove_all(s.out);
    std::ofstream(s.db, std::ios::binary) << s.template_bytes;
    tamper(s.db, in);

    survive([&] {
        loopsep::Catalog c = loopsep::Catalog::open(s.db.string(), false);
        std::vector<std::int64_t> ids;
        survive([&] {
            for (const auto& r : c.list()) ids.push_back(r.id);
        });
        survive([&] {
            loopsep::LoopFilter f;
            f.instrument = "bongo";
            f.bpm_min = 60;
            f.bpm_max = 200;
            c.for_each(f, [](const loopsep::LoopRecord& r) { (void)r.bpm; });
        });
        for (std::int64_t id : {std::int64_t(1), std::int64_t(2)}) {
            survive([&] {
                if (auto r = c.get(id))  // the length/tag check add and import apply, on a row nobody checked
                    loopsep::check_length_matches_tags(r->duration_sec, r->bpm, r->beats, "fuzz row");
            });
            survive([&] {
                const loopsep::Audio a = c.load_audio(id);
                (void)a.duration_sec();
                (void)loopsep::audio_content_hash(a);
            });
            survive([&] {
                for (const auto& tag : c.embedding_tags(id)) (void)c.embedding(id, tag);
            });
        }
        survive([&] { (void)c.stats(); });
        survive([&] { (void)c.verify(); });
        survive([&] { (void)c.instruments(); (void)c.genres(); (void)c.count(); });
        survive([&] {
            for (const auto& p : loopsep::export_loops(c, ids, s.out.string(), loopsep::ExistingExport::Replace))
                if (fs::path(p).parent_path() != s.out) std::abort();  // a row's text named a path outside
        });
    });
    return 0;
}
