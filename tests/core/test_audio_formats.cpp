// Every output format: written by the core writer, opened by libsndfile as the format it claims
// (major type, subtype, rate), and read back at the level written, within what the codec keeps.
#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>
#include <string>
#include <sys/stat.h>

#include "loopsep/audio.h"
#include "loopsep/error.h"
#include "error_expect.h"
#include "test_util.h"

using namespace loopsep;
using loopsep::testing::TempDir;

namespace {

// Left 440 Hz at -6 dBFS, right 660 Hz at -12 dBFS: a swapped or dropped channel changes both levels.
Audio two_tones(double seconds, int rate_hz = kEngineRateHz) {
    Audio a(2, std::size_t(seconds * rate_hz), rate_hz);
    for (std::size_t i = 0; i < a.frames(); ++i) {
        const double t = double(i) / rate_hz;
        a.channels[0][i] = 0.5f * float(std::sin(2 * M_PI * 440 * t));
        a.channels[1][i] = 0.25f * float(std::sin(2 * M_PI * 660 * t));
    }
    return a;
}

double rms_db(const std::vector<float>& x, std::size_t from, std::size_t to) {
    double s = 0;
    for (std::size_t i = from; i < to; ++i) s += double(x[i]) * x[i];
    return 10 * std::log10(s / double(to - from) + 1e-20);
}

// Signal-to-error ratio of `got` against `want` over [from, to): how much of the waveform survived.
double snr_db(const std::vector<float>& want, const std::vector<float>& got, std::size_t from, std::size_t to) {
    double s = 0, e = 0;
    for (std::size_t i = from; i < to; ++i) {
        s += double(want[i]) * want[i];
        e += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    }
    return 10 * std::log10(s / (e + 1e-20));
}

SF_INFO open_info(const std::string& path) {
    SF_INFO info{};
    SNDFILE* sf = sf_open(path.c_str(), SFM_READ, &info);
    EXPECT_NE(sf, nullptr) << path << ": " << sf_strerror(nullptr);
    if (sf) sf_close(sf);
    return info;
}

long file_bytes(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? long(st.st_size) : -1;
}

using loopsep::testing::message_of;

struct Case {
    const char* file;
    const char* bits;       // "" : not given
    int major, subtype;     // what libsndfile must report
    int file_rate_hz;
    double level_tol_db;    // per channel
    double min_snr_db;      // waveform kept (codecs here are gapless: no alignment needed)
};

}  // namespace

