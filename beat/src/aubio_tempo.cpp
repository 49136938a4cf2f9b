// loopsep beat — aubio's own tempo tracker: whole (aubio_tempo) and spectra-fed (AubioBpm).
//
// Its tempo breaks near-ties between octaves in estimate_tempo(); track_beats_aubio_only()
// reports aubio_tempo unmodified as the benchmark's baseline. aubio_tempo runs its own phase
// vocoder, whose phase (an atan2 per bin and frame) it never uses for the tempo; AubioBpm
// runs the rest of aubio_tempo's chain on spectra that track_beats already computes.
// The peak picker and the beat tracker are aubio's "unstable" API (exported, stable across
// 0.4.x; this chain mirrors aubio 0.4.9's tempo.c, which the tests compare with).
#define AUBIO_UNSTABLE 1
#include <aubio/aubio.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "beat_internal.h"
#include "loopsep/error.h"

namespace loopsep::beat_detail {

AubioResult run_aubio_tempo(const AnalysisSignal& signal) {
    constexpr int kBuf = 1024, kHopA = 512;
    AubioResult out;
    aubio_tempo_t* tempo = nullptr;
    {
        std::lock_guard<std::mutex> lock(fftw_planner_mutex());
        tempo = new_aubio_tempo("default", kBuf, kHopA, kRateHz);
    }
    if (!tempo) throw input_error("aubio: cannot create the tempo tracker");
    fvec_t* in = new_fvec(kHopA);
    fvec_t* beat = new_fvec(1);
    for (std::size_t pos = 0; pos < signal.size(); pos += kHopA) {
        signal.read(pos, in->data, kHopA);
        aubio_tempo_do(tempo, in, beat);
        if (beat->data[0] != 0) {
            const double t = aubio_tempo_get_last_s(tempo);
            if (t >= 0 && (out.beats_sec.empty() || t > out.beats_sec.back())) out.beats_sec.push_back(t);
        }
    }
    out.bpm = aubio_tempo_get_bpm(tempo);
    del_fvec(beat);
    del_fvec(in);
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    del_aubio_tempo(tempo);
    return out;
}

// aubio_tempo's state, as new_aubio_tempo("default", 1024, 512, rate) sets it up (aubio 0.4.9,
// src/tempo/tempo.c): specflux onsets (computed here, branch-free: aubio's branchy loop was a
// tenth of track_beats), a peak picker at threshold 0.3, and a beat tracker that sees a
// window of `winlen` thresholded onset values every `step` frames.
struct AubioBpm::State {
    std::vector<float> oldmag = std::vector<float>(kWin / 2 + 1, 0.0f);  // specflux's memory
    aubio_peakpicker_t* pp = nullptr;
    aubio_beattracking_t* bt = nullptr;
    fvec_t* of = nullptr;
    fvec_t* onset = nullptr;
    fvec_t* dfframe = nullptr;
    fvec_t* out = nullptr;
    unsigned winlen = 0, step = 0;
    int blockpos = 0;
    State() = default;
    State(const State&) = delete;
    State& operator=(const State&) = delete;
    ~State() {
        std::lock_guard<std::mutex> lock(fftw_planner_mutex());
        if (pp) del_aubio_peakpicker(pp);
        if (bt) del_aubio_beattracking(bt);
        if (of) del_fvec(of);
        if (onset) del_fvec(onset);
        if (dfframe) del_fvec(dfframe);
        if (out) del_fvec(out);
    }
};

AubioBpm::AubioBpm() : s_(new State) {
    // winlen: about 6 s of onset frames, rounded up to a power of two (as aubio_tempo).
    unsigned winlen = 1;
    while (winlen < unsigned(5.8 * kRateHz / kHop)) winlen *= 2;
    s_->winlen = std::max(4u, winlen);
    s_->step = s_->winlen / 4;
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    s_->pp = new_aubio_peakpicker();
    s_->bt = new_aubio_beattracking(s_->winlen, kHop, kRateHz);
    if (!s_->pp || !s_->bt) throw input_error("aubio: cannot create the tempo tracker");
    aubio_peakpicker_set_threshold(s_->pp, 0.3f);
    s_->of = new_fvec(1);
    s_->onset = new_fvec(1);
    s_->dfframe = new_fvec(s_->winlen);
    s_->out = new_fvec(s_->step);
}

// The State frees the aubio objects, also when the constructor throws half way.
AubioBpm::~AubioBpm() = default;

// aubio_tempo_do after its phase vocoder, minus the beat output (only the bpm is wanted).
void AubioBpm::push(const float* norm) {
    State& s = *s_;
    // aubio's specflux: the sum of the magnitude rises over the last frame, in bin order (a
    // rise of zero adds nothing, so the branch-free sum is the same float sum as aubio's).
    float flux = 0;
    for (int b = 0; b <= kWin / 2; ++b) {
        flux += std::max(norm[b] - s.oldmag[b], 0.0f);
        s.oldmag[b] = norm[b];
    }
    s.of->data[0] = flux;
    if (s.blockpos == int(s.step) - 1) {
        aubio_beattracking_do(s.bt, s.dfframe, s.out);
        float* df = s.dfframe->data;
        std::copy(df + s.step, df + s.winlen, df);
        std::fill(df + s.winlen - s.step, df + s.winlen, 0.0f);
        s.blockpos = -1;
    }
    ++s.blockpos;
    aubio_peakpicker_do(s.pp, s.of, s.onset);
    s.dfframe->data[s.winlen - s.step + s.blockpos] = aubio_peakpicker_get_thresholded_input(s.pp)->data[0];
}

double AubioBpm::bpm() const { return aubio_beattracking_get_bpm(s_->bt); }

}  // namespace loopsep::beat_detail
