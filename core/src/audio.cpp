#include "loopsep/audio.h"

#include <sndfile.h>
#include <samplerate.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <sys/mman.h>
#include <sys/stat.h>

#include "audio_format_internal.h"
#include "loopsep/error.h"
#include "loopsep/files.h"
#include "loopsep/vector_clones.h"

namespace loopsep {

namespace {
// A song-length buffer (a few hundred MB) is first touched page by page; on this project's VMs a
// 4 KB page fault costs ~9 µs, so zero-filling four 3-minute stems alone took ~0.6 s. Asking for
// transparent huge pages (2 MB) before the first touch removes almost all of those faults:
// measured 2.50 → 2.15 s for one target and 4.30 → 3.31 s for four on a 3-minute song (the same
// effect as GLIBC_TUNABLES=glibc.malloc.hugetlb=1). Advisory only: a refusal changes nothing.
void allocate_silence(std::vector<float>& v, std::size_t frames) {
    constexpr std::size_t kHugePage = 2u << 20;
    v.reserve(frames);
    const std::size_t bytes = frames * sizeof(float);
    if (bytes >= 4 * kHugePage) {
        const auto begin = reinterpret_cast<std::uintptr_t>(v.data());
        const std::uintptr_t first = (begin + kHugePage - 1) & ~(std::uintptr_t(kHugePage) - 1);
        const std::uintptr_t last = (begin + bytes) & ~(std::uintptr_t(kHugePage) - 1);
        if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
    }
    v.resize(frames, 0.0f);
}
}  // namespace

Audio::Audio(int num_channels, std::size_t num_frames, int rate_hz) : sample_rate_hz(rate_hz) {
    channels.resize(std::size_t(std::max(0, num_channels)));
    for (auto& ch : channels) allocate_silence(ch, num_frames);
}

std::vector<float> Audio::mono() const {
    std::vector<float> out(frames(), 0.0f);
    if (channels.empty()) return out;
    const float scale = 1.0f / float(channels.size());
    for (const auto& ch : channels)
        for (std::size_t i = 0; i < out.size(); ++i) out[i] += ch[i] * scale;
    return out;
}

float Audio::peak() const {
    float p = 0.0f;
    for (const auto& ch : channels)
        for (float v : ch) p = std::max(p, std::fabs(v));
    return p;
}

double Audio::rms() const {
    double sum = 0.0;
    std::size_t n = 0;
    for (const auto& ch : channels) {
        for (float v : ch) sum += double(v) * v;
        n += ch.size();
    }
    return n ? std::sqrt(sum / double(n)) : 0.0;
}

namespace {

// libsndfile clamps a truncated WAV/AIFF to the frames present and only says so in
// its log ("data : 88200 (should be 43956)"). A declared audio chunk larger than
// what the file holds means the file was cut short.
bool header_declares_more_than_present(SNDFILE* sf) {
    char log[8192] = {0};
    sf_command(sf, SFC_GET_LOG_INFO, log, sizeof log);
    const char* cursor = log;
    while ((cursor = std::strstr(cursor, "(should be ")) != nullptr) {
        const char* line = cursor;
        while (line > log && line[-1] != '\n') --line;
        long declared = 0, actual = 0;
        bool audio_chunk = std::strncmp(line, "data", 4) == 0 || std::strncmp(line, " SSND", 5) == 0 ||
                           std::strncmp(line, "SSND", 4) == 0;
        if (audio_chunk && std::sscanf(std::strchr(line, ':') + 1, "%ld", &declared) == 1 &&
            std::sscanf(cursor + std::strlen("(should be "), "%ld", &actual) == 1 && declared > actual)
            return true;
        cursor += 1;
    }
    return false;
}

// Reads every frame from an open SNDFILE and applies the checks common to files and memory.
Audio decode_open(SNDFILE* sf, const SF_INFO& info, const std::string& what, const ReadOptions& options) {
    if (info.samplerate < kMinRateHz || info.samplerate > kMaxRateHz)
        throw input_error(what + ": unsupported sample rate " + std::to_string(info.samplerate) +
                          " Hz (must be " + std::to_string(kMinRateHz) + "–" + std::to_string(kMaxRateHz) + " Hz)");
    if (info.channels < 1 || info.channels > options.max_channels)
        throw input_error(what + ": " + std::to_string(info.channels) + " channels (at most " +
                          std::to_string(options.max_channels) + " supported; downmix it first)");
    if (info.frames <= 0) throw input_error(what + ": contains no audio frames");
    if (header_declares_more_than_present(sf))
        throw input_error(what + ": truncated (the header declares more audio than the file holds)");

    const std::size_t expected = static_cast<std::size_t>(info.frames);
    // Decode in blocks straight into planar channels: no second full-length copy.
    Audio audio(info.channels, expected, info.samplerate);
    const std::size_t block = 65536;
    std::vector<float> interleaved(block * info.channels);
    std::size_t got = 0;
    bool finite = true;
    while (got < expected) {
        const sf_count_t want = static_cast<sf_count_t>(std::min(block, expected - got));
        const sf_count_t n = sf_readf_float(sf, interleaved.data(), want);
        if (n <= 0) break;
        for (sf_count_t i = 0; i < n; ++i)
            for (int c = 0; c < info.channels; ++c) {
                float v = interleaved[std::size_t(i) * info.channels + c];
                if (!std::isfinite(v)) { finite = false; v = 0.0f; }
                audio.channels[c][got + std::size_t(i)] = v;
            }
        got += std::size_t(n);
    }
    if (got < expected)
        throw input_error(what + ": truncated or corrupt (read " + std::to_string(got) + " of " +
                          std::to_string(expected) + " frames)");
    if (expected < options.min_frames)
        throw input_error(what + ": too short (" + std::to_string(expected) + " frames)");
    if (!finite) throw input_error(what + ": contains NaN or infinite samples");
    if (!options.allow_silent && audio.peak() < 1e-6f) throw input_error(what + ": audio is silent");
    if (options.target_rate_hz > 0 && audio.sample_rate_hz != options.target_rate_hz)
        audio = resample(audio, options.target_rate_hz);
    return audio;
}

struct MemoryReader {
    const unsigned char* data;
    sf_count_t size;
    sf_count_t pos = 0;
};

sf_count_t mem_get_filelen(void* user) { return static_cast<MemoryReader*>(user)->size; }
sf_count_t mem_seek(sf_count_t offset, int whence, void* user) {
    auto* m = static_cast<MemoryReader*>(user);
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->size;
    m->pos = std::clamp<sf_count_t>(base + offset, 0, m->size);
    return m->pos;
}
sf_count_t mem_read(void* ptr, sf_count_t count, void* user) {
    auto* m = static_cast<MemoryReader*>(user);
    sf_count_t n = std::max<sf_count_t>(0, std::min(count, m->size - m->pos));
    std::memcpy(ptr, m->data + m->pos, static_cast<std::size_t>(n));
    m->pos += n;
    return n;
}
sf_count_t mem_write_readonly(const void*, sf_count_t, void*) { return 0; }
sf_count_t mem_tell(void* user) { return static_cast<MemoryReader*>(user)->pos; }

struct MemoryWriter {
    std::vector<unsigned char> bytes;
    sf_count_t pos = 0;
};
sf_count_t memw_get_filelen(void* user) { return static_cast<sf_count_t>(static_cast<MemoryWriter*>(user)->bytes.size()); }
sf_count_t memw_seek(sf_count_t offset, int whence, void* user) {
    auto* m = static_cast<MemoryWriter*>(user);
    sf_count_t size = static_cast<sf_count_t>(m->bytes.size());
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : size;
    m->pos = std::max<sf_count_t>(0, base + offset);
    return m->pos;
}
sf_count_t memw_read(void* ptr, sf_count_t count, void* user) {
    auto* m = static_cast<MemoryWriter*>(user);
    sf_count_t size = static_cast<sf_count_t>(m->bytes.size());
    sf_count_t n = std::max<sf_count_t>(0, std::min(count, size - m->pos));
    if (n > 0) std::memcpy(ptr, m->bytes.data() + m->pos, static_cast<std::size_t>(n));
    m->pos += n;
    return n;
}
sf_count_t memw_write(const void* ptr, sf_count_t count, void* user) {
    auto* m = static_cast<MemoryWriter*>(user);
    std::size_t end = static_cast<std::size_t>(m->pos + count);
    if (end > m->bytes.size()) m->bytes.resize(end);
    std::memcpy(m->bytes.data() + m->pos, ptr, static_cast<std::size_t>(count));
    m->pos += count;
    return count;
}
sf_count_t memw_tell(void* user) { return static_cast<MemoryWriter*>(user)->pos; }

// libsndfile's (1.2) float → PCM_16 with clipping on: x·2³¹ rounded to an int32 (clipped to its range),
// then its top 16 bits (so the result is ⌊x·32768⌋ but for rounding at the 2⁻³¹ scale; the output files
// are byte-identical). Done here, vectorised, because libsndfile's per-sample loop plus our own
// interleaving pass cost about a quarter of each extra target's write stage.
inline short pcm16_of(float x) {
    // 2147483520 is the largest float below 2³¹: its top 16 bits are 32767, as INT_MAX's.
    const float t = std::clamp(x * 2147483648.0f, -2147483648.0f, 2147483520.0f);
    return short(std::int32_t(std::nearbyint(t)) >> 16);
}

// One channel into every nc-th short of `out`.
LOOPSEP_VECTOR_CLONES void to_pcm16(const float* __restrict x, short* __restrict out, std::size_t n, std::size_t nc) {
    for (std::size_t i = 0; i < n; ++i) out[i * nc] = pcm16_of(x[i]);
}

// Both channels of a stereo block at once: contiguous stores. One channel at a time, every other short
// is a scattered store the compiler leaves scalar (to_pcm16 was 1.2 ns per sample, 4 % of each extra
// target's CPU time).
LOOPSEP_VECTOR_CLONES void to_pcm16_stereo(const float* __restrict left, const float* __restrict right,
                                           short* __restrict out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        out[2 * i] = pcm16_of(left[i]);
        out[2 * i + 1] = pcm16_of(right[i]);
    }
}

// Samples an integer format cannot hold (|x| > 1): counted so the caller can warn, as clipping is
// silent otherwise.
LOOPSEP_VECTOR_CLONES std::size_t count_above_full_scale(const float* __restrict x, std::size_t n) {
    std::size_t count = 0;
    for (std::size_t i = 0; i < n; ++i) count += std::fabs(x[i]) > 1.0f ? 1 : 0;
    return count;
}

// One channel into every nc-th float of `out`.
void to_float(const float* __restrict x, float* __restrict out, std::size_t n, std::size_t nc) {
    for (std::size_t i = 0; i < n; ++i) out[i * nc] = x[i];
}

// Frames [start, start + n) of every channel, interleaved into `out`.
void fill_pcm16(const std::vector<const float*>& channels, std::size_t start, short* out, std::size_t n) {
    if (channels.size() == 2) return to_pcm16_stereo(channels[0] + start, channels[1] + start, out, n);
    for (std::size_t c = 0; c < channels.size(); ++c) to_pcm16(channels[c] + start, out + c, n, channels.size());
}
void fill_float(const std::vector<const float*>& channels, std::size_t start, float* out, std::size_t n) {
    for (std::size_t c = 0; c < channels.size(); ++c) to_float(channels[c] + start, out + c, n, channels.size());
}

sf_count_t write_interleaved(SNDFILE* sf, const float* p, sf_count_t n) { return sf_writef_float(sf, p, n); }
sf_count_t write_interleaved(SNDFILE* sf, const short* p, sf_count_t n) { return sf_writef_short(sf, p, n); }

// Planar channels → interleaved blocks of Sample (made by `fill`) → libsndfile.
template <typename Sample>
void write_blocks(SNDFILE* sf, const std::vector<const float*>& channels, std::size_t frames, const std::string& what,
                  void (*fill)(const std::vector<const float*>&, std::size_t, Sample*, std::size_t)) {
    const std::size_t nc = channels.size(), block = 65536;
    std::vector<Sample> interleaved(std::min(block, frames) * nc);
    for (std::size_t start = 0; start < frames; start += block) {
        const std::size_t n = std::min(block, frames - start);
        fill(channels, start, interleaved.data(), n);
        if (write_interleaved(sf, interleaved.data(), static_cast<sf_count_t>(n)) != static_cast<sf_count_t>(n))
            throw input_error(what + ": write failed: " + sf_strerror(sf));
    }
}

// Integer formats clip (libsndfile scales to full range). 16-bit WAV is converted here (to_pcm16); not
// FLAC, whose encoder converts floats with its own (different) rounding.
void write_planar(SNDFILE* sf, const std::vector<const float*>& channels, std::size_t frames, const std::string& what,
                  const WriteOptions& options) {
    if (options.bits == SampleBits::Int16 && options.format == FileFormat::Wav)
        write_blocks<short>(sf, channels, frames, what, fill_pcm16);
    else
        write_blocks<float>(sf, channels, frames, what, fill_float);
}

void write_frames(SNDFILE* sf, const Audio& audio, const std::string& what, const WriteOptions& options) {
    configure_encoder(sf, options, audio.num_channels(), audio.sample_rate_hz, what);
    write_planar(sf, audio.channel_pointers(), audio.frames(), what, options);
}

void check_writable(const Audio& audio, const std::string& what) {
    if (audio.num_channels() < 1) throw input_error(what + ": nothing to write (no channels)");
    for (const auto& ch : audio.channels)
        if (ch.size() != audio.frames()) throw input_error(what + ": channels differ in length");
    if (audio.sample_rate_hz < kMinRateHz || audio.sample_rate_hz > kMaxRateHz)
        throw input_error(what + ": unsupported sample rate " + std::to_string(audio.sample_rate_hz));
}

// A file named .wav or .flac must start like an audio container. Otherwise libsndfile probes every
// format it knows, and random bytes that happen to look like MPEG make libmpg123 print its own notes on
// stderr ("Illegal Audio-MPEG-Header ...") before the one-line error: the name settles it first.
// Any container libsndfile recognises by its magic is accepted whatever the name says: real libraries
// hold AIFF files named .wav (hydrogen-drumkits' Audiophob kit does), and those read fine.
void check_container_matches_name(const std::string& path) {
    std::string ext;
    if (const auto dot = path.rfind('.'); dot != std::string::npos && path.find('/', dot) == std::string::npos)
        ext = path.substr(dot + 1);
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    const bool wav = ext == "wav" || ext == "wave", flac = ext == "flac";
    if (!wav && !flac) return;
    char head[4] = {};
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw input_error(path + ": " + std::strerror(errno));
    const std::size_t got = std::fread(head, 1, sizeof head, f);
    std::fclose(f);
    const std::string magic(head, got);
    static const char* const kContainerMagics[] = {"RIFF", "RIFX", "RF64", "BW64", "riff", "fLaC",
                                                   "FORM", "OggS", "caff", ".snd", "dns."};
    for (const char* m : kContainerMagics)
        if (magic == m) return;
    if (flac && magic.rfind("ID3", 0) == 0) return;
    throw input_error(path + ": not a readable audio file (named ." + ext + ", but no " +
                      (wav ? "RIFF" : "fLaC") + " header)");
}

}  // namespace

