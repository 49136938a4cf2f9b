#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "loopsep/audio.h"
#include "loopsep/error.h"
#include "error_expect.h"
#include "test_util.h"

using namespace loopsep;
using loopsep::testing::TempDir;

namespace {

// Dominant frequency by counting rising zero crossings.
double zero_crossing_hz(const std::vector<float>& x, int rate_hz) {
    int crossings = 0;
    for (std::size_t i = 1; i < x.size(); ++i) crossings += (x[i - 1] < 0 && x[i] >= 0);
    return crossings * double(rate_hz) / double(x.size());
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double m = 0;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
    return m;
}

using loopsep::testing::message_of;

// A 16-bit WAV written by libsndfile itself from interleaved floats (clipping on), not by loopsep.
void write_with_libsndfile(const std::string& path, int rate_hz, int channels, const std::vector<float>& interleaved) {
    SF_INFO info{};
    info.samplerate = rate_hz;
    info.channels = channels;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE* sf = sf_open(path.c_str(), SFM_WRITE, &info);
    ASSERT_NE(sf, nullptr) << path;
    sf_command(sf, SFC_SET_CLIPPING, nullptr, SF_TRUE);
    const sf_count_t frames = sf_count_t(interleaved.size()) / channels;
    ASSERT_EQ(sf_writef_float(sf, interleaved.data(), frames), frames);
    sf_close(sf);
}

}  // namespace

TEST(AudioIo, WavRoundTripKeepsSamplesPerBitDepth) {
    TempDir dir;
    Audio a = loopsep::testing::sine(440, 0.5, 2);
    struct Case { SampleBits bits; double tolerance; };
    for (Case c : {Case{SampleBits::Int16, 1.0 / 32768 + 1e-6}, Case{SampleBits::Int24, 1e-6}, Case{SampleBits::Float32, 0}}) {
        std::string path = dir.file("x.wav");
        write_audio(path, a, {FileFormat::Wav, c.bits});
        Audio b = read_audio(path);
        ASSERT_EQ(b.num_channels(), 2);
        ASSERT_EQ(b.frames(), a.frames());
        EXPECT_LE(max_abs_diff(a.channels[0], b.channels[0]), c.tolerance);
        EXPECT_LE(max_abs_diff(a.channels[1], b.channels[1]), c.tolerance);
    }
}

TEST(AudioIo, Pcm16IsLibsndfilesOwnConversionSampleForSample) {
    // 16-bit output is converted by our own vectorised loops (stereo in one pass, other channel counts
    // channel by channel); it must equal libsndfile's float → PCM_16 conversion with clipping on (x·2³¹
    // rounded to an int32, clipped, top 16 bits) sample for sample.
    const float edge[] = {0.0f, 1.0f, -1.0f, 1.5f, -1.5f, 0.5f / 32767, 1.5f / 32767, -2.5f / 32767, 1e-9f, -32768.6f / 32767,
                          32767.4f / 32767, 0.999999f, -0.999999f, 0.25f};
    auto shorts = [](const std::string& path) {
        SF_INFO in{};
        SNDFILE* f = sf_open(path.c_str(), SFM_READ, &in);
        std::vector<short> v(std::size_t(in.frames * in.channels));
        sf_readf_short(f, v.data(), in.frames);
        sf_close(f);
        return v;
    };
    for (int channels : {1, 2, 3}) {
        TempDir dir;
        Audio a(channels, 0, 44100);
        for (int i = 0; i < 70000; ++i) {  // more than one 65 536-frame block
            const float x = i < 14 ? edge[i] : float(std::sin(0.001 * i) * 1.2);
            for (int c = 0; c < channels; ++c) a.channels[c].push_back(c == 0 ? x : -0.7f * float(c) * x);
        }
        write_audio(dir.file("ours.wav"), a, {FileFormat::Wav, SampleBits::Int16});
        std::vector<float> interleaved;
        for (std::size_t i = 0; i < a.frames(); ++i)
            for (int c = 0; c < channels; ++c) interleaved.push_back(a.channels[c][i]);
        write_with_libsndfile(dir.file("ref.wav"), 44100, channels, interleaved);
        const auto ours = shorts(dir.file("ours.wav")), theirs = shorts(dir.file("ref.wav"));
        ASSERT_EQ(ours.size(), std::size_t(channels) * a.frames()) << channels << " channels";
        EXPECT_EQ(ours, theirs) << channels << " channels";
        // Channel 0 holds the edge cases.
        EXPECT_EQ(ours[1 * channels], 32767);   // 1.0 (clipped at the int32 step)
        EXPECT_EQ(ours[2 * channels], -32768);  // -1.0
        EXPECT_EQ(ours[3 * channels], 32767);   // 1.5, clipped
        EXPECT_EQ(ours[4 * channels], -32768);  // -1.5, clipped
        EXPECT_EQ(ours[5 * channels], 0);      // +0.5 LSB of 1/32767 → 0
        EXPECT_EQ(ours[6 * channels], 1);      // +1.5 LSB → 1
        EXPECT_EQ(ours[7 * channels], -3);     // -2.5 LSB → -3 (the top bits of a negative int32 round down)
        EXPECT_EQ(ours[8 * channels], 0);      // 1e-9 · 2³¹ rounds to 2 → top bits 0
    }
}

