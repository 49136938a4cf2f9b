// loopsep — the rules every command follows for the files it reads and writes.
//
// Inputs (songs, loops, models, catalogs) must be regular files: a device node
// (/dev/zero, /dev/urandom) or a FIFO would be read forever, or block on open.
// Outputs follow one rule: an existing output is refused without --force, a
// non-regular file (device, FIFO, directory) is never replaced even with
// --force, and an output that is one of the inputs (same device and inode,
// whatever path names it) is always refused.
//
// Temporary files ("<path>.tmp-<pid>") are registered while they exist so that
// an interrupting signal can remove them (install_interrupt_cleanup), and a
// later run removes the temporaries of a process that died (kill -9).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace loopsep {

// Throws input_error naming `path` unless it is a regular file (following symlinks):
// "does not exist", "is a directory", "not a regular file (a device, FIFO or socket)".
// Returns its size in bytes.
std::uint64_t require_regular_file(const std::string& path);

// The output rule above. `inputs` are the files this command reads (paths that do not exist are
// ignored). Throws input_error naming `output`. Also removes stale temporaries of `output`.
void check_output_path(const std::string& output, bool force, const std::vector<std::string>& inputs);

// True when both paths exist and name the same file (device and inode, whatever path names it).
bool same_file(const std::string& a, const std::string& b);

// Removes "<path>.tmp-<pid>" files beside `path` whose process is no longer alive (a run killed
// with SIGKILL cannot clean up after itself). Returns how many were removed.
int remove_stale_temps(const std::string& path);

// While registered, a temporary file is removed by the interrupt handler. Registration is
// async-signal-safe to read; at most a fixed number of temporaries are tracked (more are not cleaned).
void register_temp_file(const std::string& tmp_path);
void unregister_temp_file(const std::string& tmp_path);

// SIGINT, SIGTERM and SIGHUP: remove the registered temporaries, print "<program>: interrupted" on
// stderr and exit 128 + signal (130, 143, 129).
void install_interrupt_cleanup(const char* program);

}  // namespace loopsep
