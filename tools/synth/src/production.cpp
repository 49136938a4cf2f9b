// Production stage (see production.h).
#include "production.h"

#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "loopsep/error.h"

namespace loopsep::synth {
namespace {

using Json = nlohmann::ordered_json;
constexpr double kPi = 3.141592653589793;
constexpr double kDbToNeper = 0.11512925464970229;  // ln(10) / 20: 10^(dB/20) == exp(dB · this)

// ---- The ranges each effect's parameters are drawn from (how often each is
// used: ProductionOdds in production.h) ----

constexpr double kShelfMaxDb = 6.0;             // broad tonal tilts
constexpr double kPeakMinDb = -9.0, kPeakMaxDb = 6.0;  // cuts deeper than boosts, as engineers do
constexpr double kCompBelowPeakMinDb = 4.0, kCompBelowPeakMaxDb = 18.0;  // threshold under the stem's peak: gentle..squashed
constexpr double kCompRatioMin = 1.5, kCompRatioMax = 8.0;              // drawn log-uniform
constexpr double kCompAttackMinMs = 0.5, kCompAttackMaxMs = 30.0;       // fast (flattens transients)..slow (lets them through)
constexpr double kCompReleaseMinMs = 40.0, kCompReleaseMaxMs = 400.0;
constexpr double kSatDriveMin = 1.2, kSatDriveMax = 4.0;  // 1: nearly linear; 4: the peak squashed to ~¼
// Width and balance: stereo only. Width < 1 narrows, > 1 widens the stem's image.
constexpr double kWidthMin = 0.4, kWidthMax = 1.6;
constexpr double kBalanceMax = 0.4;  // bass and vocals stay centred (see below)
// Level rides: slow fader moves over bars, breakpoints every 2/4/8 bars.
constexpr double kRideMaxDb = 3.0;
// Reverb: the same Freeverb structure with two sets of ranges. A room is short and
// darker (damped highs); a plate is longer and bright (little damping).
constexpr double kRoomRt60Min = 0.3, kRoomRt60Max = 1.2, kRoomPredelayMaxMs = 25.0, kRoomDampMin = 0.2, kRoomDampMax = 0.6;
constexpr double kPlateRt60Min = 0.8, kPlateRt60Max = 2.5, kPlatePredelayMinMs = 5.0, kPlatePredelayMaxMs = 40.0,
                 kPlateDampMax = 0.3;  // plates are bright
constexpr double kVerbWetMinDb = -22.0, kVerbWetMaxDb = -8.0;  // wet energy relative to the dry stem

// Bus.
constexpr double kGlueRatioMin = 1.5, kGlueRatioMax = 4.0, kGlueBelowPeakMinDb = 3.0,
                 kGlueBelowPeakMaxDb = 12.0, kGlueAttackMinMs = 5.0, kGlueAttackMaxMs = 30.0, kGlueReleaseMinMs = 50.0,
                 kGlueReleaseMaxMs = 400.0;
constexpr double kLimiterDriveMinDb = 1.0, kLimiterDriveMaxDb = 8.0,  // dB pushed into the ceiling
                 kLimiterLookaheadMs = 5.0, kLimiterReleaseMinMs = 30.0, kLimiterReleaseMaxMs = 200.0;
// Vinyl / pitched edits: ±6 % covers turntable speed-ups and DJ pitch faders.
constexpr double kSpeedMin = 0.94, kSpeedMax = 1.06;
const std::vector<int> kCodecKbps = {96, 128, 160, 192, 256, 320};

enum class StemKind { Percussion, Bass, Vocals, Harmonic };
StemKind kind_of(const std::string& stem) {
    if (stem == "bongo" || stem == "guira" || stem == "drums") return StemKind::Percussion;
    if (stem == "bass") return StemKind::Bass;
    if (stem == "vocals") return StemKind::Vocals;
    return StemKind::Harmonic;
}
double by_kind(StemKind k, const double (&p)[4]) { return p[int(k)]; }

double log_uniform(Rng& r, double lo, double hi) { return std::exp(r.uniform(std::log(lo), std::log(hi))); }
double db(double x) { return 20.0 * std::log10(std::max(x, 1e-12)); }
double r3(double x) { return std::round(x * 1000) / 1000; }

struct Biquad {
    double b0 = 1, b1 = 0, b2 = 0, a1 = 0, a2 = 0, x1 = 0, x2 = 0, y1 = 0, y2 = 0;
    double operator()(double x) {
        const double y = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
        x2 = x1; x1 = x; y2 = y1; y1 = y;
        return y;
    }
};

// RBJ cookbook: 0 low shelf, 1 high shelf (slope 1), 2 peaking.
Biquad biquad(int type, double f, double gain_db, double q, double sr) {
    const double A = std::pow(10.0, gain_db / 40.0), w = 2 * kPi * std::min(f, 0.45 * sr) / sr;
    const double c = std::cos(w), s = std::sin(w);
    Biquad b;
    double a0;
    if (type != 2) {
        const double sq = 2 * std::sqrt(A) * (s / 2 * std::sqrt(2.0));
        const double sign = type == 0 ? 1.0 : -1.0;
        b.b0 = A * ((A + 1) - sign * (A - 1) * c + sq);
        b.b1 = sign * 2 * A * ((A - 1) - sign * (A + 1) * c);
        b.b2 = A * ((A + 1) - sign * (A - 1) * c - sq);
        a0 = (A + 1) + sign * (A - 1) * c + sq;
        b.a1 = -sign * 2 * ((A - 1) + sign * (A + 1) * c);
        b.a2 = (A + 1) + sign * (A - 1) * c - sq;
    } else {
        const double alpha = s / (2 * q);
        b.b0 = 1 + alpha * A; b.b1 = -2 * c; b.b2 = 1 - alpha * A;
        a0 = 1 + alpha / A; b.a1 = -2 * c; b.a2 = 1 - alpha / A;
    }
    b.b0 /= a0; b.b1 /= a0; b.b2 /= a0; b.a1 /= a0; b.a2 /= a0;
    return b;
}

void scale(Audio& a, double g) {
    for (auto& ch : a.channels) for (auto& x : ch) x = float(x * g);
}

// Restores the active RMS an effect changed (compression, saturation), so the
// stem keeps the level the arrangement gave it. Returns the gain in dB.
double restore_level(Audio& a, double before_rms) {
    const double after = active_rms(a);
    if (after <= 0 || before_rms <= 0) return 0.0;
    scale(a, before_rms / after);
    return db(before_rms / after);
}

struct Comb {
    std::vector<float> buf;
    std::size_t i = 0;
    float store = 0, feedback = 0;
    float run(float x, float damp) {
        const float y = buf[i];
        store = y * (1 - damp) + store * damp;
        buf[i] = x + store * feedback;
        if (++i == buf.size()) i = 0;
        return y;
    }
};

struct Allpass {
    std::vector<float> buf;
    std::size_t i = 0;
    float run(float x) {
        const float b = buf[i];
        buf[i] = x + b * 0.5f;
        if (++i == buf.size()) i = 0;
        return b - x;
    }
};

double kaiser_i0(double x) {
    double sum = 1, term = 1;
    for (int k = 1; k < 30; ++k) {
        term *= (x / (2 * k)) * (x / (2 * k));
        sum += term;
    }
    return sum;
}

// Fader curve for a level ride: cosine-interpolated between breakpoints (held
// outside them). It moves over bars, so it is evaluated every 64 frames and
// interpolated linearly in between (exp and cos per frame cost more than the ride).
std::vector<float> ride_curve(std::size_t n, int sr, const std::vector<double>& at_sec, const std::vector<double>& gain_db) {
    auto at = [&](double t) {
        if (t <= at_sec[0]) return gain_db[0];
        const std::size_t seg = std::size_t(std::upper_bound(at_sec.begin(), at_sec.end(), t) - at_sec.begin()) - 1;
        if (seg + 1 >= at_sec.size()) return gain_db.back();
        const double u = (t - at_sec[seg]) / (at_sec[seg + 1] - at_sec[seg]);
        return gain_db[seg] + (gain_db[seg + 1] - gain_db[seg]) * (1 - std::cos(kPi * u)) / 2;
    };
    constexpr std::size_t kStep = 64;
    std::vector<float> g(n);
    double g0 = std::exp(at(0.0) * kDbToNeper);
    for (std::size_t s = 0; s < n; s += kStep) {
        const double g1 = std::exp(at(double(s + kStep) / sr) * kDbToNeper);
        for (std::size_t i = s; i < std::min(n, s + kStep); ++i) g[i] = float(g0 + (g1 - g0) * double(i - s) / kStep);
        g0 = g1;
    }
    return g;
}

}  // namespace

double active_rms(const Audio& a) {
    const std::size_t w = 2048;
    std::vector<double> e;
    for (std::size_t s = 0; s + w <= a.frames(); s += w) {
        double sum = 0;
        for (const auto& ch : a.channels)
            for (std::size_t i = s; i < s + w; ++i) sum += double(ch[i]) * ch[i];
        e.push_back(sum / double(w * a.channels.size()));
    }
    const double mx = e.empty() ? 0.0 : *std::max_element(e.begin(), e.end());
    if (mx <= 1e-20) return 0.0;
    double sum = 0;
    int n = 0;
    for (double v : e) if (v > mx * 1e-4) { sum += v; ++n; }
    return std::sqrt(sum / n);
}

void apply_eq(Audio& audio, const EqSettings& eq) {
    const double sr = audio.sample_rate_hz;
    for (auto& ch : audio.channels) {
        Biquad lo = biquad(0, eq.low_hz, eq.low_db, 0.7, sr), hi = biquad(1, eq.high_hz, eq.high_db, 0.7, sr),
               pk = biquad(2, eq.peak_hz, eq.peak_db, eq.peak_q, sr);
        for (auto& x : ch) x = float(pk(hi(lo(x))));
    }
}

std::vector<float> compressor_gain(const Audio& detector, const CompressorSettings& c) {
    const double sr = detector.sample_rate_hz;
    const double att = std::exp(-1.0 / (std::max(c.attack_ms, 0.01) * 1e-3 * sr));
    const double rel = std::exp(-1.0 / (std::max(c.release_ms, 0.01) * 1e-3 * sr));
    const double slope = 1.0 - 1.0 / std::max(c.ratio, 1.0);
    const double threshold = std::pow(10.0, c.threshold_db / 20.0);
    const float makeup = float(std::pow(10.0, c.makeup_db / 20.0));
    const std::size_t n = detector.frames();
    std::vector<float> gain(n);
    double env = 0, gr_db = 0;
    for (std::size_t i = 0; i < n; ++i) {
        double level = 0;
        for (const auto& ch : detector.channels) level = std::max(level, double(std::fabs(ch[i])));
        env = std::max(level, rel * env);  // peak detector: holds a sine's crest between cycles
        const double target = env > threshold ? (db(env) - c.threshold_db) * slope : 0.0;
        const double coef = target > gr_db ? att : rel;
        gr_db = coef * gr_db + (1 - coef) * target;
        if (gr_db < 1e-9) gr_db = 0;  // fully released: skip the exp (most frames of a quiet stretch)
        gain[i] = gr_db == 0 ? makeup : float(std::exp((c.makeup_db - gr_db) * kDbToNeper));
    }
    return gain;
}

std::vector<float> limiter_gain(const Audio& detector, double ceiling, double lookahead_ms, double release_ms) {
    const std::size_t n = detector.frames();
    const std::size_t look = std::max<std::size_t>(1, std::size_t(lookahead_ms * 1e-3 * detector.sample_rate_hz));
    const double rel = std::exp(-1.0 / (std::max(release_ms, 0.01) * 1e-3 * detector.sample_rate_hz));
    // The gain each frame needs on its own (0.1 % headroom against float rounding).
    std::vector<double> need(n, 1.0);
    for (std::size_t i = 0; i < n; ++i) {
        double level = 0;
        for (const auto& ch : detector.channels) level = std::max(level, double(std::fabs(ch[i])));
        if (level > ceiling * 0.999) need[i] = ceiling * 0.999 / level;
    }
    // h[i] = min(need[i..i+look]), then recovering no faster than the release.
    // Each smoothed gain below is a mean of h over [i-look, i]; every one of
    // those h covers frame i, so the mean never exceeds need[i]: no overshoot.
    std::vector<double> h(n);
    std::vector<std::size_t> dq;  // monotone deque of indices for the sliding minimum
    std::size_t head = 0;
    for (std::size_t k = n; k-- > 0;) {
        while (dq.size() > head && need[dq.back()] >= need[k]) dq.pop_back();
        dq.push_back(k);
        while (dq[head] > k + look) ++head;
        h[k] = need[dq[head]];
    }
    double held = 1.0;
    for (std::size_t i = 0; i < n; ++i) {
        held = std::min(h[i], 1.0 - (1.0 - held) * rel);
        h[i] = held;
    }
    std::vector<float> gain(n);
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        sum += h[i];
        if (i > look) sum -= h[i - look - 1];
        const double count = double(std::min(i, look) + 1);
        // Frames before the start count as gain 1 would overshoot: average only over real frames
        // plus the missing ones at h[0] (which covers frames 0..look, so the bound still holds).
        const double missing = double(look + 1) - count;
        gain[i] = float((sum + missing * h[0]) / double(look + 1));
    }
    return gain;
}

