// loopsep beat — internals shared by the beat tracker's stages (not public).
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "loopsep/beat.h"
#include "loopsep/stft.h"

namespace loopsep::beat_detail {

// Analysis runs at the engine rate with a 1024-sample window and a 256-sample hop
// (5.8 ms frames); chroma uses a longer 4096-sample window for pitch resolution.
constexpr int kRateHz = kEngineRateHz;
constexpr int kWin = 1024;
constexpr int kHop = 256;
constexpr int kChromaWin = 4096;
constexpr int kChromaHop = 1024;

// The song as the analysis hears it: mono (the mean of the channels, as Audio::mono) at
// kRateHz, times a loudness gain, produced block by block so that no whole-song mono copy
// exists when the song is already at kRateHz. Peak and energy come from one pass at
// construction. A song at another rate is resampled to a mono copy at kRateHz: that rare
// path does cost a song-length buffer (a quarter of a stereo song's decoded size at 44.1 kHz).
class AnalysisSignal {
public:
    explicit AnalysisSignal(const Audio& song);
    std::size_t size() const { return frames_; }  // samples at kRateHz
    float peak() const { return peak_; }           // of the mono signal, before the gain
    double mean_square() const { return frames_ ? energy_ / double(frames_) : 0.0; }
    void set_gain(double gain) { gain_ = gain; }
    // Samples [pos, pos + count) times the gain; zeros past the end.
    void read(std::size_t pos, float* out, std::size_t count) const;

private:
    const Audio* song_ = nullptr;
    std::vector<float> resampled_;  // only for songs not at kRateHz
    std::size_t frames_ = 0;
    float peak_ = 0;
    double energy_ = 0;
    double gain_ = 1.0;
};

struct Features {
    double fps = double(kRateHz) / kHop;  // envelope frames per second
    std::vector<float> onset;    // full-band log spectral flux, smoothed, scaled to unit std
    std::vector<float> low;      // 30–150 Hz flux (kick, bass)
    std::vector<float> snare;    // 1.5–6 kHz flux (snare crack, claps)
    std::vector<float> lowmid;   // 180–350 Hz flux (low bongo, toms)
    std::vector<float> hat;      // 6–16 kHz flux (hats, shakers, güira)
    std::vector<float> rms;      // frame RMS of the signal (silence trimming)
    std::vector<std::array<float, 12>> chroma;  // at kChromaHop, log-compressed, unit-normalised
    double chroma_fps = double(kRateHz) / kChromaHop;
    double duration_sec = 0;
    double aubio_bpm = 0;        // aubio's tempo tracker on the same spectra (octave tie-breaker)
    // Attack density: the mean share, per frame, of the sounding bins (within 35 dB of the frame's
    // loudest) whose magnitude rose by more than kStrongRise (≈ 9 dB) since the last frame. Drums,
    // plucks and clicks give 0.01–0.03; a steady tone, however periodic the ripple that frame and
    // period beat into its flux, gives < 0.001 (it never attacks). Confidence only.
    double attack_density = 0;