Audio read_audio(const std::string& path, const ReadOptions& options) {
    // Regular files only: /dev/urandom or a FIFO would be read (or waited on) forever.
    if (require_regular_file(path) == 0) throw input_error(path + ": file is empty");
    check_container_matches_name(path);
    SF_INFO info{};
    SNDFILE* sf = sf_open(path.c_str(), SFM_READ, &info);
    if (!sf) throw input_error(path + ": not a readable audio file (" + sf_strerror(nullptr) + ")");
    try {
        Audio a = decode_open(sf, info, path, options);
        sf_close(sf);
        return a;
    } catch (...) {
        sf_close(sf);
        throw;
    }
}

Audio decode_audio(const void* data, std::size_t size, const std::string& what, const ReadOptions& options) {
    if (size == 0) throw input_error(what + ": empty audio data");
    MemoryReader reader{static_cast<const unsigned char*>(data), static_cast<sf_count_t>(size)};
    SF_VIRTUAL_IO io{mem_get_filelen, mem_seek, mem_read, mem_write_readonly, mem_tell};
    SF_INFO info{};
    SNDFILE* sf = sf_open_virtual(&io, SFM_READ, &info, &reader);
    if (!sf) throw input_error(what + ": not decodable audio (" + sf_strerror(nullptr) + ")");
    try {
        Audio a = decode_open(sf, info, what, options);
        sf_close(sf);
        return a;
    } catch (...) {
        sf_close(sf);
        throw;
    }
}