void apply_gain(Audio& audio, const std::vector<float>& gain) {
    for (auto& ch : audio.channels)
        for (std::size_t i = 0; i < ch.size(); ++i) ch[i] = float(double(ch[i]) * gain[i]);
}

float saturate(float x, double drive, double scale_lin) {
    return float(scale_lin * std::tanh(drive * double(x) / scale_lin) / drive);
}

Audio reverb_wet(const Audio& in, const ReverbSettings& r) {
    static const int kComb[8] = {1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617};
    static const int kAllpass[4] = {556, 441, 341, 225};
    const int sr = in.sample_rate_hz, nc = in.num_channels();
    const double size = sr / 44100.0;
    const std::size_t n = in.frames();
    const std::size_t pre = std::size_t(std::max(0.0, r.predelay_ms) * 1e-3 * sr);
    std::vector<float> input(n, 0.0f);  // mono send, delayed by the pre-delay
    for (const auto& ch : in.channels)
        for (std::size_t i = 0; i + pre < n; ++i) input[i + pre] += ch[i] / float(nc);
    Audio out(nc, n, sr);
    const float damp = float(std::clamp(r.damping, 0.0, 0.95));
    for (int c = 0; c < nc; ++c) {
        const int spread = c * 23;  // decorrelates left and right
        std::vector<Comb> combs(8);
        std::vector<Allpass> aps(4);
        for (int k = 0; k < 8; ++k) {
            const std::size_t len = std::size_t((kComb[k] + spread) * size);
            combs[k].buf.assign(len, 0.0f);
            // A loop of `len` samples decays 60 dB in rt60 seconds.
            combs[k].feedback = float(std::pow(10.0, -3.0 * double(len) / (std::max(r.rt60_sec, 0.05) * sr)));
        }
        for (int k = 0; k < 4; ++k) aps[k].buf.assign(std::size_t((kAllpass[k] + spread) * size), 0.0f);
        auto& o = out.channels[c];
        for (std::size_t i = 0; i < n; ++i) {
            float acc = 0.0f;
            for (auto& cb : combs) acc += cb.run(input[i], damp);
            for (auto& ap : aps) acc = ap.run(acc);
            o[i] = acc * 0.125f;
        }
    }
    return out;
}

