// Catalog::stats and Catalog::verify.
#include <string>

#include "catalog_internal.h"

namespace loopsep {

using sql::Stmt;

namespace {
std::vector<std::pair<std::string, std::int64_t>> group_counts(sqlite3* db, const std::string& path, const char* q) {
    Stmt s(db, path, q);
    std::vector<std::pair<std::string, std::int64_t>> out;
    while (s.step()) out.emplace_back(s.text(0), s.i64(1));
    return out;
}
}  // namespace

CatalogStats Catalog::stats() const {
    auto* db = impl_->db;
    const auto& path = impl_->path;
    CatalogStats st;
    {
        Stmt s(db, path, "SELECT count(*), coalesce(sum(duration_sec), 0) FROM loops");
        if (s.step()) { st.loops = s.i64(0); st.total_duration_sec = s.f64(1); }
    }
    {
        Stmt s(db, path, "SELECT count(*) FROM embeddings");
        if (s.step()) st.embeddings = s.i64(0);
    }
    {
        Stmt s(db, path, "SELECT coalesce(sum(length(data)), 0) FROM loop_audio");
        if (s.step()) st.audio_bytes = s.i64(0);
    }
    {
        Stmt a(db, path, "PRAGMA page_count");
        Stmt b(db, path, "PRAGMA page_size");
        if (a.step() && b.step()) st.file_bytes = a.i64(0) * b.i64(0);
    }
    {
        Stmt s(db, path, "PRAGMA user_version");
        if (s.step()) st.schema_version = static_cast<int>(s.i64(0));
    }
    st.per_instrument = group_counts(db, path, "SELECT instrument, count(*) FROM loops GROUP BY instrument ORDER BY instrument");
    st.per_genre = group_counts(db, path, "SELECT genre, count(*) FROM loops GROUP BY genre ORDER BY genre");
    return st;
}

VerifyReport Catalog::verify() const {
    auto* db = impl_->db;
    const auto& path = impl_->path;
    VerifyReport rep;
    try {
        Stmt s(db, path, "PRAGMA integrity_check");
        std::string lines;
        int n = 0;
        while (s.step()) {
            if (n++ < 10) lines += (lines.empty() ? "" : "; ") + s.text(0);
        }
        rep.integrity = lines.empty() ? "no answer" : lines;
    } catch (const Error& e) {
        rep.integrity = e.what();
        return rep;  // too damaged to read rows reliably
    }
    try {
        // One read transaction: every check sees the same snapshot.
        sql::exec(db, path, "BEGIN");
        struct EndRead {
            sqlite3* db;
            ~EndRead() { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); }
        } end_read{db};
        {
            Stmt s(db, path, "PRAGMA foreign_key_check");
            while (s.step()) rep.problems.push_back("foreign key broken in table " + s.text(0) + " row " + s.text(1));
        }
        {
            Stmt s(db, path,
                   "SELECT l.id FROM loops l LEFT JOIN loop_audio a ON a.loop_id = l.id WHERE a.loop_id IS NULL");
            while (s.step()) rep.problems.push_back("loop #" + std::to_string(s.i64(0)) + ": audio missing");
        }
        {
            Stmt s(db, path, "SELECT loop_id, model_tag FROM embeddings WHERE dim <= 0 OR length(data) <> dim * 4");
            while (s.step())
                rep.problems.push_back("loop #" + std::to_string(s.i64(0)) + ": embedding '" + s.text(1) +
                                       "' has the wrong size");
        }
        Stmt s(db, path,
               "SELECT l.id, l.sample_rate_hz, l.channels, l.frames, l.hash, a.data "
               "FROM loops l JOIN loop_audio a ON a.loop_id = l.id ORDER BY l.id");
        ReadOptions ro;
        ro.target_rate_hz = 0;
        ro.allow_silent = true;
        ro.max_channels = 8;
        while (s.step()) {
            ++rep.loops_checked;
            const std::string who = "loop #" + std::to_string(s.i64(0));
            try {
                std::vector<unsigned char> data = s.blob(5);
                Audio a = decode_audio(data.data(), data.size(), who, ro);
                if (a.sample_rate_hz != s.i64(1) || a.num_channels() != s.i64(2) ||
                    static_cast<std::int64_t>(a.frames()) != s.i64(3))
                    rep.problems.push_back(who + ": audio does not match its rate/channels/frames");
                else if (audio_content_hash(a) != s.text(4))
                    rep.problems.push_back(who + ": hash mismatch (audio changed or damaged)");
            } catch (const Error& e) {
                rep.problems.push_back(e.what());
            }
        }
    } catch (const Error& e) {
        rep.problems.push_back(e.what());
    }
    return rep;
}

}  // namespace loopsep