TEST(AudioIo, FlacRoundTripAndMemoryCodec) {
    TempDir dir;
    Audio a = loopsep::testing::sine(220, 0.3, 1);
    write_audio(dir.file("x.flac"), a, {FileFormat::Flac, SampleBits::Int24});
    Audio b = read_audio(dir.file("x.flac"));
    EXPECT_EQ(b.frames(), a.frames());
    EXPECT_LE(max_abs_diff(a.channels[0], b.channels[0]), 1e-6);

    std::vector<unsigned char> blob = encode_audio(a);
    EXPECT_LT(blob.size(), a.frames() * 2);  // FLAC compresses a sine below raw 16-bit
    Audio c = decode_audio(blob.data(), blob.size(), "blob");
    EXPECT_EQ(c.frames(), a.frames());
    EXPECT_LE(max_abs_diff(a.channels[0], c.channels[0]), 1.0 / 32768 + 1e-6);
}

TEST(AudioIo, ResamplesToEngineRateKeepingPitchAndDuration) {
    TempDir dir;
    Audio a = loopsep::testing::sine(1000, 1.0, 1, 48000);
    write_audio(dir.file("48k.wav"), a, {FileFormat::Wav, SampleBits::Float32});
    Audio b = read_audio(dir.file("48k.wav"));
    EXPECT_EQ(b.sample_rate_hz, 44100);
    EXPECT_EQ(b.frames(), 44100u);
    EXPECT_NEAR(zero_crossing_hz(b.channels[0], 44100), 1000.0, 2.0);
    // Keeping the native rate is possible too.
    ReadOptions keep;
    keep.target_rate_hz = 0;
    EXPECT_EQ(read_audio(dir.file("48k.wav"), keep).sample_rate_hz, 48000);
}

TEST(AudioIo, MonoDownmixPeakRms) {
    Audio a(2, 4);
    a.channels[0] = {1, 0, -1, 0};
    a.channels[1] = {0, 1, 0, -1};
    std::vector<float> m = a.mono();
    EXPECT_FLOAT_EQ(m[0], 0.5f);
    EXPECT_FLOAT_EQ(m[3], -0.5f);
    EXPECT_FLOAT_EQ(a.peak(), 1.0f);
    EXPECT_NEAR(a.rms(), std::sqrt(0.5), 1e-9);
}

TEST(AudioIoBadInput, MissingEmptyTextTruncatedSilentTinyAreRefusedNamingTheFile) {
    TempDir dir;
    EXPECT_NE(message_of([&] { read_audio(dir.file("nope.wav")); }).find("nope.wav"), std::string::npos);

    loopsep::testing::write_text(dir.file("empty.wav"), "");
    EXPECT_NE(message_of([&] { read_audio(dir.file("empty.wav")); }).find("empty"), std::string::npos);

    loopsep::testing::write_text(dir.file("text.wav"), "this is not audio at all, just words\n");
    EXPECT_NE(message_of([&] { read_audio(dir.file("text.wav")); }).find("not a readable audio file"), std::string::npos);

    // Truncated: a valid 1 s WAV cut in half. libsndfile opens it with a clamped length.
    write_audio(dir.file("full.wav"), loopsep::testing::sine(440, 1.0), {FileFormat::Wav, SampleBits::Int16});
    std::string bytes = loopsep::testing::read_text(dir.file("full.wav"));
    loopsep::testing::write_text(dir.file("cut.wav"), bytes.substr(0, bytes.size() / 2));
    EXPECT_NE(message_of([&] { read_audio(dir.file("cut.wav")); }).find("truncated"), std::string::npos);

    write_audio(dir.file("silent.wav"), Audio(1, 44100), {});
    EXPECT_NE(message_of([&] { read_audio(dir.file("silent.wav")); }).find("silent"), std::string::npos);
    ReadOptions allow;
    allow.allow_silent = true;
    EXPECT_EQ(read_audio(dir.file("silent.wav"), allow).frames(), 44100u);

    Audio one(1, 1);
    one.channels[0][0] = 0.5f;
    write_audio(dir.file("one.wav"), one, {});
    EXPECT_NE(message_of([&] { read_audio(dir.file("one.wav")); }).find("too short"), std::string::npos);
}

