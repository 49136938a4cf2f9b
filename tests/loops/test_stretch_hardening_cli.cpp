// `loopsep stretch` against careless use: output over the input, existing outputs, FIFOs,
// extensions it cannot write, a forgotten option value, float input above full scale, and a file
// at another rate than the engine's.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "loop_signals.h"
#include "loopsep/audio.h"
#include "test_util.h"

using namespace loopsep;
using loopsep::testing::read_text;
using loopsep::testing::run_loopsep;
using loopsep::testing::TempDir;

namespace {
constexpr int kTimeoutSec = 30;

void expect_refusal(const loopsep::testing::RunResult& r, int code, const std::string& needle) {
    EXPECT_EQ(r.exit_code, code) << r.err;
    EXPECT_EQ(loopsep::testing::count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}
}  // namespace

TEST(StretchHardening, NeverOverwritesItsInputAndNeedsForceForAnExistingOutput) {
    TempDir dir;
    write_audio(dir.file("x.wav"), loopsep::testing::click_loop(2.0, 4, 0.8f, 0.3f, 1), {});
    const std::string before = read_text(dir.file("x.wav"));
    expect_refusal(run_loopsep("stretch x.wav --from-bpm 120 --to-bpm 100 --output x.wav", dir.path(), kTimeoutSec), 1, "x.wav");
    expect_refusal(run_loopsep("stretch x.wav --from-bpm 120 --to-bpm 100 --output ./x.wav --force", dir.path(), kTimeoutSec), 1,
                   "input");
    ASSERT_EQ(::symlink("x.wav", dir.file("link.wav").c_str()), 0);
    expect_refusal(run_loopsep("stretch x.wav --from-bpm 120 --to-bpm 100 --output link.wav --force", dir.path(), kTimeoutSec),
                   1, "input");
    EXPECT_EQ(read_text(dir.file("x.wav")), before);

    loopsep::testing::write_text(dir.file("y.wav"), "mine");
    expect_refusal(run_loopsep("stretch x.wav --from-bpm 120 --to-bpm 100 --output y.wav", dir.path(), kTimeoutSec), 1,
                   "--force");
    EXPECT_EQ(read_text(dir.file("y.wav")), "mine");
    auto forced = run_loopsep("stretch x.wav --from-bpm 120 --to-bpm 100 --output y.wav --force", dir.path(), kTimeoutSec);
    ASSERT_EQ(forced.exit_code, 0) << forced.err;
    EXPECT_EQ(read_audio(dir.file("y.wav")).frames(), 105840u);
}

TEST(StretchHardening, AFifoOutputIsRefusedEvenWithForce) {
    TempDir dir;
    write_audio(dir.file("x.wav"), loopsep::testing::click_loop(2.0, 4, 0.8f, 0.3f, 1), {});
    ASSERT_EQ(::mkfifo(dir.file("p.wav").c_str(), 0644), 0);
    expect_refusal(run_loopsep("stretch x.wav --from-bpm 120 --to-bpm 100 --output p.wav --force", dir.path(), kTimeoutSec), 1,
                   "p.wav: not a regular file");
    struct stat st {};
    ASSERT_EQ(::stat(dir.file("p.wav").c_str(), &st), 0);
    EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

TEST(StretchHardening, ClearMessagesForUnwritableExtensionsAndMissingValues) {
    TempDir dir;
    write_audio(dir.file("x.wav"), loopsep::testing::click_loop(2.0, 4, 0.8f, 0.3f, 1), {});
    for (const std::string out : {"o.m4a", "o.wma"})
        expect_refusal(run_loopsep("stretch x.wav --from-bpm 120 --to-bpm 100 --output " + out, dir.path(), kTimeoutSec), 2, out);
    EXPECT_FALSE(loopsep::testing::file_exists(dir.file("o.m4a")));
    expect_refusal(run_loopsep("stretch x.wav --to-bpm --output o.wav", dir.path(), kTimeoutSec), 2, "--to-bpm needs a value");
    // Random bytes named .wav: one line naming the file (no library chatter on stderr).
    std::string junk(4096, '\0');
    for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = char((i * 2654435761u) >> 13);
    loopsep::testing::write_text(dir.file("junk.wav"), junk);
    expect_refusal(run_loopsep("stretch junk.wav --from-bpm 120 --to-bpm 100 --output o.wav", dir.path(), kTimeoutSec), 1,
                   "junk.wav");
    // Bytes that start like an MPEG frame: libsndfile hands them to libmpg123, which printed three
    // "Note: Illegal Audio-MPEG-Header ..." lines of its own before loopsep's.
    std::string mpeg_like = "\xff\xfb\x90\x00";
    std::uint32_t lcg = 7;
    for (int i = 0; i < 5000; ++i) mpeg_like.push_back(char((lcg = lcg * 1664525u + 1013904223u) >> 24));
    loopsep::testing::write_text(dir.file("mpeg.wav"), mpeg_like);
    expect_refusal(run_loopsep("stretch mpeg.wav --from-bpm 120 --to-bpm 100 --output o.wav", dir.path(), kTimeoutSec), 1,
                   "mpeg.wav: not a readable audio file");
    expect_refusal(run_loopsep("stretch /dev/urandom --from-bpm 120 --to-bpm 100 --output o.wav", dir.path(), kTimeoutSec), 1,
                   "/dev/urandom: not a regular file");
}

TEST(StretchHardening, WarnsWhenFloatAboveFullScaleIsClippedAndKeepsFloatOutputFloat) {
    TempDir dir;
    Audio hot = loopsep::testing::click_loop(2.0, 4, 0.8f, 0.3f, 1);
    for (auto& v : hot.channels[0]) v *= 2.0f;  // clicks at 1.6: above full scale
    ASSERT_GT(hot.peak(), 1.2f);
    write_audio(dir.file("hot.wav"), hot, {FileFormat::Wav, SampleBits::Float32});
    auto pcm = run_loopsep("stretch hot.wav --from-bpm 120 --to-bpm 100 --output pcm.wav", dir.path(), kTimeoutSec);
    ASSERT_EQ(pcm.exit_code, 0) << pcm.err;
    EXPECT_NE(pcm.err.find("clipped"), std::string::npos) << pcm.err;
    auto flt = run_loopsep("stretch hot.wav --from-bpm 120 --to-bpm 100 --output flt.wav --bits f32", dir.path(), kTimeoutSec);
    ASSERT_EQ(flt.exit_code, 0) << flt.err;
    EXPECT_EQ(flt.err.find("clipped"), std::string::npos) << flt.err;
    EXPECT_GT(read_audio(dir.file("flt.wav")).peak(), 1.2f);
    // Within full scale: no warning.
    write_audio(dir.file("ok.wav"), loopsep::testing::click_loop(2.0, 4, 0.5f, 0.2f, 1), {FileFormat::Wav, SampleBits::Float32});
    auto ok = run_loopsep("stretch ok.wav --from-bpm 120 --to-bpm 100 --output ok16.wav", dir.path(), kTimeoutSec);
    ASSERT_EQ(ok.exit_code, 0) << ok.err;
    EXPECT_EQ(ok.err.find("clipped"), std::string::npos) << ok.err;
}

// Issue #40 item 10: an 8 kHz loop was resampled to 44.1 kHz on the way in, and --json reported the
// resampled count (88200) as input_frames without a word about the rate. A stretch changes the tempo,
// not the rate: the file keeps its 8 kHz, and the frame counts are the files' own.
TEST(StretchHardening, KeepsTheInputsRateAndReportsItsOwnFrames) {
    TempDir dir;
    Audio low(1, 16000, 8000);  // 2 s: four beats at 120 BPM
    for (int b = 0; b < 4; ++b) loopsep::testing::add_click(low, 0.5 * b, 0.8f);
    write_audio(dir.file("low.wav"), low, {});
    auto r = run_loopsep("stretch low.wav --from-bpm 120 --to-bpm 100 --output out.wav --json", dir.path(), kTimeoutSec);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["input_frames"], 16000);
    EXPECT_EQ(j["output_frames"], 19200);  // 16000 · 120 / 100
    EXPECT_EQ(j["sample_rate_hz"], 8000);
    ReadOptions own;
    own.target_rate_hz = 0;
    const Audio out = read_audio(dir.file("out.wav"), own);
    EXPECT_EQ(out.sample_rate_hz, 8000);
    EXPECT_EQ(out.frames(), 19200u);
}
