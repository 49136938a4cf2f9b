// The catalog: opening (with all the refusal checks), schema migrations, and
// the row operations. stats/verify live in catalog_check.cpp, the default
// catalog and seeding in catalog_default.cpp, exporting in catalog_export.cpp.
#include "loopsep/catalog.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "catalog_internal.h"
#include "loopsep/error.h"
#include "loopsep/files.h"
#include "loopsep/loop_limits.h"
#include "loopsep/sha256.h"

namespace loopsep {

namespace fs = std::filesystem;
using sql::Stmt;

namespace {

std::string normalize_tag(const std::string& s) {
    std::size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    std::string out = s.substr(b, e - b);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

std::string trim(const std::string& s) {
    std::size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return s.substr(b, e - b);
}

// Version 0 → 1: the first schema. Each later version appends one step here;
// steps run inside the caller's BEGIN IMMEDIATE transaction.
void migrate_to_1(sqlite3* db, const std::string& path) {
    sql::exec(db, path, R"SQL(
CREATE TABLE loops(
  id             INTEGER PRIMARY KEY,
  instrument     TEXT    NOT NULL CHECK(instrument <> ''),
  genre          TEXT    NOT NULL CHECK(genre <> ''),
  section        TEXT    NOT NULL DEFAULT '',
  bpm            REAL    NOT NULL CHECK(bpm > 0),
  beats          INTEGER NOT NULL CHECK(beats > 0),
  key            TEXT    NOT NULL DEFAULT '',
  source         TEXT    NOT NULL DEFAULT '',
  sample_rate_hz INTEGER NOT NULL,
  channels       INTEGER NOT NULL,
  frames         INTEGER NOT NULL,
  duration_sec   REAL    NOT NULL,
  hash           TEXT    NOT NULL,
  created_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  UNIQUE(hash, instrument)
);
-- Audio apart from the metadata, so listing never walks through blob pages.
CREATE TABLE loop_audio(
  loop_id INTEGER PRIMARY KEY REFERENCES loops(id) ON DELETE CASCADE,
  format  TEXT NOT NULL,
  data    BLOB NOT NULL
);
CREATE TABLE embeddings(
  loop_id   INTEGER NOT NULL REFERENCES loops(id) ON DELETE CASCADE,
  model_tag TEXT    NOT NULL,
  dim       INTEGER NOT NULL,
  data      BLOB    NOT NULL,
  PRIMARY KEY(loop_id, model_tag)
) WITHOUT ROWID;
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX loops_by_instrument ON loops(instrument, bpm);
CREATE INDEX loops_by_genre ON loops(genre, bpm);
CREATE INDEX loops_by_bpm ON loops(bpm);
)SQL");
}

using MigrationStep = void (*)(sqlite3*, const std::string&);
const MigrationStep kMigrations[kCatalogSchemaVersion] = {migrate_to_1};

std::int64_t pragma_int(sqlite3* db, const std::string& path, const char* sql) {
    Stmt s(db, path, sql);
    return s.step() ? s.i64(0) : 0;
}

// Refuses anything that is not (yet) a SQLite file, before SQLite touches it.
void check_existing_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw input_error(path + ": cannot read the catalog (" + std::strerror(errno) + ")");
    char header[16] = {};
    in.read(header, sizeof header);
    const std::streamsize got = in.gcount();
    if (got == 0) return;  // an empty file is an empty database: it becomes a new catalog
    if (got < 16 || std::memcmp(header, "SQLite format 3", 16) != 0)
        throw input_error(path + ": not a SQLite database (refusing to open or overwrite it)");
}

std::string parent_dir(const std::string& path) {
    fs::path p = fs::absolute(fs::path(path)).parent_path();
    return p.empty() ? "." : p.string();
}

}  // namespace

// A loop lasts its beats at its tempo. Tags that contradict the audio (a typo in --bpm or --beats, a
// wrong file) would make every query built from the loop wrong, so they are refused when added.
namespace {
constexpr double kLengthTolerance = 0.10;  // loops are cut by hand: a tenth of the length is slack enough
constexpr double kMaxBpm = kMaxLoopBpm;    // what Catalog::add accepts (validate_meta) and export writes ...
constexpr int kMaxBeats = 100000;          // ... and so what a stored row may hold
}  // namespace

void check_length_matches_tags(double duration_sec, double bpm, int beats, const std::string& what) {
    const double beats_in_audio = duration_sec * bpm / 60.0;
    char msg[256];
    if (beats_in_audio < 1.0) {
        std::snprintf(msg, sizeof msg, ": shorter than one beat (%.3f s at %.2f BPM is %.2f beats)", duration_sec, bpm,
                      beats_in_audio);
        throw input_error(what + msg);
    }
    if (std::abs(beats_in_audio - beats) > kLengthTolerance * beats) {
        std::snprintf(msg, sizeof msg,
                      ": %d beats at %.2f BPM last %.3f s but the audio lasts %.3f s (%.2f beats; tags and length "
                      "must agree within 10 %%)",
                      beats, bpm, beats * 60.0 / bpm, duration_sec, beats_in_audio);
        throw input_error(what + msg);
    }
}

void check_record_tags(const LoopRecord& r, const std::string& what) {
    char msg[160];
    if (!(r.bpm > 0 && r.bpm <= kMaxBpm)) {
        std::snprintf(msg, sizeof msg, ": bpm %g is not in (0, %g] (the row was changed outside loopsep)", r.bpm, kMaxBpm);
        throw input_error(what + msg);
    }
    if (r.beats < 1 || r.beats > kMaxBeats) {
        std::snprintf(msg, sizeof msg, ": beats %d is not in 1..%d (the row was changed outside loopsep)", r.beats, kMaxBeats);
        throw input_error(what + msg);
    }
}

std::string audio_content_hash(const Audio& audio) {
    Sha256 h;
    const char tag[] = "loopsep-pcm-v1";
    h.update(tag, sizeof tag - 1);
    const std::uint32_t rate = static_cast<std::uint32_t>(audio.sample_rate_hz);
    const std::uint32_t ch = static_cast<std::uint32_t>(audio.num_channels());
    const std::uint64_t frames = audio.frames();
    unsigned char head[16];
    for (int i = 0; i < 4; ++i) head[i] = static_cast<unsigned char>(rate >> (8 * i));
    for (int i = 0; i < 4; ++i) head[4 + i] = static_cast<unsigned char>(ch >> (8 * i));
    for (int i = 0; i < 8; ++i) head[8 + i] = static_cast<unsigned char>(frames >> (8 * i));
    h.update(head, sizeof head);
    std::vector<unsigned char> buf;
    buf.reserve(4096 * 4 * std::max<std::uint32_t>(ch, 1));
    for (std::size_t i = 0; i < frames; ++i) {
        for (std::uint32_t c = 0; c < ch; ++c) {
            std::uint32_t bits;
            std::memcpy(&bits, &audio.channels[c][i], 4);
            for (int k = 0; k < 4; ++k) buf.push_back(static_cast<unsigned char>(bits >> (8 * k)));
        }
        if (buf.size() >= 4096 * 4) { h.update(buf.data(), buf.size()); buf.clear(); }
    }
    h.update(buf.data(), buf.size());
    return h.finish_hex();
}

Catalog::Impl::~Impl() {
    if (db) sqlite3_close_v2(db);
}

Catalog::Catalog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Catalog::Catalog(Catalog&&) noexcept = default;
Catalog& Catalog::operator=(Catalog&&) noexcept = default;
Catalog::~Catalog() = default;

const std::string& Catalog::path() const { return impl_->path; }

namespace {

// The read-only probes every open starts with, in one read transaction (another process may be
// creating the schema right now): the file must be ours and of a schema this loopsep understands.
// Returns the schema version (0: a new, empty database).
std::int64_t probe_catalog(sqlite3* db, const std::string& path) {
    std::int64_t app_id = 0, version = 0, tables = 0;
    try {
        sql::exec(db, path, "BEGIN");
        app_id = pragma_int(db, path, "PRAGMA application_id");
        version = pragma_int(db, path, "PRAGMA user_version");
        tables = pragma_int(db, path, "SELECT count(*) FROM sqlite_master");
        sql::exec(db, path, "COMMIT");
    } catch (const sql::SqlError& e) {
        if (e.busy()) throw;
        throw input_error(path + ": corrupt or not a SQLite database (" + sqlite3_errmsg(db) + "); refusing to touch it");
    }
    if (app_id != kCatalogApplicationId && (app_id != 0 || tables > 0))
        throw input_error(path + ": a SQLite database, but not a loopsep catalog; refusing to touch it");
    if (version > kCatalogSchemaVersion)
        throw input_error(path + ": catalog schema version " + std::to_string(version) +
                          " is newer than this loopsep understands (" + std::to_string(kCatalogSchemaVersion) +
                          "); upgrade loopsep");
    return version;
}

}  // namespace

Catalog Catalog::open(const std::string& path, bool create_if_missing) {
    if (path.empty()) throw usage_error("catalog path is empty");
    auto impl = std::make_unique<Impl>();
    impl->path = path;

    struct stat st{};
    bool exists = ::stat(path.c_str(), &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) throw input_error(path + ": is a folder, not a catalog file");
    if (exists) require_regular_file(path);  // a FIFO would block the open; a device never ends
    bool created_here = false;
    if (!exists) {
        if (!create_if_missing)
            throw input_error(path + ": no such catalog (create it with: loopsep catalog --db " + path + " init)");
        std::error_code ec;
        fs::create_directories(parent_dir(path), ec);
        if (ec) throw input_error(path + ": cannot create its folder (" + ec.message() + ")");
        // Probe with our own create so a read-only location gets a clear message
        // (and root, for whom access() always says yes, gets the real answer).
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) {
            ::close(fd);
            created_here = true;
        } else if (errno != EEXIST) {  // EEXIST: another process created it just now
            const int err = errno;
            if (err == EACCES || err == EROFS || err == EPERM)
                throw input_error(path + ": location is read-only, cannot create the catalog (" +
                                  std::strerror(err) + ")");
            throw input_error(path + ": cannot create the catalog (" + std::strerror(err) + ")");
        }
    } else {
        check_existing_file(path);
        if (::access(path.c_str(), W_OK) != 0)
            throw input_error(path + ": read-only, cannot write to the catalog (" + std::strerror(errno) + ")");
    }
    // WAL keeps its -wal and -shm files beside the database: the folder must be writable too.
    if (::access(parent_dir(path).c_str(), W_OK) != 0)
        throw input_error(path + ": location is read-only (" + std::strerror(errno) + ")");

