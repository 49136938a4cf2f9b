// The feedback thresholds of tools/report/levels.h on exact numbers.
#include <gtest/gtest.h>

#include <cmath>

#include "report/levels.h"
#include "test_util.h"

using namespace loopsep;

TEST(ReportLevels, LevelIsRmsOverAllChannelsInDbfs) {
    // A full-scale sine: −3.01 dBFS; half amplitude 6.02 dB lower; silence: the floor.
    EXPECT_NEAR(report::level_dbfs(loopsep::testing::sine(441, 1.0, 2, 44100, 1.0f)), -3.0103, 1e-3);
    EXPECT_NEAR(report::level_dbfs(loopsep::testing::sine(441, 1.0, 1, 44100, 0.5f)), -9.0309, 1e-3);
    EXPECT_EQ(report::level_dbfs(Audio(2, 1000)), report::kSilenceDbfs);
}

TEST(ReportLevels, WarnsOnlyForAQuietStemOfAnAudibleSong) {
    // More than 40 dB under the mixture.
    EXPECT_TRUE(report::stem_warnings("bongo", -49.0, -10.0).empty());
    EXPECT_EQ(report::stem_warnings("bongo", -51.0, -10.0).size(), 1u);
    // Under −60 dBFS, however close to the mixture.
    EXPECT_TRUE(report::stem_warnings("bongo", -59.0, -45.0).empty());
    EXPECT_EQ(report::stem_warnings("bongo", -61.0, -45.0).size(), 1u);
    // A song that is itself (nearly) silent: nothing to say.
    EXPECT_TRUE(report::stem_warnings("bongo", report::kSilenceDbfs, -61.0).empty());
    const std::string w = report::stem_warnings("guira", -80.0, -20.0).at(0);
    EXPECT_NE(w.find("'guira'"), std::string::npos) << w;
    EXPECT_NE(w.find("60.0 dB under"), std::string::npos) << w;
    EXPECT_NE(w.find("--query-id"), std::string::npos) << w;
}
