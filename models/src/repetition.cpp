// Repetition templates (loopsep/repetition.h): nearest windows by log-band correlation, then a median.
#include "loopsep/repetition.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "loopsep/error.h"

namespace loopsep {

void RepetitionGeometry::validate() const {
    if (frames < 1) throw usage_error("repetition: frames must be ≥ 1");
    if (bands < 1) throw usage_error("repetition: bands must be ≥ 1");
    if (centre_begin_frames < 0 || centre_frames < 1 || centre_begin_frames + centre_frames > frames)
        throw usage_error("repetition: the centre (" + std::to_string(centre_begin_frames) + " + " +
                          std::to_string(centre_frames) + " frames) must lie inside the window's " +
                          std::to_string(frames) + " frames");
    if (neighbours < 1 || neighbours > 16) throw usage_error("repetition: neighbours must be in 1..16");
}

std::vector<float> log_centre_vector(const float* w, const RepetitionGeometry& g) {
    const std::size_t n = std::size_t(g.centre_frames) * g.bands;
    const float* first = w + std::size_t(g.centre_begin_frames) * g.bands;
    std::vector<float> v(n);
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        v[i] = std::log1p(std::max(0.0f, first[i]));
        sum += v[i];
    }
    const float mean = float(sum / double(n));
    double norm = 0;
    for (float& x : v) {
        x -= mean;
        norm += double(x) * x;
    }
    const float scale = norm > 0 ? float(1.0 / std::sqrt(norm)) : 0.0f;  // a constant window is like nothing
    for (float& x : v) x *= scale;
    return v;
}

float similarity(const std::vector<float>& a, const std::vector<float>& b) {
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
    return float(s);
}

namespace {

// out[e] = median over the chosen windows' element e (the mean of the middle two for an even count).
void median_of(const std::vector<const float*>& windows, std::size_t n, float* out) {
    const std::size_t k = windows.size();
    std::vector<float> v(k);
    for (std::size_t e = 0; e < n; ++e) {
        for (std::size_t j = 0; j < k; ++j) v[j] = windows[j][e];
        std::sort(v.begin(), v.end());  // k ≤ 16
        out[e] = k % 2 ? v[k / 2] : 0.5f * (v[k / 2 - 1] + v[k / 2]);
    }
}

// Indices of the (up to) K most alike, most alike first; ties by index, so the choice is deterministic.
std::vector<int> nearest(const std::vector<float>& sims, int k) {
    std::vector<int> order(sims.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return sims[a] > sims[b]; });
    order.resize(std::min<std::size_t>(order.size(), std::size_t(k)));
    return order;
}

// The template of a window (its log_centre_vector `self`) from candidates with theirs: the median over
// the K most alike; `chosen` (optional) gets their indices, most alike first.
void template_from(const std::vector<float>& self, const std::vector<const std::vector<float>*>& candidate_logs,
                   const std::vector<const float*>& candidates, const RepetitionGeometry& g, float* out,
                   std::vector<int>* chosen) {
    std::vector<float> sims;
    for (const auto* c : candidate_logs) sims.push_back(similarity(self, *c));
    std::vector<const float*> used;
    for (int i : nearest(sims, g.neighbours)) {
        used.push_back(candidates[std::size_t(i)]);
        if (chosen) chosen->push_back(i);
    }
    median_of(used, std::size_t(g.frames) * g.bands, out);
}

}  // namespace

void repetition_template(const float* window, const std::vector<const float*>& candidates,
                         const RepetitionGeometry& g, float* out, std::vector<int>* chosen) {
    g.validate();
    const std::size_t n = std::size_t(g.frames) * g.bands;
    if (chosen) chosen->clear();
    if (candidates.empty()) {
        std::copy(window, window + n, out);
        return;
    }
    std::vector<std::vector<float>> logs;
    for (const float* c : candidates) logs.push_back(log_centre_vector(c, g));
    std::vector<const std::vector<float>*> log_ptrs;
    for (const auto& l : logs) log_ptrs.push_back(&l);
    template_from(log_centre_vector(window, g), log_ptrs, candidates, g, out, chosen);
}

std::vector<std::vector<float>> repetition_templates(const std::vector<std::vector<float>>& windows,
                                                     const RepetitionGeometry& g,
                                                     std::vector<std::vector<int>>* chosen) {
    g.validate();
    const std::size_t n = std::size_t(g.frames) * g.bands, S = windows.size();
    for (const auto& w : windows)
        if (w.size() != n) throw usage_error("repetition: a window has " + std::to_string(w.size()) + " values, expected " + std::to_string(n));
    std::vector<std::vector<float>> logs;  // once per window, not once per pair
    for (const auto& w : windows) logs.push_back(log_centre_vector(w.data(), g));
    std::vector<std::vector<float>> out(S, std::vector<float>(n));
    if (chosen) chosen->assign(S, {});
    for (std::size_t i = 0; i < S; ++i) {
        if (S == 1) {
            out[i] = windows[i];
            continue;
        }
        std::vector<std::size_t> index;  // the other windows
        std::vector<const std::vector<float>*> others_log;
        std::vector<const float*> others;
        for (std::size_t j = 0; j < S; ++j)
            if (j != i) { index.push_back(j); others_log.push_back(&logs[j]); others.push_back(windows[j].data()); }
        std::vector<int> picked;
        template_from(logs[i], others_log, others, g, out[i].data(), &picked);
        if (chosen)
            for (int p : picked) (*chosen)[i].push_back(int(index[std::size_t(p)]));
    }
    return out;
}

}  // namespace loopsep
