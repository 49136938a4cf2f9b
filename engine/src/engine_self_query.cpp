// `separate --passes 2`: the self-query from pass 1's most confident bars (engine_self_query.h).
#include "engine_self_query.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <set>

#include "loopsep/parallel.h"

namespace loopsep::detail {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Each target's bin masks for one window (band → bin, then the model's refinement when it has one).
std::vector<std::vector<float>> bin_masks(const Separator& model, const std::vector<float>& mag,
                                          const std::vector<std::vector<std::vector<float>>>& band_masks, std::size_t i,
                                          const std::vector<std::vector<float>>& embeddings) {
    std::vector<std::vector<float>> out;
    for (const auto& per_target : band_masks) out.push_back(model.band_to_bin().expand_rows(per_target[i]));
    if (model.refines_bins()) model.refine_bin_masks(mag, out, embeddings);
    return out;
}

// Pass 1's band masks of some windows (their magnitudes, their templates if any), all targets in one call.
std::vector<std::vector<std::vector<float>>> pass1_masks(const Separator& model, const std::vector<std::vector<float>>& mags,
                                                         const std::vector<std::size_t>& windows,
                                                         const std::vector<std::vector<float>>& embeddings,
                                                         const std::vector<std::vector<float>>& templates) {
    std::vector<std::vector<float>> tmpl;
    if (!templates.empty())
        for (std::size_t w : windows) tmpl.push_back(templates[w]);
    return model.predict_band_masks_for_queries(mags, embeddings, templates.empty() ? nullptr : &tmpl);
}
}  // namespace

double estimated_share(const std::vector<float>& mask, const std::vector<float>& mag, std::size_t bins, int begin,
                       int frames) {
    double est = 0, mix = 0;
    const std::size_t first = std::size_t(begin) * bins;
    const std::size_t last = std::min(mag.size(), std::size_t(begin + frames) * bins);
    for (std::size_t k = first; k < last; ++k) {
        const double x = mag[k], e = double(mask[k]) * x;
        est += e * e;
        mix += x * x;
    }
    return mix > 0 ? std::clamp(est / mix, 0.0, 1.0) : 0.0;
}

SelfQueryBars choose_self_query_bars(const std::vector<double>& share, const std::vector<double>& energy) {
    SelfQueryBars out;
    std::vector<double> sorted_energy(energy);
    std::sort(sorted_energy.begin(), sorted_energy.end());
    const double median = sorted_energy.empty() ? 0.0 : sorted_energy[sorted_energy.size() / 2];
    std::vector<int> order;
    for (std::size_t w = 0; w < share.size() && w < energy.size(); ++w)
        if (energy[w] > 0 && energy[w] >= kSelfQueryMinEnergy * median && share[w] >= kSelfQueryMinShare)
            order.push_back(int(w));
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return share[a] > share[b]; });
    if (!order.empty()) {
        const double floor = kSelfQueryRelShare * share[order[0]];
        order.erase(std::remove_if(order.begin(), order.end(), [&](int w) { return share[w] < floor; }), order.end());
    }
    if (order.size() < 2) return out;
    out.candidates.assign(order.begin(), order.begin() + std::min<std::size_t>(order.size(), kSelfQueryBars + 1));
    out.main.assign(order.begin(), order.begin() + std::min<std::size_t>(order.size(), kSelfQueryBars));
    for (int w : out.main) out.confidence += share[w] / double(out.main.size());
    return out;
}

