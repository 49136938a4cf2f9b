// DAW-ready loop WAVs: `acid` + `smpl` chunks written through libsndfile.
#include "loopsep/loopfile.h"

#include <sndfile.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <vector>

#include "loopsep/error.h"
#include "loopsep/files.h"
#include "loopsep/key.h"
#include "loopsep/loop_limits.h"

namespace loopsep {

namespace fs = std::filesystem;
constexpr std::size_t kSongFieldChars = 32;

void LoopInfo::validate() const {
    if (!(tempo_bpm > 0) || !std::isfinite(tempo_bpm) || tempo_bpm > kMaxLoopBpm)
        throw usage_error("LoopInfo.tempo_bpm must be in (0, " + std::to_string(int(kMaxLoopBpm)) + "]");
    if (beats <= 0 || beats > 65535) throw usage_error("LoopInfo.beats must be positive");
    if (root_note < -1 || root_note > 127) throw usage_error("LoopInfo.root_note must be -1 or a MIDI note 0..127");
    if (meter_numerator <= 0 || meter_numerator > 64) throw usage_error("LoopInfo.meter_numerator must be in 1..64");
    if (meter_denominator <= 0 || meter_denominator > 64 || (meter_denominator & (meter_denominator - 1)) != 0)
        throw usage_error("LoopInfo.meter_denominator must be a power of two up to 64");
}

namespace {

void put_u16(unsigned char* p, std::uint16_t v) { p[0] = v & 0xff; p[1] = v >> 8; }
void put_u32(unsigned char* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = (v >> (8 * i)) & 0xff;
}
void put_f32(unsigned char* p, float v) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, 4);
    put_u32(p, bits);
}

// The 24-byte `acid` payload, little-endian (field order as libsndfile reads it).
void acid_payload(const LoopInfo& info, unsigned char out[24]) {
    std::uint32_t flags = 0x04;  // stretch: the DAW may follow the project tempo
    if (!info.loop) flags |= 0x01;
    if (info.root_note >= 0) flags |= 0x02;
    put_u32(out + 0, flags);
    put_u16(out + 4, std::uint16_t(info.root_note >= 0 ? info.root_note : 60));
    put_u16(out + 6, 0x8000);  // unknown; the value found in the wild
    put_f32(out + 8, 0.0f);    // unknown
    put_u32(out + 12, std::uint32_t(info.beats));
    put_u16(out + 16, std::uint16_t(info.meter_denominator));
    put_u16(out + 18, std::uint16_t(info.meter_numerator));
    put_f32(out + 20, float(info.tempo_bpm));
}

int subtype_for(SampleBits bits) {
    switch (bits) {
        case SampleBits::Int16: return SF_FORMAT_PCM_16;
        case SampleBits::Int24: return SF_FORMAT_PCM_24;
        case SampleBits::Float32: return SF_FORMAT_FLOAT;
    }
    return SF_FORMAT_PCM_16;
}

struct SndfileCloser {
    SNDFILE* f;
    ~SndfileCloser() { if (f) sf_close(f); }
};

std::size_t write_file(const std::string& tmp, const std::string& path, const Audio& audio, const LoopInfo& info,
                       const WriteOptions& options) {
    SF_INFO sfinfo{};
    sfinfo.samplerate = audio.sample_rate_hz;
    sfinfo.channels = audio.num_channels();
    sfinfo.format = SF_FORMAT_WAV | subtype_for(options.bits);
    SNDFILE* f = sf_open(tmp.c_str(), SFM_WRITE, &sfinfo);
    if (!f) throw input_error(path + ": cannot write (" + sf_strerror(nullptr) + ")");
    SndfileCloser closer{f};

    // smpl: one forward loop over the whole file. libsndfile's loop end is
    // exclusive here and written as end − 1 (the chunk's end is inclusive).
    SF_INSTRUMENT inst{};
    inst.gain = 1;
    inst.basenote = char(info.root_note >= 0 ? info.root_note : 60);
    inst.velocity_lo = 0;
    inst.velocity_hi = 127;
    inst.key_lo = 0;
    inst.key_hi = 127;
    inst.loop_count = info.loop ? 1 : 0;
    inst.loops[0].mode = SF_LOOP_FORWARD;
    inst.loops[0].start = 0;
    inst.loops[0].end = static_cast<unsigned int>(audio.frames());
    inst.loops[0].count = 0;  // infinite
    if (sf_command(f, SFC_SET_INSTRUMENT, &inst, sizeof(inst)) != SF_TRUE)
        throw input_error(path + ": libsndfile refused the smpl chunk");

    unsigned char payload[24];
    acid_payload(info, payload);
    SF_CHUNK_INFO chunk{};
    std::memcpy(chunk.id, "acid", 4);
    chunk.id_size = 4;
    chunk.datalen = sizeof(payload);
    chunk.data = payload;
    if (int err = sf_set_chunk(f, &chunk); err != SF_ERR_NO_ERROR)
        throw input_error(path + ": libsndfile refused the acid chunk (" + sf_error_number(err) + ")");

    if (options.bits != SampleBits::Float32) sf_command(f, SFC_SET_CLIPPING, nullptr, SF_TRUE);
    const std::size_t frames = audio.frames();
    const int channels = audio.num_channels();
    constexpr std::size_t kBlock = 8192;
    std::vector<float> inter(kBlock * channels);
    std::size_t clipped = 0;
    for (std::size_t pos = 0; pos < frames; pos += kBlock) {
        std::size_t n = std::min(kBlock, frames - pos);
        for (std::size_t i = 0; i < n; ++i)
            for (int c = 0; c < channels; ++c) {
                const float v = audio.channel(c)[pos + i];
                inter[i * channels + c] = v;
                clipped += std::fabs(v) > 1.0f ? 1 : 0;
            }
        if (sf_writef_float(f, inter.data(), sf_count_t(n)) != sf_count_t(n))
            throw input_error(path + ": write failed (" + sf_strerror(f) + ")");
    }
    closer.f = nullptr;
    if (sf_close(f) != 0) throw input_error(path + ": write failed on close");
    return options.bits == SampleBits::Float32 ? 0 : clipped;
}

}  // namespace

