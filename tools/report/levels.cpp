#include "report/levels.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace loopsep::report {

double level_dbfs(double sum_squares, std::size_t num_samples) {
    if (num_samples == 0 || !(sum_squares > 0)) return kSilenceDbfs;
    return std::max(kSilenceDbfs, 10.0 * std::log10(sum_squares / double(num_samples)));
}

double sum_squares(const Audio& audio) {
    double sum = 0;
    for (const auto& ch : audio.channels)
        for (float v : ch) sum += double(v) * v;
    return sum;
}

double level_dbfs(const Audio& audio) {
    return level_dbfs(sum_squares(audio), audio.frames() * std::size_t(audio.num_channels()));
}

std::vector<std::string> stem_warnings(const std::string& target, double stem_dbfs, double mixture_dbfs) {
    if (mixture_dbfs <= kAudibleMixtureDbfs) return {};  // a silent song: nothing to find, nothing to say
    const double under_db = mixture_dbfs - stem_dbfs;
    if (stem_dbfs >= kQuietStemDbfs && under_db <= kQuietUnderMixtureDb) return {};
    char line[400];
    std::snprintf(line, sizeof line,
                  "target '%s' came out nearly silent (%.1f dBFS, %.1f dB under the mixture): the query found "
                  "little of it in this song; try another query (--query LOOP or --query-id ID)",
                  target.c_str(), stem_dbfs, under_db);
    return {line};
}

}  // namespace loopsep::report
