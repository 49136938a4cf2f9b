// loopsep CLI — which songs a batch command (separate, harvest) works on, and where each one's
// outputs go: PATH... and --list FILE in, one list of songs out, then this task's shard of it.
//
// Songs. A file argument is one song, whatever its extension (a bad one fails when it is read). A
// folder argument is scanned recursively for audio files (audio_extensions(), any case); hidden
// entries (".name") and the excluded folders (the command's own output folder) are left out. A
// --list FILE holds one path per line (a file or a folder); blank lines and lines starting with '#'
// are ignored, surrounding spaces and a trailing '\r' are dropped, relative paths are relative to
// the list file's folder. The same path given twice (spelled "a.wav" or "./x/../a.wav") is one song.
// Songs keep the order given (a folder's files in sorted order).
//
// Output names. Every song gets an output-relative path (no extension, '/' separators) that
// mirrors where it came from, so two songs never share an output folder:
//   file argument  song.flac                      → song
//   folder argument albums/ holding albumA/01.wav → albums/albumA/01  (the folder's own name first)
//   --list entry (file, or a file in a folder)    → its path relative to the list file's folder,
//                                                   or, outside that folder, its absolute path
//                                                   without the leading '/'
// Two different songs that would still get the same name (d1/x.wav and d2/x.wav as arguments, or
// x.wav and x.flac in one folder) are told apart deterministically: ordered by their absolute path,
// the first keeps the name, the others get "-2", "-3", ... (a name some song has as its own is never
// handed out as a suffixed one). The result depends on the set of songs, not on their order.
//
// Shards. A song belongs to shard (splitmix64(fnv1a64(output name)) mod N): a pure function of
// its output name, so the N shards cover every song exactly once whatever the order of the list,
// and a song stays in its shard when others are added. Shard indices are 0-based (0 ≤ I < N).
// Where I and N come from, first match wins:
//   --shard I/N                        explicit (with --shards: usage error)
//   --shards N + JOB_COMPLETION_INDEX  a Kubernetes Indexed Job (or SLURM_ARRAY_TASK_ID − MIN)
//   SLURM_ARRAY_TASK_ID                I = (ID − SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP (step 1
//                                      when unset), N = SLURM_ARRAY_TASK_COUNT: --array=0-9 and
//                                      --array=1-10 both give I = 0..9, N = 10
//   none                               0/1: every song
// An index outside 0..N−1 (a non-contiguous --array list), JOB_COMPLETION_INDEX without --shards,
// and --shards without a scheduler index are usage errors naming the flag or variable.
// The environment is read only for collections (a --list or a folder argument, or with --shards):
// song files given one by one are all processed, as an array task handed its own song expects.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "args.h"

namespace loopsep::cli {

struct Song {
    std::string path;         // to read: as given, or the list's folder joined with the entry
    std::string output_name;  // output-relative path, e.g. "albums/albumA/01" (see above)
};

// Lower case, with the dot: ".wav", ".flac", ... — what libsndfile reads (mp3 through libmpg123).
const std::vector<std::string>& audio_extensions();
bool has_audio_extension(const std::string& path);

// Folders never scanned (compared as the same directory, whatever the path spelling).
struct SongListOptions {
    std::vector<std::string> exclude_dirs;
};

// The songs of `paths` (arguments) and `list_files` (--list), output names assigned. Input error
// naming the path for a missing argument or list file, and for a folder without audio files;
// usage error when there are no songs at all.
std::vector<Song> resolve_songs(const std::vector<std::string>& paths, const std::vector<std::string>& list_files,
                                const SongListOptions& options = {});

struct Shard {
    long index = 0, count = 1;  // 0 ≤ index < count
    std::string source;         // "--shard", "JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID" or "" (none)
    bool active() const { return count > 1; }
};

using Environment = std::map<std::string, std::string>;
// The variables resolve_shard reads, from this process's environment (absent ones left out).
Environment scheduler_environment();

// `shard_flag`: the value of --shard, `shards_flag`: of --shards (nullopt when absent).
Shard resolve_shard(const std::optional<std::string>& shard_flag, const std::optional<std::string>& shards_flag,
                    const Environment& env);

std::uint64_t shard_hash(const std::string& output_name);
bool in_shard(const Song& song, const Shard& shard);
std::vector<Song> select_shard(const std::vector<Song>& songs, const Shard& shard);

// --list, --shard and --shards, for a command's option table; `spec` with them appended.
std::vector<OptionSpec> song_list_options();
CommandSpec with_song_list_options(CommandSpec spec);

// resolve_songs + resolve_shard (real environment) + select_shard from a command's arguments.
struct SongBatch {
    std::vector<Song> songs;  // this shard's songs, in order
    std::size_t total = 0;    // songs in the whole list
    Shard shard;
};
SongBatch songs_from_args(const ParsedArgs& args, const SongListOptions& options = {});
// When sharded, one stderr line for the task's log: "loopsep: shard 2/10 (SLURM_ARRAY_TASK_ID): 97 of 1000 songs".
void report_shard(const SongBatch& batch);

}  // namespace loopsep::cli
