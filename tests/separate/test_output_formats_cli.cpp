// Output formats through the commands that write audio: `separate` (--output and --outdir stems) and
// `stretch`. Each file opens as the format its name or --format declares; a format it cannot write,
// or an option that does not apply to it, is refused with one line before any work, leaving no file.
#include <gtest/gtest.h>
#include <sndfile.h>

#include <filesystem>

#include "loopsep/audio.h"
#include "song_fixture.h"
#include "test_util.h"

using namespace loopsep;
using loopsep::testing::file_exists;
using loopsep::testing::run_loopsep;

namespace {

constexpr int kTimeoutSec = 60;

// libsndfile's major type and subtype of a file, or -1 if it cannot open it.
std::pair<int, int> format_of(const std::string& path) {
    SF_INFO info{};
    SNDFILE* sf = sf_open(path.c_str(), SFM_READ, &info);
    if (!sf) return {-1, -1};
    sf_close(sf);
    return {info.format & SF_FORMAT_TYPEMASK, info.format & SF_FORMAT_SUBMASK};
}

}  // namespace

TEST(OutputFormatsCli, SeparateWritesStemsInTheAskedFormat) {
    loopsep::testing::SeparateInputs f;
    // --output: the extension decides; --bits where it applies.
    auto r = run_loopsep("separate song.wav --target bongo --query loop.wav --model m.safetensors --output o.aiff --bits 24",
                         f.dir.path(), kTimeoutSec);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(format_of(f.dir.file("o.aiff")), std::make_pair(int(SF_FORMAT_AIFF), int(SF_FORMAT_PCM_24)));
    // --outdir: --format names every stem and the residual.
    r = run_loopsep("separate song.wav --targets bongo --query loop.wav --model m.safetensors --outdir out --residual "
                    "--format mp3 --bitrate 192",
                    f.dir.path(), kTimeoutSec);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const char* stem : {"out/song/bongo.mp3", "out/song/residual.mp3"}) {
        EXPECT_EQ(format_of(f.dir.file(stem)), std::make_pair(int(SF_FORMAT_MPEG), int(SF_FORMAT_MPEG_LAYER_III))) << stem;
        // The stem lasts as long as the song (7 s).
        const Audio back = read_audio(f.dir.file(stem), {0, 2, true, 2});
        EXPECT_NEAR(back.duration_sec(), 7.0, 0.01) << stem;
    }
    EXPECT_FALSE(file_exists(f.dir.file("out/song/bongo.wav")));
}

TEST(OutputFormatsCli, RefusedBeforeAnyWorkWithOneLine) {
    loopsep::testing::SeparateInputs f;
    struct Bad {
        std::string args, message;
    };
    const Bad bad[] = {
        {"--output o.m4a", "o.m4a: cannot write .m4a files"},
        {"--output o.mp3 --bits 24", "--bits applies to wav, flac and aiff (mp3 is lossy: use --bitrate)"},
        {"--output o.flac --bitrate 128", "--bitrate applies to ogg, opus and mp3"},
        {"--output o.wav --format ogg", "o.wav: the extension says wav but --format is ogg"},
        {"--output o.opus --bitrate 9000", "--bitrate for opus must be"},
    };
    for (const Bad& b : bad) {
        // A model path that does not exist: a refusal that comes first proves no work was started.
        auto r = run_loopsep("separate song.wav --target bongo --query loop.wav --model missing.safetensors " + b.args,
                             f.dir.path(), kTimeoutSec);
        EXPECT_EQ(r.exit_code, 2) << b.args << ": " << r.err;
        EXPECT_NE(r.err.find(b.message), std::string::npos) << r.err;
        EXPECT_EQ(loopsep::testing::count_lines(r.err), 1) << r.err;
    }
    auto r = run_loopsep("separate song.wav --targets bongo --query loop.wav --model missing.safetensors --outdir out --format wma",
                         f.dir.path(), kTimeoutSec);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    for (const char* name : {"o.m4a", "o.mp3", "o.flac", "o.wav", "o.opus", "out"})
        EXPECT_FALSE(file_exists(f.dir.file(name))) << name;
}

TEST(OutputFormatsCli, StretchWritesEveryFormat) {
    loopsep::testing::TempDir dir;
    write_audio(dir.file("loop.wav"), loopsep::testing::make_test_song(120, 2.0), {});
    const std::pair<const char*, std::pair<int, int>> outputs[] = {
        {"o.flac", {SF_FORMAT_FLAC, SF_FORMAT_PCM_16}}, {"o.aiff", {SF_FORMAT_AIFF, SF_FORMAT_PCM_16}},
        {"o.ogg", {SF_FORMAT_OGG, SF_FORMAT_VORBIS}},   {"o.opus", {SF_FORMAT_OGG, SF_FORMAT_OPUS}},
        {"o.mp3", {SF_FORMAT_MPEG, SF_FORMAT_MPEG_LAYER_III}}};
    for (const auto& [name, format] : outputs) {
        auto r = run_loopsep(std::string("stretch loop.wav --from-bpm 120 --to-bpm 100 --output ") + name, dir.path(), kTimeoutSec);
        ASSERT_EQ(r.exit_code, 0) << name << ": " << r.err;
        EXPECT_EQ(format_of(dir.file(name)), format) << name;
        EXPECT_NEAR(read_audio(dir.file(name)).duration_sec(), 2.4, 0.01) << name;  // 2 s · 120 / 100
    }
    auto r = run_loopsep("stretch loop.wav --from-bpm 120 --to-bpm 100 --output x.ogg --bits 16", dir.path(), kTimeoutSec);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_FALSE(file_exists(dir.file("x.ogg")));
}