std::size_t write_loop_wav(const std::string& path, const Audio& audio, const LoopInfo& info,
                           const WriteOptions& options) {
    info.validate();
    if (options.format != FileFormat::Wav) throw usage_error(path + ": loop files with acid/smpl chunks must be WAV");
    if (audio.num_channels() < 1 || audio.num_channels() > 2 || audio.frames() == 0)
        throw usage_error(path + ": loop audio must be mono or stereo and not empty");
    if (audio.frames() > 0xFFFFFFFFull) throw usage_error(path + ": loop too long for a smpl chunk");
    const std::string tmp = temp_path_for(path);
    register_temp_file(tmp);  // removed by the interrupt handler (loopsep/files.h)
    std::size_t clipped = 0;
    try {
        clipped = write_file(tmp, path, audio, info, options);
        commit_file(tmp, path);
    } catch (...) {
        std::remove(tmp.c_str());
        unregister_temp_file(tmp);
        throw;
    }
    unregister_temp_file(tmp);
    return clipped;
}

LoopInfo read_loop_info(const std::string& path) {
    require_regular_file(path);  // a device or FIFO: refused, never opened
    if (!std::ifstream(path).good()) throw input_error(path + ": cannot open (missing or unreadable)");
    SF_INFO sfinfo{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &sfinfo);
    if (!f) throw input_error(path + ": not an audio file libsndfile can read (" + sf_strerror(nullptr) + ")");
    SndfileCloser closer{f};
    SF_LOOP_INFO li{};
    if (sf_command(f, SFC_GET_LOOP_INFO, &li, sizeof(li)) != SF_TRUE)
        throw input_error(path + ": no loop info (acid chunk) in the file");
    LoopInfo info;
    info.tempo_bpm = li.bpm;
    info.beats = li.num_beats;
    info.meter_numerator = li.time_sig_num;
    info.meter_denominator = li.time_sig_den;
    info.loop = li.loop_mode != SF_LOOP_NONE;
    info.root_note = li.root_key >= 0 && li.root_key <= 127 ? li.root_key : -1;
    return info;
}

namespace {

// Lower case; runs of characters outside [a-z0-9] (and `keep`) become one '-', trimmed.
std::string name_field(const std::string& s, const char* keep = "") {
    std::string out;
    for (unsigned char ch : s) {
        const char c = char(std::tolower(ch));
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c != 0 && std::strchr(keep, c));
        if (ok) out.push_back(c);
        else if (!out.empty() && out.back() != '-') out.push_back('-');
    }
    while (!out.empty() && out.back() == '-') out.pop_back();
    return out;
}

std::string key_field(const std::string& key) {
    if (auto k = parse_key(key)) {
        std::string name = key_name(MusicalKey{k->tonic_pc, false});  // "C#"
        return name_field(name, "#") + (k->minor ? "min" : "maj");
    }
    return name_field(key, "#");
}

}  // namespace

std::string loop_file_name(const LoopNameFields& f) {
    if (!(f.bpm > 0) || !std::isfinite(f.bpm)) throw usage_error("loop_file_name: bpm must be positive");
    if (f.index < 0) throw usage_error("loop_file_name: index must not be negative");
    std::string name;
    auto add = [&](const std::string& field) {
        if (field.empty()) return;
        name += (name.empty() ? "" : "_") + field;
    };
    add(name_field(f.genre));
    add(name_field(f.instrument));
    add(std::to_string(std::lround(f.bpm)) + "bpm");
    add(key_field(f.key));
    add(name_field(f.section));
    add(name_field(f.song));
    char num[32];
    std::snprintf(num, sizeof(num), "%04lld", f.index);
    add(num);
    return name + ".wav";
}

std::string song_name_field(const std::string& song_path) {
    const fs::path p(song_path);
    std::string stem = p.stem().string();
    std::string lower = name_field(stem);
    if ((lower == "mix" || lower == "mixture") && !p.parent_path().filename().empty())
        stem = p.parent_path().filename().string();
    std::string out = name_field(stem);
    if (out.size() > kSongFieldChars) out.resize(kSongFieldChars);
    while (!out.empty() && out.back() == '-') out.pop_back();
    return out;
}

std::string harvest_source(const std::string& song_label, int bar_number, double start_sec) {
    char where[96];
    std::snprintf(where, sizeof where, " bar %d @ %.3f s", bar_number, start_sec);
    return song_label + where;
}

std::string song_of_source(const std::string& source) {
    static const std::regex harvested(R"(^(.+) bar [0-9]+ @ [0-9]+\.[0-9]+ s$)");
    std::smatch m;
    return std::regex_match(source, m, harvested) ? m[1].str() : std::string();
}

}  // namespace loopsep