    auto undo_create = [&] {
        struct stat now{};
        if (created_here && ::stat(path.c_str(), &now) == 0 && now.st_size == 0) ::unlink(path.c_str());
    };
    try {
        int rc = sqlite3_open_v2(path.c_str(), &impl->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
        if (rc != SQLITE_OK) sql::fail(impl->db, path, "cannot open the catalog");
        sqlite3_extended_result_codes(impl->db, 1);
        sqlite3_busy_timeout(impl->db, 10000);
        if (sqlite3_db_readonly(impl->db, "main") == 1)
            throw input_error(path + ": read-only, cannot write to the catalog");

        // Read-only probes first: nothing is written before we know the file is ours.
        probe_catalog(impl->db, path);

        // Setup and migration; another process may be doing the same right now,
        // so re-read the version inside the write transaction and retry on BUSY.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        for (;;) {
            try {
                Stmt wal(impl->db, path, "PRAGMA journal_mode=WAL");
                wal.run();
                sql::exec(impl->db, path,
                          "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
                          "PRAGMA cache_size=-65536; PRAGMA mmap_size=268435456");
                sql::WriteTxn txn(impl->db, path);
                std::int64_t v = pragma_int(impl->db, path, "PRAGMA user_version");
                if (v < kCatalogSchemaVersion) {
                    for (std::int64_t step = v; step < kCatalogSchemaVersion; ++step) kMigrations[step](impl->db, path);
                    sql::exec(impl->db, path, ("PRAGMA application_id=" + std::to_string(kCatalogApplicationId)).c_str());
                    sql::exec(impl->db, path,
                              ("PRAGMA user_version=" + std::to_string(kCatalogSchemaVersion)).c_str());
                    txn.commit();
                }
                break;
            } catch (const sql::SqlError& e) {
                if (!e.busy() || std::chrono::steady_clock::now() > deadline) throw;
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
        }
    } catch (...) {
        if (impl->db) { sqlite3_close_v2(impl->db); impl->db = nullptr; }
        undo_create();
        throw;
    }
    return Catalog(std::move(impl));
}

Catalog Catalog::open_read_only(const std::string& path) {
    if (path.empty()) throw usage_error("catalog path is empty");
    struct stat st{};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) throw input_error(path + ": is a folder, not a catalog file");
    require_regular_file(path);
    check_existing_file(path);
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    const std::string uri = sql::read_only_uri(path);
    if (sqlite3_open_v2(uri.c_str(), &impl->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr) !=
        SQLITE_OK)
        sql::fail(impl->db, path, "cannot open the catalog");
    sqlite3_extended_result_codes(impl->db, 1);
    sqlite3_busy_timeout(impl->db, 10000);
    const std::int64_t version = probe_catalog(impl->db, path);
    if (version < kCatalogSchemaVersion)   // 0: empty; older: would need a migration, which writes
        throw input_error(path + (version == 0 ? ": an empty catalog" : ": catalog schema version " + std::to_string(version) +
                                                                          " is older (open it once writable to migrate it)") +
                          ", and it is read-only");
    sql::exec(impl->db, path, "PRAGMA foreign_keys=ON");
    impl->read_only = true;
    return Catalog(std::move(impl));
}

