// Musical keys: names, root notes, and key estimation from a chroma profile
// (see loopsep/key.h for the method).
#include "loopsep/key.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <vector>

#include "loopsep/error.h"
#include "loopsep/stft.h"

namespace loopsep {

namespace {

constexpr double kLowHz = 50.0, kHighHz = 2100.0;
constexpr std::size_t kFramesPerBatch = 64;  // STFT frames held at once: memory stays small on long songs

// Index 0 = tonic. Krumhansl & Kessler (1982), Table 2; Temperley (2007), Kostka–Payne profiles.
constexpr std::array<double, 12> kKrumhanslMajor = {6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88};
constexpr std::array<double, 12> kKrumhanslMinor = {6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17};
constexpr std::array<double, 12> kTemperleyMajor = {0.748, 0.060, 0.488, 0.082, 0.670, 0.460,
                                                    0.096, 0.715, 0.104, 0.366, 0.057, 0.400};
constexpr std::array<double, 12> kTemperleyMinor = {0.712, 0.084, 0.474, 0.618, 0.049, 0.460,
                                                    0.105, 0.747, 0.404, 0.067, 0.133, 0.330};

int pc_of(int n) { return ((n % 12) + 12) % 12; }

double pearson(const std::array<double, 12>& a, const std::array<double, 12>& b, int rotate) {
    double ma = 0, mb = 0;
    for (int i = 0; i < 12; ++i) { ma += a[i]; mb += b[i]; }
    ma /= 12;
    mb /= 12;
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < 12; ++i) {
        // Chroma bin i is pitch class i; the profile is indexed from the tonic `rotate`.
        const double x = a[std::size_t(i)] - ma, y = b[std::size_t(pc_of(i - rotate))] - mb;
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0;
}

struct Peak {
    double midi;   // fractional MIDI pitch of the refined peak frequency
    double weight; // magnitude
};

}  // namespace

std::optional<MusicalKey> parse_key(const std::string& text) {
    std::string s;
    for (unsigned char c : text)
        if (!std::isspace(c)) s.push_back(char(std::tolower(c)));
    if (s.empty()) return std::nullopt;
    static const int base[7] = {9, 11, 0, 2, 4, 5, 7};  // a b c d e f g
    if (s[0] < 'a' || s[0] > 'g') return std::nullopt;
    MusicalKey k;
    k.tonic_pc = base[s[0] - 'a'];
    std::size_t i = 1;
    // "bb" is B flat; "b" then a mode word is B. An accidental is '#' or a 'b' not starting "maj"/"min".
    if (i < s.size() && s[i] == '#') { k.tonic_pc += 1; ++i; }
    else if (i < s.size() && s[i] == 'b') { k.tonic_pc += 11; ++i; }
    k.tonic_pc = pc_of(k.tonic_pc);
    const std::string mode = s.substr(i);
    if (mode.empty() || mode == "maj" || mode == "major") k.minor = false;
    else if (mode == "m" || mode == "min" || mode == "minor") k.minor = true;
    else return std::nullopt;
    return k;
}

std::string key_name(const MusicalKey& key) {
    static const char* kNames[12] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};
    return std::string(kNames[pc_of(key.tonic_pc)]) + (key.minor ? "m" : "");
}

int key_root_note(const MusicalKey& key) { return 60 + pc_of(key.tonic_pc); }

KeyProfile parse_key_profile(const std::string& name) {
    if (name == "krumhansl") return KeyProfile::Krumhansl;
    if (name == "temperley") return KeyProfile::Temperley;
    throw usage_error("key profile must be krumhansl or temperley (got '" + name + "')");
}

const char* key_profile_name(KeyProfile profile) {
    return profile == KeyProfile::Temperley ? "temperley" : "krumhansl";
}

std::array<double, 24> key_correlations(const std::array<double, 12>& chroma, KeyProfile profile) {
    const auto& major = profile == KeyProfile::Temperley ? kTemperleyMajor : kKrumhanslMajor;
    const auto& minor = profile == KeyProfile::Temperley ? kTemperleyMinor : kKrumhanslMinor;
    std::array<double, 24> r{};
    for (int t = 0; t < 12; ++t) {
        r[std::size_t(t)] = pearson(chroma, major, t);
        r[std::size_t(t + 12)] = pearson(chroma, minor, t);
    }
    return r;
}

