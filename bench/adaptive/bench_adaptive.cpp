// bench_adaptive — the ceilings of song-adaptive, repetition-aware separation, measured before
// anything is built (issue "the song is its own query").
//
// loopsep separates a song bar by bar with a query from ANOTHER recording; the material is
// loop-based, so after tempo normalisation every bar lines up with every other. Per target
// instrument, on synth song folders (meta.json downbeats, stems/), this reports SDR (MDX) and
// SI-SDR of
//   A      the model alone, queried with one loop of the instrument from another song (the
//          default path of bench_separate) — the baseline
//   B.w    oracle song template: the TRUE target's bar-synchronous power spectrogram, tempo-normalised
//          (bar_template.h); bar b's template T = element-wise median over the song's OTHER bars, R the
//          same of the rest (mixture − target); mask T / (T + R) on the mixture STFT
//   B.min  the same template as mask min(1, T / |X|²) (no model of the rest)
//   C.w    as B.w, median over the k = 4 bars most like bar b in the MIXTURE (cosine of log power,
//   C.min  REPET-SIM's neighbours on the bar grid); C.min: min(1, T / |X|²)
//   AB.g   the geometric mean of A's effective mask min(1, |Â| / |X|) and B.w's: does the oracle
//          template add to the model's mask what the model lacks?
//   D.t    the template built from A's own estimate Â instead of the truth: T / (T + R) with T, R the
//          other bars' medians of |Â|² and |X − Â|²
//   D.g    the geometric mean of A's effective mask and D.t's mask (the engine's two passes)
//   D.cg   as D.g with the estimate's template over the k nearest bars (C's neighbours)
//   E      the model queried with the TRUE target from another bar of the same song: the loudest bar
//          of the target stem in the other half of the song (first half separated with a bar of the
//          second half and the other way round, spliced at the middle downbeat)
//   F      the same, the query cut from A's estimate: the bar of the other half where Â is loudest
//          relative to the mixture (Â at most 30 dB under its loudest bar) — a realistic self-query
//   R      no oracle: the model (A's query) run on the mixture's REPEATING part instead of the mixture —
//          REPET-SIM on the bar grid: mask min(1, M / |X|²), M the median of the mixture's power over
//          C's k nearest bars — does removing what does not repeat (voices, fills) help the model?
//   irm    the ideal ratio mask (power, same STFT) — the upper anchor;  mix: the mixture — the floor
// All masks are per channel, STFT 2048 / 512 (as irm).
//
// usage: bench_adaptive --data DIR [--model FILE] [--max-songs N] [--threads N] [--neighbours K]
//                       [--variants B,C,AB,D,E,F,R]   (default all; A, irm and mix always)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bar_template.h"
#include "loopsep/engine.h"
#include "mean_stat.h"
#include "synth_songs.h"
#include "loopsep/metrics.h"
#include "loopsep/model.h"
#include "loopsep/stft.h"

namespace fs = std::filesystem;
using namespace loopsep;
using namespace loopsep::adaptive;

