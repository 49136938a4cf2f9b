// loopsep beat — aubio's own tempo tracker over a whole signal.
//
// Used twice: its tempo breaks near-ties between octaves in estimate_tempo(), and
// track_beats_aubio_only() reports it unmodified as the benchmark's baseline.
#include <aubio/aubio.h>

#include <algorithm>
#include <cmath>

#include "beat_internal.h"
#include "loopsep/error.h"

namespace loopsep::beat_detail {

AubioResult run_aubio_tempo(const std::vector<float>& mono, int rate_hz) {
    constexpr int kBuf = 1024, kHopA = 512;
    AubioResult out;
    aubio_tempo_t* tempo = nullptr;
    {
        std::lock_guard<std::mutex> lock(aubio_plan_mutex());
        tempo = new_aubio_tempo("default", kBuf, kHopA, rate_hz);
    }
    if (!tempo) throw input_error("aubio: cannot create the tempo tracker");
    fvec_t* in = new_fvec(kHopA);
    fvec_t* beat = new_fvec(1);
    for (std::size_t pos = 0; pos < mono.size(); pos += kHopA) {
        for (int i = 0; i < kHopA; ++i) in->data[i] = pos + i < mono.size() ? mono[pos + i] : 0.0f;
        aubio_tempo_do(tempo, in, beat);
        if (beat->data[0] != 0) {
            const double t = aubio_tempo_get_last_s(tempo);
            if (t >= 0 && (out.beats_sec.empty() || t > out.beats_sec.back())) out.beats_sec.push_back(t);
        }
    }
    out.bpm = aubio_tempo_get_bpm(tempo);
    del_fvec(beat);
    del_fvec(in);
    std::lock_guard<std::mutex> lock(aubio_plan_mutex());
    del_aubio_tempo(tempo);
    return out;
}

}  // namespace loopsep::beat_detail