Catalog Catalog::open_for_queries(const std::string& path, bool create_if_missing) {
    struct stat st{};
    if (!path.empty() && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        (::access(path.c_str(), W_OK) != 0 || ::access(parent_dir(path).c_str(), W_OK) != 0))
        return open_read_only(path);
    return open(path, create_if_missing);
}

bool Catalog::read_only() const { return impl_->read_only; }

namespace {

void validate_meta(const LoopMeta& m, const std::string& what) {
    if (m.instrument.empty()) throw usage_error(what + ": instrument must not be empty");
    if (m.genre.empty()) throw usage_error(what + ": genre must not be empty");
    if (!(m.bpm > 0 && m.bpm <= kMaxBpm))
        throw usage_error(what + ": bpm must be in (0, " + std::to_string(int(kMaxBpm)) + "]");
    if (m.beats < 0 || m.beats > kMaxBeats) throw usage_error(what + ": beats must be in 0..100000");
}

constexpr const char* kSelectLoop =
    "SELECT id, instrument, genre, section, bpm, beats, key, source, sample_rate_hz, channels, frames, "
    "duration_sec, hash, created_at FROM loops";

// Fills `r` in place: when one record is reused for many rows its strings keep
// their capacity, so streaming a large listing allocates almost nothing.
void read_record(const Stmt& s, LoopRecord& r) {
    r.id = s.i64(0);
    s.text_into(1, r.instrument);
    s.text_into(2, r.genre);
    s.text_into(3, r.section);
    r.bpm = s.f64(4);
    r.beats = static_cast<int>(s.i64(5));
    s.text_into(6, r.key);
    s.text_into(7, r.source);
    r.sample_rate_hz = static_cast<int>(s.i64(8));
    r.channels = static_cast<int>(s.i64(9));
    r.frames = s.i64(10);
    r.duration_sec = s.f64(11);
    s.text_into(12, r.hash);
    s.text_into(13, r.created_at);
}

}  // namespace

