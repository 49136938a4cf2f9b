// loopsep — harvest: songs in, a tagged library of clean loops of one instrument out.
//
// For each song: separate the target (engine, with residual) → cut the stem on
// the song's downbeat grid into loops of `bars` whole bars → score each loop →
// drop silent / leaky / gappy ones and near-duplicates → keep the best up to
// `max_loops` → add them to the catalog (instrument, genre, section, key,
// tempo, source song and position) → optionally export DAW-ready WAVs.
//
// Key: params.key if given, else meta.json's "key" beside the song, else estimated from
// the song's mixture (chroma key profile, loopsep/key.h; bench/key); it tags every loop and
// sets the exported files' acid/smpl root note. Catalog source: "<folder>/<file> bar n @ t s"
// (loopsep::harvest_source), from which exports take the song field of their names.
//
// Scoring, per loop (all from audio, no ground truth):
//   level_dbfs   RMS of the stem loop.
//   share_db     stem energy / mixture energy over the loop (how much of the bar the target is).
//   rel_level_db level_dbfs minus the song's typical target level (90th percentile over its bars),
//                so "the target is absent here" does not depend on the mix level.
//   leakage      squared cosine similarity of |STFT(stem)| and |STFT(residual)| over the loop:
//                0 when the mask cleanly splits time-frequency bins, 1 when the stem is just a
//                scaled copy of what was left out (a mask that could not tell the target apart
//                lets everything through a little). For stem = target + a share of the rest it
//                estimates the fraction of the loop's energy that is the rest.
//   silence      fraction of beats more than 20 dB below the loop's RMS (a loop where the
//                target plays half the bar makes a poor loop: more than max_silence of them
//                and it is dropped as "gaps").
//   match        timbre cosine with the --query loop (reported only, no gate: on the benchmark
//                songs it told a cowbell from a bongo in some songs but not in others).
//   quality      presence · (1 − silence) · (1 − leakage), presence = clamp(1 + rel_level_db / level_range_db, 0, 1).
// A loop is "silent" (the target does not play there) when level, share or rel_level fall
// below their gates, "gaps" when more than max_silence of its beats are silent; otherwise it
// is dropped when quality < min_quality, the reason being the weakest factor ("quiet", "gaps",
// "leakage"). The gates were set on songs of seed 801 (bench/harvest), not on those reported.
// Near-duplicates: rhythm (per-band sixteenth-slot log-energy pattern) AND timbre (band
// envelope) both with cosine ≥ duplicate_similarity to a better loop already kept.
// max_loops counts per song.
//
// Tempo: loops keep the song's tempo (240·rate / median bar length, rounded to 0.01 BPM) or
// take `bpm`; each loop has EXACTLY round(4·bars·60/bpm·rate) frames. A bar within 0.2 % of
// that is trimmed/padded at its end; any other is stretched (Rubber Band, exact length).
//
// Idempotent and resumable: once a song's loops are in, the catalog records
// "harvest:<audio sha-256>:<target>"; a recorded song is skipped unless `force`.
// Each loop goes in with its own transaction and the record is written last, so a
// crash loses at most the song in flight (re-running it finds its loops as duplicates).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "loopsep/audio.h"
#include "loopsep/beat.h"
#include "loopsep/catalog.h"
#include "loopsep/engine.h"

namespace loopsep {

struct HarvestParams {
    std::string target;              // instrument name as filed in the catalog (required)
    Genre genre = Genre::Neutral;    // tempo prior, catalog genre tag and query genre
    std::string query_path;          // example loop of the target; empty: see query_id, then the prototype
    double query_bpm = 0;            // tempo of the query loop; 0: estimated
    std::int64_t query_id = 0;       // > 0: this catalog loop is the query (not with query_path)
    bool query_id_in_default = false;  // query_id names a loop of the default catalog, not the destination
    std::string key;                 // non-empty: every loop's key (parse_key spelling), over meta.json and detection
    bool detect_key = true;          // no key given nor in meta.json: estimate it from the song (loopsep/key.h)
    std::string model_path;          // empty: default_model_path(); loaded only if a song needs separating
    int bars = 1;                    // bars per loop: 1, 2 or 4
    double bpm = 0;                  // 0: keep the song's tempo; else stretch loops to it (30..300)
    int max_loops = 8;               // kept per song, best first
    double min_quality = 0.3;        // 0..1
    bool force = false;              // redo songs already harvested
    std::string export_dir;          // non-empty: also write WAVs (acid + smpl) there
    int threads = 2;

