// Internal to loopsep_engine: how one segment of the song maps onto the
// model's reference-tempo window, and the cross-fade that joins segments.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "loopsep/audio.h"
#include "loopsep/beat.h"
#include "loopsep/stft.h"

namespace loopsep::detail {

// One model window. The segment [start_frame, end_frame) of the song is the
// part this window is responsible for; the window itself covers
// [region_start, region_start + region_frames) of the song (context included,
// may reach outside the song: zero padding), stretched to window_ref_frames.
struct SegmentPlan {
    std::size_t start_frame = 0, end_frame = 0;  // song frames owned by this segment
    double song_per_ref = 1.0;                   // song frames per reference frame (the local stretch ratio)
    double region_start = 0;                     // song frame where the window begins (can be negative)
    std::size_t region_frames = 0;               // song frames the window covers
    std::size_t window_ref_frames = 0;           // samples of the stretched window

    // Fractional model STFT frame (reference grid) for a song sample position.
    double ref_frame_for(double song_frame, int hop) const {
        return (song_frame - region_start) / (song_per_ref * hop);
    }
};

// Builds plans for beat segments (stretch to the reference tempo) or, with
// fixed = true, for plain windows of one reference bar with no stretching.
// Segments shorter than min_segment_frames are merged into a neighbour. The plans are in song
// order and tile the song: each starts where the previous one ends (the engine relies on it to
// know which output is final).
std::vector<SegmentPlan> plan_segments(const std::vector<Segment>& segments, const BeatGrid& grid,
                                       std::size_t song_frames, int sample_rate_hz, double reference_bpm,
                                       int window_frames, int hop, bool fixed, std::size_t min_segment_frames);

// Copies song[region] (zero outside the song) of one channel vector.
std::vector<float> extract_region(const std::vector<float>& x, double region_start, std::size_t region_frames);

// The mid (mean of the channels) of song[region], zero outside the song.
std::vector<float> extract_mid_region(const Audio& song, double region_start, std::size_t region_frames);

// |spec| as `frames` rows of its num_bins values, time-major (rows past the spectrogram's frames stay 0).
std::vector<float> magnitude_rows(const Spectrogram& spec, std::size_t frames);

// Cross-fade weight of segment `plan` at song frame n: 1 inside, raised-cosine
// ramps of `fade_frames` centred on interior boundaries; weights of adjacent
// segments sum to exactly 1.
double crossfade_weight(const SegmentPlan& plan, std::size_t n, std::size_t song_frames, std::size_t fade_frames);
// Song frames [first, last) outside which crossfade_weight(plan, ·) is 0 (with a frame to spare).
std::pair<std::size_t, std::size_t> crossfade_span(const SegmentPlan& plan, std::size_t song_frames,
                                                   std::size_t fade_frames);

}  // namespace loopsep::detail