AddResult Catalog::add(const Audio& audio, const LoopMeta& meta_in) {
    LoopMeta meta = meta_in;
    meta.instrument = normalize_tag(meta.instrument);
    meta.genre = normalize_tag(meta.genre);
    meta.section = normalize_tag(meta.section);
    meta.key = trim(meta.key);
    const std::string what = meta.source.empty() ? std::string("loop") : meta.source;
    validate_meta(meta, what);
    if (audio.num_channels() < 1 || audio.frames() < 2) throw input_error(what + ": contains no audio");
    for (const auto& ch : audio.channels)
        if (ch.size() != audio.frames()) throw input_error(what + ": channels differ in length");
    for (const auto& ch : audio.channels)
        for (float v : ch)
            if (!std::isfinite(v)) throw input_error(what + ": contains NaN or infinite samples");

    // Encode, then decode what we will store: the hash is of exactly the stored PCM,
    // and audio that quantizes to digital silence is refused here.
    std::vector<unsigned char> flac = encode_audio(audio);
    ReadOptions ro;
    ro.target_rate_hz = 0;
    ro.allow_silent = true;
    ro.max_channels = 8;
    Audio stored = decode_audio(flac.data(), flac.size(), what, ro);
    if (stored.peak() == 0.0f) throw input_error(what + ": audio is silent");
    const std::string hash = audio_content_hash(stored);
    const double duration = stored.duration_sec();
    if (meta.beats == 0) meta.beats = std::max(1, static_cast<int>(std::lround(duration * meta.bpm / 60.0)));
    check_length_matches_tags(duration, meta.bpm, meta.beats, what);

    auto* db = impl_->db;
    const std::string& path = impl_->path;
    sql::WriteTxn txn(db, path);
    {
        Stmt dup(db, path, "SELECT id FROM loops WHERE hash = ?1 AND instrument = ?2");
        dup.bind(1, hash).bind(2, meta.instrument);
        if (dup.step()) return {AddStatus::Duplicate, dup.i64(0)};
    }
    Stmt ins(db, path,
             "INSERT INTO loops(instrument, genre, section, bpm, beats, key, source, sample_rate_hz, channels, "
             "frames, duration_sec, hash) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    ins.bind(1, meta.instrument).bind(2, meta.genre).bind(3, meta.section).bind(4, meta.bpm).bind(5, meta.beats);
    ins.bind(6, meta.key).bind(7, meta.source).bind(8, stored.sample_rate_hz).bind(9, stored.num_channels());
    ins.bind(10, static_cast<std::int64_t>(stored.frames())).bind(11, duration).bind(12, hash);
    ins.run();
    const std::int64_t id = sqlite3_last_insert_rowid(db);
    Stmt blob(db, path, "INSERT INTO loop_audio(loop_id, format, data) VALUES(?1, 'flac16', ?2)");
    blob.bind(1, id).bind_blob(2, flac.data(), flac.size());
    blob.run();
    txn.commit();
    return {AddStatus::Added, id};
}

namespace {
// Runs the filtered listing query and hands each row to `on_row`. The SQL is
// assembled from constant fragments only; values are bound.
template <typename OnRow>
void run_filter(sqlite3* db, const std::string& path, const LoopFilter& filter, OnRow&& on_row) {
    std::string q = kSelectLoop;
    std::vector<std::string> conds;
    if (!filter.instrument.empty()) conds.push_back("instrument = ?1");
    if (!filter.genre.empty()) conds.push_back("genre = ?2");
    if (!filter.section.empty()) conds.push_back("section = ?3");
    if (filter.bpm_min > 0) conds.push_back("bpm >= ?4");
    if (filter.bpm_max > 0) conds.push_back("bpm <= ?5");
    for (std::size_t i = 0; i < conds.size(); ++i) q += (i ? " AND " : " WHERE ") + conds[i];
    q += " ORDER BY id";
    if (filter.limit > 0) q += " LIMIT ?6";
    Stmt s(db, path, q.c_str());
    if (!filter.instrument.empty()) s.bind(1, normalize_tag(filter.instrument));
    if (!filter.genre.empty()) s.bind(2, normalize_tag(filter.genre));
    if (!filter.section.empty()) s.bind(3, normalize_tag(filter.section));
    if (filter.bpm_min > 0) s.bind(4, filter.bpm_min);
    if (filter.bpm_max > 0) s.bind(5, filter.bpm_max);
    if (filter.limit > 0) s.bind(6, filter.limit);
    while (s.step()) on_row(s);
}
}  // namespace

void Catalog::for_each(const LoopFilter& filter, const std::function<void(const LoopRecord&)>& visit) const {
    LoopRecord r;
    run_filter(impl_->db, impl_->path, filter, [&](const Stmt& s) {
        read_record(s, r);
        visit(r);
    });
}

std::vector<LoopRecord> Catalog::list(const LoopFilter& filter) const {
    std::vector<LoopRecord> out;
    // An unfiltered listing knows its size up front (count(*) walks the smallest index).
    const bool unfiltered = filter.instrument.empty() && filter.genre.empty() && filter.section.empty() &&
                            filter.bpm_min <= 0 && filter.bpm_max <= 0;
    if (unfiltered) {
        std::int64_t n = count();
        out.reserve(static_cast<std::size_t>(filter.limit > 0 ? std::min<std::int64_t>(n, filter.limit) : n));
    }
    run_filter(impl_->db, impl_->path, filter, [&](const Stmt& s) {
        out.emplace_back();
        read_record(s, out.back());
    });
    return out;
}

std::optional<LoopRecord> Catalog::get(std::int64_t id) const {
    Stmt s(impl_->db, impl_->path, (std::string(kSelectLoop) + " WHERE id = ?1").c_str());
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    LoopRecord r;
    read_record(s, r);
    return r;
}

Audio Catalog::load_audio(std::int64_t id) const {
    Stmt s(impl_->db, impl_->path, "SELECT data FROM loop_audio WHERE loop_id = ?1");
    s.bind(1, id);
    if (!s.step()) throw input_error(impl_->path + ": no loop #" + std::to_string(id));
    std::vector<unsigned char> data = s.blob(0);
    ReadOptions ro;
    ro.target_rate_hz = 0;
    ro.allow_silent = true;
    ro.max_channels = 8;
    return decode_audio(data.data(), data.size(), impl_->path + " loop #" + std::to_string(id), ro);
}

bool Catalog::remove(std::int64_t id) {
    sql::WriteTxn txn(impl_->db, impl_->path);
    Stmt s(impl_->db, impl_->path, "DELETE FROM loops WHERE id = ?1");
    s.bind(1, id);
    s.run();
    const bool removed = sqlite3_changes(impl_->db) > 0;
    txn.commit();
    return removed;
}

namespace {
std::vector<std::string> distinct(sqlite3* db, const std::string& path, const char* q) {
    Stmt s(db, path, q);
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0));
    return out;
}
}  // namespace

