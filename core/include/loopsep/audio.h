// loopsep — audio buffers, file reading/writing and resampling.
//
// Audio is float, PLANAR: channel c, frame i is `audio.channel(c)[i]`.
// All counts are frames. The engine works at kEngineRateHz (44.1 kHz); read_audio
// resamples to it by default (libsamplerate, best sinc).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace loopsep {

constexpr int kEngineRateHz = 44100;
constexpr int kMinRateHz = 8000;
constexpr int kMaxRateHz = 192000;

struct Audio {
    int sample_rate_hz = kEngineRateHz;
    std::vector<std::vector<float>> channels;  // planar; all the same length

    Audio() = default;
    // num_channels × num_frames of silence. Each channel is allocated on its own (a prototype copy
    // would add a channel at the peak) and long ones ask for transparent huge pages (audio.cpp).
    Audio(int num_channels, std::size_t num_frames, int rate_hz = kEngineRateHz);

    int num_channels() const { return static_cast<int>(channels.size()); }
    std::size_t frames() const { return channels.empty() ? 0 : channels[0].size(); }
    double duration_sec() const { return sample_rate_hz > 0 ? double(frames()) / sample_rate_hz : 0.0; }
    float* channel(int c) { return channels[c].data(); }
    const float* channel(int c) const { return channels[c].data(); }
    // One pointer per channel, e.g. for AudioFileWriter::write or a StemSink.
    std::vector<const float*> channel_pointers() const {
        std::vector<const float*> p;
        for (const auto& ch : channels) p.push_back(ch.data());
        return p;
    }

    std::vector<float> mono() const;   // mean of the channels
    float peak() const;                // max |sample|
    double rms() const;                // over all channels
};

struct ReadOptions {
    int target_rate_hz = kEngineRateHz;  // 0 keeps the file's own rate
    int max_channels = 2;                // more channels than this: error (no silent downmix)
    bool allow_silent = false;           // silent audio is an error unless allowed
    std::size_t min_frames = 2;          // fewer frames than this is an error
};

// Reads any format libsndfile reads. Throws loopsep::Error (input) naming the file:
// missing, empty, not audio, truncated (frames read < header frames), absurd rate,
// too many channels, too short, silent.
Audio read_audio(const std::string& path, const ReadOptions& options = {});

// Decodes audio held in memory (e.g. a FLAC blob from the catalog). `what` names
// the source in error messages.
Audio decode_audio(const void* data, std::size_t size, const std::string& what,
                   const ReadOptions& options = {});

// Output formats: everything Debian 12's libsndfile (1.2) writes that a producer asks for.
// wav, flac and aiff are PCM (SampleBits; FLAC has no float); ogg (Vorbis), opus (Ogg Opus) and mp3
// (MPEG layer III through LAME) are lossy (bitrate_kbps). Opus holds only 8/12/16/24/48 kHz and MP3
// only the MPEG rates: other rates are resampled on the way (file_rate_hz), e.g. 44.1 kHz → 48 kHz Opus.
enum class FileFormat { Wav, Flac, Aiff, Ogg, Opus, Mp3 };
enum class SampleBits { Int16, Int24, Float32 };

struct WriteOptions {
    FileFormat format = FileFormat::Wav;
    SampleBits bits = SampleBits::Int16;  // PCM formats only
    int bitrate_kbps = 0;                 // lossy formats only; 0: default_bitrate_kbps(format)
};

