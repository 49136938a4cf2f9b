// Internal: thin RAII wrappers over the SQLite C API. Every SQL text here is a
// constant of this library; user values only ever reach SQLite through bind().
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "loopsep/error.h"

namespace loopsep::sql {

// An input error that remembers SQLite's result code (to retry on SQLITE_BUSY).
class SqlError : public Error {
public:
    SqlError(int code, const std::string& message) : Error(ErrorKind::Input, message), code_(code) {}
    int code() const { return code_; }
    bool busy() const { return (code_ & 0xff) == SQLITE_BUSY || (code_ & 0xff) == SQLITE_LOCKED; }

private:
    int code_;
};

// Throws "PATH: what (sqlite message)".
[[noreturn]] inline void fail(sqlite3* db, const std::string& path, const std::string& what) {
    const char* msg = db ? sqlite3_errmsg(db) : "out of memory";
    throw SqlError(db ? sqlite3_extended_errcode(db) : SQLITE_NOMEM, path + ": " + what + " (" + msg + ")");
}

class Stmt {
public:
    Stmt(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(path) {
        if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) fail(db, path, "cannot prepare a query");
    }
    ~Stmt() { sqlite3_finalize(s_); }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;

    Stmt& bind(int i, std::int64_t v) { check(sqlite3_bind_int64(s_, i, v)); return *this; }
    Stmt& bind(int i, int v) { check(sqlite3_bind_int64(s_, i, v)); return *this; }
    Stmt& bind(int i, double v) { check(sqlite3_bind_double(s_, i, v)); return *this; }
    Stmt& bind(int i, const std::string& v) {
        check(sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
        return *this;
    }
    Stmt& bind_blob(int i, const void* data, std::size_t size) {
        check(sqlite3_bind_blob64(s_, i, data, size, SQLITE_TRANSIENT));
        return *this;
    }

    // true: a row is ready; false: done. Throws on error.
    bool step() {
        int rc = sqlite3_step(s_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        fail(db_, path_, "query failed");
    }
    void run() { while (step()) {} }
    void reset() { sqlite3_reset(s_); sqlite3_clear_bindings(s_); }

    std::int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
    double f64(int c) const { return sqlite3_column_double(s_, c); }
    bool is_null(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
    std::string text(int c) const {
        const unsigned char* t = sqlite3_column_text(s_, c);
        return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(s_, c)) : std::string();
    }
    void text_into(int c, std::string& out) const {
        const unsigned char* t = sqlite3_column_text(s_, c);
        if (t) out.assign(reinterpret_cast<const char*>(t), sqlite3_column_bytes(s_, c));
        else out.clear();
    }
    std::vector<unsigned char> blob(int c) const {
        const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(s_, c));
        int n = sqlite3_column_bytes(s_, c);
        return p ? std::vector<unsigned char>(p, p + n) : std::vector<unsigned char>();
    }

private:
    void check(int rc) { if (rc != SQLITE_OK) fail(db_, path_, "cannot bind a value"); }
    sqlite3* db_;
    const std::string& path_;
    sqlite3_stmt* s_ = nullptr;
};

// The URI that opens `path` for reading only (with SQLITE_OPEN_READONLY | SQLITE_OPEN_URI). Without a
// log the file is the whole catalog (its writer closed it cleanly): read it as immutable, so SQLite
// creates no -wal/-shm beside it (the folder may be read-only). With a log (a crash, or a writer still
// running) SQLite must read it: plain read-only.
inline std::string read_only_uri(const std::string& path) {
    std::error_code ec;
    const bool has_wal = std::filesystem::exists(path + "-wal", ec);
    std::string uri = "file:";
    for (char ch : std::filesystem::absolute(path).string()) {
        if (ch == '?' || ch == '#' || ch == '%') {
            char esc[4];
            std::snprintf(esc, sizeof esc, "%%%02X", static_cast<unsigned char>(ch));
            uri += esc;
        } else {
            uri += ch;
        }
    }
    return uri + (has_wal ? "?mode=ro" : "?immutable=1");
}

inline void exec(sqlite3* db, const std::string& path, const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errmsg(db);
        sqlite3_free(err);
        throw SqlError(sqlite3_extended_errcode(db), path + ": " + msg);
    }
}

// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed uncommitted (exception).
class WriteTxn {
public:
    WriteTxn(sqlite3* db, const std::string& path) : db_(db), path_(path) { exec(db, path, "BEGIN IMMEDIATE"); }
    ~WriteTxn() { if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }
    void commit() { exec(db_, path_, "COMMIT"); done_ = true; }

private:
    sqlite3* db_;
    const std::string& path_;
    bool done_ = false;
};

}  // namespace loopsep::sql
