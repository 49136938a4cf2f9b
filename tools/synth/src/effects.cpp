// Per-stem mixing effects (see effects.h).
#include "effects.h"

#include <algorithm>
#include <cmath>

namespace loopsep::synth {
namespace {

constexpr double kPi = 3.141592653589793;

struct Biquad {
    double b0 = 1, b1 = 0, b2 = 0, a1 = 0, a2 = 0, x1 = 0, x2 = 0, y1 = 0, y2 = 0;
    float operator()(float xf) {
        const double x = xf;
        const double y = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
        x2 = x1; x1 = x; y2 = y1; y1 = y;
        return float(y);
    }
};

// RBJ cookbook shelves and peak.
Biquad make(int type, double f, double gain_db, double q, double sr) {
    const double A = std::pow(10.0, gain_db / 40.0), w = 2 * kPi * f / sr, c = std::cos(w), s = std::sin(w);
    Biquad b;
    double a0;
    if (type == 0) {  // low shelf
        const double alpha = s / 2 * std::sqrt(2.0), sq = 2 * std::sqrt(A) * alpha;
        b.b0 = A * ((A + 1) - (A - 1) * c + sq); b.b1 = 2 * A * ((A - 1) - (A + 1) * c); b.b2 = A * ((A + 1) - (A - 1) * c - sq);
        a0 = (A + 1) + (A - 1) * c + sq; b.a1 = -2 * ((A - 1) + (A + 1) * c); b.a2 = (A + 1) + (A - 1) * c - sq;
    } else if (type == 1) {  // high shelf
        const double alpha = s / 2 * std::sqrt(2.0), sq = 2 * std::sqrt(A) * alpha;
        b.b0 = A * ((A + 1) + (A - 1) * c + sq); b.b1 = -2 * A * ((A - 1) + (A + 1) * c); b.b2 = A * ((A + 1) + (A - 1) * c - sq);
        a0 = (A + 1) - (A - 1) * c + sq; b.a1 = 2 * ((A - 1) - (A + 1) * c); b.a2 = (A + 1) - (A - 1) * c - sq;
    } else {  // peaking
        const double alpha = s / (2 * q);
        b.b0 = 1 + alpha * A; b.b1 = -2 * c; b.b2 = 1 - alpha * A;
        a0 = 1 + alpha / A; b.a1 = -2 * c; b.a2 = 1 - alpha / A;
    }
    b.b0 /= a0; b.b1 /= a0; b.b2 /= a0; b.a1 /= a0; b.a2 /= a0;
    return b;
}

struct Comb {
    std::vector<float> buf;
    std::size_t i = 0;
    float store = 0;
    float run(float x, float feedback, float damp) {
        const float y = buf[i];
        store = y * (1 - damp) + store * damp;
        buf[i] = x + store * feedback;
        i = (i + 1) % buf.size();
        return y;
    }
};

struct Allpass {
    std::vector<float> buf;
    std::size_t i = 0;
    float run(float x) {
        const float b = buf[i];
        buf[i] = x + b * 0.5f;
        i = (i + 1) % buf.size();
        return b - x;
    }
};

}  // namespace

Audio pan_to(const Audio& in, double pan, int channels) {
    const std::size_t n = in.frames();
    Audio out(channels, n, in.sample_rate_hz);
    if (channels == 1) {
        const float g = in.num_channels() == 1 ? 1.0f : 0.5f;
        for (int c = 0; c < in.num_channels(); ++c)
            for (std::size_t i = 0; i < n; ++i) out.channels[0][i] += g * in.channels[c][i];
        return out;
    }
    const double angle = (std::clamp(pan, -1.0, 1.0) + 1.0) * kPi / 4.0;
    const float gl = float(std::cos(angle) * std::sqrt(2.0)), gr = float(std::sin(angle) * std::sqrt(2.0));
    const auto& l = in.channels[0];
    const auto& r = in.channels[in.num_channels() > 1 ? 1 : 0];
    for (std::size_t i = 0; i < n; ++i) {
        out.channels[0][i] = gl * l[i];
        out.channels[1][i] = gr * r[i];
    }
    return out;
}

void random_eq(Audio& audio, Rng& rng, double max_db) {
    const double sr = audio.sample_rate_hz;
    const double low_db = rng.uniform(-max_db, max_db), high_db = rng.uniform(-max_db, max_db);
    const double peak_db = rng.uniform(-max_db, max_db), peak_f = std::exp(rng.uniform(std::log(200.0), std::log(6000.0)));
    const double low_f = rng.uniform(80, 250), high_f = std::min(0.4 * sr, rng.uniform(3000, 9000));
    for (auto& ch : audio.channels) {
        Biquad lo = make(0, low_f, low_db, 0.7, sr), hi = make(1, high_f, high_db, 0.7, sr), pk = make(2, peak_f, peak_db, 1.0, sr);
        for (auto& x : ch) x = pk(hi(lo(x)));
    }
}

void add_reverb(Audio& audio, double wet, double room, double damp) {
    if (wet <= 0.0) return;
    static const int kComb[8] = {1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617};
    static const int kAllpass[4] = {556, 441, 341, 225};
    const double scale = audio.sample_rate_hz / 44100.0;
    const std::size_t n = audio.frames();
    const int nc = audio.num_channels();
    std::vector<float> input(n, 0.0f);
    for (const auto& ch : audio.channels)
        for (std::size_t i = 0; i < n; ++i) input[i] += ch[i] / float(nc);
    for (int c = 0; c < nc; ++c) {
        const int spread = c * 23;  // decorrelates left and right
        std::vector<Comb> combs(8);
        std::vector<Allpass> aps(4);
        for (int k = 0; k < 8; ++k) combs[k].buf.assign(std::size_t((kComb[k] + spread) * scale), 0.0f);
        for (int k = 0; k < 4; ++k) aps[k].buf.assign(std::size_t((kAllpass[k] + spread) * scale), 0.0f);
        const float fb = float(room), dm = float(damp), g = float(wet) * 0.12f;
        auto& ch = audio.channels[c];
        for (std::size_t i = 0; i < n; ++i) {
            float acc = 0.0f;
            const float x = input[i];
            for (auto& cb : combs) acc += cb.run(x, fb, dm);
            for (auto& ap : aps) acc = ap.run(acc);
            ch[i] += g * acc;
        }
    }
}

void add_chorus(Audio& audio, double rate_hz, double depth_ms, double mix) {
    const double sr = audio.sample_rate_hz;
    const std::size_t n = audio.frames();
    const double base = 0.012 * sr, depth = depth_ms * 1e-3 * sr;
    for (int c = 0; c < audio.num_channels(); ++c) {
        const std::vector<float> dry = audio.channels[c];
        auto& out = audio.channels[c];
        const double phase = c * kPi / 2;  // left and right move differently: width
        for (std::size_t i = 0; i < n; ++i) {
            const double d = base + depth * (1 + std::sin(2 * kPi * rate_hz * i / sr + phase)) / 2;
            const double pos = double(i) - d;
            if (pos < 0) continue;
            const std::size_t k = std::size_t(pos);
            const double f = pos - double(k);
            const double delayed = dry[k] * (1 - f) + dry[std::min(k + 1, n - 1)] * f;
            out[i] = float(dry[i] * (1 - mix * 0.5) + delayed * mix);
        }
    }
}

void add_lofi(Audio& audio, Rng& rng, double drive, double crackle) {
    const double norm = std::tanh(drive);
    for (auto& ch : audio.channels)
        for (auto& x : ch) x = float(std::tanh(drive * x) / norm);
    if (crackle <= 0) return;
    // Sparse clicks with a short decay, the same on both channels (mono vinyl).
    const double sr = audio.sample_rate_hz;
    const std::size_t n = audio.frames();
    const double per_sec = rng.uniform(4, 14);
    double level = 0;
    double t = 0;
    std::vector<float> noise(n, 0.0f);
    while (true) {
        t += -std::log(std::max(1e-9, rng.uniform())) / per_sec;
        const std::size_t at = std::size_t(t * sr);
        if (at >= n) break;
        level = crackle * rng.uniform(0.2, 1.0) * (rng.chance(0.5) ? 1 : -1);
        for (std::size_t i = 0; i < 40 && at + i < n; ++i) noise[at + i] += float(level * std::exp(-double(i) / 6.0));
    }
    for (auto& ch : audio.channels)
        for (std::size_t i = 0; i < n; ++i) ch[i] += noise[i];
}

}  // namespace loopsep::synth