KeyEstimate estimate_key(const Audio& audio, KeyProfile profile, const std::string& what) {
    if (audio.sample_rate_hz < 8000) throw usage_error(what + ": key estimation needs a sample rate of 8 kHz or more");
    if (audio.frames() == 0 || audio.peak() < 1e-6f) throw input_error(what + ": silent, no key to estimate");
    const std::vector<float> mono = audio.mono();
    // ~0.37 s at 44.1 kHz (16384): 2.7 Hz bins tell the semitones of the bass apart.
    int n_fft = 1024;
    while (n_fft < int(0.3 * audio.sample_rate_hz)) n_fft *= 2;
    Stft stft(StftParams{n_fft, n_fft / 4});
    const double bin_hz = double(audio.sample_rate_hz) / n_fft;
    const int k_lo = std::max(2, int(std::ceil(kLowHz / bin_hz)));
    const int k_hi = std::min(n_fft / 2 - 1, int(std::floor(kHighHz / bin_hz)));

    std::vector<Peak> peaks;
    std::vector<double> logmag(std::size_t(n_fft / 2 + 1));
    const std::size_t frames = stft.num_frames_for(mono.size());
    for (std::size_t t0 = 0; t0 < frames; t0 += kFramesPerBatch) {
        std::vector<long> centers;
        for (std::size_t t = t0; t < std::min(frames, t0 + kFramesPerBatch); ++t) centers.push_back(long(t) * (n_fft / 4));
        const Spectrogram s = stft.forward_at(mono.data(), mono.size(), centers);
        for (std::size_t t = 0; t < s.num_frames; ++t) {
            double frame_max = 0;
            for (int k = k_lo - 1; k <= k_hi + 1; ++k) {
                const double m = std::abs(s.at(t, k));
                logmag[std::size_t(k)] = std::log(m + 1e-12);
                frame_max = std::max(frame_max, m);
            }
            if (frame_max < 1e-6) continue;  // silence: no peak worth a pitch
            for (int k = k_lo; k <= k_hi; ++k) {
                const double c = logmag[std::size_t(k)], l = logmag[std::size_t(k - 1)], r = logmag[std::size_t(k + 1)];
                // A local maximum within 60 dB of the frame's loudest bin: noise floor ripples are left out.
                if (!(c > l && c >= r) || c < std::log(frame_max) - 6.9) continue;
                const double den = l - 2 * c + r;
                const double delta = den < 0 ? std::clamp(0.5 * (l - r) / den, -0.5, 0.5) : 0.0;
                const double hz = (k + delta) * bin_hz;
                peaks.push_back({69.0 + 12.0 * std::log2(hz / 440.0), std::exp(c)});
            }
        }
    }
    if (peaks.empty()) throw input_error(what + ": no tonal peak between 50 Hz and 2.1 kHz, no key to estimate");

    // Tuning: where the peaks sit between the semitones, as a weighted circular mean.
    double cs = 0, sn = 0;
    for (const Peak& p : peaks) {
        const double phase = 2 * M_PI * (p.midi - std::round(p.midi));
        cs += p.weight * std::cos(phase);
        sn += p.weight * std::sin(phase);
    }
    const double tuning = std::atan2(sn, cs) / (2 * M_PI);  // semitones, −0.5..0.5

    KeyEstimate est;
    est.tuning_cents = 100.0 * tuning;
    double total = 0;
    for (const Peak& p : peaks) {
        est.chroma[std::size_t(pc_of(int(std::lround(p.midi - tuning))))] += p.weight;
        total += p.weight;
    }
    for (double& c : est.chroma) c /= total;

    const std::array<double, 24> r = key_correlations(est.chroma, profile);
    std::size_t best = 0;
    for (std::size_t i = 1; i < r.size(); ++i)
        if (r[i] > r[best]) best = i;
    double second = -2;
    for (std::size_t i = 0; i < r.size(); ++i)
        if (i != best) second = std::max(second, r[i]);
    est.key = MusicalKey{int(best % 12), best >= 12};
    est.correlation = r[best];
    est.margin = r[best] - second;
    return est;
}

KeyRelation key_relation(const MusicalKey& e, const MusicalKey& t) {
    if (e == t) return KeyRelation::Exact;
    const int d = pc_of(e.tonic_pc - t.tonic_pc);
    if (e.minor == t.minor && (d == 7 || d == 5)) return KeyRelation::Fifth;
    if (e.minor != t.minor) {
        // Relative: the minor tonic is 3 semitones below the major one.
        const int major_pc = e.minor ? t.tonic_pc : e.tonic_pc, minor_pc = e.minor ? e.tonic_pc : t.tonic_pc;
        if (pc_of(major_pc - minor_pc) == 3) return KeyRelation::Relative;
        if (d == 0) return KeyRelation::Parallel;
    }
    return KeyRelation::Other;
}

const char* key_relation_name(KeyRelation r) {
    switch (r) {
        case KeyRelation::Exact: return "exact";
        case KeyRelation::Fifth: return "fifth";
        case KeyRelation::Relative: return "relative";
        case KeyRelation::Parallel: return "parallel";
        case KeyRelation::Other: return "other";
    }
    return "?";
}

}  // namespace loopsep