std::string temp_path_for(const std::string& final_path) {
    return final_path + ".tmp-" + std::to_string(::getpid());
}

void commit_file(const std::string& tmp_path, const std::string& final_path) {
    if (std::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
        std::string err = std::strerror(errno);
        std::remove(tmp_path.c_str());
        throw input_error(final_path + ": cannot write (" + err + ")");
    }
}

AudioFileWriter::AudioFileWriter(const std::string& path, int num_channels, int rate_hz, const WriteOptions& options)
    : path_(path), tmp_path_(temp_path_for(path)), num_channels_(num_channels), options_(options) {
    if (num_channels < 1) throw input_error(path + ": nothing to write (no channels)");
    if (rate_hz < kMinRateHz || rate_hz > kMaxRateHz)
        throw input_error(path + ": unsupported sample rate " + std::to_string(rate_hz));
    SF_INFO info{};
    info.samplerate = file_rate_hz(options.format, rate_hz);
    info.channels = num_channels;
    info.format = sf_format_for(options);
    if (info.samplerate != rate_hz) {
        // Opus and MP3 hold fixed rates: convert as the frames stream. Medium sinc (97 dB SNR, flat to 90 %
        // of Nyquist, ≈ 3× faster than best) is below what either codec keeps (Opus stops at 20 kHz).
        int err = 0;
        resampler_ = src_new(SRC_SINC_MEDIUM_QUALITY, num_channels, &err);
        if (!resampler_) throw input_error(path + ": cannot resample for " + file_format_name(options.format) + " (" + src_strerror(err) + ")");
        resample_ratio_ = double(info.samplerate) / rate_hz;
    }
    register_temp_file(tmp_path_);  // from before it exists: an interrupt (SIGINT...) removes it
    SNDFILE* sf = sf_open(tmp_path_.c_str(), SFM_WRITE, &info);
    if (!sf) {
        unregister_temp_file(tmp_path_);
        close_resampler();
        throw input_error(path + ": cannot create output (" + sf_strerror(nullptr) + ")");
    }
    file_ = sf;
    try {
        configure_encoder(sf, options, num_channels, rate_hz, path);
    } catch (...) {
        abandon();  // the constructor did not finish: the destructor will not run
        throw;
    }
}

