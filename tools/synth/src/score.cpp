// Music helpers shared by the composers: tempo map, chord voicing, humanising.
#include "score.h"

#include <algorithm>
#include <cmath>

namespace loopsep::synth {

double TempoMap::time_of(double beat) const {
    if (beat_sec.size() < 2) return 0.0;
    const double last = double(beat_sec.size() - 1);
    if (beat <= 0.0) {
        const double spb = beat_sec[1] - beat_sec[0];
        return beat_sec[0] + beat * spb;
    }
    if (beat >= last) {
        const double spb = beat_sec.back() - beat_sec[beat_sec.size() - 2];
        return beat_sec.back() + (beat - last) * spb;
    }
    const std::size_t i = std::size_t(std::floor(beat));
    const double frac = beat - double(i);
    return beat_sec[i] + frac * (beat_sec[i + 1] - beat_sec[i]);
}

double TempoMap::bpm_at(double beat) const {
    if (beat_sec.size() < 2) return 120.0;
    std::size_t i = beat <= 0.0 ? 0 : std::size_t(std::floor(beat));
    if (i + 1 >= beat_sec.size()) i = beat_sec.size() - 2;
    return 60.0 / (beat_sec[i + 1] - beat_sec[i]);
}

TempoMap make_tempo_map(Rng& rng, int bars, double bpm, double lead_in_sec, bool drift) {
    TempoMap map;
    const int beats = bars * 4;
    // Drift: a sum of two slow sinusoids, at most ±1.2 % — a band speeding up
    // into a chorus and settling back, not a DJ pitch fader.
    const double depth1 = drift ? rng.uniform(0.004, 0.009) : 0.0;
    const double depth2 = drift ? rng.uniform(0.0, 0.003) : 0.0;
    const double period1 = rng.uniform(24.0, 64.0), period2 = rng.uniform(7.0, 15.0);
    const double phase1 = rng.uniform(0.0, 6.283), phase2 = rng.uniform(0.0, 6.283);
    const double trend = drift ? rng.uniform(-0.004, 0.008) : 0.0;  // slight push over the song
    double t = lead_in_sec;
    map.beat_sec.reserve(std::size_t(beats) + 1);
    for (int b = 0; b <= beats; ++b) {
        map.beat_sec.push_back(t);
        const double x = double(b);
        const double factor = 1.0 + depth1 * std::sin(6.283185307 * x / period1 + phase1) +
                              depth2 * std::sin(6.283185307 * x / period2 + phase2) +
                              trend * x / std::max(1, beats);
        t += 60.0 / (bpm * factor);
    }
    return map;
}

void humanize(Rng& rng, std::vector<NoteEvent>& notes, double sigma_ms, int velocity_jitter) {
    for (auto& n : notes) {
        double off = rng.normal(0.0, sigma_ms * 1e-3);
        n.offset_sec += std::clamp(off, -0.010, 0.010);
        if (velocity_jitter > 0) n.velocity += rng.range(-velocity_jitter, velocity_jitter);
        n.velocity = std::clamp(n.velocity, 1, 127);
    }
}

std::vector<int> voice_chord(const Chord& chord, int key_pc, int lo, int hi) {
    std::vector<int> keys;
    const int root_pc = (key_pc + chord.root) % 12;
    for (int iv : chord.intervals) {
        const int pc = (root_pc + iv) % 12;
        int k = lo + ((pc - lo % 12) + 24) % 12;  // lowest key >= lo with this pitch class
        if (k > hi) k -= 12;
        keys.push_back(k);
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    return keys;
}

int chord_root_key(const Chord& chord, int key_pc, int lo) {
    const int pc = (key_pc + chord.root) % 12;
    return lo + ((pc - lo % 12) + 24) % 12;
}

std::vector<int> scale_steps(bool minor) {
    if (minor) return {0, 2, 3, 5, 7, 8, 11};  // harmonic minor: the V7 of bachata needs the leading tone
    return {0, 2, 4, 5, 7, 9, 11};
}

std::string Song::key_name() const {
    static const char* kNames[12] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};
    return std::string(kNames[((key_pc % 12) + 12) % 12]) + (minor ? "m" : "");
}

const Section& Song::section_at_bar(int bar) const {
    for (const auto& s : sections)
        if (bar >= s.start_bar && bar < s.start_bar + s.bars) return s;
    return sections.back();
}

}  // namespace loopsep::synth