    // Gates and thresholds (defaults documented above).
    double min_level_dbfs = -60.0;
    double min_share_db = -25.0;
    double min_rel_level_db = -20.0;
    double level_range_db = 20.0;
    double max_silence = 0.25;       // more of the loop's beats silent than this: "gaps"
    double duplicate_similarity = 0.9;

    void validate() const;           // usage error naming the parameter
};

// ---- the pure parts (no model): cutting, scoring, dedupe, selection ----

struct LoopSpan {                    // a run of whole bars of the song
    std::size_t start_frame = 0, end_frame = 0;  // [start, end), song frames
    int first_bar = 0;               // index of its first bar (0 = the bar at the first downbeat)
    double start_sec = 0;
};

// Consecutive non-overlapping runs of `bars` whole bars, downbeat to downbeat (the
// pickup before the first downbeat and an incomplete run at the end are left out).
// A bar must hold beats_per_bar beats of the grid (when the grid has beats in it).
std::vector<LoopSpan> cut_bars(const BeatGrid& grid, std::size_t total_frames, int sample_rate_hz, int bars,
                               int beats_per_bar = 4);

// The song's tempo as loops keep it: 240·rate / median bar length in frames, to 0.01 BPM.
// Usage error if there is no whole bar.
double song_loop_bpm(const std::vector<LoopSpan>& bars_of_one, int sample_rate_hz);

// EXACTLY round(beats·60/bpm·rate) frames: trimmed/padded when within 0.2 % (+2 frames), else stretched.
// A 2 ms fade-out at the end keeps the wrap-around click-free.
Audio fit_loop_length(const Audio& loop, double bpm, int beats);

struct LoopScore {
    double level_dbfs = -200, share_db = -200, rel_level_db = 0, leakage = 1, silence = 1, quality = 0;
    double match = 1;                // timbre cosine with the query loop (1 when there is no query audio)
};
// Everything but rel_level_db and quality (those need the whole song: see finish_scores).
LoopScore score_loop(const Audio& stem, const Audio& residual, const LoopSpan& span, int beats);
// Fills rel_level_db and quality of every score from the song's typical level.
void finish_scores(std::vector<LoopScore>& scores, const HarvestParams& params);

struct LoopFingerprint {
    std::vector<float> rhythm;       // bands × slots log-energy, each band's mean removed, unit norm
    std::vector<float> timbre;       // band mean log-energies, mean removed, unit norm
};
LoopFingerprint fingerprint_loop(const Audio& loop, int beats);
double fingerprint_similarity(const LoopFingerprint& a, const LoopFingerprint& b);  // min of the two cosines
double timbre_similarity(const LoopFingerprint& a, const LoopFingerprint& b);       // cosine of the timbres

enum class DropReason { Kept, Silent, Quiet, Gaps, Leakage, Duplicate, Limit };
const char* drop_reason_name(DropReason r);   // "kept", "silent", "quiet", "gaps", "leakage", "duplicate", "limit"

// Decides every candidate: gates, quality, then greedy best-first dedupe and the max_loops limit.
std::vector<DropReason> select_loops(const std::vector<LoopScore>& scores,
                                     const std::vector<LoopFingerprint>& fingerprints, const HarvestParams& params);

// ---- the query ----

// Where the query comes from, first that applies: query_path (a file); query_id (a loop of the
// destination catalog, or of the default catalog with query_id_in_default); the class prototype of
// the target from the destination catalog, or from the default catalog when the destination has no
// loop of the target (a new catalog, say). Resolved when made, so a bad file or id, or a target no
// catalog has, is an input error before any song is separated; the embedding (model) comes later.
class HarvestQuery {
public:
    enum class Kind { File, CatalogLoop, Prototype };
    HarvestQuery(Catalog& destination, const HarvestParams& params);
    std::vector<float> embedding(const Engine& engine, const HarvestParams& params);
    Kind kind() const { return kind_; }
    const char* kind_name() const;              // "file", "catalog-loop", "prototype"
    const std::string& label() const { return label_; }
    std::string catalog_path() const;           // the catalog it came from ("" for a file)
    const std::vector<std::int64_t>& loop_ids() const { return loop_ids_; }  // catalog loops it is made of
    const Audio* audio() const { return audio_ ? &*audio_ : nullptr; }       // the one query loop, if any

private:
    std::optional<Catalog> default_;            // opened only when needed
    Catalog* catalog_ = nullptr;
    Kind kind_ = Kind::File;
    std::string label_;
    std::optional<Audio> audio_;
    double bpm_ = 0;
    std::vector<std::int64_t> loop_ids_;
};

// ---- the whole job ----

struct HarvestedLoop {
    std::int64_t catalog_id = 0;
    bool was_duplicate = false;      // the catalog already held this exact audio
    int first_bar = 0;
    double start_sec = 0, end_sec = 0;  // its span in the song (before any stretch)
    double bpm = 0;                      // tagged tempo
    std::string section, key, file;  // key: as tagged ("Am"; empty when unknown); file: exported path
    LoopScore score;
};

struct HarvestCandidate {           // every loop considered, with its fate
    int first_bar = 0;
    double start_sec = 0, end_sec = 0;
    LoopScore score;
    DropReason decision = DropReason::Kept;
};

struct SongHarvest {
    std::string song, hash;          // path as given, sha-256 of its audio
    bool skipped = false;            // already harvested (same audio + target) and not forced
    double tempo_bpm = 0;            // the song's tempo (beat grid)
    std::string key;                 // the song's key ("Am", "C#"; empty when unknown)
    std::string key_source;          // "given" (params.key), "meta" (meta.json), "detected", or ""
    int candidates = 0;
    std::vector<std::pair<std::string, int>> dropped;  // reason → count, reasons in DropReason order
    std::vector<HarvestedLoop> loops;
    std::vector<HarvestCandidate> considered;          // in song order (empty when skipped)
};

struct HarvestReport {
    std::string query_kind, query_catalog;  // HarvestQuery::kind_name / catalog_path ("" when no song needed it)
    std::vector<std::int64_t> query_loop_ids;
    std::vector<SongHarvest> songs;
    int songs_harvested() const;
    int songs_skipped() const;
    int loops_kept() const;          // by the songs harvested in this run (skipped songs not counted)
};

// Songs are checked (readable, not silent, …) before any is separated: bad input is
// an error naming the file and nothing is written. A song that fails later (no beat to
// cut on) stops the run with an error naming it; the songs before it stay harvested. `on_song` (optional) is called after
// each song (for progress lines).
HarvestReport harvest(const std::vector<std::string>& songs, Catalog& catalog, const HarvestParams& params,
                      const std::function<void(const SongHarvest&)>& on_song = {});

// harvest() into the catalog file at `catalog_path`. A catalog that exists is opened and never removed.
// One that does not is created, and if the run then fails (bad song, bad query, no beat, …) or is
// interrupted, its file, WAL companions and the (empty) folders made for it are removed: a failed
// first harvest leaves no catalog behind. All or nothing for a new catalog: a failure at the third
// song also drops the first two.
HarvestReport harvest_into(const std::vector<std::string>& songs, const std::string& catalog_path,
                           const HarvestParams& params, const std::function<void(const SongHarvest&)>& on_song = {});

}  // namespace loopsep