TEST(AudioFormats, EveryFormatReadsBackAsDeclared) {
    TempDir dir;
    const Audio a = two_tones(2.0);
    // Tolerances: PCM is exact to its quantisation; the lossy codecs at their default bitrates keep
    // two pure tones within 0.1 dB (measured: ≤ 0.07 dB, Vorbis) and above 25 dB SNR (measured: ≥ 41 dB).
    const Case cases[] = {
        {"a.wav", "", SF_FORMAT_WAV, SF_FORMAT_PCM_16, 44100, 0.001, 80},
        {"b.wav", "24", SF_FORMAT_WAV, SF_FORMAT_PCM_24, 44100, 0.001, 120},
        {"c.wav", "f32", SF_FORMAT_WAV, SF_FORMAT_FLOAT, 44100, 0.001, 140},
        {"d.flac", "", SF_FORMAT_FLAC, SF_FORMAT_PCM_16, 44100, 0.001, 80},
        {"e.flac", "24", SF_FORMAT_FLAC, SF_FORMAT_PCM_24, 44100, 0.001, 120},
        {"f.aiff", "", SF_FORMAT_AIFF, SF_FORMAT_PCM_16, 44100, 0.001, 80},
        {"g.aif", "24", SF_FORMAT_AIFF, SF_FORMAT_PCM_24, 44100, 0.001, 120},
        {"h.aiff", "f32", SF_FORMAT_AIFF, SF_FORMAT_FLOAT, 44100, 0.001, 140},
        {"i.ogg", "", SF_FORMAT_OGG, SF_FORMAT_VORBIS, 44100, 0.1, 25},
        {"j.opus", "", SF_FORMAT_OGG, SF_FORMAT_OPUS, 48000, 0.1, 25},
        {"k.mp3", "", SF_FORMAT_MPEG, SF_FORMAT_MPEG_LAYER_III, 44100, 0.1, 25},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.file);
        const std::string path = dir.file(c.file);
        const WriteOptions wo = output_write_options(path, "", c.bits, "");
        EXPECT_EQ(write_audio(path, a, wo), 0u);
        const SF_INFO info = open_info(path);
        EXPECT_EQ(info.format & SF_FORMAT_TYPEMASK, c.major);
        EXPECT_EQ(info.format & SF_FORMAT_SUBMASK, c.subtype);
        EXPECT_EQ(info.channels, 2);
        EXPECT_EQ(info.samplerate, c.file_rate_hz);
        // The same length in time (Opus: at 48 kHz); read_audio brings it back to 44.1 kHz.
        EXPECT_NEAR(double(info.frames), double(a.frames()) * c.file_rate_hz / 44100, 2.0);
        const Audio back = read_audio(path);
        ASSERT_EQ(back.num_channels(), 2);
        ASSERT_NEAR(double(back.frames()), double(a.frames()), 2.0);
        // Away from the ends (codec and resampler edges).
        const std::size_t from = 4410, to = a.frames() - 4410;
        for (int ch = 0; ch < 2; ++ch) {
            EXPECT_NEAR(rms_db(back.channels[ch], from, to), rms_db(a.channels[ch], from, to), c.level_tol_db) << "channel " << ch;
            EXPECT_GT(snr_db(a.channels[ch], back.channels[ch], from, to), c.min_snr_db) << "channel " << ch;
        }
    }
}

TEST(AudioFormats, BitrateFollowsTheOption) {
    TempDir dir;
    const Audio n = loopsep::testing::noise(4.0, 2, 7);  // noise: every codec spends its whole budget
    auto kbps_of = [&](const std::string& file, const std::string& bitrate) {
        const std::string path = dir.file(file);
        write_audio(path, n, output_write_options(path, "", "", bitrate));
        return file_bytes(path) * 8.0 / 1000.0 / n.duration_sec();
    };
    // MP3 is constant bitrate: the size says the rate (a few header bytes aside).
    EXPECT_NEAR(kbps_of("a.mp3", "128"), 128, 128 * 0.03);
    EXPECT_NEAR(kbps_of("b.mp3", "320"), 320, 320 * 0.03);
    EXPECT_NEAR(kbps_of("c.mp3", ""), 320, 320 * 0.03);  // the default
    // Opus is VBR around its target.
    EXPECT_NEAR(kbps_of("d.opus", "64"), 64, 64 * 0.2);
    EXPECT_NEAR(kbps_of("e.opus", "160"), 160, 160 * 0.2);
    // Vorbis is VBR at a quality: the nominal rate orders the files, the sizes follow.
    EXPECT_GT(kbps_of("g.ogg", "256"), 1.5 * kbps_of("f.ogg", "96"));
}

