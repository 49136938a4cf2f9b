// loopsep — the loop catalog: one SQLite file holding example loops (audio as
// FLAC blobs + metadata + query embeddings). The engine takes its query loops
// from it, `harvest` fills it, `loopsep catalog` manages it.
//
// Reliability: WAL journal, synchronous=FULL, busy_timeout 10 s, every writer in
// BEGIN IMMEDIATE (a deferred read upgraded to a write can fail despite the busy
// timeout), prepared statements only, foreign keys on. A file that is not a
// SQLite database, is corrupt, belongs to another application or has a newer
// schema is refused before anything is written to it.
//
// Instrument, genre and section are stored trimmed and lower case ("Bongo " and
// "bongo" are one instrument); filters are normalized the same way.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "loopsep/audio.h"

namespace loopsep {

struct LoopMeta {
    std::string instrument, genre, section, key, source;
    double bpm = 0;   // > 0 (the CLI estimates it when not given)
    int beats = 0;    // 0: derived from duration and bpm
};

struct LoopRecord : LoopMeta {
    std::int64_t id = 0;
    int sample_rate_hz = 0, channels = 0;
    std::int64_t frames = 0;
    double duration_sec = 0;
    std::string hash;        // sha-256 hex of the stored PCM (see audio_content_hash)
    std::string created_at;  // UTC, ISO 8601 ("2026-11-23T00:15:32Z")
};

struct LoopFilter {
    std::string instrument, genre, section;   // empty: any
    double bpm_min = 0, bpm_max = 0;          // 0: unbounded
    int limit = 0;                            // 0: all
};

enum class AddStatus { Added, Duplicate };
struct AddResult {
    AddStatus status;
    std::int64_t id;   // the new row, or the row that already holds this audio
};

struct CatalogStats {
    std::int64_t loops = 0, embeddings = 0, file_bytes = 0, audio_bytes = 0;
    double total_duration_sec = 0;
    int schema_version = 0;
    std::vector<std::pair<std::string, std::int64_t>> per_instrument, per_genre;  // sorted by name
};

struct VerifyReport {
    std::string integrity;               // PRAGMA integrity_check: "ok" when healthy
    std::int64_t loops_checked = 0;
    std::vector<std::string> problems;   // one line each; empty when all is well
    bool ok() const { return integrity == "ok" && problems.empty(); }
};

// Current schema version (PRAGMA user_version); older files are migrated on open.
constexpr int kCatalogSchemaVersion = 1;

class Catalog {  // one open connection; movable, not copyable; not shared between threads
public:
    // Input error naming the file when it is not SQLite, corrupt, another
    // application's database, of a newer schema, in a read-only location, or
    // missing (when !create_if_missing). Creates the parent directory if needed.
    static Catalog open(const std::string& path, bool create_if_missing);
    // The same checks, for reading only (SQLite read-only, no migration, nothing created beside the
    // file): every read works, every write is an input error naming the file. An older schema (which
    // needs a migration) or an empty file is an input error.
    static Catalog open_read_only(const std::string& path);
    // What commands that only read a catalog (and cache embeddings in it when they can) open: `open`
    // when the file and its folder can be written (or it is missing), otherwise open_read_only — a
    // catalog on read-only media, in a read-only folder or another user's read-only file.
    static Catalog open_for_queries(const std::string& path, bool create_if_missing);

    Catalog(Catalog&&) noexcept;
    Catalog& operator=(Catalog&&) noexcept;
    ~Catalog();

    const std::string& path() const;
    bool read_only() const;   // opened by open_read_only

    // Encodes to FLAC 16-bit, hashes the decoded PCM, stores it in one
    // BEGIN IMMEDIATE transaction. Same hash + instrument already stored:
    // Duplicate with the existing id, nothing written. Input error (nothing
    // written) for empty, silent, non-finite audio or bad metadata.
    AddResult add(const Audio& audio, const LoopMeta& meta);
    std::vector<LoopRecord> list(const LoopFilter& filter = {}) const;   // ordered by id
    // Streams the same rows without building a vector (the record passed is
    // reused between calls: copy what you keep). For listing huge catalogs.
    void for_each(const LoopFilter& filter, const std::function<void(const LoopRecord&)>& visit) const;
    std::optional<LoopRecord> get(std::int64_t id) const;
    Audio load_audio(std::int64_t id) const;            // decoded, at its stored rate; input error if no such id
    bool remove(std::int64_t id);                       // false if no such id; embeddings go with it
    std::vector<std::string> instruments() const;       // distinct, sorted
    std::vector<std::string> genres() const;            // distinct, sorted
    std::int64_t count() const;

