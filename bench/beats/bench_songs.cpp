// bench_beats — rendering of the synthetic benchmark songs (see bench_songs.h).
#include "bench_songs.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace bench {
namespace {

constexpr int kSr = loopsep::kEngineRateHz;
constexpr double kTwoPi = 6.283185307179586;

double midi_hz(double m) { return 440.0 * std::pow(2.0, (m - 69) / 12.0); }

class Mixer {
public:
    Mixer(std::size_t frames, std::uint32_t seed) : buf_(frames, 0.0f), rng_(seed) {}
    std::vector<float>& buffer() { return buf_; }
    std::mt19937& rng() { return rng_; }
    double jitter() { return std::normal_distribution<double>(0.0, 0.004)(rng_); }  // humanised timing
    double vel(double v) { return v * std::uniform_real_distribution<double>(0.85, 1.1)(rng_); }

    void add(double t_sec, const std::vector<float>& sample, double gain) {
        long start = long(std::lround(t_sec * kSr));
        for (std::size_t i = 0; i < sample.size(); ++i) {
            long j = start + long(i);
            if (j >= 0 && j < long(buf_.size())) buf_[j] += float(gain * sample[i]);
        }
    }

private:
    std::vector<float> buf_;
    std::mt19937 rng_;
};

std::vector<float> noise(std::size_t n, std::mt19937& rng) {
    std::uniform_real_distribution<float> u(-1, 1);
    std::vector<float> x(n);
    for (auto& v : x) v = u(rng);
    return x;
}

std::vector<float> highpass(std::vector<float> x, int order) {  // first differences: crude but steep enough
    for (int o = 0; o < order; ++o)
        for (std::size_t i = x.size(); i-- > 1;) x[i] = 0.5f * (x[i] - x[i - 1]);
    return x;
}

std::vector<float> kick() {
    std::vector<float> s(std::size_t(0.35 * kSr));
    double phase = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const double t = double(i) / kSr;
        phase += kTwoPi * (45 + 110 * std::exp(-t / 0.03)) / kSr;
        s[i] = float(std::sin(phase) * std::exp(-t / 0.12));
    }
    return s;
}

std::vector<float> snare(std::mt19937& rng) {
    auto nz = highpass(noise(std::size_t(0.25 * kSr), rng), 1);
    for (std::size_t i = 0; i < nz.size(); ++i) {
        const double t = double(i) / kSr;
        nz[i] = float(1.6 * nz[i] * std::exp(-t / 0.08) + 0.5 * std::sin(kTwoPi * 190 * t) * std::exp(-t / 0.05));
    }
    return nz;
}

std::vector<float> hat(std::mt19937& rng) {
    auto nz = highpass(noise(std::size_t(0.08 * kSr), rng), 3);
    for (std::size_t i = 0; i < nz.size(); ++i) nz[i] *= float(2.5 * std::exp(-double(i) / kSr / 0.022));
    return nz;
}

std::vector<float> bongo(double hz, double decay, std::mt19937& rng) {
    auto nz = highpass(noise(std::size_t(0.3 * kSr), rng), 1);
    std::vector<float> s(nz.size());
    double phase = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const double t = double(i) / kSr;
        phase += kTwoPi * hz * (1 + 0.15 * std::exp(-t / 0.01)) / kSr;
        s[i] = float(std::sin(phase) * std::exp(-t / decay) + 0.3 * nz[i] * std::exp(-t / 0.006));
    }
    return s;
}

std::vector<float> guira(std::mt19937& rng, double len_sec) {
    auto nz = highpass(noise(std::size_t(len_sec * kSr), rng), 2);
    for (std::size_t i = 0; i < nz.size(); ++i) {
        const double t = double(i) / kSr;
        nz[i] *= float(std::min(1.0, t / 0.004) * std::exp(-t / (len_sec / 3)) * 1.5);
    }
    return nz;
}

// A tone of `dur` seconds: fundamental + 2nd harmonic, attack/decay envelope, short release.
std::vector<float> tone(double hz, double dur, double attack, double decay) {
    const double release = 0.04;
    std::vector<float> s(std::size_t((dur + release) * kSr));
    for (std::size_t i = 0; i < s.size(); ++i) {
        const double t = double(i) / kSr;
        double env = std::min(1.0, t / attack) * std::exp(-t / decay);
        if (t > dur) env *= std::max(0.0, 1 - (t - dur) / release);
        s[i] = float(env * (std::sin(kTwoPi * hz * t) + 0.3 * std::sin(kTwoPi * 2 * hz * t)));
    }
    return s;
}

}  // namespace