AudioFileWriter::~AudioFileWriter() { abandon(); }

void AudioFileWriter::abandon() {
    close_resampler();
    if (!file_) return;  // committed (or never opened)
    sf_close(static_cast<SNDFILE*>(file_));
    file_ = nullptr;
    std::remove(tmp_path_.c_str());
    unregister_temp_file(tmp_path_);
}

void AudioFileWriter::close_resampler() {
    if (resampler_) src_delete(static_cast<SRC_STATE*>(resampler_));
    resampler_ = nullptr;
}

// Interleaved input frames through the stream resampler into the file, at most up to `limit` frames
// written in all (the exact length commit() asks for).
void AudioFileWriter::resample_and_write(const float* interleaved, std::size_t frames, std::size_t limit) {
    SNDFILE* sf = static_cast<SNDFILE*>(file_);
    const std::size_t out_block = 8192;
    std::vector<float> out(out_block * std::size_t(num_channels_));
    SRC_DATA d{};
    d.data_in = interleaved;
    d.input_frames = long(frames);
    d.src_ratio = resample_ratio_;
    while (d.input_frames > 0 && resampled_frames_ < limit) {
        d.data_out = out.data();
        d.output_frames = long(out_block);
        if (const int err = src_process(static_cast<SRC_STATE*>(resampler_), &d))
            throw input_error(path_ + ": resampling failed (" + src_strerror(err) + ")");
        const std::size_t n = std::min<std::size_t>(std::size_t(d.output_frames_gen), limit - resampled_frames_);
        if (n > 0 && sf_writef_float(sf, out.data(), sf_count_t(n)) != sf_count_t(n))
            throw input_error(path_ + ": write failed: " + sf_strerror(sf));
        resampled_frames_ += n;
        d.data_in += d.input_frames_used * num_channels_;
        d.input_frames -= d.input_frames_used;
    }
}