// The name check that keeps random bytes from libmpg123 must not refuse a real container under the
// wrong name: hydrogen-drumkits ships AIFF files named .wav, and the synth's real-recording pools read them.
TEST(AudioIo, RealContainersUnderAnotherExtensionAreRead) {
    TempDir dir;
    const Audio tone = loopsep::testing::sine(440, 0.5);
    for (const FileFormat format : {FileFormat::Aiff, FileFormat::Flac}) {
        const std::string real = dir.file(std::string("tone") + file_extension(format));
        write_audio(real, tone, {format, SampleBits::Int16});
        const std::string misnamed = dir.file(std::string("tone_") + file_format_name(format) + ".wav");
        std::filesystem::rename(real, misnamed);
        const Audio back = read_audio(misnamed);
        ASSERT_EQ(back.frames(), tone.frames()) << misnamed;
        EXPECT_LT(max_abs_diff(back.channels[0], tone.channels[0]), 1e-3) << misnamed;
    }
    write_audio(dir.file("tone.wav"), tone, {FileFormat::Wav, SampleBits::Int16});
    std::filesystem::rename(dir.file("tone.wav"), dir.file("tone_wav.flac"));
    EXPECT_EQ(read_audio(dir.file("tone_wav.flac")).frames(), tone.frames());
}

TEST(AudioIoBadInput, AbsurdRateAndTooManyChannels) {
    TempDir dir;
    // A 4 kHz WAV is below the 8 kHz floor.
    write_with_libsndfile(dir.file("low.wav"), 4000, 1, std::vector<float>(4000, 0.25f));
    EXPECT_NE(message_of([&] { read_audio(dir.file("low.wav")); }).find("sample rate 4000"), std::string::npos);

    Audio six(6, 1000);
    for (auto& ch : six.channels) ch.assign(1000, 0.1f);
    write_audio(dir.file("six.wav"), six, {FileFormat::Wav, SampleBits::Float32});
    EXPECT_NE(message_of([&] { read_audio(dir.file("six.wav")); }).find("6 channels"), std::string::npos);
}

TEST(AudioIoBadInput, FailedWriteLeavesNoFile) {
    TempDir dir;
    Audio a = loopsep::testing::sine(440, 0.1);
    std::string path = dir.file("missing-dir/out.wav");
    EXPECT_THROW(write_audio(path, a), Error);
    EXPECT_FALSE(loopsep::testing::file_exists(path));
    EXPECT_FALSE(loopsep::testing::file_exists(temp_path_for(path)));
    // f32 FLAC is a usage error raised before anything is created.
    EXPECT_THROW(write_audio(dir.file("x.flac"), a, {FileFormat::Flac, SampleBits::Float32}), Error);
    EXPECT_FALSE(loopsep::testing::file_exists(dir.file("x.flac")));
}

TEST(AudioIo, StreamedWriterCommitsTheWholeFileAndLeavesNothingWhenAbandoned) {
    TempDir dir;
    Audio a = loopsep::testing::sine(440, 0.5, 2);
    const std::string path = dir.file("streamed.wav");
    {
        AudioFileWriter w(path, 2, a.sample_rate_hz, {FileFormat::Wav, SampleBits::Float32});
        for (std::size_t start = 0; start < a.frames(); start += 1000) {
            const std::size_t n = std::min<std::size_t>(1000, a.frames() - start);
            w.write({a.channel(0) + start, a.channel(1) + start}, n);
        }
        EXPECT_FALSE(loopsep::testing::file_exists(path));  // nothing at the final name before commit
        EXPECT_EQ(w.frames_written(), a.frames());
        EXPECT_THROW(w.write({a.channel(0)}, 10), Error);   // one channel given, the file has two
        w.commit();
        EXPECT_THROW(w.commit(), Error);
    }
    Audio b = read_audio(path);
    ASSERT_EQ(b.frames(), a.frames());
    EXPECT_EQ(max_abs_diff(a.channels[0], b.channels[0]), 0.0);
    EXPECT_EQ(max_abs_diff(a.channels[1], b.channels[1]), 0.0);
    EXPECT_FALSE(loopsep::testing::file_exists(temp_path_for(path)));

    const std::string abandoned = dir.file("abandoned.wav");
    {
        AudioFileWriter w(abandoned, 2, a.sample_rate_hz);
        w.write({a.channel(0), a.channel(1)}, 500);
        EXPECT_TRUE(loopsep::testing::file_exists(temp_path_for(abandoned)));
    }  // an error on the way: destroyed uncommitted
    EXPECT_FALSE(loopsep::testing::file_exists(abandoned));
    EXPECT_FALSE(loopsep::testing::file_exists(temp_path_for(abandoned)));
    EXPECT_THROW(AudioFileWriter(dir.file("x.wav"), 2, 1000000), Error);  // absurd rate, refused at creation
}

TEST(AudioIo, ParsesFormatNamesOnce) {
    EXPECT_EQ(parse_file_format("flac"), FileFormat::Flac);
    EXPECT_EQ(parse_sample_bits("24"), SampleBits::Int24);
    EXPECT_EQ(parse_sample_bits("f32"), SampleBits::Float32);
    EXPECT_EQ(output_format_from_extension("a/b.FLAC"), FileFormat::Flac);
    EXPECT_EQ(output_format_from_extension("a/b.wav"), FileFormat::Wav);
    EXPECT_THROW(parse_file_format("mp4"), Error);
    EXPECT_THROW(parse_sample_bits("12"), Error);
}
