// `loopsep eval` with mismatched channel counts: refused unless --downmix, and the
// result says what was compared.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "loopsep/audio.h"
#include "test_util.h"

using namespace loopsep;
using loopsep::testing::run_loopsep;
using loopsep::testing::TempDir;

TEST(EvalHardening, MismatchedChannelsNeedDownmixAndTheResultSaysWhatWasCompared) {
    TempDir dir;
    write_audio(dir.file("ref.wav"), loopsep::testing::noise(1.0, 2, 1), {});
    write_audio(dir.file("mono.wav"), loopsep::testing::noise(1.0, 1, 2), {});
    write_audio(dir.file("stereo.wav"), loopsep::testing::noise(1.0, 2, 3), {});

    auto refused = run_loopsep("eval --reference ref.wav --estimate mono.wav", dir.path());
    EXPECT_EQ(refused.exit_code, 1) << refused.err;
    EXPECT_EQ(loopsep::testing::count_lines(refused.err), 1) << refused.err;
    EXPECT_NE(refused.err.find("--downmix"), std::string::npos) << refused.err;
    EXPECT_TRUE(refused.out.empty()) << refused.out;

    auto mixed = run_loopsep("eval --reference ref.wav --estimate mono.wav --downmix --json", dir.path());
    ASSERT_EQ(mixed.exit_code, 0) << mixed.err;
    auto j = nlohmann::json::parse(mixed.out);
    EXPECT_EQ(j["reference_channels"], 2);
    EXPECT_EQ(j["estimate_channels"], 1);
    EXPECT_EQ(j["compared"], "mono downmix");

    auto same = run_loopsep("eval --reference ref.wav --estimate stereo.wav --json", dir.path());
    ASSERT_EQ(same.exit_code, 0) << same.err;
    EXPECT_EQ(nlohmann::json::parse(same.out)["compared"], "2 channels");
    auto text = run_loopsep("eval --reference ref.wav --estimate mono.wav --downmix", dir.path());
    ASSERT_EQ(text.exit_code, 0) << text.err;
    EXPECT_NE(text.out.find("compared: mono downmix (reference 2 channels, estimate 1)"), std::string::npos) << text.out;
}
