// loopsep beat — beat phase and downbeats together, from what marks the bar.
//
// The DP grid (dp.cpp) follows the strongest onsets; in hip-hop those are often not the beats:
// hats and claps on the off-beats, a sampled break whose loudest hits sit a sixteenth early, a
// house loop played half-time. The grid's tempo is right in those cases but its phase is off by a
// quarter or half beat. So the grid is subdivided into sixteenths (tatums) and each tatum gets a
// position in the bar, 0..15, by a Viterbi pass: advancing one sixteenth per tatum is free, a
// jump costs (a whole-beat jump — a bar cut short — less than a sub-beat one, which means the
// grid slipped). The evidence that tatum j sits at position p is a genre template over
// band-split onsets sampled at the tatum:
//   low   — 30–150 Hz (kick, bass notes): on 1, then 3, never on a sixteenth in between;
//   snare — 1.5–6 kHz (snare crack, claps): the backbeat, 2 and 4 (hip-hop);
//   hat   — 6–16 kHz (hats, shakers): on the eighths at most, no evidence for the beat;
//   lowmid— 180–350 Hz (bachata: the bongo's low drum on 4);
//   harm  — chroma change from the half beat before to the half beat after (chords change on 1);
//   onset — the full-band flux (what the DP saw): a little weight on the beats.
// With DownbeatModel::Learned the evidence is instead the learned classifier's log P(position)
// per tatum (downbeat_model.cpp), with Both the sum of the two.
// Beats are the tatums at positions 0, 4, 8, 12 and downbeats those at 0; a grid whose
// phase the evidence confirms comes out unchanged. Bar-level repetition is a property of
// every rotation alike and is left to the tempo stage.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "beat_internal.h"

