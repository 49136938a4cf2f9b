#include "engine_plan.h"

#include <algorithm>
#include <cmath>

namespace loopsep::detail {

std::vector<SegmentPlan> plan_segments(const std::vector<Segment>& segments, const BeatGrid& grid,
                                       std::size_t song_frames, int sample_rate_hz, double reference_bpm,
                                       int window_frames, int hop, bool fixed, std::size_t min_segment_frames) {
    const double ref_beat_frames = 60.0 / reference_bpm * sample_rate_hz;
    const std::size_t window_ref = static_cast<std::size_t>(window_frames - 1) * hop;
    std::vector<SegmentPlan> plans;
    auto add = [&](std::size_t start, std::size_t end, double song_per_ref) {
        SegmentPlan p;
        p.start_frame = start;
        p.end_frame = end;
        p.song_per_ref = song_per_ref;
        p.window_ref_frames = window_ref;
        p.region_frames = static_cast<std::size_t>(std::llround(window_ref * song_per_ref));
        p.region_start = 0.5 * (double(start) + double(end)) - 0.5 * double(p.region_frames);
        plans.push_back(p);
    };
    if (fixed) {
        const std::size_t bar = static_cast<std::size_t>(std::llround(4 * ref_beat_frames));
        for (std::size_t s = 0; s < song_frames; s += bar) add(s, std::min(song_frames, s + bar), 1.0);
        return plans;
    }
    const double grid_beat_frames = grid.tempo_bpm > 0 ? 60.0 / grid.tempo_bpm * sample_rate_hz : ref_beat_frames;
    // A sliver (e.g. a pickup of a few ms) cannot hold a cross-fade: fold it into its neighbour.
    std::vector<Segment> merged;
    for (const Segment& s : segments) {
        if (s.end_frame <= s.start_frame) continue;
        const bool sliver = s.end_frame - s.start_frame < min_segment_frames;
        if (!merged.empty() && (sliver || merged.back().end_frame - merged.back().start_frame < min_segment_frames)) {
            merged.back().end_frame = s.end_frame;
            merged.back().beats += s.beats;
        } else {
            merged.push_back(s);
        }
    }
    for (const Segment& s : merged) {
        if (s.end_frame <= s.start_frame) continue;
        // Short pickups/tails carry too few beats to measure a tempo: use the song's.
        double beat_frames = s.beats >= 1.0 ? double(s.end_frame - s.start_frame) / s.beats : grid_beat_frames;
        add(s.start_frame, s.end_frame, beat_frames / ref_beat_frames);
    }
    return plans;
}

std::vector<float> extract_region(const std::vector<float>& x, double region_start, std::size_t region_frames) {
    std::vector<float> out(region_frames, 0.0f);
    const long start = static_cast<long>(std::floor(region_start));
    const long from = std::max<long>(0, start), to = std::min<long>(long(x.size()), start + long(region_frames));
    if (to > from) std::copy(x.begin() + from, x.begin() + to, out.begin() + (from - start));
    return out;
}

std::vector<float> extract_mid_region(const Audio& song, double region_start, std::size_t region_frames) {
    std::vector<float> mid(region_frames, 0.0f);
    const float scale = 1.0f / float(std::max(1, song.num_channels()));
    for (const auto& ch : song.channels) {
        std::vector<float> part = extract_region(ch, region_start, region_frames);
        for (std::size_t i = 0; i < region_frames; ++i) mid[i] += part[i] * scale;
    }
    return mid;
}

std::vector<float> magnitude_rows(const Spectrogram& spec, std::size_t frames) {
    const std::size_t bins = std::size_t(spec.num_bins);
    std::vector<float> mag(frames * bins, 0.0f);
    for (std::size_t t = 0; t < std::min(frames, spec.num_frames); ++t)
        for (std::size_t k = 0; k < bins; ++k) mag[t * bins + k] = std::abs(spec.data[t * bins + k]);
    return mag;
}

double crossfade_weight(const SegmentPlan& plan, std::size_t n, std::size_t song_frames, std::size_t fade_frames) {
    const double half = 0.5 * double(fade_frames);
    auto rise = [&](double boundary) {  // 0 before boundary-half, 1 after boundary+half
        double x = (double(n) + 0.5 - (boundary - half)) / double(fade_frames);
        if (x <= 0) return 0.0;
        if (x >= 1) return 1.0;
        return 0.5 - 0.5 * std::cos(M_PI * x);
    };
    double w = 1.0;
    if (plan.start_frame > 0) w *= rise(double(plan.start_frame));
    if (plan.end_frame < song_frames) w *= 1.0 - rise(double(plan.end_frame));
    return w;
}

std::pair<std::size_t, std::size_t> crossfade_span(const SegmentPlan& plan, std::size_t song_frames,
                                                   std::size_t fade_frames) {
    // The ramps are centred on the boundaries: rise() is 0 up to boundary − fade/2, 1 from boundary + fade/2.
    const std::size_t reach = fade_frames / 2 + 1;
    return {plan.start_frame - std::min(plan.start_frame, reach), std::min(song_frames, plan.end_frame + reach)};
}

}  // namespace loopsep::detail
