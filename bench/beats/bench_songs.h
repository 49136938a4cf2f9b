// bench_beats — synthetic percussive songs with known beats and downbeats.
//
// Each song is rendered from a beat-time list (with optional linear tempo drift,
// swing, pickup beats and a drum-less intro), so the annotations are exact by
// construction. Instruments are simple synthesis (sine/noise with envelopes):
// kick, snare, hats, bongo, güira, bass, chord pad. Hits are humanised (±5 ms).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loopsep/audio.h"
#include "loopsep/beat.h"

namespace bench {

enum class Style { Pop, BoomBap, Bachata };

struct SongSpec {
    std::string name;
    Style style = Style::Pop;
    loopsep::Genre genre = loopsep::Genre::Neutral;  // the prior the tracker is given
    double bpm = 120;
    double drift = 0;        // relative tempo change from first to last beat (0.04 = +4 %)
    int bars = 20;
    int pickup_beats = 0;    // beats before the first downbeat
    int intro_bars = 0;      // bars without drums at the start (chords + bass only)
    double lead_in_sec = 0;  // silence before the first beat
    double swing = 0.5;      // position of the off-beat eighth (0.5 straight, 0.54–0.58 swung)
    std::uint32_t seed = 1;
};

struct Song {
    SongSpec spec;
    loopsep::Audio audio;
    std::vector<double> beats_sec, downbeats_sec;
};

Song render_song(const SongSpec& spec);

// The benchmark's song set: pop with intros, 4 % drift, boom-bap with swing, bachata with pickups.
std::vector<SongSpec> default_song_set(int seeds_per_style);

}  // namespace bench
