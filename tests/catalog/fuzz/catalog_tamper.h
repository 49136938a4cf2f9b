// For the libFuzzer targets that read catalogs (fuzz_catalog_rows, fuzz_prototype): rows rewritten behind
// the API's back (another tool, a bad merge, a hand edit) with raw SQL, CHECK constraints off, every
// value of a fuzz-chosen SQLite type. A statement SQLite refuses (a UNIQUE clash, say) is simply skipped.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

namespace loopsep::fuzz {

// The loops table's columns a tampered row may change (all but its id).
inline const std::vector<const char*>& loop_columns() {
    static const std::vector<const char*> columns = {
        "instrument", "genre",    "section", "bpm",    "beats",        "key",  "source",
        "sample_rate_hz", "channels", "frames", "duration_sec", "hash", "created_at"};
    return columns;
}

inline void exec(sqlite3* db, const std::string& sql) { sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr); }

// Binds one fuzz-chosen value of any SQLite type.
inline void bind_any(sqlite3_stmt* st, int i, FuzzedDataProvider& in) {
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

// Runs `sql` with its parameters ?1..?values bound to fuzz-chosen values.
inline void run_sql(sqlite3* db, const std::string& sql, FuzzedDataProvider& in, int values) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) return;
    for (int i = 1; i <= values; ++i) bind_any(st, i, in);
    sqlite3_step(st);
    sqlite3_finalize(st);
}

// A raw connection to a catalog file with the checks off that would stop a careless writer.
class RawCatalog {
public:
    explicit RawCatalog(const std::string& path) {
        if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
            sqlite3_close(db_);
            db_ = nullptr;
            return;
        }
        exec(db_, "PRAGMA ignore_check_constraints = ON; PRAGMA foreign_keys = OFF;");
    }
    ~RawCatalog() { sqlite3_close(db_); }
    RawCatalog(const RawCatalog&) = delete;
    RawCatalog& operator=(const RawCatalog&) = delete;
    sqlite3* get() const { return db_; }
    explicit operator bool() const { return db_ != nullptr; }

private:
    sqlite3* db_ = nullptr;
};

// Each column of row `id`, or not, rewritten to any value.
inline void tamper_fields(sqlite3* db, std::int64_t id, FuzzedDataProvider& in) {
    for (const char* col : loop_columns())
        if (in.ConsumeBool())
            run_sql(db, std::string("UPDATE loops SET ") + col + " = ?1 WHERE id = " + std::to_string(id), in, 1);
}

// Row `id`'s stored audio: kept, cut in half, one byte changed, replaced by any value and format, or deleted.
inline void tamper_audio(sqlite3* db, std::int64_t id, FuzzedDataProvider& in) {
    const std::string row = " WHERE loop_id = " + std::to_string(id);
    switch (in.ConsumeIntegralInRange<int>(0, 4)) {
        case 1: exec(db, "UPDATE loop_audio SET data = substr(data, 1, length(data) / 2)" + row); break;
        case 2: {
            const int at = in.ConsumeIntegralInRange<int>(1, 4096);
            const int byte = in.ConsumeIntegral<std::uint8_t>();
            exec(db, "UPDATE loop_audio SET data = substr(data, 1, " + std::to_string(at - 1) + ") || x'" +
                         "0123456789abcdef"[byte >> 4] + "0123456789abcdef"[byte & 15] + "' || substr(data, " +
                         std::to_string(at + 1) + ")" + row);
            break;
        }
        case 3: run_sql(db, "UPDATE loop_audio SET data = ?1, format = ?2" + row, in, 2); break;
        case 4: exec(db, "DELETE FROM loop_audio" + row); break;
        default: break;
    }
}

// A row `id` with every field fuzzed (no audio: see insert_fuzzed_audio).
inline void insert_fuzzed_row(sqlite3* db, std::int64_t id, FuzzedDataProvider& in) {
    run_sql(db,
            "INSERT INTO loops(id, instrument, genre, section, bpm, beats, key, source, sample_rate_hz, channels, "
            "frames, duration_sec, hash) VALUES (" + std::to_string(id) +
                ", ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            in, 12);
}

// Audio for row `id`: a FLAC blob of fuzzed bytes.
inline void insert_fuzzed_audio(sqlite3* db, std::int64_t id, FuzzedDataProvider& in) {
    run_sql(db, "INSERT INTO loop_audio(loop_id, format, data) VALUES (" + std::to_string(id) + ", 'flac', ?1)", in, 1);
}

}  // namespace loopsep::fuzz