// The resampler holds back the last half filter of output: silence pushes it out, up to the length
// the input's duration gives at the file's rate (so the file lasts exactly as long as the input).
void AudioFileWriter::flush_resampler() {
    const std::size_t target = std::size_t(std::llround(double(frames_written_) * resample_ratio_));
    const std::vector<float> silence(1024 * std::size_t(num_channels_), 0.0f);
    for (int k = 0; k < 1000 && resampled_frames_ < target; ++k) resample_and_write(silence.data(), 1024, target);
    if (resampled_frames_ < target) throw input_error(path_ + ": resampling did not finish");
}

void AudioFileWriter::write(const std::vector<const float*>& channels, std::size_t frames) {
    if (!file_) throw usage_error(path_ + ": write after commit");
    if (int(channels.size()) != num_channels_)
        throw usage_error(path_ + ": " + std::to_string(channels.size()) + " channels given, the file has " +
                          std::to_string(num_channels_));
    if (options_.bits != SampleBits::Float32 && !is_lossy(options_.format))
        for (const float* ch : channels) clipped_samples_ += count_above_full_scale(ch, frames);
    if (resampler_) {
        const std::size_t block = 65536;
        std::vector<float> interleaved(std::min(block, frames) * channels.size());
        for (std::size_t start = 0; start < frames; start += block) {
            const std::size_t n = std::min(block, frames - start);
            fill_float(channels, start, interleaved.data(), n);
            resample_and_write(interleaved.data(), n, SIZE_MAX);
        }
    } else {
        write_planar(static_cast<SNDFILE*>(file_), channels, frames, path_, options_);
    }
    frames_written_ += frames;
}