Song render_song(const SongSpec& spec) {
    Song song;
    song.spec = spec;
    const int total_beats = spec.pickup_beats + 4 * spec.bars;  // + one final hit on the next downbeat
    std::vector<double> beat_t;
    double t = spec.lead_in_sec;
    for (int i = 0; i <= total_beats; ++i) {
        beat_t.push_back(t);
        const double bpm = spec.bpm * (1 + spec.drift * double(i) / total_beats);
        t += 60.0 / bpm;
    }
    for (int i = 0; i <= total_beats; ++i) {
        song.beats_sec.push_back(beat_t[i]);
        if (i >= spec.pickup_beats && (i - spec.pickup_beats) % 4 == 0) song.downbeats_sec.push_back(beat_t[i]);
    }
    // Time of a fractional position in beats (0 = first beat), swing applied to off-beat eighths.
    auto at = [&](double pos) {
        const int i = std::clamp(int(std::floor(pos)), 0, total_beats - 1);
        double frac = pos - i;
        if (std::fabs(frac - 0.5) < 1e-9) frac = spec.swing;
        return beat_t[i] + frac * (beat_t[i + 1] - beat_t[i]);
    };
    const double end_sec = beat_t.back() + 2.0;
    Mixer mix(std::size_t(end_sec * kSr), spec.seed);
    auto& rng = mix.rng();
    const auto k = kick(), sn = snare(rng), hh = hat(rng), bh = bongo(420, 0.07, rng), bl = bongo(290, 0.1, rng),
               gu = guira(rng, 0.09);

    // Harmony: a four-bar progression (I IV V vi and friends), one chord per bar.
    const int key = 40 + int(rng() % 8);  // bass root MIDI 40..47 → E2..B2, played an octave down
    const int progressions[4][4] = {{0, 5, 7, 5}, {0, 9, 5, 7}, {9, 5, 0, 7}, {0, 7, 9, 5}};
    const auto& prog = progressions[rng() % 4];
    auto chord_root = [&](int bar) { return key + prog[((bar % 4) + 4) % 4]; };
    auto minor = [&](int bar) { return prog[((bar % 4) + 4) % 4] == 9; };
    const bool four_floor = spec.style == Style::Pop && (rng() % 2 == 0);

    auto hit = [&](const std::vector<float>& s, double pos, double gain) { mix.add(at(pos) + mix.jitter(), s, mix.vel(gain)); };
    auto note = [&](double midi, double pos, double beats, double gain, double attack, double decay) {
        const double start = at(pos), stop = at(std::min<double>(total_beats, pos + beats));
        mix.add(start + mix.jitter(), tone(midi_hz(midi), std::max(0.05, stop - start), attack, decay), mix.vel(gain));
    };

    // Pickup: percussion alone (a fill into the first downbeat).
    for (int b = 0; b < spec.pickup_beats; ++b) {
        if (spec.style == Style::Bachata) {
            for (int e = 0; e < 2; ++e) {
                hit(gu, b + 0.5 * e, e == 0 ? 0.5 : 0.3);
                hit(e == 0 ? bh : bl, b + 0.5 * e, 0.5);
            }
        } else {
            hit(hh, b, 0.4);
            hit(sn, b + 0.5, 0.3 + 0.2 * b);
        }
    }
    for (int bar = 0; bar < spec.bars; ++bar) {
        const double b0 = spec.pickup_beats + 4.0 * bar;
        const bool drums = bar >= spec.intro_bars;
        const int root = chord_root(bar);
        const int third = minor(bar) ? 3 : 4;
        // Bass.
        if (spec.style == Style::Bachata) {
            note(root - 12, b0, 1.4, 0.55, 0.005, 0.5);          // long note on 1
            note(root - 12 + 7, b0 + 1.5, 0.45, 0.4, 0.005, 0.3); // the "and" of 2
            note(root - 12, b0 + 2, 0.9, 0.45, 0.005, 0.3);
            note(root - 12 + 7, b0 + 3, 0.9, 0.45, 0.005, 0.3);
        } else if (spec.style == Style::BoomBap) {
            note(root - 12, b0, 1.4, 0.6, 0.005, 0.5);
            note(root - 12, b0 + 2.5, 1.0, 0.5, 0.005, 0.4);
        } else {
            note(root - 12, b0, 1.8, 0.55, 0.005, 0.6);
            note(root - 12 + 7, b0 + 2, 1.8, 0.45, 0.005, 0.6);
        }
        // Chords / lead.
        if (spec.style == Style::Bachata) {
            const int arp[4] = {0, third, 7, 12};
            for (int e = 0; e < 8; ++e) note(root + 12 + arp[(e * 3) % 4], b0 + 0.5 * e, 0.45, 0.22, 0.002, 0.15);
        } else {
            for (int iv : {0, third, 7}) note(root + 12 + iv, b0, 3.8, 0.16, 0.02, 1.5);
        }
        if (!drums) continue;
        // Drums.
        for (int e = 0; e < 8; ++e) {
            const double pos = b0 + 0.5 * e;
            if (spec.style == Style::Bachata) {
                hit(gu, pos, e % 2 == 0 ? 0.5 : 0.3);
                if (e == 6) hit(bl, pos, 0.6);                    // low drum on 4
                else hit(bh, pos, e % 2 == 0 ? 0.55 : 0.3);        // high drum, accents on the beat
            } else {
                hit(hh, pos, e % 2 == 0 ? 0.35 : 0.22);
            }
        }
        if (spec.style == Style::Pop) {
            if (four_floor) for (int b = 0; b < 4; ++b) hit(k, b0 + b, 0.9);
            else {
                hit(k, b0, 0.9);
                hit(k, b0 + 2.5, 0.7);
                hit(k, b0 + 2, 0.8);
            }
            hit(sn, b0 + 1, 0.7);
            hit(sn, b0 + 3, 0.7);
        } else if (spec.style == Style::BoomBap) {
            hit(k, b0, 0.95);
            if (bar % 2 == 1) hit(k, b0 + 0.75, 0.5);
            hit(k, b0 + 2.5, 0.8);
            hit(sn, b0 + 1, 0.8);
            hit(sn, b0 + 3, 0.8);
        }
    }
    // Final hit on the next downbeat, ringing out.
    mix.add(beat_t[total_beats], k, 0.9);
    for (int iv : {0, 4, 7}) mix.add(beat_t[total_beats], tone(midi_hz(key + 12 + iv), 1.0, 0.01, 0.3), 0.16);

    auto& buf = mix.buffer();
    std::normal_distribution<float> floor_noise(0.0f, 3e-4f);
    float peak = 1e-9f;
    for (auto& v : buf) {
        v += floor_noise(rng);
        peak = std::max(peak, std::fabs(v));
    }
    for (auto& v : buf) v *= 0.9f / peak;
    song.audio.sample_rate_hz = kSr;
    song.audio.channels = {buf, buf};
    return song;
}