FileFormat parse_file_format(const std::string& name);   // wav|flac|aiff|ogg|opus|mp3; usage error otherwise
SampleBits parse_sample_bits(const std::string& name);   // "16" | "24" | "f32"; usage error otherwise
const char* file_format_name(FileFormat format);         // "wav", "flac", ...
const char* file_extension(FileFormat format);           // ".wav", ".flac", ".aiff", ".ogg", ".opus", ".mp3"
bool is_lossy(FileFormat format);                        // ogg, opus, mp3
// What a lossy format writes without --bitrate: mp3 320 (CBR), ogg 192, opus 160 kbps; 0 for PCM.
int default_bitrate_kbps(FileFormat format);
// For an output path: .wav/.wave, .flac, .aif/.aiff/.aifc, .ogg/.oga, .opus, .mp3; no extension → Wav.
// Any other extension (.m4a, ...) is a usage error naming the path and the extensions it can write.
FileFormat output_format_from_extension(const std::string& path);
// The options for an output, validated before any work. Empty strings mean "not given":
// `format_name` (--format; else the extension of `path`, else wav; both given must agree),
// `bits_name` (--bits: PCM formats only, default 16) and `bitrate_kbps` (--bitrate: lossy formats only,
// default default_bitrate_kbps). `path` may be empty (an output folder: the format names the files).
WriteOptions output_write_options(const std::string& path, const std::string& format_name,
                                  const std::string& bits_name, const std::string& bitrate_kbps);
// The rate a file of `format` holds for audio at rate_hz: rate_hz itself, except Opus (the smallest of
// 8/12/16/24/48 kHz at or above it, else 48 kHz) and MP3 (the same with the MPEG rates).
int file_rate_hz(FileFormat format, int rate_hz);

// Writes atomically: to "<path>.tmp-<pid>" first, renamed over `path` at the end;
// on any failure the temporary file is removed and nothing appears at `path`.
// Returns how many samples were above full scale (|x| > 1) and clipped: integer PCM clips; float
// (--bits f32) and the lossy codecs keep them (their decoders give floats back: measured, a 1.5-peak
// sine reads back at 1.52–1.54 from mp3, ogg and opus) and return 0.
std::size_t write_audio(const std::string& path, const Audio& audio, const WriteOptions& options = {});

// Writes a file block by block (planar float in), atomically like write_audio: frames go to
// "<path>.tmp-<pid>"; commit() closes it and renames it over `path`. Destroyed uncommitted
// (an error on the way), it removes the temporary file: nothing appears at `path`.
// Where the format cannot hold `rate_hz` (file_rate_hz), the frames are resampled as they stream.
class AudioFileWriter {
public:
    AudioFileWriter(const std::string& path, int num_channels, int rate_hz, const WriteOptions& options = {});
    ~AudioFileWriter();
    AudioFileWriter(const AudioFileWriter&) = delete;
    AudioFileWriter& operator=(const AudioFileWriter&) = delete;
    void write(const std::vector<const float*>& channels, std::size_t frames);  // one pointer per channel
    void commit();
    std::size_t frames_written() const { return frames_written_; }
    // Samples above full scale clipped so far (integer formats only; float keeps them).
    std::size_t clipped_samples() const { return clipped_samples_; }
    const std::string& path() const { return path_; }

private:
    std::string path_, tmp_path_;
    int num_channels_ = 0;
    WriteOptions options_;
    std::size_t frames_written_ = 0;
    std::size_t clipped_samples_ = 0;
    void* file_ = nullptr;       // SNDFILE*, null once committed
    void* resampler_ = nullptr;  // SRC_STATE* when the file's rate differs from the input's
    double resample_ratio_ = 1.0;
    std::size_t resampled_frames_ = 0;  // written to the file, at its rate
    void resample_and_write(const float* interleaved, std::size_t frames, std::size_t limit);
    void flush_resampler();
    void close_resampler();
    void abandon();  // closes and removes the temporary file (uncommitted)
};

// Encodes to an in-memory file (FLAC 16-bit by default) — for storing audio in the catalog.
std::vector<unsigned char> encode_audio(const Audio& audio, const WriteOptions& options = {FileFormat::Flac, SampleBits::Int16});

// Band-limited resampling of every channel (libsamplerate SRC_SINC_BEST_QUALITY).
Audio resample(const Audio& audio, int target_rate_hz);

// Renames `tmp_path` over `final_path` (atomic on one filesystem); throws on failure.
void commit_file(const std::string& tmp_path, const std::string& final_path);
// A temporary name beside `final_path`, unique per process.
std::string temp_path_for(const std::string& final_path);

}  // namespace loopsep