void AudioFileWriter::commit() {
    if (!file_) throw usage_error(path_ + ": committed twice");
    if (resampler_) {
        flush_resampler();  // throws: the destructor removes the temporary
        close_resampler();
    }
    SNDFILE* sf = static_cast<SNDFILE*>(file_);
    file_ = nullptr;
    if (sf_close(sf) != 0) {
        std::remove(tmp_path_.c_str());
        unregister_temp_file(tmp_path_);
        throw input_error(path_ + ": closing the output failed");
    }
    try {
        commit_file(tmp_path_, path_);
    } catch (...) {
        unregister_temp_file(tmp_path_);
        throw;
    }
    unregister_temp_file(tmp_path_);
}

std::size_t write_audio(const std::string& path, const Audio& audio, const WriteOptions& options) {
    check_writable(audio, path);
    AudioFileWriter writer(path, audio.num_channels(), audio.sample_rate_hz, options);
    writer.write(audio.channel_pointers(), audio.frames());
    writer.commit();
    return writer.clipped_samples();
}

std::vector<unsigned char> encode_audio(const Audio& audio, const WriteOptions& options) {
    check_writable(audio, "in-memory audio");
    MemoryWriter writer;
    SF_VIRTUAL_IO io{memw_get_filelen, memw_seek, memw_read, memw_write, memw_tell};
    SF_INFO info{};
    info.samplerate = audio.sample_rate_hz;
    info.channels = audio.num_channels();
    info.format = sf_format_for(options);
    SNDFILE* sf = sf_open_virtual(&io, SFM_WRITE, &info, &writer);
    if (!sf) throw input_error(std::string("cannot encode audio: ") + sf_strerror(nullptr));
    try {
        write_frames(sf, audio, "in-memory audio", options);
    } catch (...) {
        sf_close(sf);
        throw;
    }
    sf_close(sf);
    return std::move(writer.bytes);
}

Audio resample(const Audio& audio, int target_rate_hz) {
    if (target_rate_hz < kMinRateHz || target_rate_hz > kMaxRateHz)
        throw usage_error("resample: target rate " + std::to_string(target_rate_hz) + " Hz out of range");
    if (audio.sample_rate_hz == target_rate_hz) return audio;
    const double ratio = double(target_rate_hz) / audio.sample_rate_hz;
    const std::size_t out_frames = static_cast<std::size_t>(std::llround(audio.frames() * ratio));
    Audio out(audio.num_channels(), out_frames, target_rate_hz);
    for (int c = 0; c < audio.num_channels(); ++c) {
        // Allow a little extra room; src_simple may deliver a frame or so fewer/more.
        std::vector<float> buf(out_frames + 16, 0.0f);
        SRC_DATA d{};
        d.data_in = audio.channel(c);
        d.input_frames = static_cast<long>(audio.frames());
        d.data_out = buf.data();
        d.output_frames = static_cast<long>(buf.size());
        d.src_ratio = ratio;
        int err = src_simple(&d, SRC_SINC_BEST_QUALITY, 1);
        if (err) throw input_error(std::string("resampling failed: ") + src_strerror(err));
        std::copy_n(buf.begin(), std::min<std::size_t>(out_frames, static_cast<std::size_t>(d.output_frames_gen)),
                    out.channels[c].begin());
    }
    return out;
}

}  // namespace loopsep
