// Segment cache file: pre-rendered training windows, 8-bit µ-law (see loopsep/train.h).
//
// Layout (little-endian): "LSEPSEG1", u32 rate, u32 window_samples, three name
// tables (u32 count, then u32 length + bytes each: instruments, songs, sources),
// u32 length + description, u64 segment count, then per segment: u16 instrument,
// u32 song, u32 source, u32 bar, u8 active, f32 scale, window_samples codes.
// 8-bit µ-law keeps ≈ 38 dB SNR per stem — far below what the net resolves — and
// halves the size of int16, so more material fits one GPU upload (64 MiB).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

#include "loopsep/error.h"
#include "loopsep/train.h"

namespace loopsep {

namespace {
constexpr char kMagic[8] = {'L', 'S', 'E', 'P', 'S', 'E', 'G', '1'};
constexpr double kMu = 255.0;

const std::array<float, 256>& mulaw_table() {
    static const std::array<float, 256> table = [] {
        std::array<float, 256> t{};
        for (int c = 0; c < 256; ++c) {
            const double y = c / 127.5 - 1.0;
            t[c] = float((y < 0 ? -1.0 : 1.0) * (std::pow(1.0 + kMu, std::abs(y)) - 1.0) / kMu);
        }
        return t;
    }();
    return table;
}

class Writer {
public:
    void bytes(const void* p, std::size_t n) { buf_.append(static_cast<const char*>(p), n); }
    template <class T> void num(T v) {  // host is little-endian (x86-64, aarch64)
        bytes(&v, sizeof v);
    }
    void str(const std::string& s) { num<std::uint32_t>(std::uint32_t(s.size())); bytes(s.data(), s.size()); }
    std::string buf_;
};

class Reader {
public:
    Reader(const std::string& data, const std::string& what) : d_(data), what_(what) {}
    void bytes(void* p, std::size_t n) {
        if (n > d_.size() - pos_) throw input_error(what_ + ": segment cache is truncated");
        std::memcpy(p, d_.data() + pos_, n);
        pos_ += n;
    }
    template <class T> T num() { T v; bytes(&v, sizeof v); return v; }
    std::string str() {
        const auto n = num<std::uint32_t>();
        if (n > (1u << 20)) throw input_error(what_ + ": segment cache has an absurd string length");
        std::string s(n, '\0');
        bytes(s.data(), n);
        return s;
    }
    bool done() const { return pos_ == d_.size(); }
    std::size_t left() const { return d_.size() - pos_; }

private:
    const std::string& d_;
    std::string what_;
    std::size_t pos_ = 0;
};
}  // namespace

CachedSegment encode_segment(const float* x, std::uint32_t n) {
    CachedSegment s;
    float peak = 0.0f;
    for (std::uint32_t i = 0; i < n; ++i) peak = std::max(peak, std::abs(x[i]));
    s.scale = peak;
    s.codes.resize(n, 128);
    if (peak <= 0.0f) return s;
    const double norm = std::log1p(kMu);
    for (std::uint32_t i = 0; i < n; ++i) {
        const double v = std::min(1.0, std::max(-1.0, double(x[i]) / peak));
        const double y = (v < 0 ? -1.0 : 1.0) * std::log1p(kMu * std::abs(v)) / norm;
        s.codes[i] = static_cast<std::uint8_t>(std::lround((y + 1.0) * 127.5));
    }
    return s;
}

std::vector<float> SegmentCache::decode(const CachedSegment& s) const {
    const auto& t = mulaw_table();
    std::vector<float> out(s.codes.size());
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = s.scale * t[s.codes[i]];
    return out;
}

void SegmentCache::append(const SegmentCache& o) {
    if (window_samples == 0) {
        sample_rate_hz = o.sample_rate_hz;
        window_samples = o.window_samples;
    }
    if (o.window_samples != window_samples || o.sample_rate_hz != sample_rate_hz)
        throw usage_error("segment caches with different window geometry cannot be merged");
    auto index = [](std::vector<std::string>& names, const std::string& n) {
        for (std::size_t i = 0; i < names.size(); ++i)
            if (names[i] == n) return std::uint32_t(i);
        names.push_back(n);
        return std::uint32_t(names.size() - 1);
    };
    const std::uint32_t song_base = std::uint32_t(songs.size());
    for (const auto& s : o.songs) songs.push_back(s);
    for (auto seg : o.segments) {
        seg.instrument = std::uint16_t(index(instruments, o.instruments[seg.instrument]));
        seg.source = index(sources, o.sources[seg.source]);
        seg.song += song_base;
        segments.push_back(std::move(seg));
    }
    description += (description.empty() ? "" : "; ") + o.description;
}

void write_segment_cache(const std::string& path, const SegmentCache& c) {
    Writer w;
    w.bytes(kMagic, 8);
    w.num<std::uint32_t>(std::uint32_t(c.sample_rate_hz));
    w.num<std::uint32_t>(c.window_samples);
    for (const auto* table : {&c.instruments, &c.songs, &c.sources}) {
        w.num<std::uint32_t>(std::uint32_t(table->size()));
        for (const auto& n : *table) w.str(n);
    }
    w.str(c.description);
    w.num<std::uint64_t>(c.segments.size());
    for (const auto& s : c.segments) {
        if (s.codes.size() != c.window_samples) throw usage_error("segment cache: a segment has the wrong length");
        w.num<std::uint16_t>(s.instrument);
        w.num<std::uint32_t>(s.song);
        w.num<std::uint32_t>(s.source);
        w.num<std::uint32_t>(s.bar);
        w.num<std::uint8_t>(s.active ? 1 : 0);
        w.num<float>(s.scale);
        w.bytes(s.codes.data(), s.codes.size());
    }
    const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(w.buf_.data(), std::streamsize(w.buf_.size()));
    out.close();
    if (!out || std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw input_error(path + ": cannot write segment cache");
    }
}

SegmentCache read_segment_cache(const std::string& path) {
    struct stat st {};  // stat, not loopsep/files.h: the GPU trainer links no loopsep_core
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
        throw input_error(path + ": not a regular file (segment cache)");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw input_error(path + ": cannot open segment cache");
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Reader r(data, path);
    char magic[8];
    r.bytes(magic, 8);
    if (std::memcmp(magic, kMagic, 8) != 0) throw input_error(path + ": not a loopsep segment cache");
    SegmentCache c;
    c.sample_rate_hz = int(r.num<std::uint32_t>());
    c.window_samples = r.num<std::uint32_t>();
    if (c.sample_rate_hz != 44100 || c.window_samples == 0 || c.window_samples > (1u << 24))
        throw input_error(path + ": segment cache has an invalid geometry");
    for (auto* table : {&c.instruments, &c.songs, &c.sources}) {
        const auto n = r.num<std::uint32_t>();
        if (n > (1u << 24)) throw input_error(path + ": segment cache has an absurd table size");
        for (std::uint32_t i = 0; i < n; ++i) table->push_back(r.str());
    }
    c.description = r.str();
    const auto n = r.num<std::uint64_t>();
    if (n > r.left() / (c.window_samples + 19)) throw input_error(path + ": segment cache is truncated");
    c.segments.resize(n);
    for (auto& s : c.segments) {
        s.instrument = r.num<std::uint16_t>();
        s.song = r.num<std::uint32_t>();
        s.source = r.num<std::uint32_t>();
        s.bar = r.num<std::uint32_t>();
        s.active = r.num<std::uint8_t>() != 0;
        s.scale = r.num<float>();
        if (s.instrument >= c.instruments.size() || s.song >= c.songs.size() || s.source >= c.sources.size() ||
            !std::isfinite(s.scale) || s.scale < 0)
            throw input_error(path + ": segment cache is corrupt");
        s.codes.resize(c.window_samples);
        r.bytes(s.codes.data(), c.window_samples);
    }
    if (!r.done()) throw input_error(path + ": segment cache has trailing bytes");
    return c;
}

}  // namespace loopsep
