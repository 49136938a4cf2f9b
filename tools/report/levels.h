// Levels of separated audio and the feedback they give: a stem that came out (nearly) silent while
// the song is audible means the query matched nothing in this song, and the user should hear so.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "loopsep/audio.h"

namespace loopsep::report {

// dBFS of digital silence: JSON has no -inf, and anything this low is silence for every purpose.
constexpr double kSilenceDbfs = -150.0;
// The feedback thresholds (README, separate): a stem under kQuietStemDbfs, or more than
// kQuietUnderMixtureDb under its song, while the song itself is above kAudibleMixtureDbfs.
constexpr double kQuietStemDbfs = -60.0;
constexpr double kQuietUnderMixtureDb = 40.0;
constexpr double kAudibleMixtureDbfs = -60.0;

// RMS level over all channels and frames, in dBFS (a full-scale square wave is 0 dBFS,
// a full-scale sine −3 dBFS); kSilenceDbfs at most.
double level_dbfs(double sum_squares, std::size_t num_samples);
double level_dbfs(const Audio& audio);
double sum_squares(const Audio& audio);

// The warnings for one target's stem, each one line without a prefix (empty when the stem is fine).
std::vector<std::string> stem_warnings(const std::string& target, double stem_dbfs, double mixture_dbfs);

}  // namespace loopsep::report
