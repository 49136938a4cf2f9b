// merge_catalogs: many catalogs into one (the rules are in loopsep/catalog_merge.h).
//
// Sources are opened read-only and each read inside one read transaction (a
// consistent snapshot). The target is written by one raw connection in one
// BEGIN IMMEDIATE transaction, row by row with prepared statements: audio blobs
// are copied as stored (no decode, no re-encode), so their hashes stay true.
#include "loopsep/catalog_merge.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "catalog_internal.h"
#include "loopsep/catalog.h"
#include "loopsep/error.h"
#include "loopsep/files.h"
#include "wal_scan.h"

namespace loopsep {

namespace fs = std::filesystem;
using sql::Stmt;

namespace {

constexpr const char* kSongRecordPrefix = "harvest:";  // engine/src/harvest.cpp record_key()

struct Connection {
    sqlite3* db = nullptr;
    std::string path;
    Connection() = default;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection() { if (db) sqlite3_close_v2(db); }
};

std::int64_t scalar(sqlite3* db, const std::string& path, const char* q) {
    Stmt s(db, path, q);
    return s.step() ? s.i64(0) : 0;
}

// Opens a source read-only after the same refusals as Catalog::open (regular file, SQLite,
// ours, not newer). Returns false for an empty catalog (a 0-byte file or one with no schema).
bool open_source(const std::string& path, Connection& c) {
    require_regular_file(path);
    {
        std::ifstream in(path, std::ios::binary);
        char header[16] = {};
        in.read(header, sizeof header);
        if (in.gcount() == 0) return false;
        if (in.gcount() < 16 || std::memcmp(header, "SQLite format 3", 16) != 0)
            throw input_error(path + ": not a SQLite database, cannot merge it");
    }
    c.path = path;
    const std::string uri = sql::read_only_uri(path);
    if (sqlite3_open_v2(uri.c_str(), &c.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr) !=
        SQLITE_OK)
        sql::fail(c.db, path, "cannot open the catalog");
    sqlite3_extended_result_codes(c.db, 1);
    sqlite3_busy_timeout(c.db, 10000);
    std::int64_t app_id = 0, version = 0, tables = 0;
    try {
        sql::exec(c.db, path, "BEGIN");  // held until the source is merged: one snapshot
        app_id = scalar(c.db, path, "PRAGMA application_id");
        version = scalar(c.db, path, "PRAGMA user_version");
        tables = scalar(c.db, path, "SELECT count(*) FROM sqlite_master");
    } catch (const Error& e) {
        throw input_error(path + ": corrupt or unreadable, cannot merge it (" + sqlite3_errmsg(c.db) + ")");
    }
    if (app_id != kCatalogApplicationId && (app_id != 0 || tables > 0))
        throw input_error(path + ": a SQLite database, but not a loopsep catalog; cannot merge it");
    if (version > kCatalogSchemaVersion)
        throw input_error(path + ": catalog schema version " + std::to_string(version) +
                          " is newer than this loopsep understands; upgrade loopsep");
    if (version == 0 && tables == 0) return false;
    if (version != kCatalogSchemaVersion)
        throw input_error(path + ": catalog schema version " + std::to_string(version) +
                          " is older: open it once with `loopsep catalog --db " + path + " stats` to migrate it");
    return true;
}

// The writer side: statements prepared once, reused for every row of every source.
class Target {
public:
    // `scratch`: a new catalog under a temporary name, deleted if anything fails: written without a
    // journal (no rollback needed, and a 80 GB merge would otherwise write its audio twice, into
    // the log and then into the file) and synced once by the caller before it is renamed.
    Target(const std::string& path, bool scratch) : path_(path) {
        if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
            std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
            sqlite3_close_v2(db_);
            throw input_error(path + ": cannot open the catalog (" + msg + ")");
        }
        sqlite3_extended_result_codes(db_, 1);
        sqlite3_busy_timeout(db_, 10000);
        sql::exec(db_, path_, "PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536");
        if (scratch) {
            Stmt off(db_, path_, "PRAGMA journal_mode=OFF");
            off.run();
        }
        sql::exec(db_, path_, scratch ? "PRAGMA synchronous=OFF" : "PRAGMA synchronous=FULL");
    }
    ~Target() {
        finalize();
        sqlite3_close_v2(db_);
    }
    void finalize() {  // a statement left mid-row would block the checkpoint
        find_.reset(); update_.reset(); insert_loop_.reset(); insert_audio_.reset();
        insert_embedding_.reset(); insert_meta_.reset();
    }
    sqlite3* db() const { return db_; }
    const std::string& path() const { return path_; }
    void prepare() {
        find_ = std::make_unique<Stmt>(db_, path_,
            "SELECT id, genre, section, bpm, beats, key, source FROM loops WHERE hash = ?1 AND instrument = ?2");
        update_ = std::make_unique<Stmt>(db_, path_,
            "UPDATE loops SET section = ?2, key = ?3, source = ?4 WHERE id = ?1");
        insert_loop_ = std::make_unique<Stmt>(db_, path_,
            "INSERT INTO loops(instrument, genre, section, bpm, beats, key, source, sample_rate_hz, channels, "
            "frames, duration_sec, hash, created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
        insert_audio_ = std::make_unique<Stmt>(db_, path_, "INSERT INTO loop_audio(loop_id, format, data) VALUES(?1, ?2, ?3)");
        insert_embedding_ = std::make_unique<Stmt>(db_, path_,
            "INSERT OR IGNORE INTO embeddings(loop_id, model_tag, dim, data) VALUES(?1, ?2, ?3, ?4)");
        insert_meta_ = std::make_unique<Stmt>(db_, path_, "INSERT OR IGNORE INTO meta(key, value) VALUES(?1, ?2)");
    }

    std::unique_ptr<Stmt> find_, update_, insert_loop_, insert_audio_, insert_embedding_, insert_meta_;

private:
    std::string path_;
    sqlite3* db_ = nullptr;
};

// Fills the kept row's empty text tags from `src` and counts the tags that differ.
void reconcile(Target& t, Stmt& src, MergeInputReport& rep) {
    Stmt& f = *t.find_;
    const std::int64_t id = f.i64(0);
    std::string section = f.text(2), key = f.text(5), source = f.text(6);
    if (f.text(1) != src.text(2)) ++rep.tag_conflicts;                       // genre
    if (std::abs(f.f64(3) - src.f64(4)) > 1e-9) ++rep.tag_conflicts;        // bpm
    if (f.i64(4) != src.i64(5)) ++rep.tag_conflicts;                         // beats
    bool filled = false;
    auto take = [&](std::string& kept, const std::string& other) {
        if (other.empty() || kept == other) return;
        if (kept.empty()) { kept = other; ++rep.tags_filled; filled = true; }
        else ++rep.tag_conflicts;
    };
    take(section, src.text(3));
    take(key, src.text(6));
    take(source, src.text(7));
    if (!filled) return;
    Stmt& u = *t.update_;
    u.reset();
    u.bind(1, id).bind(2, section).bind(3, key).bind(4, source);
    u.run();
}

// The loops of one source into the target; returns source id -> target id.
std::unordered_map<std::int64_t, std::int64_t> merge_loops(Connection& src, Target& t, MergeInputReport& rep) {
    std::unordered_map<std::int64_t, std::int64_t> ids;
    Stmt s(src.db, src.path,
           "SELECT l.id, l.instrument, l.genre, l.section, l.bpm, l.beats, l.key, l.source, l.sample_rate_hz, "
           "l.channels, l.frames, l.duration_sec, l.hash, l.created_at, a.format, a.data "
           "FROM loops l LEFT JOIN loop_audio a ON a.loop_id = l.id ORDER BY l.id");
    while (s.step()) {
        ++rep.loops;
        const std::int64_t src_id = s.i64(0);
        if (s.is_null(14)) {
            rep.notes.push_back("loop #" + std::to_string(src_id) + " has no audio: left out");
            continue;
        }
        Stmt& f = *t.find_;
        f.reset();
        f.bind(1, s.text(12)).bind(2, s.text(1));
        if (f.step()) {
            ++rep.duplicates;
            ids[src_id] = f.i64(0);
            reconcile(t, s, rep);
            continue;
        }
        Stmt& ins = *t.insert_loop_;
        ins.reset();
        ins.bind(1, s.text(1)).bind(2, s.text(2)).bind(3, s.text(3)).bind(4, s.f64(4)).bind(5, s.i64(5));
        ins.bind(6, s.text(6)).bind(7, s.text(7)).bind(8, s.i64(8)).bind(9, s.i64(9)).bind(10, s.i64(10));
        ins.bind(11, s.f64(11)).bind(12, s.text(12)).bind(13, s.text(13));
        ins.run();
        const std::int64_t out_id = sqlite3_last_insert_rowid(t.db());
        Stmt& audio = *t.insert_audio_;
        audio.reset();
        const std::vector<unsigned char> data = s.blob(15);  // as stored: no decode, no re-encode
        audio.bind(1, out_id).bind(2, s.text(14)).bind_blob(3, data.data(), data.size());
        audio.run();
        ids[src_id] = out_id;
        ++rep.added;
    }
    return ids;
}

void merge_embeddings(Connection& src, Target& t, const std::unordered_map<std::int64_t, std::int64_t>& ids,
                      MergeInputReport& rep) {
    Stmt s(src.db, src.path, "SELECT loop_id, model_tag, dim, data FROM embeddings ORDER BY loop_id, model_tag");
    while (s.step()) {
        const auto it = ids.find(s.i64(0));
        if (it == ids.end()) continue;  // its loop was left out
        std::vector<unsigned char> data = s.blob(3);
        const std::int64_t dim = s.i64(2);
        if (dim <= 0 || static_cast<std::int64_t>(data.size()) != dim * 4) {
            ++rep.embeddings_damaged;
            continue;
        }
        Stmt& ins = *t.insert_embedding_;
        ins.reset();
        ins.bind(1, it->second).bind(2, s.text(1)).bind(3, dim).bind_blob(4, data.data(), data.size());
        ins.run();
        if (sqlite3_changes(t.db()) > 0) ++rep.embeddings_added;
        else ++rep.embeddings_kept_existing;
    }
    if (rep.embeddings_damaged > 0)
        rep.notes.push_back(std::to_string(rep.embeddings_damaged) +
                            " damaged embeddings (size is not dim * 4 bytes): left out, recomputed when needed");
}

// A harvest song record with its loop ids remapped; loops that were left out are dropped
// from it (a stale id would name another loop in the target). Empty if unreadable.
std::string remap_song_record(const std::string& value, const std::unordered_map<std::int64_t, std::int64_t>& ids,
                              std::set<std::int64_t>& listed) {
    try {
        nlohmann::json j = nlohmann::json::parse(value);
        nlohmann::json kept = nlohmann::json::array();
        for (auto l : j.at("loops")) {
            const std::int64_t id = l.at("id").get<std::int64_t>();
            listed.insert(id);
            const auto it = ids.find(id);
            if (it == ids.end()) continue;
            l["id"] = it->second;
            kept.push_back(l);
        }
        j["loops"] = kept;
        return j.dump();
    } catch (const std::exception&) {
        return "";
    }
}

void merge_meta(Connection& src, Target& t, const std::unordered_map<std::int64_t, std::int64_t>& ids,
                MergeInputReport& rep) {
    Stmt s(src.db, src.path, "SELECT key, value FROM meta ORDER BY key");
    std::set<std::int64_t> listed;
    int unreadable = 0;
    while (s.step()) {
        const std::string key = s.text(0);
        std::string value = s.text(1);
        const bool song_record = key.rfind(kSongRecordPrefix, 0) == 0;
        if (song_record) {
            value = remap_song_record(value, ids, listed);
            if (value.empty()) { ++unreadable; continue; }
        }
        Stmt& ins = *t.insert_meta_;
        ins.reset();
        ins.bind(1, key).bind(2, value);
        ins.run();
        if (song_record) ++(sqlite3_changes(t.db()) > 0 ? rep.song_records_added : rep.song_records_existing);
    }
    for (const auto& [src_id, out_id] : ids)
        if (!listed.count(src_id)) ++rep.loops_without_song_record;
    if (unreadable > 0)
        rep.notes.push_back(std::to_string(unreadable) +
                            " unreadable harvest song records: left out (those songs are harvested again when asked)");
    // Only where harvest wrote records: in a hand-made catalog no loop has one.
    if (rep.loops_without_song_record > 0 && rep.song_records_added + rep.song_records_existing > 0)
        rep.notes.push_back(std::to_string(rep.loops_without_song_record) +
                            " loops belong to no finished harvest song (cut from a song whose harvest was "
                            "interrupted, or added by hand): merged");
}

void note_wal(const std::string& path, MergeInputReport& rep) {
    const WalScan wal = scan_wal(path + "-wal");
    if (!wal.present) return;
    const std::string name = path + "-wal";
    if (!wal.header_valid) {
        rep.notes.push_back(name + ": not a valid write-ahead log (" + std::to_string(wal.bytes) +
                            " bytes): ignored, as SQLite ignores it");
        return;
    }
    rep.uncommitted_frames = wal.uncommitted_frames;
    rep.torn_frame = wal.torn_frame;
    if (wal.uncommitted_frames > 0)
        rep.notes.push_back(name + ": " + std::to_string(wal.uncommitted_frames) +
                            " pages of a transaction that never committed (its writer stopped mid-write): not merged");
    if (wal.torn_frame)
        rep.notes.push_back(name + ": ends in a half-written page (a write cut short): it and anything after it "
                            "not merged");
}

void remove_with_sidecars(const std::string& path) {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) ::unlink((path + suffix).c_str());
}

void fsync_path(const std::string& path, int flags) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}

}  // namespace

