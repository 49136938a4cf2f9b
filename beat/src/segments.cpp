// loopsep beat — four-beat segments: exact frame spans from downbeat to downbeat.
//
// Bars are the spans between consecutive downbeats. Before the first downbeat and after
// the last one, bars are continued at the edge beat period (virtual downbeats) until the
// song's edge, so a long intro or outro becomes bars plus one shorter piece; a piece
// shorter than an eighth of a beat is merged into its neighbour rather than kept as a
// sliver. Beat counts come from the beat grid (a bar with a phase change may span 3 or 5).
#include <algorithm>
#include <cmath>

#include "loopsep/beat.h"
#include "loopsep/error.h"

namespace loopsep {
namespace {

// Position in beats of time t on the grid (piecewise linear, extrapolated at the edges).
struct BeatClock {
    std::vector<double> beats;
    double p_first = 0.5, p_last = 0.5;

    double pos(double t) const {
        if (beats.empty()) return t / p_first;
        if (t <= beats.front()) return (t - beats.front()) / p_first;
        if (t >= beats.back()) return double(beats.size() - 1) + (t - beats.back()) / p_last;
        const auto it = std::upper_bound(beats.begin(), beats.end(), t);
        const std::size_t i = std::size_t(it - beats.begin()) - 1;
        return double(i) + (t - beats[i]) / (beats[i + 1] - beats[i]);
    }
};

double edge_period(const std::vector<double>& b, bool at_start, double fallback) {
    if (b.size() < 2) return fallback;
    const std::size_t k = std::min<std::size_t>(4, b.size() - 1);
    return at_start ? (b[k] - b[0]) / k : (b.back() - b[b.size() - 1 - k]) / k;
}

}  // namespace

std::vector<Segment> four_beat_segments(const BeatGrid& grid, std::size_t total_frames, int sample_rate_hz) {
    if (sample_rate_hz <= 0) throw usage_error("four_beat_segments: sample rate must be positive");
    if (total_frames == 0) return {};
    const double end_sec = double(total_frames) / sample_rate_hz;
    const double nominal = 60.0 / (grid.tempo_bpm > 0 ? grid.tempo_bpm : 120.0);
    BeatClock clock;
    clock.beats = grid.beats_sec;
    clock.p_first = edge_period(clock.beats, true, nominal);
    clock.p_last = edge_period(clock.beats, false, nominal);

    std::vector<double> down;
    for (double d : grid.downbeats_sec)
        if (d >= 0 && d < end_sec && (down.empty() || d > down.back())) down.push_back(d);
    if (down.empty()) down.push_back(clock.beats.empty() ? 0.0 : std::max(0.0, clock.beats.front()));
    const double bar_first = 4 * clock.p_first, bar_last = 4 * clock.p_last;
    while (down.front() - bar_first > 0) down.insert(down.begin(), down.front() - bar_first);
    while (down.back() + bar_last < end_sec) down.push_back(down.back() + bar_last);

    std::vector<std::size_t> cuts{0};
    for (double d : down) {
        const auto frame = std::size_t(std::llround(std::clamp(d, 0.0, end_sec) * sample_rate_hz));
        if (frame > cuts.back() && frame < total_frames) cuts.push_back(frame);
    }
    cuts.push_back(total_frames);
    // Merge slivers (< 1/8 beat) at either end into the neighbouring bar.
    const double sliver = 0.125 * std::min(clock.p_first, clock.p_last) * sample_rate_hz;
    if (cuts.size() > 2 && double(cuts[1] - cuts[0]) < sliver) cuts.erase(cuts.begin() + 1);
    if (cuts.size() > 2 && double(cuts[cuts.size() - 1] - cuts[cuts.size() - 2]) < sliver)
        cuts.erase(cuts.end() - 2);

    std::vector<Segment> segs;
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
        Segment s;
        s.start_frame = cuts[i];
        s.end_frame = cuts[i + 1];
        double beats = clock.pos(double(s.end_frame) / sample_rate_hz) - clock.pos(double(s.start_frame) / sample_rate_hz);
        // Bars between beat-grid downbeats are whole beats; frame rounding must not show.
        if (std::fabs(beats - std::round(beats)) < 0.01) beats = std::round(beats);
        s.beats = beats;
        segs.push_back(s);
    }
    return segs;
}

}  // namespace loopsep
