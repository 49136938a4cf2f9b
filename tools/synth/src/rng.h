// Seeded PRNG with our own distributions: std:: distributions are not
// specified bit-for-bit and differ between standard libraries, which would
// break "same seed → same song" across machines.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace loopsep::synth {

// SplitMix64 step — derives independent seeds (per song, per part) from one.
inline std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b) {
    std::uint64_t z = a + 0x9E3779B97F4A7C15ull * (b + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

class Rng {
public:
    explicit Rng(std::uint64_t seed) : engine_(seed) {}

    std::uint64_t next() { return engine_(); }
    // [0, 1) with 53 random bits.
    double uniform() { return double(engine_() >> 11) * (1.0 / 9007199254740992.0); }
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
    // Integer in [lo, hi] (inclusive).
    int range(int lo, int hi) {
        const std::uint64_t span = std::uint64_t(hi - lo) + 1;
        return lo + int(engine_() % span);
    }
    bool chance(double p) { return uniform() < p; }
    // Uniform over [lo, gap_lo) ∪ [gap_hi, hi), each side in proportion to its width: the training
    // range of an own synth's parameter around the held-out validation range [gap_lo, gap_hi].
    double uniform_around(double lo, double gap_lo, double gap_hi, double hi) {
        const double below = gap_lo - lo, above = hi - gap_hi;
        const double u = uniform(0.0, below + above);
        return u < below ? lo + u : gap_hi + (u - below);
    }
    // Standard normal (Box–Muller), clipped to ±4 sigma.
    double normal(double mean, double sigma) {
        double u1 = uniform();
        if (u1 < 1e-300) u1 = 1e-300;
        const double u2 = uniform();
        double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
        if (z > 4.0) z = 4.0;
        if (z < -4.0) z = -4.0;
        return mean + sigma * z;
    }
    template <class T>
    const T& pick(const std::vector<T>& items) { return items[std::size_t(range(0, int(items.size()) - 1))]; }
    // Index drawn with the given non-negative weights.
    std::size_t weighted(const std::vector<double>& weights) {
        double total = 0.0;
        for (double w : weights) total += w;
        double x = uniform() * total;
        for (std::size_t i = 0; i < weights.size(); ++i) {
            if (x < weights[i]) return i;
            x -= weights[i];
        }
        return weights.size() - 1;
    }
    Rng fork(std::uint64_t salt) { return Rng(mix_seed(engine_(), salt)); }

private:
    std::mt19937_64 engine_;  // the engine itself is fully specified by the standard
};

}  // namespace loopsep::synth
