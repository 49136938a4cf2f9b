// Recorded loops, chopped and re-sequenced: real drum loops and hand-percussion
// loops (sonic-pi-samples, lmms-common) sliced on their own onsets and played
// on the song's grid, the way hip-hop records are made. Three modes, drawn from the part's
// variant:
//   Stretch — the whole loop time-stretched (Rubber Band) to the song tempo and
//             repeated, every cycle exactly as long as its beats in the song;
//   Chop    — each slice placed at its grid slot in the song, cut with a short
//             fade before the next slot, with now and then a slice swapped or
//             repeated within a cycle (a beatmaker's edit);
//   Vinyl   — the whole loop resampled (pitch and tempo together, a slowed or
//             sped-up record) to the song tempo, then placed slice by slice;
//             only when the ratio is within ±12 %, otherwise Chop.
// The loop plays only in the bars where the part has notes, so the composer's
// sections and breakdowns still hold.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loopsep/audio.h"
#include "rng.h"
#include "score.h"

namespace loopsep::synth {

// Where the loops live: Debian's sonic-pi-samples, and the drum-machine and
// hi-hat loops of lmms-common.
constexpr const char* kRecordedLoopsDir = "/usr/share/sonic-pi/samples";
constexpr const char* kLmmsBeatsDir = "/usr/share/lmms/samples/beats";

// Full paths of the loops for `role` ("drums": hip-hop drum loops; "bongo":
// hand-drum loops; "guira": bright 16th-note loops, for the bachata stems). held_out = false: the
// training files; true: the files kept for a realval split (about a third per
// role, disjoint from training). Never a reserved file. Usage error for an
// unknown role.
std::vector<std::string> recorded_loops_for(const std::string& role, bool held_out);

// A recorded-loop source for `role` (kind RecordedLoop, file = the loop's path,
// variant = the render seed) from the training files, or with held_out from
// the files kept for the realval split.
Source pick_recorded_loop(Rng& rng, const std::string& role, bool held_out = false);

// Onsets (frames) of a mono signal: half-wave-rectified spectral flux of
// log(1 + |X|), peaks above a local mean at least min_gap_sec apart, each moved
// onto the attack found in the waveform (the flux peaks up to half a window
// early, as the hit enters the analysis window).
std::vector<std::size_t> detect_onsets(const std::vector<float>& mono, int sample_rate_hz, double min_gap_sec = 0.07);

// A loop cut on its onsets. `slots` are grid positions in 16ths of the loop's
// beats (0 .. 4·beats−1), strictly increasing; slice i starts at
// start_frames[i] and runs to the next slice's start (the last one to the end).
struct SlicedLoop {
    Audio audio;  // stereo, at the requested rate
    double bpm = 0.0;
    int beats = 0;
    std::vector<std::size_t> start_frames;
    std::vector<int> slots;
};

// Reads `path` (check_not_reserved first; input error naming the file if it is
// reserved, unreadable or silent), estimates its tempo and beats and slices it.
SlicedLoop load_sliced_loop(const std::string& path, int sample_rate_hz);

enum class LoopMode { Stretch, Chop, Vinyl };
// The mode a part with this variant asks for (Vinyl falls back to Chop when the
// tempo ratio is out of range). The first draw from Rng(variant).
LoopMode drawn_loop_mode(std::uint64_t variant);
const char* loop_mode_name(LoopMode mode);

// Stereo audio of the part; `label` receives "<package>:<file> <mode> <loop bpm>-><song bpm> bpm".
Audio render_recorded_loop(const Part& part, const Song& song, int sample_rate_hz, std::size_t frames,
                           std::string& label);

}  // namespace loopsep::synth
