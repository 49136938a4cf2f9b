// loopsep — tempo normalization: Rubber Band time-stretching with exact lengths,
// loop tempo estimation, and the song-time ↔ reference-time map used to bring
// predicted masks back to the song's own STFT frames.
//
// Why a map for masks: stretching separated audio back to song tempo costs
// waveform fidelity (a Rubber Band ×1.033 round trip scores ≈ −31 dB SI-SDR
// against the original), while warping a mask's time axis loses almost nothing.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "loopsep/audio.h"

namespace loopsep {

enum class StretchEngine {
    Finer,   // Rubber Band R3 ("finer"): better on mixes, bass and soft onsets; default
    Faster,  // Rubber Band R2 ("faster"): several times cheaper
};

// "r3" | "finer" → Finer, "r2" | "faster" → Faster; usage error otherwise.
StretchEngine parse_stretch_engine(const std::string& name);
const char* stretch_engine_name(StretchEngine engine);  // "r3" | "r2"

struct StretchParams {
    StretchEngine engine = StretchEngine::Finer;
    bool short_window = false;  // R3 OptionWindowShort: much faster, a little less smooth
    void validate() const;      // usage error naming the parameter
};

// Ratios out/in outside this range are usage errors (they are never a tempo change).
constexpr double kMinStretchRatio = 0.125;
constexpr double kMaxStretchRatio = 8.0;

// Offline Rubber Band (study all input, then process), channels together, pitch
// kept. The output has EXACTLY out_frames frames at in.sample_rate_hz (Rubber
// Band's own length can differ by a frame or two: the end is trimmed or padded
// with silence). out_frames == in.frames() returns a copy untouched. The engine
// version the library actually runs is checked: asking R3 from a library older
// than 3.0 is an error rather than a silent R2 result.
// Inputs of a few hundred frames or less come out near-silent with R3 (its
// analysis window is longer than the input); the length is still exact.
// Errors: empty input, out_frames == 0 or ratio outside [kMinStretchRatio, kMaxStretchRatio].
Audio stretch_to_frames(const Audio& in, std::size_t out_frames, const StretchParams& params = {});

// Convenience: frames a stretch from `from_bpm` to `to_bpm` must produce,
// round(frames · from_bpm / to_bpm). Usage error if a tempo is not positive.
std::size_t stretched_frames(std::size_t frames, double from_bpm, double to_bpm);

// Tempo of a short loop from its length and onsets. The loop is assumed to start
// on a beat and to last a whole number of beats: candidates are beats = 4·k
// (k = 1, 2, 4, 8), and 2 or 3 beats only if no 4·k candidate is plausible; a
// candidate is plausible when bpm = 60·beats/duration lies in 70..180. Among the
// plausible ones the winner is the grid the onsets align with best: strong
// onsets on its beats, weaker ones halfway between (a grid whose half-beats are
// as strong as its beats is read as half the tempo), most onset strength on its
// 16th-note grid, and a mild prior towards 85..150 BPM. `beats_out` (optional) receives the number of beats.
// Input error if the loop is silent, shorter than 0.5 s, or no candidate fits.
double estimate_loop_bpm(const Audio& loop, int* beats_out = nullptr);

// Piecewise-linear map between song time and reference (stretched) time, built
// from segment boundaries (any unit, typically STFT frames or samples). Segments
// must be added in increasing order and must not overlap on either axis; gaps
// between segments are bridged linearly, and positions before the first or after
// the last segment are extrapolated with the nearest segment's slope.
class TempoMap {
public:
    // Usage error if end <= start on either axis or the segment goes backwards.
    void add_segment(double song_start_frame, double song_end_frame, double ref_start_frame, double ref_end_frame);
    double to_reference(double song_frame) const;  // usage error if the map is empty
    double to_song(double ref_frame) const;        // usage error if the map is empty
    std::size_t num_segments() const { return song_.size() / 2; }
    bool empty() const { return song_.empty(); }

private:
    // Knots: segment i spans knots 2i and 2i+1 on both axes (both strictly increasing,
    // equal values allowed only where one segment ends and the next starts).
    std::vector<double> song_, ref_;
};

// Resamples the time axis of a time-major matrix (num_rows × width, e.g. an STFT
// mask) by linear interpolation: output row j takes the input at fractional row
// index src_position[j] (clamped to [0, num_rows − 1]). The output has
// src_position.size() rows. Usage error if num_rows == 0 or width <= 0.
std::vector<float> warp_rows(const float* rows, std::size_t num_rows, int width,
                             const std::vector<double>& src_position);

}  // namespace loopsep