void set_width(Audio& audio, double width) {
    if (audio.num_channels() != 2) return;
    auto& l = audio.channels[0];
    auto& r = audio.channels[1];
    for (std::size_t i = 0; i < l.size(); ++i) {
        const double mid = 0.5 * (double(l[i]) + r[i]), side = 0.5 * (double(l[i]) - r[i]) * width;
        l[i] = float(mid + side);
        r[i] = float(mid - side);
    }
}

void set_balance(Audio& audio, double pan) {
    if (audio.num_channels() != 2) return;
    const double angle = (std::clamp(pan, -1.0, 1.0) + 1.0) * kPi / 4.0;
    const float gl = float(std::cos(angle) * std::sqrt(2.0)), gr = float(std::sin(angle) * std::sqrt(2.0));
    for (auto& x : audio.channels[0]) x *= gl;
    for (auto& x : audio.channels[1]) x *= gr;
}

Audio change_speed(const Audio& in, double factor) {
    // Kaiser-windowed sinc (β 8: ~80 dB stopband), 24 zero crossings each side,
    // cut off at 0.92 of the lower of the two Nyquists, so that speeding up does
    // not fold content above the new Nyquist back down. Tabulated at 512
    // fractional positions, each row the contiguous taps for one position.
    constexpr int kHalf = 24, kPhases = 512;
    constexpr double kBeta = 8.0;
    const double cutoff = 0.92 * std::min(1.0, 1.0 / factor);
    const int taps = int(std::ceil(kHalf / cutoff));  // each side
    // Each row: the 2·taps taps for one fractional position, zero-padded to a
    // multiple of 8 so the inner loop runs on eight independent sums (vectorised).
    const std::size_t width = (std::size_t(2 * taps) + 7) / 8 * 8;
    std::vector<float> table(width * (kPhases + 1), 0.0f);
    for (int p = 0; p <= kPhases; ++p)
        for (int j = -taps + 1; j <= taps; ++j) {
            const double t = double(j) - double(p) / kPhases;  // tap offset from the output position, in input samples
            const double u = t / taps, x = kPi * cutoff * t;
            const double sinc = std::fabs(x) < 1e-12 ? 1.0 : std::sin(x) / x;
            table[std::size_t(p) * width + std::size_t(j + taps - 1)] =
                float(cutoff * sinc * kaiser_i0(kBeta * std::sqrt(std::max(0.0, 1 - u * u))) / kaiser_i0(kBeta));
        }
    const std::size_t n = in.frames();
    const std::size_t m = std::size_t(std::llround(double(n) / factor));
    Audio out(in.num_channels(), m, in.sample_rate_hz);
    for (int c = 0; c < in.num_channels(); ++c) {
        const float* x = in.channels[c].data();
        float* y = out.channels[c].data();
        for (std::size_t i = 0; i < m; ++i) {
            const double pos = double(i) * factor;
            const long k0 = long(std::floor(pos));
            const float* row = &table[std::size_t(std::lrint((pos - double(k0)) * kPhases)) * width];
            const long first = k0 - taps + 1;  // the input frame under row[0]
            if (first >= 0 && first + long(width) <= long(n)) {
                const float* xs = x + first;
                float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                for (std::size_t j = 0; j < width; j += 8)
                    for (std::size_t u = 0; u < 8; ++u) acc[u] += xs[j + u] * row[j + u];
                y[i] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
            } else {  // near the ends: frames outside the signal are zeros
                float acc = 0.0f;
                for (std::size_t j = 0; j < width; ++j) {
                    const long k = first + long(j);
                    if (k >= 0 && k < long(n)) acc += x[k] * row[j];
                }
                y[i] = acc;
            }
        }
    }
    return out;
}