namespace {

constexpr int kFramesPerBar = 256;      // tempo-normalised frames per bar (a bar has ~160–300 STFT frames)
constexpr float kPowerFloor = 1e-12f;
constexpr double kSpliceFadeSec = 0.01;  // cross-fade where E and F switch from one run to the other

using Song = loopsep::bench::SynthSong;

// The mixture's STFT per channel, kept for masking.
struct MixSpectra {
    std::vector<Spectrogram> channels;
    std::vector<std::vector<float>> power;  // |X|² per channel
};

std::vector<float> power_of(const Spectrogram& s) {
    std::vector<float> p(s.data.size());
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = std::norm(s.data[i]);
    return p;
}

// Masks (one per channel, frames × bins) applied to the mixture STFT, inverted.
Audio apply_masks(Stft& stft, const Audio& mix, const MixSpectra& x, const std::vector<std::vector<float>>& masks) {
    Audio out(mix.num_channels(), mix.frames(), mix.sample_rate_hz);
    for (int c = 0; c < mix.num_channels(); ++c) out.channels[c] = stft.inverse(x.channels[c], mix.frames(), masks[c].data());
    return out;
}

// Ideal ratio mask (power) from all stems, as bench_separate.
Audio ideal_ratio_mask(Stft& stft, const Audio& mix, const MixSpectra& x, const std::map<std::string, Audio>& stems,
                       const std::string& target) {
    std::vector<std::vector<float>> masks;
    for (int c = 0; c < mix.num_channels(); ++c) {
        std::vector<float> total(x.power[c].size(), kPowerFloor), tgt(total.size(), 0.0f);
        for (const auto& [name, a] : stems) {
            const std::vector<float> p = power_of(stft.forward(a.channel(c), a.frames()));
            for (std::size_t i = 0; i < p.size(); ++i) {
                total[i] += p[i];
                if (name == target) tgt[i] = p[i];
            }
        }
        for (std::size_t i = 0; i < total.size(); ++i) tgt[i] /= total[i];
        masks.push_back(std::move(tgt));
    }
    return apply_masks(stft, mix, x, masks);
}

// Template power on the song's frames, bar b from the median over sources[b] (outside the bars: all bars).
std::vector<float> template_frames(const std::vector<float>& power, std::size_t num_frames, int num_bins, const Bars& bars,
                                   double frames_per_sec, const std::vector<std::vector<std::size_t>>& sources) {
    const BarSpectra s = bar_spectra(power, num_frames, num_bins, bars, frames_per_sec, kFramesPerBar);
    std::vector<std::vector<float>> per_bar;
    for (std::size_t b = 0; b < bars.size(); ++b) per_bar.push_back(median_template(s, sources[b]));
    const std::vector<float> outside = median_template(s, other_bars(bars.size(), bars.size()));
    return templates_to_frames(per_bar, outside, bars, kFramesPerBar, num_bins, num_frames, frames_per_sec);
}

// Masks T/(T+R) and min(1, T/|X|²) from the power of an estimate of the target and of the rest
// (per channel), templated over `sources`.
struct TemplateMasks {
    std::vector<std::vector<float>> wiener, ratio;
};
TemplateMasks template_masks(Stft& stft, const Audio& target, const Audio& rest, const MixSpectra& x, const Bars& bars,
                             double frames_per_sec, const std::vector<std::vector<std::size_t>>& sources) {
    TemplateMasks m;
    for (int c = 0; c < target.num_channels(); ++c) {
        const Spectrogram st = stft.forward(target.channel(c), target.frames());
        const std::vector<float> t =
            template_frames(power_of(st), st.num_frames, st.num_bins, bars, frames_per_sec, sources);
        const std::vector<float> r = template_frames(power_of(stft.forward(rest.channel(c), rest.frames())),
                                                     st.num_frames, st.num_bins, bars, frames_per_sec, sources);
        std::vector<float> w(t.size()), q(t.size());
        for (std::size_t i = 0; i < t.size(); ++i) {
            w[i] = t[i] / (t[i] + r[i] + kPowerFloor);
            q[i] = std::min(1.0f, t[i] / (x.power[c][i] + kPowerFloor));
        }
        m.wiener.push_back(std::move(w));
        m.ratio.push_back(std::move(q));
    }
    return m;
}

Audio difference(const Audio& a, const Audio& b) {
    Audio d = a;
    for (int c = 0; c < d.num_channels(); ++c)
        for (std::size_t i = 0; i < d.frames(); ++i) d.channels[c][i] -= b.channels[c][i];
    return d;
}

double energy(const Audio& a, double begin_sec, double end_sec) {
    const std::size_t i0 = std::size_t(std::max(0.0, begin_sec * a.sample_rate_hz));
    const std::size_t i1 = std::min(a.frames(), std::size_t(std::max(0.0, end_sec * a.sample_rate_hz)));
    double e = 0;
    for (const auto& ch : a.channels)
        for (std::size_t i = i0; i < i1; ++i) e += double(ch[i]) * ch[i];
    return e;
}

Audio excerpt(const Audio& a, double begin_sec, double end_sec) {
    const std::size_t i0 = std::size_t(std::max(0.0, begin_sec * a.sample_rate_hz));
    const std::size_t i1 = std::min(a.frames(), std::size_t(end_sec * a.sample_rate_hz));
    Audio e(a.num_channels(), i1 - i0, a.sample_rate_hz);
    for (int c = 0; c < a.num_channels(); ++c) std::copy(a.channels[c].begin() + long(i0), a.channels[c].begin() + long(i1), e.channels[c].begin());
    return e;
}

// `first` before splice_sec, `second` after, with a short linear cross-fade.
Audio splice(const Audio& first, const Audio& second, double splice_sec) {
    Audio out = first;
    const double rate = first.sample_rate_hz;
    const double f0 = (splice_sec - kSpliceFadeSec / 2) * rate, f1 = (splice_sec + kSpliceFadeSec / 2) * rate;
    for (int c = 0; c < out.num_channels(); ++c)
        for (std::size_t i = 0; i < out.frames(); ++i) {
            const double w = std::clamp((double(i) - f0) / (f1 - f0), 0.0, 1.0);
            out.channels[c][i] = float((1.0 - w) * first.channels[c][i] + w * second.channels[c][i]);
        }
    return out;
}

using loopsep::bench::Stat;

}  // namespace