MergeReport merge_catalogs(const std::string& out_path, const std::vector<std::string>& input_paths) {
    if (out_path.empty()) throw usage_error("catalog merge: the output path is empty");
    if (input_paths.empty()) throw usage_error("catalog merge: no input catalog given");
    MergeReport report;
    report.out_path = out_path;
    struct stat st {};
    report.created = ::stat(out_path.c_str(), &st) != 0;
    if (report.created && errno != ENOENT) throw input_error(out_path + ": " + std::strerror(errno));
    for (const auto& in : input_paths)
        if (!report.created && same_file(in, out_path))
            throw input_error(out_path + ": is also an input (" + in + "); merge into another file");

    // Every input is checked (and its log read) before anything is written.
    for (const auto& in : input_paths) {
        Connection c;
        open_source(in, c);
        MergeInputReport r;
        r.path = in;
        note_wal(in, r);
        report.inputs.push_back(std::move(r));
    }

    // A new target is built beside its final name and appears only when complete.
    const std::string target_path = report.created ? temp_path_for(out_path) : out_path;
    if (report.created) {
        remove_stale_temps(out_path);
        for (const char* suffix : {"", "-wal", "-shm", "-journal"}) register_temp_file(target_path + suffix);
    }
    auto forget_temp = [&] {
        if (!report.created) return;
        for (const char* suffix : {"", "-wal", "-shm", "-journal"}) unregister_temp_file(target_path + suffix);
    };
    try {
        Catalog::open(target_path, report.created);  // creates, migrates and refuses as always
        {
            Target t(target_path, report.created);
            sql::WriteTxn txn(t.db(), t.path());
            t.prepare();
            report.loops_before = scalar(t.db(), t.path(), "SELECT count(*) FROM loops");
            for (auto& rep : report.inputs) {
                Connection src;
                if (!open_source(rep.path, src)) {
                    rep.notes.push_back("empty catalog: nothing to merge");
                    continue;
                }
                try {
                    const auto ids = merge_loops(src, t, rep);
                    merge_embeddings(src, t, ids, rep);
                    merge_meta(src, t, ids, rep);
                } catch (const Error& e) {
                    throw Error(e.kind(), rep.path + ": merge stopped, nothing written to " + out_path + " (" +
                                              e.what() + ")");
                }
            }
            report.loops_after = scalar(t.db(), t.path(), "SELECT count(*) FROM loops");
            t.finalize();
            txn.commit();
            if (report.created) {  // back to the catalog's journal: the file is opened as any catalog
                Stmt wal(t.db(), t.path(), "PRAGMA journal_mode=WAL");
                wal.run();
            }
        }
        if (report.created) {
            fsync_path(target_path, O_RDONLY);
            ::unlink((target_path + "-wal").c_str());
            ::unlink((target_path + "-shm").c_str());
            // link() rather than rename(): a catalog that appeared under the name meanwhile is never replaced.
            if (::link(target_path.c_str(), out_path.c_str()) != 0)
                throw input_error(out_path + ": cannot create it (" + std::strerror(errno) + ")");
            ::unlink(target_path.c_str());
            fsync_path(fs::absolute(out_path).parent_path().string(), O_RDONLY | O_DIRECTORY);
        }
    } catch (...) {
        if (report.created) remove_with_sidecars(target_path);
        forget_temp();
        throw;
    }
    forget_temp();
    return report;
}

}  // namespace loopsep
