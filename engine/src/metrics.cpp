#include "loopsep/metrics.h"

#include <algorithm>
#include <cmath>

#include "loopsep/error.h"

namespace loopsep {

namespace {
constexpr double kEps = 1e-12;

struct Sums {
    double ref_energy = 0, err_energy = 0, dot = 0, est_energy = 0;
    void add(const float* r, const float* e, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) {
            double rv = r[i], ev = e[i];
            ref_energy += rv * rv;
            err_energy += (rv - ev) * (rv - ev);
            dot += rv * ev;
            est_energy += ev * ev;
        }
    }
    double sdr() const { return 10.0 * std::log10((ref_energy + kEps) / (err_energy + kEps)); }
    double si_sdr() const {
        double alpha = dot / (ref_energy + kEps);
        // |alpha s|^2 and |alpha s - ŝ|^2 = |ŝ|^2 - 2 alpha <s,ŝ> + alpha^2 |s|^2
        double target = alpha * alpha * ref_energy;
        double noise = std::max(0.0, est_energy - 2 * alpha * dot + alpha * alpha * ref_energy);
        return 10.0 * std::log10((target + kEps) / (noise + kEps));
    }
};
}  // namespace

double sdr_db(const float* reference, const float* estimate, std::size_t n) {
    Sums s;
    s.add(reference, estimate, n);
    return s.sdr();
}

double si_sdr_db(const float* reference, const float* estimate, std::size_t n) {
    Sums s;
    s.add(reference, estimate, n);
    return s.si_sdr();
}

QualityScores compare(const Audio& reference, const Audio& estimate) {
    const std::size_t n = std::min(reference.frames(), estimate.frames());
    const std::size_t longest = std::max(reference.frames(), estimate.frames());
    if (n == 0) throw input_error("cannot compare empty audio");
    if (double(longest - n) > 0.01 * double(longest))
        throw input_error("reference and estimate lengths differ by more than 1 % (" + std::to_string(reference.frames()) +
                          " vs " + std::to_string(estimate.frames()) + " frames)");
    Sums s;
    if (reference.num_channels() == estimate.num_channels()) {
        for (int c = 0; c < reference.num_channels(); ++c) s.add(reference.channel(c), estimate.channel(c), n);
    } else {
        std::vector<float> r = reference.mono(), e = estimate.mono();
        s.add(r.data(), e.data(), n);
    }
    return {s.sdr(), s.si_sdr()};
}

}  // namespace loopsep