    // Embeddings: float32 vectors keyed by (loop id, model tag). Replaces an existing one.
    void set_embedding(std::int64_t id, const std::string& model_tag, const std::vector<float>& embedding);
    std::optional<std::vector<float>> embedding(std::int64_t id, const std::string& model_tag) const;
    std::vector<std::string> embedding_tags(std::int64_t id) const;

    CatalogStats stats() const;
    // integrity_check + foreign_key_check + every row decodes, matches its
    // metadata and its hash + every embedding blob has its stated size.
    VerifyReport verify() const;

    // Small key/value store (e.g. "seeded_from"); empty string when absent.
    std::string meta_value(const std::string& key) const;
    void set_meta_value(const std::string& key, const std::string& value);

    struct Impl;

private:
    explicit Catalog(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// sha-256 hex of the audio as stored: "loopsep-pcm-v1", rate, channels, frames,
// then the interleaved float32 samples (little endian).
std::string audio_content_hash(const Audio& audio);

// $LOOPSEP_CATALOG, else ${XDG_DATA_HOME:-$HOME/.local/share}/loopsep/catalog.db
std::string default_catalog_path();
// $LOOPSEP_SAMPLES, else <prefix>/share/loopsep/samples when installed (loopsep/shipped_files.h),
// else the source tree's samples/ (compile definition).
std::string bundled_samples_dir();
// Opens the default catalog, creating it and seeding it from
// bundled_samples_dir()/loops/loops.json on first use (once that file exists).
Catalog open_default_catalog();

// Tempo of a loop added without a bpm: loopsep::estimate_loop_bpm when the loops
// library is built in (input error naming `what` if it cannot tell), otherwise a
// usage error asking for --bpm. `beats_out` (optional) receives the beat count.
bool can_estimate_bpm();
double estimate_bpm_for_catalog(const Audio& audio, int* beats_out, const std::string& what);

struct SeedReport {
    int added = 0, duplicates = 0, refused = 0;
    std::vector<std::string> messages;   // one per refused entry
};
// Adds every entry of a loops.json manifest: an array of objects
// {"file" (relative to the manifest's folder), "instrument", "genre", "section",
// "bpm", "beats", "key", "source"}. A bad entry is refused (counted, message),
// the others still go in. Input error if the manifest itself is unreadable.
SeedReport seed_from_manifest(Catalog& catalog, const std::string& manifest_path);

// Input error naming `what` when a loop is shorter than one beat at `bpm`, or when `beats` at `bpm`
// and the audio's length disagree by more than 10 % (Catalog::add refuses such loops).
void check_length_matches_tags(double duration_sec, double bpm, int beats, const std::string& what);
// Input error naming `what` when a stored row's bpm or beats is outside what Catalog::add accepts (bpm in
// (0, kMaxLoopBpm = 999], beats 1..100000): a row written behind the catalog's back, to skip or refuse before its tags
// size a stretch or a file's loop chunk.
void check_record_tags(const LoopRecord& r, const std::string& what);

// What export_loops does with a file that is already there (a regular file; anything else, e.g. a
// FIFO or a device, is always refused): Refuse (input error, nothing written), Replace (--force),
// or Keep it as it is (harvest re-exporting loops it exported before).
enum class ExistingExport { Refuse, Replace, Keep };

// Writes each loop as a DAW-ready WAV (acid + smpl chunks, root note from its key tag) named
// "<genre>_<instrument>_<bpm>bpm_<key>_<section>_<song>_<id>.wav" (loopsep::loop_file_name;
// song: a harvested loop's source song) into out_dir (created if
// missing). Returns the paths (written or kept). Input error if an id does not exist
// or an existing file is refused; every path is checked before any is written.
std::vector<std::string> export_loops(const Catalog& catalog, const std::vector<std::int64_t>& ids,
                                      const std::string& out_dir, ExistingExport existing = ExistingExport::Refuse);

}  // namespace loopsep
