// Production stage: what a mixing and mastering engineer does to a record, on
// top of the nearly dry sums of effects.cpp. Per stem a channel strip (EQ,
// compressor, saturation, stereo width and balance, level rides over bars,
// room or plate reverb); on the bus glue compression, a limiter, a vinyl-style
// speed change and, at write time, an optional MP3 round trip of the mixture.
//
// Contract: a stem is what it contributes to the final mix after all of its
// processing, so the stems still sum to the mix. Bus dynamics compute one gain
// envelope from the summed bus and apply it to every stem; the speed change
// resamples every stem identically; nonlinear effects (saturation) run per stem
// only. The one exception is the codec round trip, which meta.json records
// ("production.codec"); the stems stay the clean contributions.
//
// Every parameter is drawn from the Rng passed in (deterministic), and no draw
// happens when the stage is disabled (the `val` split must stay byte-identical).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "loopsep/audio.h"
#include "loopsep/synth.h"
#include "rng.h"

namespace loopsep::synth {

// Which splits are produced: train, and realval — it stands for released
// records, which are mixed and mastered. `val` is not: its songs are
// published figures and must not change.
inline bool split_gets_production(SourceSplit split) {
    return split == SourceSplit::Train || split == SourceSplit::RealVal;
}

// ---- DSP pieces (public so tests can measure them) ----

// RMS over the active part of a signal (2048-frame windows within 40 dB of the loudest), so a part
// that plays only in the mambo is levelled like one that plays throughout. synth.cpp levels parts
// with it; the production stage restores levels with it.
double active_rms(const Audio& a);

// RBJ low shelf + high shelf + one peaking band, the same on every channel.
struct EqSettings {
    double low_hz = 100, low_db = 0, high_hz = 6000, high_db = 0, peak_hz = 1000, peak_db = 0, peak_q = 1;
};
void apply_eq(Audio& audio, const EqSettings& eq);

// Feed-forward compressor: a peak detector (instant rise, `release_ms` fall) over
// the loudest channel, a hard-knee gain computer, and the gain reduction smoothed
// with attack_ms when it grows and release_ms when it shrinks.
struct CompressorSettings {
    double threshold_db = -20, ratio = 4, attack_ms = 10, release_ms = 100, makeup_db = 0;
};
// Per-frame linear gain computed from `detector` (e.g. the summed bus).
std::vector<float> compressor_gain(const Audio& detector, const CompressorSettings& c);
// Look-ahead peak limiter: per-frame gain that keeps every frame of `detector`
// at or below `ceiling` (linear), ramping down over lookahead_ms before a peak
// and recovering over release_ms after it.
std::vector<float> limiter_gain(const Audio& detector, double ceiling, double lookahead_ms, double release_ms);
void apply_gain(Audio& audio, const std::vector<float>& gain);

// Soft clip: scale·tanh(drive·x/scale)/drive. Unity gain for small x, odd, |y| < scale/drive.
float saturate(float x, double drive, double scale);

// Stereo Freeverb-style reverb (8 damped combs + 4 allpasses per channel, the
// comb feedback set from rt60_sec) after a pre-delay. Returns the wet signal
// only, as many channels as `in` (mono input: one channel).
struct ReverbSettings {
    double predelay_ms = 10, rt60_sec = 1.0, damping = 0.3;
};
Audio reverb_wet(const Audio& in, const ReverbSettings& r);

// Mid/side width (0 = mono, 1 = unchanged) and constant-power balance (-1..1).
void set_width(Audio& audio, double width);
void set_balance(Audio& audio, double pan);

// Vinyl-style speed change: pitch and tempo together, windowed-sinc resampling
// (band-limited below the new Nyquist). factor 1.05 plays 5 % faster: the
// result has round(frames / factor) frames and every frequency × factor.
Audio change_speed(const Audio& in, double factor);

// MP3 (libsndfile: LAME encode, mpg123 decode, CBR at bitrate_kbps) written to
// temp_path, read back, temp file removed. Same length as `in`.
Audio mp3_round_trip(const Audio& in, int bitrate_kbps, const std::string& temp_path);
// Whether MP3 can carry this sample rate (MPEG-1/2 rates).
bool mp3_supports_rate(int sample_rate_hz);

// ---- The stage ----

// How often each effect is taken: per stem (arrays: percussion, bass, vocals,
// harmonic stems) or per song (bus). They aim at the spread of commercial
// records rather than one "typical" mix: a separator trained on them must meet
// lightly and heavily processed songs alike. Tests set them to 0 or 1.
struct ProductionOdds {
    double eq = 0.85;  // nearly every channel of a record is EQ'd; some stay flat so "dry" stays covered
    // Almost always on vocals and bass, usually on drums, less on harmonic beds
    // (guitars, pads and samples often arrive already compressed).
    double compressor[4] = {0.7, 0.8, 0.9, 0.5};
    double saturation[4] = {0.25, 0.35, 0.2, 0.3};  // tape/console/amp colour: a minority, more on bass and samples
    double width = 0.6;    // mid/side width (stereo only)
    double balance = 0.5;  // a lean left or right; never bass or vocals, which records keep centred
    double ride = 0.5;     // slow fader moves over bars
    double reverb[4] = {0.5, 0.15, 0.85, 0.7};  // vocals and harmonic parts nearly always, bass rarely (it muddies)
    double plate = 0.4;    // a reverb is a plate, else a room
    double glue = 0.7;     // bus compression: common on modern mixes
    double limiter = 0.8;  // nearly every release is limited
    double speed = 0.5;    // vinyl / pitched edit: half the songs, so nominal tunings and tempi stay well represented
    double codec = 0.25;   // a quarter of the mixtures go through MP3, as users' files often did
};

struct ProducedStem {
    std::string name;
    Audio* audio = nullptr;
};

struct ProductionResult {
    bool enabled = false;
    double speed = 1.0;       // the stems were resampled by this factor (beat times / speed, bpm × speed)
    int codec_kbps = 0;       // > 0: round-trip the mixture through MP3 at this bitrate when writing
    nlohmann::ordered_json record;  // meta.json "production": the chain per stem and on the bus
};

// Applies the per-stem strips and the bus chain to `stems` in place (all the
// same length, rate and channels). downbeat_sec: bar starts, for level rides.
// enabled == false: nothing is drawn, nothing changes, result.enabled == false.
// allow_speed == false (a tempo the user fixed): the speed change is drawn but not applied.
ProductionResult produce(std::vector<ProducedStem>& stems, const std::vector<double>& downbeat_sec, Rng& rng,
                         bool enabled, bool allow_speed = true, const ProductionOdds& odds = ProductionOdds{});

}  // namespace loopsep::synth
