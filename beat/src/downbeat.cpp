// loopsep beat — downbeats: which beat of each bar is "one".
//
// Per beat we measure cues and z-score each over the song:
//   low    — 30–150 Hz onset strength at the beat (kick and bass land on one),
//   harm   — chroma change from the bar before the beat to the bar after it (chords
//            change at bar starts),
//   snare  — 1.5–6 kHz onset strength (backbeat on two and four): evidence against one,
//            and for one on the beat before a snare,
//   lowmid — 180–350 Hz onsets one beat earlier (bachata: the bongo's low drum on four).
// The evidence that beat i is "one" is a weighted sum; the weights per genre say which
// cues that genre has (no backbeat snare in bachata, a low bongo on four).
// A Viterbi pass over the position in the bar (0..3) then picks the phase: advancing one
// position per beat is free, any other move costs kPhaseJump, so the phase is global
// unless the evidence says a bar was cut (a missed or extra beat) for several bars.
#include <algorithm>
#include <cmath>
#include <limits>

#include "beat_internal.h"

namespace loopsep::beat_detail {
namespace {

struct CueWeights {
    double low, harm, snare, snare_next, lowmid_prev;
};

CueWeights weights_for(Genre g) {
    switch (g) {
        case Genre::Bachata: return {1.0, 1.0, 0.0, 0.0, 0.7};
        case Genre::HipHop: return {1.0, 1.0, 0.5, 0.5, 0.0};
        default: return {1.0, 1.0, 0.5, 0.5, 0.2};
    }
}
constexpr double kPhaseJump = 8.0;

}  // namespace

void zscore(std::vector<double>& x) {
    if (x.empty()) return;
    double mean = 0, var = 0;
    for (double v : x) mean += v;
    mean /= double(x.size());
    for (double v : x) var += (v - mean) * (v - mean);
    const double sd = std::sqrt(var / double(x.size()));
    for (auto& v : x) v = sd > 1e-9 ? (v - mean) / sd : 0.0;
}

double peak_near(const std::vector<float>& x, double frame, int radius) {
    const long c = long(std::lround(frame));
    double m = 0;
    for (long t = c - radius; t <= c + radius; ++t)
        if (t >= 0 && t < long(x.size())) m = std::max(m, double(x[t]));
    return m;
}

std::vector<std::size_t> find_downbeats(const Features& f, const std::vector<double>& beats, int per_bar, Genre genre) {
    const std::size_t n = beats.size();
    if (n == 0) return {};
    std::vector<double> low(n), snare(n), lowmid(n), harm(n, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        low[i] = peak_near(f.low, beats[i], 4);
        snare[i] = peak_near(f.snare, beats[i], 4);
        lowmid[i] = peak_near(f.lowmid, beats[i], 4);
    }
    // Beat-synchronous chroma: mean over each beat span, then change over two beats each side.
    auto chroma_frame = [&](double beat_frame) {
        const double sec = f.frame_time(beat_frame);
        return std::clamp(long(std::lround(sec * f.chroma_fps + double(kChromaWin) / kChromaHop / 2 - 1)), 0L,
                          long(f.chroma.size()) - 1);
    };
    std::vector<std::array<double, 12>> beat_chroma(n);
    for (std::size_t i = 0; i < n; ++i) {
        const long a = chroma_frame(beats[i]);
        const long b = i + 1 < n ? chroma_frame(beats[i + 1]) : a + 1;
        std::array<double, 12> acc{};
        for (long k = a; k < std::max(b, a + 1); ++k)
            for (int c = 0; c < 12; ++c) acc[c] += f.chroma[k][c];
        beat_chroma[i] = acc;
    }
    // Chord changes land on bar starts: compare the mean chroma of the bar before each beat with
    // the bar after it. Whole-bar windows average out patterns inside the bar (arpeggios,
    // bass moving between root and fifth) that would otherwise look like changes.
    const std::size_t w = std::size_t(per_bar);
    for (std::size_t i = 1; i < n; ++i) {
        std::array<double, 12> before{}, after{};
        for (std::size_t j = (i >= w ? i - w : 0); j < i; ++j)
            for (int c = 0; c < 12; ++c) before[c] += beat_chroma[j][c];
        for (std::size_t j = i; j < std::min(n, i + w); ++j)
            for (int c = 0; c < 12; ++c) after[c] += beat_chroma[j][c];
        double dot = 0, na = 0, nb = 0;
        for (int c = 0; c < 12; ++c) {
            dot += before[c] * after[c];
            na += before[c] * before[c];
            nb += after[c] * after[c];
        }
        harm[i] = (na > 1e-12 && nb > 1e-12) ? 1.0 - dot / std::sqrt(na * nb) : 0.0;
    }
    zscore(low);
    zscore(snare);
    zscore(harm);
    zscore(lowmid);
    const CueWeights w8 = weights_for(genre);
    std::vector<double> evidence(n);
    for (std::size_t i = 0; i < n; ++i) {
        evidence[i] = w8.low * low[i] + w8.harm * harm[i] - w8.snare * snare[i];
        if (i + 1 < n) evidence[i] += w8.snare_next * snare[i + 1];
        if (i > 0) evidence[i] += w8.lowmid_prev * lowmid[i - 1];
    }
    // Viterbi over the position in the bar.
    const int S = per_bar;
    std::vector<std::vector<double>> score(n, std::vector<double>(S));
    std::vector<std::vector<int>> from(n, std::vector<int>(S, 0));
    for (int s = 0; s < S; ++s) score[0][s] = s == 0 ? evidence[0] : 0.0;
    for (std::size_t i = 1; i < n; ++i) {
        for (int s = 0; s < S; ++s) {
            double best = -std::numeric_limits<double>::infinity();
            for (int p = 0; p < S; ++p) {
                const double v = score[i - 1][p] - ((p + 1) % S == s ? 0.0 : kPhaseJump);
                if (v > best) {
                    best = v;
                    from[i][s] = p;
                }
            }
            score[i][s] = best + (s == 0 ? evidence[i] : 0.0);
        }
    }
    int s = int(std::max_element(score[n - 1].begin(), score[n - 1].end()) - score[n - 1].begin());
    std::vector<int> pos(n);
    for (std::size_t i = n; i-- > 0;) {
        pos[i] = s;
        if (i > 0) s = from[i][s];
    }
    std::vector<std::size_t> down;
    for (std::size_t i = 0; i < n; ++i)
        if (pos[i] == 0) down.push_back(i);
    return down;
}

}  // namespace loopsep::beat_detail
