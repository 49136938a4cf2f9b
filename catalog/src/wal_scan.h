// Internal: what a crashed writer left in a catalog's write-ahead log ("<db>-wal").
//
// SQLite reads a WAL up to its last valid commit frame and ignores the rest; it
// never says what it ignored. The merge reads the log first (format: sqlite.org/
// fileformat.html, "The Write-Ahead Log") to report it: frames after the last
// commit (an unfinished transaction), and a frame whose salts match but whose
// checksum does not (a torn write). Frames from before the log was last reset
// carry the old salts: they are stale, not lost, and are not counted.
#pragma once

#include <cstdint>
#include <string>

namespace loopsep {

struct WalScan {
    bool present = false;              // the file exists and is not empty
    bool header_valid = false;         // false: SQLite ignores the whole log
    std::int64_t bytes = 0;
    std::int64_t committed_frames = 0; // up to and including the last commit frame
    std::int64_t uncommitted_frames = 0;
    bool torn_frame = false;
};

WalScan scan_wal(const std::string& wal_path);

}  // namespace loopsep