bool mp3_supports_rate(int sr) {
    return sr == 32000 || sr == 44100 || sr == 48000 || sr == 22050 || sr == 24000 || sr == 16000;
}

Audio mp3_round_trip(const Audio& in, int bitrate_kbps, const std::string& temp_path) {
    const int nc = in.num_channels(), sr = in.sample_rate_hz;
    const std::size_t n = in.frames();
    SF_INFO info{};
    info.samplerate = sr;
    info.channels = nc;
    info.format = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;
    SNDFILE* f = sf_open(temp_path.c_str(), SFM_WRITE, &info);
    if (!f) throw input_error(temp_path + ": cannot write MP3 (" + sf_strerror(nullptr) + ")");
    int mode = SF_BITRATE_MODE_CONSTANT;
    sf_command(f, SFC_SET_BITRATE_MODE, &mode, sizeof mode);
    // libsndfile maps compression 0..1 onto 320..32 kbit/s for MPEG-1 rates (LAME rounds to a legal rate).
    double level = std::clamp((320.0 - bitrate_kbps) / (320.0 - 32.0), 0.0, 1.0);
    sf_command(f, SFC_SET_COMPRESSION_LEVEL, &level, sizeof level);
    std::vector<float> inter(n * std::size_t(nc));
    for (std::size_t i = 0; i < n; ++i)
        for (int c = 0; c < nc; ++c) inter[i * std::size_t(nc) + std::size_t(c)] = std::clamp(in.channels[c][i], -1.0f, 1.0f);
    const sf_count_t wrote = sf_writef_float(f, inter.data(), sf_count_t(n));
    sf_close(f);
    if (wrote != sf_count_t(n)) {
        std::filesystem::remove(temp_path);
        throw input_error(temp_path + ": short MP3 write");
    }
    SF_INFO rinfo{};
    SNDFILE* g = sf_open(temp_path.c_str(), SFM_READ, &rinfo);
    if (!g) {
        std::filesystem::remove(temp_path);
        throw input_error(temp_path + ": cannot read the MP3 back (" + sf_strerror(nullptr) + ")");
    }
    std::vector<float> back;
    std::vector<float> buf(4096 * std::size_t(rinfo.channels));
    sf_count_t got;
    while ((got = sf_readf_float(g, buf.data(), 4096)) > 0) back.insert(back.end(), buf.begin(), buf.begin() + got * rinfo.channels);
    sf_close(g);
    std::filesystem::remove(temp_path);
    if (rinfo.channels != nc) throw input_error(temp_path + ": MP3 came back with another channel count");
    Audio out(nc, n, sr);
    const std::size_t avail = back.size() / std::size_t(nc);
    for (std::size_t i = 0; i < std::min(n, avail); ++i)
        for (int c = 0; c < nc; ++c) out.channels[c][i] = back[i * std::size_t(nc) + std::size_t(c)];
    return out;
}

