// The trainer's validation scorer (validation.h) and its reports (loopsep/train.h).
#include "validation.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <map>
#include <ostream>
#include <random>
#include <string>

#include "loopsep/error.h"

namespace loopsep {
namespace train_data {

namespace {

double sdr(const torch::Tensor& ref, const torch::Tensor& est) {  // [L] each
    const double num = ref.pow(2).sum().item<double>(), den = (ref - est).pow(2).sum().item<double>();
    return 10.0 * std::log10((num + 1e-9) / (den + 1e-9));
}

}  // namespace

void add_val_self_queries(const SegmentCache& c, std::vector<ValExample>& set, std::uint64_t seed) {
    std::vector<std::vector<int64_t>> stems;
    std::vector<int> instruments;
    for (const auto& e : set) { stems.push_back(e.stems); instruments.push_back(e.instrument); }
    const auto picked = val_self_queries(c, stems, instruments, seed);
    for (std::size_t i = 0; i < set.size(); ++i) set[i].self_query = picked[i];
}

std::vector<ValExample> make_val_set(const SegmentCache& c, int per_instrument, std::uint64_t seed) {
    Index ix(c);
    std::mt19937_64 rng(seed);
    std::vector<ValExample> out;
    for (int inst : ix.usable) {
        auto pool = ix.active[inst];
        std::shuffle(pool.begin(), pool.end(), rng);
        int n = 0;
        for (int64_t t : pool) {
            if (n >= per_instrument) break;
            const auto& s = c.segments[t];
            ValExample e{inst, ix.bars.at({s.song, s.bar}), t, pick_query(c, ix, inst, s.song, s.source, rng), -1};
            if (e.stems.size() < 2) continue;  // a lone stem is no separation task
            // Wrong query: the loop of another instrument that plays in this same bar (the net
            // should then extract that one — the hard case); any other instrument if none does.
            std::vector<int> others, present;
            for (int o : ix.usable) if (o != inst) others.push_back(o);
            for (int64_t o : e.stems)
                if (c.segments[o].active && int(c.segments[o].instrument) != inst &&
                    std::find(others.begin(), others.end(), int(c.segments[o].instrument)) != others.end())
                    present.push_back(int(c.segments[o].instrument));
            const auto& pool_w = present.empty() ? others : present;
            if (!pool_w.empty()) {
                const int w = pool_w[rng() % pool_w.size()];
                e.wrong_query = pick_query(c, ix, w, s.song, ~0u, rng);
            }
            out.push_back(std::move(e));
            ++n;
        }
        // Bars where the instrument is silent (leakage): up to a quarter as many.
        int silent = 0;
        std::vector<std::pair<std::uint32_t, std::uint32_t>> keys = ix.bar_keys;
        std::shuffle(keys.begin(), keys.end(), rng);
        for (const auto& key : keys) {
            if (silent >= std::max(1, per_instrument / 4)) break;
            const auto& stems = ix.bars.at(key);
            bool has = false, any_active = false;
            for (int64_t o : stems) {
                if (c.segments[o].instrument == inst && c.segments[o].active) has = true;
                if (c.segments[o].active) any_active = true;
            }
            if (has || !any_active) continue;
            std::vector<int64_t> st;
            for (int64_t o : stems) if (c.segments[o].instrument != inst) st.push_back(o);
            out.push_back({inst, st, -1, pick_query(c, ix, inst, key.first, ~0u, rng), -1});
            ++silent;
        }
    }
    return out;
}

EvalReport evaluate(net::LoopSepNet& model, const SegmentCache& c, const DeviceCache& dc,
                    const std::vector<ValExample>& set) {
    torch::NoGradGuard ng;
    model->eval();
    const auto& cfg = model->config;
    // Score the four-beat centre of each window (windows are centred on their bar).
    const int64_t L = c.window_samples, len = std::min<int64_t>(int64_t(cfg.segment_samples()), L);
    const int64_t start = (L - len) / 2;
    std::map<int, std::vector<double>> m, irm, band_irm, mixs, wrong, wrong_stem, wrong_band_irm, leak;
    std::map<int, std::vector<double>> self, foreign_same;   // same-song queries, and the foreign one on those windows
    std::map<std::string, std::vector<std::pair<double, double>>> by_source;  // (model, IRM) SDR
    const auto fa = net::analysis_filterbank(cfg).to(dc.codes.device());    // [B, F], rows sum to 1
    const auto fs_t = net::synthesis_filterbank(cfg).to(dc.codes.device()).t().contiguous();  // [F, B]
    const Index ix(c);
    for (const auto& e : set) {
        std::vector<int64_t> idx(e.stems.begin(), e.stems.end());
        std::vector<float> gains(idx.size(), 1.0f);
        auto mix = dc.mix(idx, gains, 1, int64_t(idx.size()));
        auto X = net::stft_complex(mix, cfg);          // [1, F, T]
        auto mag = X.abs().transpose(1, 2);             // [1, T, F]
        auto q = dc.mix({e.query}, {1.0f}, 1, 1);
        // The bar's repetition template from the rest of its song (a net with a repetition input).
        const auto rep = cfg.repetition_neighbours > 0 ? song_repetition_input(model, c, ix, dc, e.stems, mag) : torch::Tensor();
        auto mask = model->mask(mag, model->embed(net::stft_magnitude(q, cfg)), rep).transpose(1, 2);
        auto est = net::istft(X * mask, cfg, L).narrow(1, start, len)[0];
        auto centre_mix = mix.narrow(1, start, len)[0];
        if (e.target < 0) {
            const double em = centre_mix.pow(2).sum().item<double>(), ee = est.pow(2).sum().item<double>();
            leak[e.instrument].push_back(10.0 * std::log10((ee + 1e-12) / (em + 1e-12)));
            continue;
        }
        auto tgt = dc.mix({e.target}, {1.0f}, 1, 1);
        auto S = net::stft_complex(tgt, cfg);
        auto N = X - S;
        const auto ps = S.abs().pow(2), pn = N.abs().pow(2);
        auto ideal = ps / (ps + pn + 1e-12);
        auto est_irm = net::istft(X * ideal, cfg, L).narrow(1, start, len)[0];
        const auto ps_band = torch::matmul(fa, ps), pn_band = torch::matmul(fa, pn);
        const auto band_ideal = torch::matmul(fs_t, ps_band / (ps_band + pn_band + 1e-12));  // [1, F, T]
        auto ref = tgt.narrow(1, start, len)[0];
        band_irm[e.instrument].push_back(sdr(ref, net::istft(X * band_ideal, cfg, L).narrow(1, start, len)[0]));
        m[e.instrument].push_back(sdr(ref, est));
        irm[e.instrument].push_back(sdr(ref, est_irm));
        by_source[c.instruments[e.instrument] + " / " + c.sources[c.segments[e.target].source]].push_back(
            {m[e.instrument].back(), irm[e.instrument].back()});
        mixs[e.instrument].push_back(sdr(ref, centre_mix));
        if (e.self_query >= 0) {
            auto sq = dc.mix({e.self_query}, {1.0f}, 1, 1);
            auto sm = model->mask(mag, model->embed(net::stft_magnitude(sq, cfg)), rep).transpose(1, 2);
            self[e.instrument].push_back(sdr(ref, net::istft(X * sm, cfg, L).narrow(1, start, len)[0]));
            foreign_same[e.instrument].push_back(m[e.instrument].back());
        }
        if (e.wrong_query >= 0) {
            auto wq = dc.mix({e.wrong_query}, {1.0f}, 1, 1);
            auto wm = model->mask(mag, model->embed(net::stft_magnitude(wq, cfg)), rep).transpose(1, 2);
            wrong[e.instrument].push_back(sdr(ref, net::istft(X * wm, cfg, L).narrow(1, start, len)[0]));
            for (int64_t o : e.stems)
                if (c.segments[o].instrument == c.segments[e.wrong_query].instrument && c.segments[o].active) {
                    auto w = dc.mix({o}, {1.0f}, 1, 1);
                    wrong_stem[e.instrument].push_back(sdr(ref, w.narrow(1, start, len)[0]));
                    // The best band mask for the wrong instrument: what the net's 96-band output could do.
                    const auto W = net::stft_complex(w, cfg);
                    const auto pw = W.abs().pow(2), prest = (X - W).abs().pow(2);
                    const auto pw_band = torch::matmul(fa, pw), prest_band = torch::matmul(fa, prest);
                    const auto wb = torch::matmul(fs_t, pw_band / (pw_band + prest_band + 1e-12));
                    wrong_band_irm[e.instrument].push_back(sdr(ref, net::istft(X * wb, cfg, L).narrow(1, start, len)[0]));
                    break;
                }
        }
    }
    auto mean = [](const std::vector<double>& v) {
        double s = 0;
        for (double x : v) s += x;
        return v.empty() ? 0.0 : s / double(v.size());
    };
    EvalReport r;
    int n = 0, nl = 0;
    for (const auto& kv : m) {
        InstrumentScores s;
        s.examples = int(kv.second.size());
        s.sdr_model_db = mean(kv.second);
        s.sdr_irm_db = mean(irm[kv.first]);
        s.sdr_band_irm_db = mean(band_irm[kv.first]);
        s.sdr_mixture_db = mean(mixs[kv.first]);
        s.sdr_wrong_query_db = mean(wrong[kv.first]);
        s.sdr_wrong_stem_db = mean(wrong_stem[kv.first]);
        s.sdr_wrong_band_irm_db = mean(wrong_band_irm[kv.first]);
        s.silent_examples = int(leak[kv.first].size());
        s.leakage_db = mean(leak[kv.first]);
        r.per_instrument[c.instruments[kv.first]] = s;
        r.mean_sdr_model_db += s.sdr_model_db;
        r.mean_sdr_irm_db += s.sdr_irm_db;
        r.mean_sdr_band_irm_db += s.sdr_band_irm_db;
        r.mean_sdr_mixture_db += s.sdr_mixture_db;
        r.mean_sdr_wrong_query_db += s.sdr_wrong_query_db;
        r.mean_sdr_wrong_stem_db += s.sdr_wrong_stem_db;
        r.mean_sdr_wrong_band_irm_db += s.sdr_wrong_band_irm_db;
        ++n;
        if (s.silent_examples) { r.mean_leakage_db += s.leakage_db; ++nl; }
    }
    if (n) {
        r.mean_sdr_model_db /= n; r.mean_sdr_irm_db /= n; r.mean_sdr_band_irm_db /= n;
        r.mean_sdr_mixture_db /= n; r.mean_sdr_wrong_query_db /= n; r.mean_sdr_wrong_stem_db /= n;
        r.mean_sdr_wrong_band_irm_db /= n;
    }
    if (nl) r.mean_leakage_db /= nl;
    for (const auto& [inst, v] : self) {
        r.self_query_examples += int(v.size());
        r.mean_sdr_self_query_db += mean(v) / double(self.size());
        r.mean_sdr_foreign_same_windows_db += mean(foreign_same[inst]) / double(self.size());
    }
    for (const auto& [key, scores] : by_source) {
        SourceScores& s = r.per_source[key];
        s.examples = int(scores.size());
        for (const auto& [model_db, irm_db] : scores) {
            s.sdr_model_db += model_db / double(scores.size());
            s.sdr_irm_db += irm_db / double(scores.size());
        }
    }
    model->train();
    return r;
}

}  // namespace train_data

using namespace train_data;

void print_report(const EvalReport& r, std::ostream& o) {
    o << std::fixed << std::setprecision(2);
    o << "  instrument      n  model   IRM  band-IRM  mixture  wrong-query  wrong-stem  wrong-band-IRM  leakage(n)\n";
    for (const auto& [name, s] : r.per_instrument)
        o << "  " << std::left << std::setw(12) << name << std::right << std::setw(4) << s.examples << std::setw(7)
          << s.sdr_model_db << std::setw(7) << s.sdr_irm_db << std::setw(10) << s.sdr_band_irm_db
          << std::setw(9) << s.sdr_mixture_db << std::setw(11)
          << s.sdr_wrong_query_db << std::setw(12) << s.sdr_wrong_stem_db << std::setw(16) << s.sdr_wrong_band_irm_db << std::setw(9) << s.leakage_db << " (" << s.silent_examples << ")\n";
    o << "  mean SDR dB: model " << r.mean_sdr_model_db << ", IRM " << r.mean_sdr_irm_db << ", band IRM "
      << r.mean_sdr_band_irm_db << ", mixture "
      << r.mean_sdr_mixture_db << ", wrong query " << r.mean_sdr_wrong_query_db << " (its instrument's own stem "
      << r.mean_sdr_wrong_stem_db << ", its band IRM " << r.mean_sdr_wrong_band_irm_db << "); mean leakage "
      << r.mean_leakage_db << " dB\n";
    if (r.self_query_examples > 0)
        o << "  same-song queries (another bar's true target): mean SDR " << r.mean_sdr_self_query_db << " dB over "
          << r.self_query_examples << " windows (the foreign query on the same windows: "
          << r.mean_sdr_foreign_same_windows_db << " dB)\n";
}

void print_sources(const EvalReport& r, std::ostream& o) {
    o << std::fixed << std::setprecision(2) << "  target sound source                          n  model    IRM\n";
    for (const auto& [key, s] : r.per_source)
        o << "  " << std::left << std::setw(42) << key << std::right << std::setw(4) << s.examples << std::setw(7)
          << s.sdr_model_db << std::setw(7) << s.sdr_irm_db << "\n";
}

EvalReport evaluate_model(const std::string& model_path, const SegmentCache& val, int per_instrument,
                          std::uint64_t seed, int threads) {
    at::set_num_threads(threads);
    ModelConfig cfg;
    auto model = net::load_net(model_path, &cfg);
    if (val.window_samples != cfg.num_window_samples())
        throw input_error(model_path + ": model window does not match the validation cache");
    DeviceCache dc(val, torch::kCPU);
    return evaluate(model, val, dc, make_val_set(val, per_instrument, seed));
}

}  // namespace loopsep
