// Reads a write-ahead log's frame headers and checksums (see wal_scan.h).
#include "wal_scan.h"

#include <array>
#include <fstream>
#include <vector>

namespace loopsep {

namespace {

constexpr std::size_t kHeaderBytes = 32, kFrameHeaderBytes = 24;

std::uint32_t be32(const unsigned char* p) {
    return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | std::uint32_t(p[3]);
}
std::uint32_t le32(const unsigned char* p) {
    return std::uint32_t(p[3]) << 24 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[1]) << 8 | std::uint32_t(p[0]);
}

// The log's running checksum: pairs of 32-bit words in the byte order the magic number names.
struct Checksum {
    bool big_endian;
    std::uint32_t s0 = 0, s1 = 0;
    void add(const unsigned char* data, std::size_t n) {
        for (std::size_t i = 0; i + 8 <= n; i += 8) {
            const std::uint32_t x0 = big_endian ? be32(data + i) : le32(data + i);
            const std::uint32_t x1 = big_endian ? be32(data + i + 4) : le32(data + i + 4);
            s0 += x0 + s1;
            s1 += x1 + s0;
        }
    }
};

}  // namespace

WalScan scan_wal(const std::string& wal_path) {
    WalScan scan;
    std::ifstream in(wal_path, std::ios::binary);
    if (!in) return scan;
    in.seekg(0, std::ios::end);
    scan.bytes = static_cast<std::int64_t>(in.tellg());
    in.seekg(0);
    scan.present = scan.bytes > 0;
    std::array<unsigned char, kHeaderBytes> head{};
    if (!in.read(reinterpret_cast<char*>(head.data()), head.size())) return scan;

    const std::uint32_t magic = be32(head.data());
    const std::uint32_t page_size = be32(head.data() + 8);
    if ((magic & ~1u) != 0x377f0682u || page_size < 512 || page_size > 65536 || (page_size & (page_size - 1)) != 0)
        return scan;
    Checksum sum{(magic & 1u) != 0};
    sum.add(head.data(), 24);
    if (sum.s0 != be32(head.data() + 24) || sum.s1 != be32(head.data() + 28)) return scan;
    scan.header_valid = true;

    const std::uint32_t salt1 = be32(head.data() + 16), salt2 = be32(head.data() + 20);
    std::vector<unsigned char> frame(kFrameHeaderBytes + page_size);
    std::int64_t frames = 0;   // this log's frames (current salts), valid or not
    bool chain_valid = true;   // every frame so far continues the checksum chain
    for (;;) {
        in.read(reinterpret_cast<char*>(frame.data()), std::streamsize(frame.size()));
        const std::size_t got = static_cast<std::size_t>(in.gcount());
        if (got == 0) break;
        const unsigned char* fh = frame.data();
        const bool salts_match = got >= kFrameHeaderBytes && be32(fh + 8) == salt1 && be32(fh + 12) == salt2;
        if (got < frame.size()) {  // the file ends inside a frame: cut short while it was written
            scan.torn_frame = salts_match || got < kFrameHeaderBytes;
            break;
        }
        if (!salts_match) break;  // a frame from before the log was reset: stale, ignored by SQLite too
        ++frames;
        if (!chain_valid) continue;
        // A transaction still open may rewrite its own earlier frames in place and fixes the
        // checksums after them only when it commits: a broken chain past the last commit is
        // an unfinished transaction, not damage. SQLite stops at the break either way.
        Checksum next = sum;
        next.add(fh, 8);
        next.add(fh + kFrameHeaderBytes, page_size);
        if (next.s0 != be32(fh + 16) || next.s1 != be32(fh + 20)) {
            chain_valid = false;
            continue;
        }
        sum = next;
        if (be32(fh + 4) != 0) scan.committed_frames = frames;  // a commit frame: the database size after it
    }
    scan.uncommitted_frames = frames - scan.committed_frames;
    return scan;
}

}  // namespace loopsep
