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

LeakageScore leakage_where_silent(const Audio& reference, const Audio& estimate, const Audio& mixture,
                                  const std::vector<TimeSpan>& present) {
    if (reference.num_channels() != mixture.num_channels() || estimate.num_channels() != mixture.num_channels() ||
        reference.sample_rate_hz != mixture.sample_rate_hz || estimate.sample_rate_hz != mixture.sample_rate_hz)
        throw input_error("leakage: reference, estimate and mixture must share channel count and sample rate");
    const std::size_t n = std::min({reference.frames(), estimate.frames(), mixture.frames()});
    const double rate_hz = mixture.sample_rate_hz;
    std::vector<char> playing(n, 0);
    for (const TimeSpan& s : present) {
        const auto a = std::size_t(std::clamp(s.begin_sec * rate_hz, 0.0, double(n)));
        const auto b = std::size_t(std::clamp(s.end_sec * rate_hz, 0.0, double(n)));
        std::fill(playing.begin() + std::ptrdiff_t(a), playing.begin() + std::ptrdiff_t(std::max(a, b)), 1);
    }
    constexpr double kAudibleMeanSquare = 1e-6;    // −60 dBFS
    constexpr double kSilentReferenceRatio = 1e-4;  // reference ≥ 40 dB under the mixture
    const std::size_t block = std::max<std::size_t>(1, std::size_t(rate_hz / 20));
    double est_energy = 0, mix_energy = 0;
    std::size_t counted = 0;
    for (std::size_t start = 0; start + block <= n; start += block) {
        if (std::any_of(playing.begin() + std::ptrdiff_t(start), playing.begin() + std::ptrdiff_t(start + block),
                        [](char p) { return p != 0; }))
            continue;
        double r = 0, e = 0, m = 0;
        for (int c = 0; c < mixture.num_channels(); ++c)
            for (std::size_t i = start; i < start + block; ++i) {
                r += double(reference.channel(c)[i]) * reference.channel(c)[i];
                e += double(estimate.channel(c)[i]) * estimate.channel(c)[i];
                m += double(mixture.channel(c)[i]) * mixture.channel(c)[i];
            }
        if (m < kAudibleMeanSquare * double(block) * mixture.num_channels() || r > kSilentReferenceRatio * m) continue;
        est_energy += e;
        mix_energy += m;
        counted += block;
    }
    LeakageScore score;
    score.measured_sec = double(counted) / rate_hz;
    score.leakage_db = score.measured_sec < 1.0 ? std::nan("") : 10.0 * std::log10((est_energy + kEps) / mix_energy);
    return score;
}

}  // namespace loopsep
