// loopsep — beat grid, downbeats and four-beat segments of a song (offline).
//
// track_beats() analyses a whole song offline at the engine rate, in one streaming pass
// over it (its memory beyond the song is a few small per-frame arrays, about 11 KB per
// second of audio; a song not at 44.1 kHz also costs a mono copy resampled to it):
// magnitude spectra (aubio's phase-vocoder window, FFTW) feed a log-spectral-flux onset
// envelope; its autocorrelation, weighted by a per-genre tempo prior (aubio's own tempo
// tracker breaks near-ties), fixes the tempo octave; a global dynamic-programming tracker
// (Ellis 2007) fits a smooth grid that follows the local tempo (intros, first seconds,
// drift, ramps); and a Viterbi pass over the beat-in-bar position picks the downbeats from
// low-frequency onsets, bar-to-bar chord change and backbeat/low-bongo cues.
// four_beat_segments() turns the grid into exact frame spans, bar by bar. track_beats may
// run on several threads at once (FFTW planning is serialised inside); it is deterministic.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "loopsep/audio.h"

namespace loopsep {

enum class Genre { Neutral, Bachata, HipHop };

// "bachata", "hiphop" | "hip-hop", "neutral" | "auto" | "" (case-insensitive); usage error otherwise.
Genre parse_genre(const std::string& name);
const char* genre_name(Genre g);

// Plausible tempo range of a genre; the weight inside it is log-normal around center_bpm.
struct TempoPrior {
    double min_bpm, max_bpm, center_bpm;
};
TempoPrior tempo_prior(Genre g);  // bachata 110–145, hip-hop 70–110, neutral 70–180

// How beat phase and downbeats are placed on the DP grid's sixteenths (meter.cpp): pattern — the
// hand-set bar template over kick/snare/hat/chord evidence (hip-hop; bachata keeps the beat-level
// downbeat model); learned — a small classifier trained on the project's own annotated songs
// (downbeat_model.cpp, bench/beats_real/train_downbeat.cpp), hip-hop and bachata; both — the genre's
// template and the classifier added, hip-hop and bachata. Each is followed by the same Viterbi pass. auto — what the benches measured best per genre: learned for hip-hop, pattern for
// bachata (bench/beats_real/results.md). Neutral always keeps the beat-level model.
enum class DownbeatModel { Auto, Pattern, Learned, Both };
// "auto", "pattern", "learned", "both" (case-insensitive); usage error naming --downbeat-model otherwise.
DownbeatModel parse_downbeat_model(const std::string& name);
const char* downbeat_model_name(DownbeatModel m);

struct BeatParams {
    Genre genre = Genre::Neutral;
    bool allow_beatless = false;   // silent/beatless audio → fixed grid (beatless = true) instead of an error
    double tightness = 400.0;      // DP penalty weight on log(IBI / local period)^2; higher = stiffer grid
    int beats_per_bar = 4;         // the downbeat model and the segments assume 4/4
    double min_periodicity = 0.1;  // onset autocorrelation at the beat period below this = beatless
    // A grid whose confidence is below this is not used: beatless (error, or the fixed grid with
    // allow_beatless). Confidence is low for steady tones, noise and audio without attacks.
    double min_confidence = 0.3;
    // A hand correction: every downbeat moved this many beats later (negative: earlier), in
    // -(beats_per_bar - 1) .. beats_per_bar - 1; bars are kept whole at the song's ends.
    int downbeat_offset = 0;
    DownbeatModel downbeat_model = DownbeatModel::Auto;  // meter evidence (see above)
    void validate() const;         // usage error naming the parameter
};

struct BeatGrid {
    double tempo_bpm = 0;                // global (median) tempo
    std::vector<double> beats_sec;       // every beat, whole song, increasing
    std::vector<double> downbeats_sec;   // subset of beats_sec: bar starts
    // 0..1: onset periodicity at the beat, the share of beats on an onset, times how much the audio
    // attacks at all (a steady tone or a drone scores ~0 however periodic its flux ripple).
    double confidence = 0;
    bool beatless = false;               // true only for the fixed-grid fallback
    std::string beatless_reason;         // why the fallback was taken ("no steady beat found (...)")
};

struct Segment {                         // a span of the song, exact frames
    std::size_t start_frame = 0, end_frame = 0;  // [start, end) in song frames at the song's rate
    double beats = 4.0;                  // beats it spans: 4 for bars; < 4 for the pickup / the tail
};

// Whole-song analysis (offline). Throws input_error for silent or beatless audio (including a
// grid below params.min_confidence) unless params.allow_beatless, in which case it returns a
// fixed grid at the prior's centre tempo with beatless = true and the reason.
BeatGrid track_beats(const Audio& song, const BeatParams& params = {});

// Moves every downbeat of `grid` by `beats` beats along its own beat list (later for beats > 0);
// a downbeat pushed off either end is dropped, and a bar's worth of beats left before the first
// or after the last downbeat gets one more downbeat, so bars stay whole.
void shift_downbeats(BeatGrid& grid, int beats, int beats_per_bar = 4);

// A stretch of the song whose downbeats keep one phase: every beats_per_bar-th beat. A new section
// starts where a downbeat follows the previous one after some other number of beats (a bar cut
// short or a phase change after a breakdown).
struct DownbeatSection {
    double start_sec = 0, end_sec = 0;  // first beat of the section .. first beat of the next (or last beat)
    double first_downbeat_sec = 0;
    std::size_t first_beat = 0;         // index into beats_sec of the section's first beat
    int phase = 0;                      // beat index of its downbeats modulo beats_per_bar
    std::size_t bars = 0;               // downbeats in the section
};
std::vector<DownbeatSection> downbeat_sections(const BeatGrid& grid, int beats_per_bar = 4);

// Consecutive segments from downbeat to downbeat covering [0, total_frames) exactly, no
// gaps/overlaps; the part before the first downbeat and after the last bar are their own
// (shorter) segments. A beatless grid gives fixed four-beat windows at its tempo.
std::vector<Segment> four_beat_segments(const BeatGrid& grid, std::size_t total_frames, int sample_rate_hz);

// The fixed grid used by the fallback: beats every 60/tempo s from 0 to duration_sec,
// a downbeat every 4 beats from 0, confidence 0, beatless = true.
BeatGrid fixed_grid(double tempo_bpm, double duration_sec);

// aubio's tracker alone (aubio_tempo "default", 1024/512, whole song, no prior, no DP);
// downbeats are every 4th beat from the first. The baseline the benchmark compares with.
BeatGrid track_beats_aubio_only(const Audio& song);

}  // namespace loopsep
