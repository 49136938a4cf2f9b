// Rubber Band time-stretching with exact output length.
#include "loopsep/stretch.h"

#include <rubberband/RubberBandStretcher.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "loopsep/error.h"

namespace loopsep {

StretchEngine parse_stretch_engine(const std::string& name) {
    if (name == "r3" || name == "finer") return StretchEngine::Finer;
    if (name == "r2" || name == "faster") return StretchEngine::Faster;
    throw usage_error("--engine must be r3 (finer) or r2 (faster) (got '" + name + "')");
}

const char* stretch_engine_name(StretchEngine engine) {
    return engine == StretchEngine::Finer ? "r3" : "r2";
}

void StretchParams::validate() const {
    if (engine != StretchEngine::Finer && engine != StretchEngine::Faster)
        throw usage_error("StretchParams.engine: unknown engine");
    // R2 treats OptionWindowShort differently (a plain smaller FFT); we allow it
    // but it is documented and benchmarked for R3 only.
}

std::size_t stretched_frames(std::size_t frames, double from_bpm, double to_bpm) {
    if (!(from_bpm > 0) || !std::isfinite(from_bpm)) throw usage_error("from-bpm must be positive");
    if (!(to_bpm > 0) || !std::isfinite(to_bpm)) throw usage_error("to-bpm must be positive");
    return static_cast<std::size_t>(std::llround(double(frames) * from_bpm / to_bpm));
}

namespace {

using RubberBand::RubberBandStretcher;

// Rubber Band consumes and produces blocks; this size is a balance between call
// overhead and memory (the offline stretcher buffers internally anyway).
constexpr std::size_t kBlockFrames = 4096;

void drain(RubberBandStretcher& rb, std::vector<std::vector<float>>& out, std::vector<float*>& ptrs,
           std::vector<std::vector<float>>& buf) {
    for (;;) {
        int avail = rb.available();
        if (avail <= 0) return;
        std::size_t n = std::min<std::size_t>(std::size_t(avail), kBlockFrames);
        for (std::size_t c = 0; c < buf.size(); ++c) ptrs[c] = buf[c].data();
        std::size_t got = rb.retrieve(ptrs.data(), n);
        for (std::size_t c = 0; c < buf.size(); ++c)
            out[c].insert(out[c].end(), buf[c].begin(), buf[c].begin() + got);
        if (got == 0) return;
    }
}

}  // namespace

Audio stretch_to_frames(const Audio& in, std::size_t out_frames, const StretchParams& params) {
    params.validate();
    const std::size_t in_frames = in.frames();
    if (in.num_channels() == 0 || in_frames == 0) throw usage_error("stretch: input audio is empty");
    if (out_frames == 0) throw usage_error("stretch: out_frames must be positive");
    const double ratio = double(out_frames) / double(in_frames);
    if (ratio < kMinStretchRatio || ratio > kMaxStretchRatio)
        throw usage_error("stretch: ratio " + std::to_string(ratio) + " outside " + std::to_string(kMinStretchRatio) +
                          ".." + std::to_string(kMaxStretchRatio));
    if (out_frames == in_frames) return in;

    RubberBandStretcher::Options options = RubberBandStretcher::OptionProcessOffline |
                                           RubberBandStretcher::OptionChannelsTogether |
                                           RubberBandStretcher::OptionPitchHighQuality;
    options |= params.engine == StretchEngine::Finer ? RubberBandStretcher::OptionEngineFiner
                                                     : RubberBandStretcher::OptionEngineFaster;
    if (params.short_window) options |= RubberBandStretcher::OptionWindowShort;

    const int channels = in.num_channels();
    RubberBandStretcher rb(std::size_t(in.sample_rate_hz), std::size_t(channels), options, ratio, 1.0);
    // A library older than 3.0 ignores OptionEngineFiner and runs R2 silently.
    const int want_version = params.engine == StretchEngine::Finer ? 3 : 2;
    if (rb.getEngineVersion() != want_version)
        throw input_error("stretch: Rubber Band runs engine R" + std::to_string(rb.getEngineVersion()) +
                          " but R" + std::to_string(want_version) + " was requested (library too old?); use --engine r2");
    rb.setExpectedInputDuration(in_frames);
    rb.setMaxProcessSize(kBlockFrames);

    std::vector<const float*> in_ptrs(channels);
    for (std::size_t pos = 0; pos < in_frames; pos += kBlockFrames) {
        std::size_t n = std::min(kBlockFrames, in_frames - pos);
        for (int c = 0; c < channels; ++c) in_ptrs[c] = in.channel(c) + pos;
        rb.study(in_ptrs.data(), n, pos + n == in_frames);
    }

    std::vector<std::vector<float>> out(channels), buf(channels, std::vector<float>(kBlockFrames));
    for (auto& o : out) o.reserve(out_frames + kBlockFrames);
    std::vector<float*> out_ptrs(channels);
    for (std::size_t pos = 0; pos < in_frames; pos += kBlockFrames) {
        std::size_t n = std::min(kBlockFrames, in_frames - pos);
        for (int c = 0; c < channels; ++c) in_ptrs[c] = in.channel(c) + pos;
        rb.process(in_ptrs.data(), n, pos + n == in_frames);
        drain(rb, out, out_ptrs, buf);
    }
    // After the final block, available() is 0 while worker threads finish and -1 at the end.
    for (int avail; (avail = rb.available()) != -1;) {
        if (avail == 0) std::this_thread::yield();
        else drain(rb, out, out_ptrs, buf);
    }

    Audio result;
    result.sample_rate_hz = in.sample_rate_hz;
    result.channels = std::move(out);
    // Rubber Band's offline length is round(in·ratio) give or take a frame: make it exact.
    for (auto& ch : result.channels) ch.resize(out_frames, 0.0f);
    return result;
}

// ---------------------------------------------------------------- TempoMap

void TempoMap::add_segment(double song_start, double song_end, double ref_start, double ref_end) {
    if (!std::isfinite(song_start) || !std::isfinite(song_end) || !std::isfinite(ref_start) || !std::isfinite(ref_end))
        throw usage_error("TempoMap: segment bounds must be finite");
    if (!(song_end > song_start) || !(ref_end > ref_start))
        throw usage_error("TempoMap: segment end must be after its start");
    if (!song_.empty() && (song_start < song_.back() || ref_start < ref_.back()))
        throw usage_error("TempoMap: segments must be added in increasing, non-overlapping order");
    song_.push_back(song_start);
    song_.push_back(song_end);
    ref_.push_back(ref_start);
    ref_.push_back(ref_end);
}

namespace {
// Piecewise-linear interpolation through knots (x, y), x non-decreasing; outside
// the knots the first/last segment's slope is used. Zero-width gaps (x equal at
// a segment join) are skipped.
double interpolate(const std::vector<double>& x, const std::vector<double>& y, double v) {
    if (x.empty()) throw usage_error("TempoMap: no segments");
    const std::size_t n = x.size();
    if (v <= x[0]) return y[0] + (v - x[0]) * (y[1] - y[0]) / (x[1] - x[0]);
    if (v >= x[n - 1]) return y[n - 1] + (v - x[n - 1]) * (y[n - 1] - y[n - 2]) / (x[n - 1] - x[n - 2]);
    std::size_t hi = std::size_t(std::upper_bound(x.begin(), x.end(), v) - x.begin());  // x[hi-1] <= v < x[hi]
    std::size_t lo = hi - 1;
    double span = x[hi] - x[lo];
    if (span <= 0) return y[hi];
    return y[lo] + (v - x[lo]) * (y[hi] - y[lo]) / span;
}
}  // namespace

double TempoMap::to_reference(double song_frame) const { return interpolate(song_, ref_, song_frame); }
double TempoMap::to_song(double ref_frame) const { return interpolate(ref_, song_, ref_frame); }

std::vector<float> warp_rows(const float* rows, std::size_t num_rows, int width, const std::vector<double>& src_position) {
    if (num_rows == 0) throw usage_error("warp_rows: no input rows");
    if (width <= 0) throw usage_error("warp_rows: width must be positive");
    const std::size_t w = std::size_t(width);
    std::vector<float> out(src_position.size() * w);
    const double last = double(num_rows - 1);
    for (std::size_t j = 0; j < src_position.size(); ++j) {
        double p = src_position[j];
        if (!(p > 0)) p = 0;  // also catches NaN
        if (p > last) p = last;
        std::size_t i0 = std::size_t(p);
        if (i0 >= num_rows - 1) i0 = num_rows - 1;
        const float f = float(p - double(i0));
        const float* a = rows + i0 * w;
        const float* b = i0 + 1 < num_rows ? a + w : a;
        float* o = out.data() + j * w;
        for (std::size_t k = 0; k < w; ++k) o[k] = a[k] + f * (b[k] - a[k]);
    }
    return out;
}

}  // namespace loopsep