ProductionResult produce(std::vector<ProducedStem>& stems, const std::vector<double>& downbeat_sec, Rng& rng,
                         bool enabled, bool allow_speed, const ProductionOdds& odds) {
    ProductionResult res;
    if (!enabled || stems.empty()) return res;
    res.enabled = true;
    const int sr = stems[0].audio->sample_rate_hz, nc = stems[0].audio->num_channels();
    const std::size_t n = stems[0].audio->frames();
    Json stem_rec = Json::object();

    for (std::size_t k = 0; k < stems.size(); ++k) {
        Audio& a = *stems[k].audio;
        const StemKind kind = kind_of(stems[k].name);
        Rng r = rng.fork(k + 1);
        Json chain = Json::array();
        // Every draw below happens whether or not the stem is silent or the effect
        // is taken, so one stem's choices never shift another's.
        const bool use_eq = r.chance(odds.eq);
        EqSettings eq;
        eq.low_hz = r.uniform(60, 250);
        eq.low_db = r.uniform(-kShelfMaxDb, kShelfMaxDb);
        eq.high_hz = r.uniform(2500, 10000);
        eq.high_db = r.uniform(-kShelfMaxDb, kShelfMaxDb);
        eq.peak_hz = log_uniform(r, 150, 8000);
        eq.peak_db = r.uniform(kPeakMinDb, kPeakMaxDb);
        eq.peak_q = log_uniform(r, 0.5, 4.0);
        const bool use_comp = r.chance(by_kind(kind, odds.compressor));
        const double comp_below = r.uniform(kCompBelowPeakMinDb, kCompBelowPeakMaxDb);
        CompressorSettings comp;
        comp.ratio = log_uniform(r, kCompRatioMin, kCompRatioMax);
        comp.attack_ms = log_uniform(r, kCompAttackMinMs, kCompAttackMaxMs);
        comp.release_ms = log_uniform(r, kCompReleaseMinMs, kCompReleaseMaxMs);
        const bool use_sat = r.chance(by_kind(kind, odds.saturation));
        const double drive = r.uniform(kSatDriveMin, kSatDriveMax);
        const bool use_width = r.chance(odds.width);
        const double width = r.uniform(kWidthMin, kWidthMax);
        // Bass and vocals are anchored in the centre on records; others may lean.
        const bool use_balance = r.chance(odds.balance) && kind != StemKind::Bass && kind != StemKind::Vocals;
        const double balance = r.uniform(-kBalanceMax, kBalanceMax);
        const bool use_ride = r.chance(odds.ride);
        const int ride_bars = r.pick(std::vector<int>{2, 4, 8});
        std::vector<double> ride_db;
        for (std::size_t b = 0; b <= downbeat_sec.size() / 2 + 1; ++b) ride_db.push_back(r.uniform(-kRideMaxDb, kRideMaxDb));
        const bool use_verb = r.chance(by_kind(kind, odds.reverb));
        const bool plate = r.chance(odds.plate);
        ReverbSettings verb;
        verb.rt60_sec = plate ? r.uniform(kPlateRt60Min, kPlateRt60Max) : r.uniform(kRoomRt60Min, kRoomRt60Max);
        verb.predelay_ms = plate ? r.uniform(kPlatePredelayMinMs, kPlatePredelayMaxMs) : r.uniform(0.0, kRoomPredelayMaxMs);
        verb.damping = plate ? r.uniform(0.0, kPlateDampMax) : r.uniform(kRoomDampMin, kRoomDampMax);
        const double wet_db = r.uniform(kVerbWetMinDb, kVerbWetMaxDb);

        double level = active_rms(a);  // kept current: compressor and saturation restore it
        if (level <= 0.0) {  // a silent stem stays silent (and contributes nothing)
            stem_rec[stems[k].name] = chain;
            continue;
        }
        if (use_eq) {
            apply_eq(a, eq);
            level = active_rms(a);
            chain.push_back({{"effect", "eq"}, {"low_hz", r3(eq.low_hz)}, {"low_db", r3(eq.low_db)},
                             {"high_hz", r3(eq.high_hz)}, {"high_db", r3(eq.high_db)}, {"peak_hz", r3(eq.peak_hz)},
                             {"peak_db", r3(eq.peak_db)}, {"peak_q", r3(eq.peak_q)}});
        }
        if (use_comp) {
            const double before = level;
            comp.threshold_db = db(a.peak()) - comp_below;
            apply_gain(a, compressor_gain(a, comp));
            comp.makeup_db = restore_level(a, before);
            chain.push_back({{"effect", "compressor"}, {"threshold_db", r3(comp.threshold_db)},
                             {"below_peak_db", r3(comp_below)}, {"ratio", r3(comp.ratio)},
                             {"attack_ms", r3(comp.attack_ms)}, {"release_ms", r3(comp.release_ms)},
                             {"makeup_db", r3(comp.makeup_db)}});
        }
        if (use_sat) {
            const double before = level, peak = a.peak();
            for (auto& ch : a.channels) for (auto& x : ch) x = saturate(x, drive, peak);
            const double makeup = restore_level(a, before);
            chain.push_back({{"effect", "saturation"}, {"curve", "tanh"}, {"drive", r3(drive)}, {"makeup_db", r3(makeup)}});
        }
        if (nc == 2 && use_width) {
            set_width(a, width);
            chain.push_back({{"effect", "width"}, {"width", r3(width)}});
        }
        if (nc == 2 && use_balance) {
            set_balance(a, balance);
            chain.push_back({{"effect", "balance"}, {"pan", r3(balance)}});
        }
        if (use_ride && downbeat_sec.size() >= 2) {
            // Breakpoints every ride_bars bars; cosine-interpolated between them, held outside.
            std::vector<double> at_sec, gain_db;
            for (std::size_t b = 0, p = 0; b < downbeat_sec.size(); b += std::size_t(ride_bars), ++p) {
                at_sec.push_back(downbeat_sec[b]);
                gain_db.push_back(ride_db[p]);
            }
            apply_gain(a, ride_curve(n, sr, at_sec, gain_db));
            Json pts = Json::array();
            for (std::size_t p = 0; p < at_sec.size(); ++p) pts.push_back({r3(at_sec[p]), r3(gain_db[p])});
            chain.push_back({{"effect", "level_ride"}, {"every_bars", ride_bars}, {"points_sec_db", pts}});
        }
        if (use_verb) {
            Audio wet = reverb_wet(a, verb);
            const double wet_rms = active_rms(wet);
            if (wet_rms > 0) {
                const double g = active_rms(a) * std::pow(10.0, wet_db / 20.0) / wet_rms;
                for (int c = 0; c < nc; ++c)
                    for (std::size_t i = 0; i < n; ++i) a.channels[c][i] = float(a.channels[c][i] + g * wet.channels[c][i]);
            }
            chain.push_back({{"effect", "reverb"}, {"type", plate ? "plate" : "room"}, {"predelay_ms", r3(verb.predelay_ms)},
                             {"rt60_sec", r3(verb.rt60_sec)}, {"damping", r3(verb.damping)}, {"wet_db", r3(wet_db)}});
        }
        stem_rec[stems[k].name] = chain;
    }

    // Bus: every decision drawn up front, in a fixed order.
    Rng b = rng.fork(1000);
    const bool use_glue = b.chance(odds.glue);
    const double glue_below = b.uniform(kGlueBelowPeakMinDb, kGlueBelowPeakMaxDb);
    CompressorSettings glue;
    glue.ratio = log_uniform(b, kGlueRatioMin, kGlueRatioMax);
    glue.attack_ms = log_uniform(b, kGlueAttackMinMs, kGlueAttackMaxMs);
    glue.release_ms = log_uniform(b, kGlueReleaseMinMs, kGlueReleaseMaxMs);
    const bool use_limiter = b.chance(odds.limiter);
    const double limit_drive_db = b.uniform(kLimiterDriveMinDb, kLimiterDriveMaxDb);
    const double limit_release_ms = b.uniform(kLimiterReleaseMinMs, kLimiterReleaseMaxMs);
    const bool use_speed = b.chance(odds.speed);
    const double speed = b.uniform(kSpeedMin, kSpeedMax);
    const bool use_codec = b.chance(odds.codec);
    const int kbps = b.pick(kCodecKbps);

    auto bus_sum = [&] {
        Audio total(nc, n, sr);
        for (const auto& s : stems)
            for (int c = 0; c < nc; ++c)
                for (std::size_t i = 0; i < n; ++i) total.channels[c][i] += s.audio->channels[c][i];
        return total;
    };
    Json bus = Json::array();
    Audio sum = bus_sum();  // kept up to date with every bus gain applied to the stems
    if (use_glue) {
        glue.threshold_db = db(sum.peak()) - glue_below;
        const std::vector<float> g = compressor_gain(sum, glue);
        for (auto& s : stems) apply_gain(*s.audio, g);
        apply_gain(sum, g);
        bus.push_back({{"effect", "glue_compressor"}, {"threshold_db", r3(glue.threshold_db)},
                       {"below_peak_db", r3(glue_below)}, {"ratio", r3(glue.ratio)},
                       {"attack_ms", r3(glue.attack_ms)}, {"release_ms", r3(glue.release_ms)}, {"makeup_db", 0.0}});
    }
    if (use_limiter) {
        const double ceiling = sum.peak() * std::pow(10.0, -limit_drive_db / 20.0);
        if (ceiling > 0) {
            const std::vector<float> g = limiter_gain(sum, ceiling, kLimiterLookaheadMs, limit_release_ms);
            for (auto& s : stems) apply_gain(*s.audio, g);
        }
        bus.push_back({{"effect", "limiter"}, {"drive_db", r3(limit_drive_db)}, {"ceiling", std::round(ceiling * 1e6) / 1e6},
                       {"lookahead_ms", kLimiterLookaheadMs}, {"release_ms", r3(limit_release_ms)}});
    }
    if (use_speed && allow_speed) {
        res.speed = speed;
        for (auto& s : stems) *s.audio = change_speed(*s.audio, speed);
        bus.push_back({{"effect", "speed"}, {"factor", std::round(speed * 1e6) / 1e6}});
    }
    if (use_codec && mp3_supports_rate(sr)) res.codec_kbps = kbps;
    // Thresholds and the ceiling are on the scale the stage worked at: before the
    // song's master gain (synth.cpp), which scales everything after it.
    res.record["levels"] = "pre-master";
    res.record["stems"] = stem_rec;
    res.record["bus"] = bus;
    res.record["speed"] = std::round(res.speed * 1e6) / 1e6;
    res.record["codec"] = res.codec_kbps > 0 ? Json{{"name", "mp3"}, {"encoder", "LAME via libsndfile"},
                                                    {"bitrate_kbps", res.codec_kbps}, {"mode", "cbr"}}
                                             : Json(nullptr);
    return res;
}

}  // namespace loopsep::synth