SelfQueries make_self_queries(const Separator& model, std::size_t windows, const WindowMagnitudes& magnitudes,
                              const std::vector<std::vector<float>>& embeddings,
                              const std::vector<std::vector<float>>& templates, int batch, int threads,
                              double* stretch_sec, double* model_sec) {
    const auto& cfg = model.config();
    const std::size_t bins = std::size_t(cfg.num_bins()), T = embeddings.size();
    // Pass 1: every window's estimated share per target, and its mixture energy (the centre's).
    std::vector<std::vector<double>> share(T, std::vector<double>(windows, 0.0));
    std::vector<double> energy(windows, 0.0);
    for (std::size_t first = 0; first < windows; first += std::size_t(batch)) {
        const std::size_t n = std::min<std::size_t>(std::size_t(batch), windows - first);
        auto ts = Clock::now();
        std::vector<std::vector<float>> mags(n);
        std::vector<std::size_t> index(n);
        std::iota(index.begin(), index.end(), first);
        parallel_for(n, threads, [&](std::size_t i, std::size_t worker) { mags[i] = magnitudes(first + i, worker); });
        *stretch_sec += seconds_since(ts);
        auto tm = Clock::now();
        const auto masks = pass1_masks(model, mags, index, embeddings, templates);
        parallel_for(n, threads, [&](std::size_t i, std::size_t) {
            const auto bm = bin_masks(model, mags[i], masks, i, embeddings);
            double e = 0;
            for (std::size_t k = std::size_t(cfg.context_frames) * bins;
                 k < std::min(mags[i].size(), std::size_t(cfg.context_frames + cfg.segment_frames) * bins); ++k)
                e += double(mags[i][k]) * mags[i][k];
            energy[first + i] = e;
            for (std::size_t t = 0; t < T; ++t)
                share[t][first + i] = estimated_share(bm[t], mags[i], bins, cfg.context_frames, cfg.segment_frames);
        });
        *model_sec += seconds_since(tm);
    }
    SelfQueries out;
    out.info.resize(T);
    out.embeddings = embeddings;
    out.leave_one_out.resize(T);
    std::vector<SelfQueryBars> chosen;
    std::set<std::size_t> needed;
    for (std::size_t t = 0; t < T; ++t) {
        chosen.push_back(choose_self_query_bars(share[t], energy));
        out.info[t].segments = chosen[t].main;
        out.info[t].confidence = chosen[t].confidence;
        needed.insert(chosen[t].candidates.begin(), chosen[t].candidates.end());
    }
    if (needed.empty()) return out;
    // The candidate windows again (a few per target): their estimates, embedded as queries.
    const std::vector<std::size_t> cand(needed.begin(), needed.end());
    auto ts = Clock::now();
    std::vector<std::vector<float>> mags(cand.size());
    parallel_for(cand.size(), threads, [&](std::size_t i, std::size_t worker) { mags[i] = magnitudes(cand[i], worker); });
    *stretch_sec += seconds_since(ts);
    auto tm = Clock::now();
    const auto masks = pass1_masks(model, mags, cand, embeddings, templates);
    std::vector<std::vector<std::vector<float>>> query(cand.size());   // [candidate][target]: its estimate's query
    parallel_for(cand.size(), threads, [&](std::size_t i, std::size_t) {
        const auto bm = bin_masks(model, mags[i], masks, i, embeddings);
        query[i].resize(T);
        for (std::size_t t = 0; t < T; ++t) {
            if (std::find(chosen[t].candidates.begin(), chosen[t].candidates.end(), int(cand[i])) == chosen[t].candidates.end())
                continue;
            std::vector<float> est(mags[i].size());
            for (std::size_t k = 0; k < est.size(); ++k) est[k] = bm[t][k] * mags[i][k];
            query[i][t] = model.embed_query_magnitudes(est);
        }
    });
    auto of = [&](int w, std::size_t t) -> const std::vector<float>& {
        return query[std::size_t(std::lower_bound(cand.begin(), cand.end(), std::size_t(w)) - cand.begin())][t];
    };
    for (std::size_t t = 0; t < T; ++t) {
        if (chosen[t].main.empty()) continue;
        std::vector<std::vector<float>> main;
        for (int w : chosen[t].main) main.push_back(of(w, t));
        out.embeddings[t] = Separator::prototype(main);
        for (int w : chosen[t].main) {   // a window of the query's own bars: the others, never itself
            std::vector<std::vector<float>> others;
            for (int c : chosen[t].candidates)
                if (c != w) others.push_back(of(c, t));
            out.leave_one_out[t][w] = Separator::prototype(others);
        }
    }
    *model_sec += seconds_since(tm);
    return out;
}

}  // namespace loopsep::detail