    std::size_t frames() const { return onset.size(); }
    double frame_time(double f) const;          // seconds of envelope frame f (calibrated)
    double time_to_frame(double sec) const;     // inverse of frame_time
};

// One streaming pass over the (loudness-normalised) signal: the onset envelopes, RMS, chroma
// and aubio's tempo estimate, each fed hop-sized blocks as they are read.
Features compute_features(const AnalysisSignal& signal);

struct TempoEstimate {
    double bpm = 0;             // global tempo
    double period_frames = 0;   // 60 * fps / bpm
    double periodicity = 0;     // normalised autocorrelation at the period (0..1): beatless below ~0.1
};

// Global tempo from the onset autocorrelation, weighted by the genre prior; aubio_bpm (0 if none)
// breaks near-ties between octaves.
TempoEstimate estimate_tempo(const Features& f, const TempoPrior& prior, double aubio_bpm);

// Local beat period (frames) at every envelope frame, following drift and ramps within
// ±20 % of the global period.
std::vector<double> local_periods(const Features& f, double global_period_frames);

// Ellis-style dynamic programming: beat frames (fractional after peak refinement).
std::vector<double> dp_beats(const Features& f, const std::vector<double>& period, double tightness);

// Index into `beats` of each downbeat (every beats_per_bar, with rare phase changes).
std::vector<std::size_t> find_downbeats(const Features& f, const std::vector<double>& beat_frames,
                                        int beats_per_bar, Genre genre);

// The nearest onset peak to frame b within ±3 frames (sub-frame, parabolic); b itself when there
// is no clear peak (an onset-free stretch keeps its grid position).
double refine_to_peak(const std::vector<float>& onset, long b);

// Beat phase and downbeats together (meter.cpp): the DP grid subdivided into sixteenths, each
// placed in the bar by band-split onsets against a genre template. beat_frames may differ from
// the DP's by a quarter or half beat where the evidence says the DP locked to the off-beats.
struct Meter {
    std::vector<double> beat_frames;
    std::vector<bool> downbeat;  // per beat
};
// model: Pattern (template), Learned (classifier) or Both; track_beats resolves Auto before.
Meter find_meter(const Features& f, const std::vector<double>& dp_beat_frames, int beats_per_bar, Genre genre,
                 DownbeatModel model = DownbeatModel::Pattern);

// What the meter stage sees (meter.cpp): the DP grid cut into sixteenths (four tatums per beat,
// half a beat beyond each end) and, per tatum, band-split evidence z-scored over the song.
constexpr int kTatumsPerBeat = 4;
constexpr int kBarPositions = 16;  // sixteenths of a 4/4 bar
enum MeterBand { kBandLow, kBandSnare, kBandHat, kBandLowMid, kBandHarm, kBandOnset, kBandBarHarm, kMeterBands };
struct TatumEvidence {
    std::vector<double> tatum_frames;
    std::vector<bool> on_dp;                           // the tatum is one of the DP's beats
    std::array<std::vector<double>, kMeterBands> x;    // per band, per tatum
};
// Needs at least two DP beats.
TatumEvidence tatum_evidence(const Features& f, const std::vector<double>& dp_beat_frames);

// The learned stage (downbeat_model.cpp): a multinomial logistic regression from the evidence of
// a tatum and its neighbours (±kContextTatums, zero past the song's ends) to the tatum's position
// in the bar (0..15). Row c of `w` is class c: bias, then kClassifierInputs weights.
constexpr int kContextTatums = 4;
constexpr int kClassifierInputs = kMeterBands * (2 * kContextTatums + 1);
struct TatumClassifier {
    std::vector<float> w = std::vector<float>(std::size_t(kBarPositions) * (kClassifierInputs + 1), 0.0f);
};
// The inputs of tatum j (kClassifierInputs values: band-major, offset −k..+k).
void classifier_inputs(const TatumEvidence& e, std::size_t j, float* in);
// log P(position | inputs), kBarPositions values.
std::array<double, kBarPositions> log_posterior(const TatumClassifier& c, const float* in);
// The weights trained by bench/beats_real/train_downbeat.cpp (downbeat_weights.h) for a genre;
// hip-hop's for neutral.
const TatumClassifier& trained_classifier(Genre g);
// Deterministic training: mini-batch SGD (Adam) on cross-entropy plus l2 · |w|², samples visited
// in an order drawn from `seed` (mt19937_64, our own Fisher–Yates). inputs: n × kClassifierInputs.
struct ClassifierTraining {
    unsigned long long seed = 1;
    int epochs = 12;
    int batch = 256;
    double learning_rate = 0.01;
    double l2 = 1e-4;
};
TatumClassifier train_classifier(const std::vector<float>& inputs, const std::vector<int>& labels,
                                 const ClassifierTraining& opts);

// FFTW's planner is not thread-safe: our FFTW plans and every aubio object (aubio plans
// with FFTW too) are created and deleted under loopsep_core's process-wide
// fftw_planner_mutex() (loopsep/stft.h), so track_beats may run on several threads and
// its plans never race with the engine's STFT plans.

// aubio_tempo ("default", 1024/512) over the whole signal: beat times in seconds and its
// final bpm. Only the aubio-alone baseline needs the beats.
struct AubioResult {
    std::vector<double> beats_sec;
    double bpm = 0;
};
AubioResult run_aubio_tempo(const AnalysisSignal& signal);

// aubio_tempo's bpm without its phase vocoder: fed the magnitude spectra (1024 window,
// hop 512) that compute_features already has, it runs aubio_tempo's own chain
// (specflux, peak picker, beat tracking) and ends with the bpm aubio_tempo would report.
class AubioBpm {
public:
    static constexpr int kWin = 1024, kHop = 512;
    AubioBpm();
    ~AubioBpm();
    AubioBpm(const AubioBpm&) = delete;
    AubioBpm& operator=(const AubioBpm&) = delete;
    void push(const float* norm);  // kWin / 2 + 1 magnitudes of the next frame
    double bpm() const;

private:
    struct State;
    std::unique_ptr<State> s_;
};

// Shared by the downbeat and meter stages (downbeat.cpp): x standardised to zero mean and unit
// deviation (all zero when constant); the largest value of x within ±radius frames of `frame`.
void zscore(std::vector<double>& x);
double peak_near(const std::vector<float>& x, double frame, int radius);

}  // namespace loopsep::beat_detail
