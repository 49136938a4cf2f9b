// loopsep separate — what a batch needs beyond one song: the default targets of a genre, and the
// completion marker that lets a re-run (a preempted cluster task, an interrupted batch) skip the
// songs already done and redo the rest.
//
// Completion, per song folder DIR/<song>/:
//   .loopsep-partial  written (atomically: temporary name, then rename) just before the stems
//                     are renamed into place; lists the stem files being committed.
//   .loopsep-done     the partial marker renamed, after the last stem: the song is complete.
// A song is complete when .loopsep-done lists every stem file this run would write and each is
// there. A folder left with .loopsep-partial (killed while renaming) holds loopsep's own files: the
// ones it lists may be overwritten without --force. Files in a folder with neither marker (made by
// hand, or by an older loopsep) stay under the output rule: refused without --force.
#pragma once

#include <string>
#include <vector>

namespace loopsep::cli {

constexpr const char* kDoneMarker = ".loopsep-done";
constexpr const char* kPartialMarker = ".loopsep-partial";

// What `separate` extracts when no --target/--targets is given, besides the residual:
// bachata: bongo, guira, bass, guitar; hiphop: drums, bass, vocals; any other genre: every
// instrument of the catalog (each has a class prototype), except names that cannot name a file
// and "residual". Input error when that leaves nothing (an empty catalog).
std::vector<std::string> default_targets(const std::string& genre, const std::vector<std::string>& catalog_instruments);

// True when `song_dir`/.loopsep-done lists every name of `files` and each exists there.
bool song_is_complete(const std::string& song_dir, const std::vector<std::string>& files);

// The files a .loopsep-partial in `song_dir` lists (empty without one): loopsep's own, overwritable.
std::vector<std::string> partial_outputs(const std::string& song_dir);

// Before the stems are renamed: removes .loopsep-done, writes .loopsep-partial listing `files`
// (plus the files an earlier .loopsep-done listed that are still there, so targets separated by
// earlier runs into the same folder stay part of its completion).
void mark_song_writing(const std::string& song_dir, const std::vector<std::string>& files, const std::string& song);
// After the last stem: .loopsep-partial becomes .loopsep-done.
void mark_song_done(const std::string& song_dir);

}  // namespace loopsep::cli
