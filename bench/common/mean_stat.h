// A running mean over the finite values given (a song where a score is undefined is left out).
#pragma once

#include <cmath>

namespace loopsep::bench {

struct Stat {
    double sum = 0;
    int n = 0;
    void add(double v) { if (std::isfinite(v)) { sum += v; ++n; } }
    double mean() const { return n ? sum / n : NAN; }
};

}  // namespace loopsep::bench