std::vector<SongSpec> default_song_set(int seeds) {
    std::vector<SongSpec> set;
    for (int s = 0; s < seeds; ++s) {
        std::mt19937 rng(1000 + s);
        auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
        SongSpec p;
        p.seed = 7 * s + 1;
        p.lead_in_sec = uni(0, 0.3);

        SongSpec intro = p;
        intro.name = "pop_intro";
        intro.bpm = uni(96, 132);
        intro.intro_bars = 4;
        intro.bars = 20;
        set.push_back(intro);

        SongSpec drift = p;
        drift.name = "pop_drift4";
        drift.bpm = uni(100, 128);
        drift.drift = s % 2 ? 0.04 : -0.04;
        drift.pickup_beats = s % 2;
        drift.bars = 24;
        set.push_back(drift);

        SongSpec bb = p;
        bb.name = "boombap_swing";
        bb.style = Style::BoomBap;
        bb.genre = loopsep::Genre::HipHop;
        bb.bpm = uni(84, 96);
        bb.swing = uni(0.54, 0.58);
        bb.pickup_beats = s % 3 == 2 ? 1 : 0;
        bb.intro_bars = s % 2 ? 2 : 0;
        bb.bars = 16;
        set.push_back(bb);

        SongSpec ba = p;
        ba.name = "bachata_pickup";
        ba.style = Style::Bachata;
        ba.genre = loopsep::Genre::Bachata;
        ba.bpm = uni(118, 138);
        ba.pickup_beats = 1 + s % 3;
        ba.bars = 24;
        set.push_back(ba);

        SongSpec bd = ba;
        bd.name = "bachata_drift4";
        bd.bpm = uni(118, 134);
        bd.drift = s % 2 ? -0.04 : 0.04;
        bd.intro_bars = s % 2 ? 2 : 0;
        bd.pickup_beats = bd.intro_bars ? 0 : 2;
        set.push_back(bd);
    }
    return set;
}

}  // namespace bench