std::vector<std::string> Catalog::instruments() const {
    return distinct(impl_->db, impl_->path, "SELECT DISTINCT instrument FROM loops ORDER BY instrument");
}
std::vector<std::string> Catalog::genres() const {
    return distinct(impl_->db, impl_->path, "SELECT DISTINCT genre FROM loops ORDER BY genre");
}
std::int64_t Catalog::count() const { return pragma_int(impl_->db, impl_->path, "SELECT count(*) FROM loops"); }

void Catalog::set_embedding(std::int64_t id, const std::string& model_tag, const std::vector<float>& embedding) {
    if (model_tag.empty()) throw usage_error("embedding model tag must not be empty");
    if (embedding.empty()) throw usage_error("embedding must not be empty");
    for (float v : embedding)
        if (!std::isfinite(v)) throw usage_error("embedding contains NaN or infinite values");
    std::vector<unsigned char> bytes(embedding.size() * 4);
    for (std::size_t i = 0; i < embedding.size(); ++i) {
        std::uint32_t bits;
        std::memcpy(&bits, &embedding[i], 4);
        for (int k = 0; k < 4; ++k) bytes[4 * i + k] = static_cast<unsigned char>(bits >> (8 * k));
    }
    sql::WriteTxn txn(impl_->db, impl_->path);
    {
        Stmt chk(impl_->db, impl_->path, "SELECT 1 FROM loops WHERE id = ?1");
        chk.bind(1, id);
        if (!chk.step()) throw input_error(impl_->path + ": no loop #" + std::to_string(id));
    }
    Stmt s(impl_->db, impl_->path,
           "INSERT OR REPLACE INTO embeddings(loop_id, model_tag, dim, data) VALUES(?1, ?2, ?3, ?4)");
    s.bind(1, id).bind(2, model_tag).bind(3, static_cast<std::int64_t>(embedding.size()));
    s.bind_blob(4, bytes.data(), bytes.size());
    s.run();
    txn.commit();
}

