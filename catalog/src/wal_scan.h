// Internal: what a crashed writer left in a catalog's write-ahead log ("<db>-wal").
//
// SQLite reads a WAL up to its last valid commit frame and ignores the rest; it
// never says what it ignored. The merge reads the log first (format: sqlite.org/
// fileformat.html, "The Write-Ahead Log") to report it: this log's frames after
// the last commit of its unbroken checksum chain (an unfinished transaction), and
// a file that ends inside a frame (a write cut short). Frames from before the log
// was last reset carry the old salts: they are stale, not lost, and not counted.
#pragma once

#include <cstdint>
#include <string>

namespace loopsep {

struct WalScan {
    bool present = false;              // the file exists and is not empty
    bool header_valid = false;         // false: SQLite ignores the whole log
    std::int64_t bytes = 0;
    std::int64_t committed_frames = 0; // up to and including the last commit frame
    std::int64_t uncommitted_frames = 0; // this log's frames SQLite will not use
    bool torn_frame = false;           // the file ends inside a frame
};

WalScan scan_wal(const std::string& wal_path);

}  // namespace loopsep