int main(int argc, char** argv) {
    std::string data, model_path = default_model_path();
    int max_songs = 6, threads = 1;
    std::size_t neighbours = 4;
    std::string variants_arg = "B,C,AB,D,E,F,R";
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--data") data = argv[i + 1];
        else if (a == "--model") model_path = argv[i + 1];
        else if (a == "--max-songs") max_songs = std::stoi(argv[i + 1]);
        else if (a == "--threads") threads = std::stoi(argv[i + 1]);
        else if (a == "--neighbours") neighbours = std::size_t(std::stoi(argv[i + 1]));
        else if (a == "--variants") variants_arg = argv[i + 1];
        else { std::fprintf(stderr, "unknown option %s\n", a.c_str()); return 2; }
    }
    if (data.empty()) {
        std::fprintf(stderr, "usage: bench_adaptive --data DIR [--model FILE] [--max-songs N] [--threads N] [--neighbours K]\n");
        return 2;
    }
    set_torch_threads(threads);
    Engine engine(Separator::load(model_path), "");
    std::vector<Song> songs = loopsep::bench::load_synth_songs(data, max_songs);
    if (songs.empty()) { std::fprintf(stderr, "%s: no synth songs (meta.json) found\n", data.c_str()); return 1; }

    std::vector<std::string> wanted;
    for (std::size_t p = 0; p <= variants_arg.size();) {
        std::size_t q = variants_arg.find(',', p);
        if (q == std::string::npos) q = variants_arg.size();
        wanted.push_back(variants_arg.substr(p, q - p));
        p = q + 1;
    }
    auto want = [&](const std::string& v) { return std::find(wanted.begin(), wanted.end(), v) != wanted.end(); };
    const std::map<std::string, std::vector<std::string>> group_cols = {
        {"B", {"B.w", "B.min"}}, {"C", {"C.w", "C.min"}}, {"AB", {"AB.g"}}, {"D", {"D.t", "D.g", "D.cg"}},
        {"E", {"E"}}, {"F", {"F"}}, {"R", {"R"}}};
    std::vector<std::string> cols = {"A"};
    for (const char* g : {"B", "C", "AB", "D", "E", "F", "R"})
        if (want(g)) cols.insert(cols.end(), group_cols.at(g).begin(), group_cols.at(g).end());
    cols.push_back("irm");
    cols.push_back("mix");
    std::map<std::string, std::map<std::string, Stat>> sdr, sisdr;  // [instrument][variant]; "all" too
    for (const Song& song : songs) {
        const Audio mix = read_audio(song.dir + "/mix.wav");
        std::map<std::string, Audio> stems;
        ReadOptions ro;
        ro.allow_silent = true;
        for (auto& e : fs::directory_iterator(song.dir + "/stems")) stems[e.path().stem().string()] = read_audio(e.path().string(), ro);
        SeparationParams params;
        params.genre = parse_genre(song.meta.value("genre", "neutral"));
        params.threads = threads;

        Stft stft({2048, 512});
        const double frames_per_sec = double(mix.sample_rate_hz) / stft.params().hop;
        const Bars bars = bars_from_downbeats(song.meta.at("downbeats").get<std::vector<double>>(), mix.duration_sec());
        if (bars.size() < 4) { std::fprintf(stderr, "%s: %zu bars, skipped\n", song.name.c_str(), bars.size()); continue; }
        MixSpectra x;
        std::vector<float> mix_power_sum;
        for (int c = 0; c < mix.num_channels(); ++c) {
            x.channels.push_back(stft.forward(mix.channel(c), mix.frames()));
            x.power.push_back(power_of(x.channels.back()));
            if (mix_power_sum.empty()) mix_power_sum.assign(x.power.back().size(), 0.0f);
            for (std::size_t i = 0; i < mix_power_sum.size(); ++i) mix_power_sum[i] += x.power.back()[i];
        }
        const std::size_t num_frames = x.channels[0].num_frames;
        const int num_bins = x.channels[0].num_bins;
        // The bars each bar's template is made of: every other bar (B, D), or its nearest in the mixture (C).
        std::vector<std::vector<std::size_t>> all_others, nearest;
        const BarSpectra mix_log =
            log_bar_spectra(bar_spectra(mix_power_sum, num_frames, num_bins, bars, frames_per_sec, kFramesPerBar));
        for (std::size_t b = 0; b < bars.size(); ++b) {
            all_others.push_back(other_bars(bars.size(), b));
            nearest.push_back(nearest_bars(mix_log, b, neighbours));
        }
        const std::size_t half = bars.size() / 2;
        // R: the mixture's repeating part (REPET-SIM on the bar grid), the same for every target.
        Audio repeating;
        if (want("R")) {
            std::vector<std::vector<float>> masks;
            for (int c = 0; c < mix.num_channels(); ++c) {
                std::vector<float> m = template_frames(x.power[c], num_frames, num_bins, bars, frames_per_sec, nearest);
                for (std::size_t i = 0; i < m.size(); ++i) m[i] = std::min(1.0f, m[i] / (x.power[c][i] + kPowerFloor));
                masks.push_back(std::move(m));
            }
            repeating = apply_masks(stft, mix, x, masks);
        }
        const double splice_sec = bars.begin_sec[half];

        for (const std::string& inst : song.instruments) {
            const Audio& target = stems.at(inst);
            if (target.peak() < 1e-4f) continue;
            std::vector<float> query;
            for (const Song& other : songs) {
                if (other.name == song.name || !query.empty()) continue;
                for (auto& [li, path] : other.loops)
                    if (li == inst) { query = engine.query_from_loop(read_audio(path), 0, path); break; }
            }
            if (query.empty()) continue;
            std::map<std::string, Audio> est;
            est["mix"] = mix;
            est["irm"] = ideal_ratio_mask(stft, mix, x, stems, inst);
            const Audio a = engine.separate(mix, {{inst, query}}, params).stems[0];
            est["A"] = a;

            if (want("R")) est["R"] = engine.separate(repeating, {{inst, query}}, params).stems[0];
            const Audio rest = difference(mix, target);
            TemplateMasks b_masks;
            if (want("B") || want("AB")) b_masks = template_masks(stft, target, rest, x, bars, frames_per_sec, all_others);
            if (want("B")) {
                est["B.w"] = apply_masks(stft, mix, x, b_masks.wiener);
                est["B.min"] = apply_masks(stft, mix, x, b_masks.ratio);
            }
            if (want("C")) {
                TemplateMasks c_masks = template_masks(stft, target, rest, x, bars, frames_per_sec, nearest);
                est["C.w"] = apply_masks(stft, mix, x, c_masks.wiener);
                est["C.min"] = apply_masks(stft, mix, x, c_masks.ratio);
            }

            // A's effective mask min(1, |Â| / |X|), and its geometric mean with a template mask.
            std::vector<std::vector<float>> mask_a;
            for (int c = 0; c < mix.num_channels(); ++c) {
                std::vector<float> m = power_of(stft.forward(a.channel(c), a.frames()));
                for (std::size_t i = 0; i < m.size(); ++i) m[i] = std::min(1.0f, std::sqrt(m[i] / (x.power[c][i] + kPowerFloor)));
                mask_a.push_back(std::move(m));
            }
            auto with_a = [&](const std::vector<std::vector<float>>& t) {
                std::vector<std::vector<float>> g = mask_a;
                for (std::size_t c = 0; c < g.size(); ++c)
                    for (std::size_t i = 0; i < g[c].size(); ++i) g[c][i] = std::sqrt(g[c][i] * t[c][i]);
                return apply_masks(stft, mix, x, g);
            };
            if (want("AB")) est["AB.g"] = with_a(b_masks.wiener);
            if (want("D")) {
                TemplateMasks d_masks = template_masks(stft, a, difference(mix, a), x, bars, frames_per_sec, all_others);
                est["D.t"] = apply_masks(stft, mix, x, d_masks.wiener);
                est["D.g"] = with_a(d_masks.wiener);
                TemplateMasks dc_masks = template_masks(stft, a, difference(mix, a), x, bars, frames_per_sec, nearest);
                est["D.cg"] = with_a(dc_masks.wiener);
            }

            // E and F: the first half separated with a query bar of the second half, and the other way round.
            auto self_query = [&](const Audio& source, std::size_t bar) {
                const Audio loop = excerpt(source, bars.begin_sec[bar], bars.end_sec[bar]);
                return engine.query_from_loop(loop, 4 * 60.0 / bars.length_sec(bar), song.name + " bar " + std::to_string(bar));
            };
            auto loudest_true = [&](std::size_t b0, std::size_t b1) {
                std::size_t best = b0;
                for (std::size_t b = b0; b < b1; ++b)
                    if (energy(target, bars.begin_sec[b], bars.end_sec[b]) > energy(target, bars.begin_sec[best], bars.end_sec[best])) best = b;
                return best;
            };
            auto confident_estimate = [&](std::size_t b0, std::size_t b1) {
                double top = 0;
                for (std::size_t b = b0; b < b1; ++b) top = std::max(top, energy(a, bars.begin_sec[b], bars.end_sec[b]));
                std::size_t best = b0;
                double best_ratio = -1;
                for (std::size_t b = b0; b < b1; ++b) {
                    const double e = energy(a, bars.begin_sec[b], bars.end_sec[b]);
                    const double ratio = e / std::max(energy(mix, bars.begin_sec[b], bars.end_sec[b]), 1e-12);
                    if (e >= top * 1e-3 && ratio > best_ratio) { best_ratio = ratio; best = b; }
                }
                return best;
            };
            auto self_queried = [&](const Audio& source, std::size_t q_first, std::size_t q_second) {
                const Audio first = engine.separate(mix, {{inst, self_query(source, q_first)}}, params).stems[0];
                const Audio second = engine.separate(mix, {{inst, self_query(source, q_second)}}, params).stems[0];
                return splice(first, second, splice_sec);
            };
            const std::size_t e1 = loudest_true(half, bars.size()), e2 = loudest_true(0, half);
            const std::size_t f1 = confident_estimate(half, bars.size()), f2 = confident_estimate(0, half);
            if (want("E")) est["E"] = self_queried(target, e1, e2);
            if (want("F")) est["F"] = self_queried(a, f1, f2);

            std::fprintf(stderr, "%s %-7s bars %zu (E %zu/%zu, F %zu/%zu)", song.name.c_str(), inst.c_str(), bars.size(), e1, e2, f1, f2);
            for (const auto& col : cols) {
                const QualityScores q = compare(target, est.at(col));
                sdr[inst][col].add(q.sdr_db);
                sisdr[inst][col].add(q.si_sdr_db);
                sdr["~all"][col].add(q.sdr_db);
                sisdr["~all"][col].add(q.si_sdr_db);
                std::fprintf(stderr, " %s %.2f", col.c_str(), q.sdr_db);
            }
            std::fprintf(stderr, "\n");
        }
    }
    std::printf("SDR dB (SI-SDR dB), mean over %zu songs from %s, model %s, k = %zu neighbours\n", songs.size(), data.c_str(),
                model_path.c_str(), neighbours);
    std::printf("%-8s", "target");
    for (auto& c : cols) std::printf(" %15s", c.c_str());
    std::printf("\n");
    for (auto& [inst, row] : sdr) {
        std::printf("%-8s", inst == "~all" ? "all" : inst.c_str());
        for (auto& c : cols) std::printf("   %5.2f (%5.2f)", row[c].mean(), sisdr[inst][c].mean());
        std::printf("\n");
    }
    return 0;
}
