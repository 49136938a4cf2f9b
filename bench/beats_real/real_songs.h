// bench_beats — the real-recording beat bench: songs played on real recordings, edited
// the way records are, with known beats and downbeats.
//
// The songs come from `loopsep synth --split realval` (bench/beats_real/run.sh): every part on
// real recordings that training never hears — Hydrogen kits played with human timing and MPC
// swing, sampled drum and hand-percussion loops sliced and re-sequenced on the grid, freepats
// bongos, congas, guiro, recorded basses and guitars (models/TRAINING.md, "Real-recording
// sources and the realval split"). Each song is then edited here, from its stems, into four
// variants whose annotations follow the edit exactly:
//   plain     — the mix as rendered;
//   pickup    — 1–3 beats of a full bar (drums and all) played before the first downbeat;
//   dry-intro — no percussion in the first four bars, and a four-bar breakdown mid-song
//               (no percussion and no bass): the grid must hold through both;
//   drift     — the whole record sped up or slowed down vinyl-style along a ramp from −4 % to
//               +4 % (or back), pitch with it.
// The synth itself is not touched (its val split stays byte-identical); all edits are here.
#pragma once

#include <string>
#include <vector>

#include "loopsep/audio.h"
#include "loopsep/beat.h"

namespace bench {

struct AnnotatedSong {
    std::string category;              // "real <genre> <variant>"
    std::string name;                  // "<synth song>/<variant>"
    std::vector<std::string> tags;     // extra rows it also counts in ("real hiphop: sampled break")
    loopsep::Audio audio;
    loopsep::Genre genre = loopsep::Genre::Neutral;
    std::vector<double> beats_sec, downbeats_sec;
};

// The variants of every synth song folder under `synth_dir` (DIR/*/meta.json + stems/), in name
// order. Input error naming the folder if a song lacks its stems or annotations.
std::vector<AnnotatedSong> real_recording_songs(const std::string& synth_dir);

// The edits, exposed for the tests. `beats`/`downbeats` are updated to the edited audio.
// Prepends the last `k` beats of bar `bar` (0-based, whole bars of four from beats[0]) before
// the first downbeat, after `lead_sec` of silence.
loopsep::Audio prepend_pickup(const loopsep::Audio& mix, int bar, int k, double lead_sec, std::vector<double>& beats,
                              std::vector<double>& downbeats);
// Plays the audio at a rate that ramps linearly from 1 − depth to 1 + depth (depth < 0: back):
// local tempo times that rate.
loopsep::Audio vinyl_ramp(const loopsep::Audio& mix, double depth, std::vector<double>& beats,
                          std::vector<double>& downbeats);

}  // namespace bench