TEST(AudioFormats, OpusAndMp3ResampleRatesTheyCannotHold) {
    TempDir dir;
    EXPECT_EQ(file_rate_hz(FileFormat::Opus, 44100), 48000);
    EXPECT_EQ(file_rate_hz(FileFormat::Opus, 22050), 24000);
    EXPECT_EQ(file_rate_hz(FileFormat::Opus, 96000), 48000);
    EXPECT_EQ(file_rate_hz(FileFormat::Opus, 16000), 16000);
    EXPECT_EQ(file_rate_hz(FileFormat::Mp3, 44100), 44100);
    EXPECT_EQ(file_rate_hz(FileFormat::Mp3, 96000), 48000);
    EXPECT_EQ(file_rate_hz(FileFormat::Wav, 96000), 96000);

    // A 96 kHz tone into MP3 (48 kHz), streamed in uneven blocks: the pitch and length survive.
    const Audio hi = loopsep::testing::sine(1000, 2.0, 1, 96000);
    const std::string path = dir.file("hi.mp3");
    {
        AudioFileWriter w(path, 1, 96000, output_write_options(path, "", "", ""));
        const std::size_t cuts[] = {0, 1000, 70001, hi.frames()};
        for (int k = 0; k < 3; ++k) w.write({hi.channel(0) + cuts[k]}, cuts[k + 1] - cuts[k]);
        w.commit();
    }
    EXPECT_EQ(open_info(path).samplerate, 48000);
    ReadOptions keep;
    keep.target_rate_hz = 0;
    const Audio back = read_audio(path, keep);
    EXPECT_EQ(back.sample_rate_hz, 48000);
    EXPECT_NEAR(double(back.frames()), 96000.0, 2.0);
    int crossings = 0;
    for (std::size_t i = 4800; i < back.frames() - 4800; ++i) crossings += back.channels[0][i - 1] < 0 && back.channels[0][i] >= 0;
    EXPECT_NEAR(crossings / ((back.frames() - 9600) / 48000.0), 1000.0, 2.0);
    EXPECT_NEAR(rms_db(back.channels[0], 4800, back.frames() - 4800), 20 * std::log10(0.5 / std::sqrt(2.0)), 0.1);

    // Abandoned mid-stream (an error on the way): nothing at the path, no temporary left.
    const std::string abandoned = dir.file("gone.opus");
    {
        AudioFileWriter w(abandoned, 1, 96000, output_write_options(abandoned, "", "", ""));
        w.write({hi.channel(0)}, 5000);
    }
    EXPECT_FALSE(loopsep::testing::file_exists(abandoned));
    EXPECT_FALSE(loopsep::testing::file_exists(temp_path_for(abandoned)));
}

TEST(AudioFormats, OptionRulesAreCheckedBeforeAnyFile) {
    EXPECT_EQ(output_write_options("x.MP3", "", "", "").format, FileFormat::Mp3);
    EXPECT_EQ(output_write_options("x.oga", "", "", "").format, FileFormat::Ogg);
    EXPECT_EQ(output_write_options("x.aifc", "", "", "").format, FileFormat::Aiff);
    EXPECT_EQ(output_write_options("dir.v2/x", "", "", "").format, FileFormat::Wav);  // a dot in a folder
    const WriteOptions opus = output_write_options("", "opus", "", "96");
    EXPECT_EQ(opus.format, FileFormat::Opus);
    EXPECT_EQ(opus.bitrate_kbps, 96);
    const WriteOptions aiff = output_write_options("", "aiff", "f32", "");
    EXPECT_EQ(aiff.bits, SampleBits::Float32);
    EXPECT_STREQ(file_extension(FileFormat::Opus), ".opus");

    EXPECT_EQ(message_of([] { output_write_options("x.m4a", "", "", ""); }),
              "x.m4a: cannot write .m4a files (loopsep writes .wav, .flac, .aiff, .ogg, .opus or .mp3)");
    EXPECT_EQ(message_of([] { output_write_options("x.wav", "mp3", "", ""); }),
              "x.wav: the extension says wav but --format is mp3");
    EXPECT_EQ(message_of([] { output_write_options("x.mp3", "", "24", ""); }),
              "--bits applies to wav, flac and aiff (mp3 is lossy: use --bitrate)");
    EXPECT_EQ(message_of([] { output_write_options("x.flac", "", "", "128"); }),
              "--bitrate applies to ogg, opus and mp3 (flac is lossless: use --bits)");
    EXPECT_EQ(message_of([] { output_write_options("x.flac", "", "f32", ""); }),
              "--bits f32 is not available for FLAC (use 16 or 24)");
    EXPECT_EQ(message_of([] { output_write_options("x.mp3", "", "", "500"); }),
              "--bitrate for mp3 must be a whole number of kbps in 32..320 (got '500')");
    EXPECT_NE(message_of([] { output_write_options("", "opus", "", "96k"); }), "");
    EXPECT_NE(message_of([] { output_write_options("", "wma", "", ""); }), "");
}
