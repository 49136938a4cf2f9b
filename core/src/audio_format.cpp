// Output formats: names, extensions, the option rules (--format/--bits/--bitrate) and how each
// format is set up in libsndfile (1.2, as Debian 12 ships it). The writer itself is in audio.cpp.
#include "audio_format_internal.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <vector>

#include "loopsep/error.h"

namespace loopsep {

namespace {

struct FormatInfo {
    FileFormat format;
    const char* name;
    const char* extension;
    bool lossy;
    int default_kbps;         // lossy only
    int min_kbps, max_kbps;   // accepted --bitrate (lossy only)
};

// mp3 320 as Demucs writes by default; ogg and opus at rates commonly called transparent for music.
// Ranges: LAME's MPEG-1 bitrates; Vorbis quality 0..10 (≈ 64..500 kbps stereo); Opus 6..256 kbps per channel.
constexpr std::array<FormatInfo, 6> kFormats{{
    {FileFormat::Wav, "wav", ".wav", false, 0, 0, 0},
    {FileFormat::Flac, "flac", ".flac", false, 0, 0, 0},
    {FileFormat::Aiff, "aiff", ".aiff", false, 0, 0, 0},
    {FileFormat::Ogg, "ogg", ".ogg", true, 192, 64, 500},
    {FileFormat::Opus, "opus", ".opus", true, 160, 6, 512},
    {FileFormat::Mp3, "mp3", ".mp3", true, 320, 32, 320},
}};

const FormatInfo& info_of(FileFormat f) {
    for (const auto& i : kFormats)
        if (i.format == f) return i;
    return kFormats[0];
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}

// The extension after the last dot of the file name (not of a folder), lower case; empty if none.
std::string extension_of(const std::string& path) {
    const auto slash = path.rfind('/');
    const auto dot = path.rfind('.');
    if (dot == std::string::npos || (slash != std::string::npos && dot < slash) || dot + 1 == path.size()) return "";
    return lower(path.substr(dot + 1));
}

// The rates a format can hold, ascending (empty: any).
std::vector<int> allowed_rates(FileFormat f) {
    if (f == FileFormat::Opus) return {8000, 12000, 16000, 24000, 48000};
    if (f == FileFormat::Mp3) return {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000};
    return {};
}

// libvorbis's nominal stereo 44.1 kHz bitrates at quality 0, 1, ..., 10 (its documentation's table).
constexpr std::array<double, 11> kVorbisNominalKbps{64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 500};

// Vorbis quality 0..1 (libsndfile's scale, libvorbis's q/10) whose nominal bitrate is `kbps`.
double vorbis_quality_for(int kbps) {
    const double k = std::clamp(double(kbps), kVorbisNominalKbps.front(), kVorbisNominalKbps.back());
    for (std::size_t q = 1; q < kVorbisNominalKbps.size(); ++q)
        if (k <= kVorbisNominalKbps[q]) {
            const double lo = kVorbisNominalKbps[q - 1], hi = kVorbisNominalKbps[q];
            return (double(q - 1) + (k - lo) / (hi - lo)) / 10.0;
        }
    return 1.0;
}

void set_compression(SNDFILE* sf, double level, const std::string& what) {
    level = std::clamp(level, 0.0, 1.0);
    if (!sf_command(sf, SFC_SET_COMPRESSION_LEVEL, &level, sizeof level))
        throw input_error(what + ": the encoder refused the bitrate (" + sf_strerror(sf) + ")");
}

}  // namespace

FileFormat parse_file_format(const std::string& name) {
    for (const auto& i : kFormats)
        if (lower(name) == i.name) return i.format;
    throw usage_error("--format must be wav, flac, aiff, ogg, opus or mp3 (got '" + name + "')");
}

SampleBits parse_sample_bits(const std::string& name) {
    if (name == "16") return SampleBits::Int16;
    if (name == "24") return SampleBits::Int24;
    if (name == "f32" || name == "32f" || name == "float") return SampleBits::Float32;
    throw usage_error("--bits must be 16, 24 or f32 (got '" + name + "')");
}

const char* file_format_name(FileFormat f) { return info_of(f).name; }
const char* file_extension(FileFormat f) { return info_of(f).extension; }
bool is_lossy(FileFormat f) { return info_of(f).lossy; }
int default_bitrate_kbps(FileFormat f) { return info_of(f).default_kbps; }

FileFormat output_format_from_extension(const std::string& path) {
    const std::string ext = extension_of(path);
    if (ext.empty()) return FileFormat::Wav;
    if (ext == "wav" || ext == "wave") return FileFormat::Wav;
    if (ext == "flac") return FileFormat::Flac;
    if (ext == "aif" || ext == "aiff" || ext == "aifc") return FileFormat::Aiff;
    if (ext == "ogg" || ext == "oga") return FileFormat::Ogg;
    if (ext == "opus") return FileFormat::Opus;
    if (ext == "mp3") return FileFormat::Mp3;
    throw usage_error(path + ": cannot write ." + ext + " files (loopsep writes .wav, .flac, .aiff, .ogg, .opus or .mp3)");
}

WriteOptions output_write_options(const std::string& path, const std::string& format_name,
                                  const std::string& bits_name, const std::string& bitrate_kbps) {
    WriteOptions o;
    const bool has_extension = !path.empty() && !extension_of(path).empty();
    const FileFormat by_name = has_extension ? output_format_from_extension(path) : FileFormat::Wav;
    o.format = by_name;
    if (!format_name.empty()) {
        o.format = parse_file_format(format_name);
        // Data of one format under another's extension is what a DAW or player then refuses.
        if (has_extension && o.format != by_name)
            throw usage_error(path + ": the extension says " + file_format_name(by_name) + " but --format is " +
                              file_format_name(o.format));
    }
    const FormatInfo& info = info_of(o.format);
    if (!bits_name.empty()) {
        if (info.lossy)
            throw usage_error(std::string("--bits applies to wav, flac and aiff (") + info.name +
                              " is lossy: use --bitrate)");
        o.bits = parse_sample_bits(bits_name);
        if (o.format == FileFormat::Flac && o.bits == SampleBits::Float32)
            throw usage_error("--bits f32 is not available for FLAC (use 16 or 24)");
    }
    if (!bitrate_kbps.empty()) {
        if (!info.lossy)
            throw usage_error(std::string("--bitrate applies to ogg, opus and mp3 (") + info.name +
                              " is lossless: use --bits)");
        char* end = nullptr;
        const long kbps = std::strtol(bitrate_kbps.c_str(), &end, 10);
        if (end == bitrate_kbps.c_str() || *end != '\0' || kbps < info.min_kbps || kbps > info.max_kbps)
            throw usage_error("--bitrate for " + std::string(info.name) + " must be a whole number of kbps in " +
                              std::to_string(info.min_kbps) + ".." + std::to_string(info.max_kbps) + " (got '" +
                              bitrate_kbps + "')");
        o.bitrate_kbps = int(kbps);
    }
    return o;
}

int file_rate_hz(FileFormat f, int rate_hz) {
    const std::vector<int> rates = allowed_rates(f);
    if (rates.empty() || std::find(rates.begin(), rates.end(), rate_hz) != rates.end()) return rate_hz;
    for (int r : rates)
        if (r >= rate_hz) return r;
    return rates.back();
}

int sf_format_for(const WriteOptions& o) {
    const int pcm = o.bits == SampleBits::Int16 ? SF_FORMAT_PCM_16 : o.bits == SampleBits::Int24 ? SF_FORMAT_PCM_24 : SF_FORMAT_FLOAT;
    switch (o.format) {
        case FileFormat::Wav: return SF_FORMAT_WAV | pcm;
        case FileFormat::Flac:
            if (o.bits == SampleBits::Float32) throw usage_error("--bits f32 is not available for FLAC (use 16 or 24)");
            return SF_FORMAT_FLAC | pcm;
        case FileFormat::Aiff: return SF_FORMAT_AIFF | pcm;
        case FileFormat::Ogg: return SF_FORMAT_OGG | SF_FORMAT_VORBIS;
        case FileFormat::Opus: return SF_FORMAT_OGG | SF_FORMAT_OPUS;
        case FileFormat::Mp3: return SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;
    }
    return SF_FORMAT_WAV | pcm;
}

void configure_encoder(SNDFILE* sf, const WriteOptions& o, int channels, int source_rate_hz, const std::string& what) {
    if (!is_lossy(o.format)) {
        sf_command(sf, SFC_SET_CLIPPING, nullptr, SF_TRUE);
        return;
    }
    const int kbps = o.bitrate_kbps > 0 ? o.bitrate_kbps : default_bitrate_kbps(o.format);
    if (o.format == FileFormat::Ogg) {
        // libsndfile's Vorbis is VBR at a quality (level = 1 - quality): the nominal bitrate's quality.
        set_compression(sf, 1.0 - vorbis_quality_for(kbps), what);
    } else if (o.format == FileFormat::Opus) {
        // libsndfile sets the Opus target to ((1 - level)·250000 + 6000)·channels bit/s.
        const double per_channel_bps = std::clamp(kbps * 1000.0 / channels, 6000.0, 256000.0);
        set_compression(sf, 1.0 - (per_channel_bps - 6000.0) / 250000.0, what);
        // OpusHead records the input's rate: decoders that resample (opusdec) give it back.
        int original = source_rate_hz;
        sf_command(sf, SFC_SET_ORIGINAL_SAMPLERATE, &original, sizeof original);
    } else {
        // MP3, constant bitrate: libsndfile maps the level onto [max, min] kbps of the MPEG version the
        // rate implies and truncates; half a kbit up lands exactly on `kbps` (LAME takes the nearest legal rate).
        const int rate = file_rate_hz(o.format, source_rate_hz);
        const double max = rate >= 32000 ? 320 : rate >= 16000 ? 160 : 64, min = rate >= 32000 ? 32 : 8;
        set_compression(sf, (max - kbps - 0.5) / (max - min), what);
        int mode = SF_BITRATE_MODE_CONSTANT;
        if (!sf_command(sf, SFC_SET_BITRATE_MODE, &mode, sizeof mode))
            throw input_error(what + ": the MP3 encoder refused constant bitrate (" + sf_strerror(sf) + ")");
    }
}

}  // namespace loopsep