namespace loopsep::beat_detail {
namespace {

constexpr int kTatums = kTatumsPerBeat;
constexpr int kPositions = kBarPositions;
constexpr int kBands = 6;  // the template's bands: the first six MeterBands
constexpr int kLow = kBandLow, kSnare = kBandSnare, kHat = kBandHat, kLowMid = kBandLowMid, kHarm = kBandHarm,
              kOnset = kBandOnset;

// Penalties in units of the per-tatum evidence (sums of z-scores): a beat-level jump (a bar cut
// short or a phase change after a breakdown) and a sub-beat jump (the DP grid slipped).
constexpr double kBarJump = 8.0;
constexpr double kSubJump = 12.0;
// The DP grid's own phase wins near-ties: a little evidence for its beats being beats.
constexpr double kKeepGrid = 0.1;
// The learned stage's log P(position) counts an eighth: at full weight its confident per-tatum
// posteriors outvote the jump costs and the grid jumps (beat F falls). Chosen on 15 held-out
// training songs per genre (×4 bench edits; never realval or val): learned-only ALL beat F /
// downbeat F 0.919 / 0.925 at 1, 0.940 / 0.947 at ½, 0.954 / 0.954 at ¼, 0.964 / 0.960 at ⅛,
// 0.963 / 0.958 at 1/16 (bench/beats_real/results.md).
constexpr double kLearnedWeight = 0.125;

using Template = std::array<std::array<double, kPositions>, kBands>;

// Weights by position class: 1 (p = 0), 3 (p = 8), backbeat (p = 4, 12), eighth off-beats
// (p = 2, 6, 10, 14), sixteenths (odd p).
struct Classes {
    double one, three, backbeat, eighth, sixteenth;
};

std::array<double, kPositions> by_class(const Classes& c) {
    std::array<double, kPositions> w{};
    for (int p = 0; p < kPositions; ++p)
        w[p] = p == 0 ? c.one : p == 8 ? c.three : p % 8 == 4 ? c.backbeat : p % 2 == 0 ? c.eighth : c.sixteenth;
    return w;
}

Template template_for(Genre g) {
    Template t{};
    const Classes onset{0.2, 0.2, 0.2, 0.0, -0.2};
    const Classes hat{0.05, 0.05, 0.05, 0.0, -0.1};
    switch (g) {
        case Genre::HipHop:
            t[kLow] = by_class({1.0, 0.6, -0.2, 0.1, -0.4});
            // Not against one: a crash or a sampled break's first hit often sits there.
            t[kSnare] = by_class({0.0, -0.5, 1.0, -0.1, -0.3});
            t[kLowMid] = by_class({0, 0, 0, 0, 0});
            t[kHarm] = by_class({1.6, 0.4, -0.2, -0.2, -0.6});
            break;
        case Genre::Bachata:
            t[kLow] = by_class({1.0, 0.3, 0.2, 0.0, -0.4});
            t[kSnare] = by_class({0, 0, 0, 0, 0});
            t[kLowMid] = by_class({0, 0, 0, 0, -0.1});
            t[kLowMid][12] = 0.7;  // the bongo's low drum (the "tumbao" open tone) on four
            t[kHarm] = by_class({2.0, 0.4, -0.2, -0.2, -0.6});
            break;
        default:
            t[kLow] = by_class({1.0, 0.5, 0.0, 0.05, -0.4});
            t[kSnare] = by_class({-0.25, -0.25, 0.5, -0.1, -0.2});
            t[kLowMid] = by_class({0, 0, 0, 0, 0});
            t[kLowMid][12] = 0.2;
            t[kHarm] = by_class({2.0, 0.4, -0.2, -0.2, -0.6});
            break;
    }
    t[kHat] = by_class(hat);
    t[kOnset] = by_class(onset);
    return t;
}



// Cosine distance between the mean chroma of [t - span, t) and [t, t + span) (seconds), from
// prefix sums over the chroma frames.
struct ChromaNovelty {
    const Features& f;
    std::vector<std::array<double, 12>> prefix;
    explicit ChromaNovelty(const Features& feat) : f(feat), prefix(feat.chroma.size() + 1) {
        for (std::size_t k = 0; k < f.chroma.size(); ++k)
            for (int c = 0; c < 12; ++c) prefix[k + 1][c] = prefix[k][c] + f.chroma[k][c];
    }
    long frame_of(double sec) const {
        // Chroma frame k is the window ending at (k+1)*hop; centre half a window earlier.
        const double k = sec * f.chroma_fps + double(kChromaWin) / kChromaHop / 2 - 1;
        return std::clamp(long(std::lround(k)), 0L, long(f.chroma.size()));
    }
    double at(double sec, double span_sec) const {
        const long a = frame_of(sec - span_sec), m = frame_of(sec), b = frame_of(sec + span_sec);
        if (m - a < 1 || b - m < 1) return 0.0;
        double dot = 0, na = 0, nb = 0;
        for (int c = 0; c < 12; ++c) {
            const double x = prefix[m][c] - prefix[a][c], y = prefix[b][c] - prefix[m][c];
            dot += x * y;
            na += x * x;
            nb += y * y;
        }
        return (na > 1e-12 && nb > 1e-12) ? 1.0 - dot / std::sqrt(na * nb) : 0.0;
    }
};

}  // namespace

TatumEvidence tatum_evidence(const Features& f, const std::vector<double>& beats) {
    TatumEvidence e;
    const std::size_t n = beats.size();
    // Tatums: four per beat interval, half a beat beyond each end of the grid (a grid a quarter
    // or half beat late has its true first beat before the DP's first one).
    auto period = [&](std::size_t i) { return i + 1 < n ? beats[i + 1] - beats[i] : beats[i] - beats[i - 1]; };
    auto& tatum = e.tatum_frames;
    for (int k = kTatums / 2; k >= 1; --k) {
        const double t = beats[0] - k * period(0) / kTatums;
        if (t >= 0) {
            tatum.push_back(t);
            e.on_dp.push_back(false);
        }
    }
    for (std::size_t i = 0; i < n; ++i)
        for (int s = 0; s < kTatums; ++s) {
            if (i + 1 == n && s > kTatums / 2) break;
            const double t = beats[i] + s * period(i) / kTatums;
            if (t >= double(f.frames())) break;
            tatum.push_back(t);
            e.on_dp.push_back(s == 0);
        }
    const std::size_t m = tatum.size();
    const double mean_period = (beats.back() - beats.front()) / double(n - 1);
    const int radius = std::clamp(int(std::lround(0.2 * mean_period / kTatums)), 2, 5);

    auto& x = e.x;
    for (auto& v : x) v.assign(m, 0.0);
    const ChromaNovelty novelty(f);
    // Chords change on the bar: a half-beat window each side makes the change sharp enough to
    // place it to the sixteenth (a bar-long window only tells which beat). The two-beat window
    // (kBandBarHarm) is for the learned stage only: which beat of the bar, not which sixteenth.
    const double span_sec = 0.5 * mean_period / f.fps;
    for (std::size_t j = 0; j < m; ++j) {
        x[kLow][j] = peak_near(f.low, tatum[j], radius);
        x[kSnare][j] = peak_near(f.snare, tatum[j], radius);
        x[kHat][j] = peak_near(f.hat, tatum[j], radius);
        x[kLowMid][j] = peak_near(f.lowmid, tatum[j], radius);
        x[kOnset][j] = peak_near(f.onset, tatum[j], radius);
        x[kHarm][j] = novelty.at(f.frame_time(tatum[j]), span_sec);
        x[kBandBarHarm][j] = novelty.at(f.frame_time(tatum[j]), 4 * span_sec);
    }
    for (auto& v : x) zscore(v);
    return e;
}

Meter find_meter(const Features& f, const std::vector<double>& beats, int per_bar, Genre genre, DownbeatModel model) {
    Meter out;
    const std::size_t n = beats.size();
    if (per_bar != 4 || n < 4) {
        // The templates are for 4/4: other metres keep the grid and take the beat-level model.
        out.beat_frames = beats;
        out.downbeat.assign(n, false);
        for (std::size_t i : find_downbeats(f, beats, per_bar, genre)) out.downbeat[i] = true;
        return out;
    }
    const TatumEvidence ev = tatum_evidence(f, beats);
    const auto& tatum = ev.tatum_frames;
    const auto& on_dp = ev.on_dp;
    const auto& x = ev.x;
    const std::size_t m = tatum.size();
    const Template w = template_for(genre);
    // The learned stage's evidence: log P(position) per tatum, times kLearnedWeight.
    const bool use_template = model != DownbeatModel::Learned;
    std::vector<std::array<double, kPositions>> learned;
    if (model != DownbeatModel::Pattern) {
        const TatumClassifier& c = trained_classifier(genre);
        std::vector<float> in(kClassifierInputs);
        learned.resize(m);
        for (std::size_t j = 0; j < m; ++j) {
            classifier_inputs(ev, j, in.data());
            learned[j] = log_posterior(c, in.data());
        }
    }

    // Viterbi over the position in the bar.
    std::vector<std::array<double, kPositions>> score(m);
    std::vector<std::array<int, kPositions>> from(m);
    auto evidence = [&](std::size_t j, int p) {
        double e = 0;
        if (use_template)
            for (int b = 0; b < kBands; ++b) e += w[b][p] * x[b][j];
        if (!learned.empty()) e += kLearnedWeight * learned[j][p];
        if (on_dp[j] && p % kTatums == 0) e += kKeepGrid;
        return e;
    };
    for (int p = 0; p < kPositions; ++p) score[0][p] = evidence(0, p);
    for (std::size_t j = 1; j < m; ++j)
        for (int q = 0; q < kPositions; ++q) {
            double best = -std::numeric_limits<double>::infinity();
            for (int p = 0; p < kPositions; ++p) {
                const int step = ((q - p - 1) % kPositions + kPositions) % kPositions;
                const double cost = step == 0 ? 0.0 : step % kTatums == 0 ? kBarJump : kSubJump;
                if (score[j - 1][p] - cost > best) {
                    best = score[j - 1][p] - cost;
                    from[j][q] = p;
                }
            }
            score[j][q] = best + evidence(j, q);
        }
    int p = int(std::max_element(score[m - 1].begin(), score[m - 1].end()) - score[m - 1].begin());
    std::vector<int> pos(m);
    for (std::size_t j = m; j-- > 0;) {
        pos[j] = p;
        if (j > 0) p = from[j][p];
    }
    for (std::size_t j = 0; j < m; ++j) {
        if (pos[j] % kTatums != 0) continue;
        // A tatum between DP beats becomes a beat: move it onto the onset peak it stands for.
        double b = tatum[j];
        if (!on_dp[j]) b = refine_to_peak(f.onset, long(std::lround(b)));
        if (!out.beat_frames.empty() && b <= out.beat_frames.back()) continue;
        out.beat_frames.push_back(b);
        out.downbeat.push_back(pos[j] == 0);
    }
    return out;
}

}  // namespace loopsep::beat_detail