std::optional<std::vector<float>> Catalog::embedding(std::int64_t id, const std::string& model_tag) const {
    Stmt s(impl_->db, impl_->path, "SELECT dim, data FROM embeddings WHERE loop_id = ?1 AND model_tag = ?2");
    s.bind(1, id).bind(2, model_tag);
    if (!s.step()) return std::nullopt;
    const std::int64_t dim = s.i64(0);
    std::vector<unsigned char> bytes = s.blob(1);
    if (dim <= 0 || bytes.size() != static_cast<std::size_t>(dim) * 4)
        throw input_error(impl_->path + ": embedding of loop #" + std::to_string(id) + " is damaged");
    std::vector<float> out(static_cast<std::size_t>(dim));
    for (std::size_t i = 0; i < out.size(); ++i) {
        std::uint32_t bits = 0;
        for (int k = 0; k < 4; ++k) bits |= std::uint32_t(bytes[4 * i + k]) << (8 * k);
        std::memcpy(&out[i], &bits, 4);
    }
    return out;
}

std::vector<std::string> Catalog::embedding_tags(std::int64_t id) const {
    Stmt s(impl_->db, impl_->path, "SELECT model_tag FROM embeddings WHERE loop_id = ?1 ORDER BY model_tag");
    s.bind(1, id);
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0));
    return out;
}

std::string Catalog::meta_value(const std::string& key) const {
    Stmt s(impl_->db, impl_->path, "SELECT value FROM meta WHERE key = ?1");
    s.bind(1, key);
    return s.step() ? s.text(0) : std::string();
}

void Catalog::set_meta_value(const std::string& key, const std::string& value) {
    sql::WriteTxn txn(impl_->db, impl_->path);
    Stmt s(impl_->db, impl_->path, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)");
    s.bind(1, key).bind(2, value);
    s.run();
    txn.commit();
}

}  // namespace loopsep
