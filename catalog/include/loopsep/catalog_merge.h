// loopsep — combining catalogs: the per-task catalogs of a cluster harvest (one
// file per Slurm array task or Kubernetes index) become one library.
//
// merge_catalogs(out, inputs) adds the loops of every input to `out`:
//  - All or nothing. A new `out` is built under "<out>.tmp-<pid>" and appears under its
//    name only when complete; an existing `out` gets everything in one transaction
//    (its data is kept; a failure or a kill leaves it exactly as it was).
//  - Duplicates: the catalog's own rule (same audio hash AND instrument, as Catalog::add)
//    keeps one row. `out`'s existing rows come first, then the inputs in the order given.
//    Tags are reconciled as a union with "first wins": a text tag (section, key, source)
//    that the kept row lacks is filled from a later copy; a tag both copies have but with
//    different values (genre, bpm, beats, section, key, source) keeps the first value
//    and counts as a conflict in the report. The catalog holds one value per tag.
//  - Ids are remapped: new rows get fresh ids in `out` (inputs in order, each by id).
//    Harvest's per-song records (meta keys "harvest:<song hash>:<target>", whose JSON
//    lists the song's loop ids) are copied with their ids remapped, so a harvest into
//    the merged catalog still skips the songs already done; the first record of a song wins.
//  - Embeddings are carried over with their model tag (the tag names the model file's
//    content and the query path, so a cached embedding stays valid for exactly that
//    model). A kept row that already has an embedding for a tag keeps its own; a
//    damaged one (size not dim * 4 bytes) is left out and reported.
//  - Other meta keys (e.g. "seeded_from") are copied when `out` lacks them.
//  - Inputs are only read (opened read-only: nothing is checkpointed, recovered or
//    deleted in them). A shard whose writer crashed gives what it had committed:
//    SQLite ignores an unfinished transaction in its write-ahead log, and the report
//    names what was left out (the uncommitted log frames) and how many loops belong
//    to no finished harvest song (the song in flight when it crashed).
// Input error naming the file (nothing written) for a missing, foreign, corrupt or
// newer-schema input, or `out` given as an input.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace loopsep {

struct MergeInputReport {
    std::string path;
    std::int64_t loops = 0;            // rows read
    std::int64_t added = 0;            // new rows in out
    std::int64_t duplicates = 0;       // rows out already had (same hash + instrument)
    std::int64_t tags_filled = 0;      // empty tags of a kept row filled from this copy
    std::int64_t tag_conflicts = 0;    // tags that differed: the first value was kept
    std::int64_t embeddings_added = 0, embeddings_kept_existing = 0, embeddings_damaged = 0;
    std::int64_t song_records_added = 0, song_records_existing = 0;
    std::int64_t loops_without_song_record = 0;  // not listed by any of its harvest records
    // Crash leftovers, read from the write-ahead log before SQLite sees it.
    std::int64_t uncommitted_frames = 0;  // pages of transactions that never committed: not merged
    bool torn_frame = false;              // a half-written frame (checksum mismatch) ended the log
    std::vector<std::string> notes;       // one line each: what was left out and why
};

struct MergeReport {
    std::string out_path;
    bool created = false;                 // out did not exist before
    std::int64_t loops_before = 0, loops_after = 0;
    std::vector<MergeInputReport> inputs;
};

MergeReport merge_catalogs(const std::string& out_path, const std::vector<std::string>& input_paths);

}  // namespace loopsep
