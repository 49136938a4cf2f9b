// End-to-end tests of the `loopsep` executable: help, version, eval, and the
// bad-input contract (one stderr line naming the file, exit 1 or 2, no output).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>

#include "loopsep/audio.h"
#include "test_util.h"

using namespace loopsep;
using loopsep::testing::run_loopsep;
using loopsep::testing::TempDir;

TEST(Cli, HelpListsEverySubcommand) {
    auto r = run_loopsep("--help");
    EXPECT_EQ(r.exit_code, 0);
    for (const char* c : {"separate", "beats", "stretch", "catalog", "synth", "train", "harvest", "eval"})
        EXPECT_NE(r.out.find(std::string("  ") + c + " "), std::string::npos) << c;
}

TEST(Cli, VersionAndUsageErrors) {
    auto v = run_loopsep("--version");
    EXPECT_EQ(v.exit_code, 0);
    EXPECT_EQ(v.out.rfind("loopsep ", 0), 0u);
    auto u = run_loopsep("frobnicate");
    EXPECT_EQ(u.exit_code, 2);
    EXPECT_EQ(loopsep::testing::count_lines(u.err), 1);
    auto bad_flag = run_loopsep("eval --reference a.wav --estimate b.wav --bogus");
    EXPECT_EQ(bad_flag.exit_code, 2);
    EXPECT_NE(bad_flag.err.find("--bogus"), std::string::npos);
    EXPECT_EQ(run_loopsep("eval --reference a.wav").exit_code, 2);  // --estimate missing
}

TEST(Cli, EvalPrintsHandComputedSdrAsJson) {
    TempDir dir;
    Audio ref = loopsep::testing::sine(440, 0.5, 1);
    Audio est = ref;
    for (auto& v : est.channels[0]) v *= 0.5f;  // SDR = 10·log10(4) = 6.02 dB; SI-SDR = +inf → very large
    write_audio(dir.file("ref.wav"), ref, {FileFormat::Wav, SampleBits::Float32});
    write_audio(dir.file("est.wav"), est, {FileFormat::Wav, SampleBits::Float32});
    auto r = run_loopsep("eval --reference ref.wav --estimate est.wav --json", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_NEAR(j["sdr_db"].get<double>(), 6.0206, 1e-3);
    EXPECT_GT(j["si_sdr_db"].get<double>(), 60.0);
}

// Each bad input: exit 1, exactly one stderr line that names the file, nothing on stdout.
TEST(Cli, BadAudioInputsAreRefusedWithOneLineNamingTheFile) {
    TempDir dir;
    write_audio(dir.file("good.wav"), loopsep::testing::sine(440, 0.5), {});
    loopsep::testing::write_text(dir.file("empty.wav"), "");
    loopsep::testing::write_text(dir.file("words.wav"), "hello, I am a text file\n");
    std::string full = loopsep::testing::read_text(dir.file("good.wav"));
    loopsep::testing::write_text(dir.file("cut.wav"), full.substr(0, full.size() / 3));
    write_audio(dir.file("silent.wav"), Audio(1, 22050), {});
    Audio one(1, 1);
    one.channels[0][0] = 0.5f;
    write_audio(dir.file("one.wav"), one, {});
    for (const char* bad : {"missing.wav", "empty.wav", "words.wav", "cut.wav", "silent.wav", "one.wav"}) {
        auto r = run_loopsep(std::string("eval --reference ") + bad + " --estimate good.wav", dir.path());
        EXPECT_EQ(r.exit_code, 1) << bad;
        EXPECT_EQ(loopsep::testing::count_lines(r.err), 1) << bad << ": " << r.err;
        EXPECT_NE(r.err.find(bad), std::string::npos) << r.err;
        EXPECT_TRUE(r.out.empty()) << bad;
    }
}
