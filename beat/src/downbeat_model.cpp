// loopsep beat — the learned meter stage: a tatum's position in the bar from its evidence.
//
// A multinomial logistic regression (16 classes, kMeterBands × 9 inputs: the tatum's band-split
// evidence and that of the four tatums each side, i.e. one beat either way) gives log P(position)
// per tatum; meter.cpp's Viterbi adds it to (or uses it instead of) the hand-set bar template.
// Plain C++ on purpose: beat/ sits below models/, and a thousand weights need no framework.
// The weights are trained by bench/beats_real/train_downbeat.cpp on `loopsep synth --split train`
// songs and their bench edits (never realval or val) and committed as downbeat_weights.h.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "beat_internal.h"
#include "downbeat_weights.h"
#include "loopsep/error.h"

namespace loopsep::beat_detail {

void classifier_inputs(const TatumEvidence& e, std::size_t j, float* in) {
    const long m = long(e.tatum_frames.size());
    int k = 0;
    for (int b = 0; b < kMeterBands; ++b)
        for (long d = -kContextTatums; d <= kContextTatums; ++d) {
            const long t = long(j) + d;
            in[k++] = t >= 0 && t < m ? float(e.x[b][std::size_t(t)]) : 0.0f;
        }
}

std::array<double, kBarPositions> log_posterior(const TatumClassifier& c, const float* in) {
    std::array<double, kBarPositions> z{};
    constexpr int row = kClassifierInputs + 1;
    for (int p = 0; p < kBarPositions; ++p) {
        const float* w = c.w.data() + std::size_t(p) * row;
        double s = w[0];
        for (int i = 0; i < kClassifierInputs; ++i) s += double(w[i + 1]) * in[i];
        z[p] = s;
    }
    const double mx = *std::max_element(z.begin(), z.end());
    double sum = 0;
    for (double v : z) sum += std::exp(v - mx);
    const double log_norm = mx + std::log(sum);
    for (double& v : z) v -= log_norm;
    return z;
}

const TatumClassifier& trained_classifier(Genre g) {
    static const TatumClassifier hiphop = [] {
        TatumClassifier c;
        std::copy(std::begin(kDownbeatWeightsHipHop), std::end(kDownbeatWeightsHipHop), c.w.begin());
        return c;
    }();
    static const TatumClassifier bachata = [] {
        TatumClassifier c;
        std::copy(std::begin(kDownbeatWeightsBachata), std::end(kDownbeatWeightsBachata), c.w.begin());
        return c;
    }();
    return g == Genre::Bachata ? bachata : hiphop;
}

TatumClassifier train_classifier(const std::vector<float>& inputs, const std::vector<int>& labels,
                                 const ClassifierTraining& o) {
    const std::size_t n = labels.size();
    if (inputs.size() != n * std::size_t(kClassifierInputs))
        throw usage_error("train_classifier: inputs must hold kClassifierInputs values per label");
    for (int l : labels)
        if (l < 0 || l >= kBarPositions) throw usage_error("train_classifier: label out of 0..15");
    TatumClassifier c;
    const std::size_t size = c.w.size();
    constexpr int row = kClassifierInputs + 1;
    // Adam (β 0.9 / 0.999), one step per mini-batch; everything in a fixed order, so the same
    // seed gives the same weights bit for bit on a given build.
    std::vector<double> w(size, 0.0), m1(size, 0.0), m2(size, 0.0), grad(size);
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t(0));
    std::mt19937_64 rng(o.seed);
    long step = 0;
    for (int epoch = 0; epoch < o.epochs; ++epoch) {
        for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng() % i]);  // Fisher–Yates
        for (std::size_t b0 = 0; b0 < n; b0 += std::size_t(o.batch)) {
            const std::size_t b1 = std::min(n, b0 + std::size_t(o.batch));
            std::fill(grad.begin(), grad.end(), 0.0);
            for (std::size_t k = b0; k < b1; ++k) {
                const float* in = inputs.data() + order[k] * kClassifierInputs;
                std::array<double, kBarPositions> z{};
                for (int p = 0; p < kBarPositions; ++p) {
                    const double* wp = w.data() + std::size_t(p) * row;
                    double s = wp[0];
                    for (int i = 0; i < kClassifierInputs; ++i) s += wp[i + 1] * in[i];
                    z[p] = s;
                }
                const double mx = *std::max_element(z.begin(), z.end());
                double sum = 0;
                for (double& v : z) sum += (v = std::exp(v - mx));
                for (int p = 0; p < kBarPositions; ++p) {
                    const double d = z[p] / sum - (p == labels[order[k]] ? 1.0 : 0.0);
                    double* gp = grad.data() + std::size_t(p) * row;
                    gp[0] += d;
                    for (int i = 0; i < kClassifierInputs; ++i) gp[i + 1] += d * in[i];
                }
            }
            ++step;
            const double scale = 1.0 / double(b1 - b0);
            const double c1 = 1 - std::pow(0.9, double(step)), c2 = 1 - std::pow(0.999, double(step));
            for (std::size_t i = 0; i < size; ++i) {
                const double g = grad[i] * scale + 2 * o.l2 * w[i];
                m1[i] = 0.9 * m1[i] + 0.1 * g;
                m2[i] = 0.999 * m2[i] + 0.001 * g * g;
                w[i] -= o.learning_rate * (m1[i] / c1) / (std::sqrt(m2[i] / c2) + 1e-8);
            }
        }
    }
    for (std::size_t i = 0; i < size; ++i) c.w[i] = float(w[i]);
    return c;
}

}  // namespace loopsep::beat_detail
