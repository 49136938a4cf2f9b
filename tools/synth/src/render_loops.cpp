// Recorded loops sliced on their onsets and re-sequenced on the song's grid
// (see render_loops.h).
#include "render_loops.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "loopsep/error.h"
#include "loopsep/stft.h"
#include "loopsep/stretch.h"
#include "render.h"
#include "reserved.h"

namespace loopsep::synth {
namespace {

namespace fs = std::filesystem;

// Which loop serves which role, and which are kept for a realval split. Roles
// by sound (band energies, per-slice spectra and onset grids measured on each
// file; table in the branch's report): drum loops with kick/snare/hat hits →
// hip-hop drums; skin and wood hand drums (tonal, little above 6 kHz) → bongo;
// bright, steady 16th-note pulses → güira. About a third of each role is held
// out. Left out: the reserved breaks (loop_amen, loop_amen_full,
// loop_breakbeat); lmms-common's break01..03 and jungle01, which may be copies
// of those very breaks (break02 runs 1.72 s at 140 BPM, the amen 1.75 s at
// 137); the sustained or pitched loops no percussion stem has (drone_g_97,
// garzul, mika, weirdo, 3d_printer); and lmms's one-drum rave_kick/snare lines.
struct LoopEntry {
    const char* dir;
    const char* file;
    const char* role;
    bool held_out;
};

constexpr const char* kSonicPi = kRecordedLoopsDir;
constexpr const char* kLmms = kLmmsBeatsDir;

const std::vector<LoopEntry>& loop_table() {
    static const std::vector<LoopEntry> t = {
        {kSonicPi, "loop_compus.flac", "drums", false},      // full kit, 148 BPM (played as 74), kick + hats
        {kSonicPi, "loop_industrial.flac", "drums", false},  // 2 beats, kick and noise snare
        {kSonicPi, "loop_mehackit1.flac", "drums", false},   // 97 BPM, thin mid-range kit
        {kSonicPi, "loop_mehackit2.flac", "drums", true},    // its sibling, another pattern
        {kLmms, "909beat01.ogg", "drums", false},            // TR-909 groove, 2 bars
        {kLmms, "electro_beat01.ogg", "drums", false},       // electro drum machine, 2 bars
        {kLmms, "electro_beat02.ogg", "drums", true},        // electro drum machine, 1 bar
        {kLmms, "house_loop01.ogg", "drums", true},          // claps and hats on the 8ths, no kick
        {kSonicPi, "loop_tabla.flac", "bongo", false},       // tabla, bayan-heavy
        {kSonicPi, "loop_perc1.flac", "bongo", false},       // wood/skin hand percussion
        {kSonicPi, "loop_perc2.flac", "bongo", false},       // tonal hand percussion
        {kSonicPi, "loop_safari.flac", "bongo", true},       // hand drums, 120 BPM
        {kSonicPi, "loop_electric.flac", "guira", false},    // bright 16ths, no low end
        {kLmms, "rave_hihat01.ogg", "guira", false},         // 16th hats, 97 % of the energy above 6 kHz
        {kLmms, "rave_hihat02.ogg", "guira", true},          // 16th hats, a little body
    };
    return t;
}

bool known_role(const std::string& role) { return role == "drums" || role == "bongo" || role == "guira"; }

// ---- onsets ----

// Spectral flux of log(1 + |X|), half-wave rectified: one value per STFT frame
// (frame t centred on sample t·hop).
std::vector<double> spectral_flux(const std::vector<float>& mono, const StftParams& p) {
    Stft stft(p);
    const Spectrogram spec = stft.forward(mono.data(), mono.size());
    std::vector<double> flux(spec.num_frames, 0.0);
    std::vector<float> prev(std::size_t(spec.num_bins), 0.0f), cur(std::size_t(spec.num_bins));
    for (std::size_t t = 0; t < spec.num_frames; ++t) {
        double f = 0.0;
        for (int k = 0; k < spec.num_bins; ++k) {
            cur[std::size_t(k)] = std::log1p(std::abs(spec.at(t, k)));
            f += std::max(0.0f, cur[std::size_t(k)] - prev[std::size_t(k)]);
        }
        flux[t] = f;
        std::swap(prev, cur);
    }
    return flux;
}

// The attack of a hit that the flux found near sample `centre`: the loudest
// 1 ms of the window's right half, then back to where the energy first
// drops under a tenth of that (a hit's start, not its loudest point).
std::size_t refine_onset(const std::vector<float>& x, std::size_t centre, const StftParams& p) {
    const long n = long(x.size()), half = p.n_fft / 2, smooth = 22;  // ±0.5 ms at 44.1 kHz
    const long lo = std::max(0L, long(centre) - half), hi = std::min(n, long(centre) + half + p.hop);
    const long peak_lo = std::max(lo, long(centre) - p.hop);
    if (hi <= peak_lo) return centre;
    std::vector<double> e(std::size_t(hi - lo), 0.0);
    {
        // Centred moving sum of x² (prefix sums over the window with margins).
        const long a = std::max(0L, lo - smooth), b = std::min(n, hi + smooth);
        std::vector<double> prefix(std::size_t(b - a + 1), 0.0);
        for (long i = a; i < b; ++i) prefix[std::size_t(i - a + 1)] = prefix[std::size_t(i - a)] + double(x[std::size_t(i)]) * x[std::size_t(i)];
        for (long i = lo; i < hi; ++i) {
            const long s = std::max(a, i - smooth), t = std::min(b, i + smooth + 1);
            e[std::size_t(i - lo)] = prefix[std::size_t(t - a)] - prefix[std::size_t(s - a)];
        }
    }
    long peak = peak_lo;
    for (long i = peak_lo; i < hi; ++i) if (e[std::size_t(i - lo)] > e[std::size_t(peak - lo)]) peak = i;
    const double floor = 0.1 * e[std::size_t(peak - lo)];
    long i = peak;
    while (i > lo && e[std::size_t(i - lo)] > floor) --i;
    return std::size_t(i);
}

// ---- placing audio ----

// Adds src[from, from+len) of every channel at `at`, with a short fade-in (the
// tail of the hit before it) and a fade-out (the cut before the next slot).
void add_slice(Audio& out, const Audio& src, std::size_t from, std::size_t len, std::size_t at) {
    const int sr = out.sample_rate_hz;
    const std::size_t fade_in = std::min<std::size_t>(len, 32), fade_out = std::min<std::size_t>(len, std::size_t(sr * 3 / 1000));
    for (int c = 0; c < out.num_channels(); ++c) {
        const auto& s = src.channels[std::size_t(std::min(c, src.num_channels() - 1))];
        auto& o = out.channels[std::size_t(c)];
        for (std::size_t k = 0; k < len && at + k < o.size() && from + k < s.size(); ++k) {
            float g = 1.0f;
            if (k < fade_in) g = float(k + 1) / float(fade_in + 1);
            if (k + fade_out >= len) g *= float(len - k) / float(fade_out + 1);
            o[at + k] += g * s[from + k];
        }
    }
}

// A cycle of `in` (its beats evenly spaced) laid onto the song's own beats:
// out frame i in beat j (between song frames beats[j] and beats[j+1], relative
// to the cycle start) reads `in` at the same fraction of its beat j, by linear
// interpolation. Exactly beats.back() frames. The ratios are within a frame or
// two of rounding and the ≤ 1.2 % drift of a bachata band, so the pitch change
// (≤ 0.2 semitone) goes unheard, while every beat of the loop stays on its beat.
Audio warp_to_beats(const Audio& in, const std::vector<std::size_t>& beats) {
    const std::size_t n = beats.back(), num_beats = beats.size() - 1;
    const double in_beat = double(in.frames()) / double(num_beats);
    Audio out(in.num_channels(), n, in.sample_rate_hz);
    for (std::size_t j = 0; j < num_beats; ++j) {
        const double len = double(beats[j + 1] - beats[j]);
        for (std::size_t i = beats[j]; i < beats[j + 1]; ++i) {
            const double pos = in_beat * (double(j) + double(i - beats[j]) / len);
            const std::size_t a = std::min(std::size_t(pos), in.frames() - 1), b = std::min(a + 1, in.frames() - 1);
            const float f = float(pos - double(a));
            for (int c = 0; c < in.num_channels(); ++c)
                out.channels[std::size_t(c)][i] = (1.0f - f) * in.channels[std::size_t(c)][a] + f * in.channels[std::size_t(c)][b];
        }
    }
    return out;
}

// Silence outside the bars where the part has notes: a 5 ms fade before a
// silent bar, a 1 ms fade into a playing one (the loop restarts on its downbeat).
void gate_bars(Audio& out, const std::vector<bool>& active, const Song& song, int sr) {
    const std::size_t n = out.frames(), fade_out = std::size_t(sr / 200), fade_in = std::size_t(sr / 1000);
    std::vector<float> gate(n, 0.0f);
    for (std::size_t b = 0; b < active.size(); ++b) {
        if (!active[b]) continue;
        const std::size_t a0 = std::min(n, onset_frame(song, 4.0 * double(b), 0.0, sr));
        const std::size_t a1 = std::min(n, onset_frame(song, 4.0 * double(b + 1), 0.0, sr));
        const bool prev_on = b > 0 && active[b - 1], next_on = b + 1 < active.size() && active[b + 1];
        for (std::size_t i = a0; i < a1; ++i) {
            float g = 1.0f;
            if (!prev_on && i - a0 < fade_in) g = float(i - a0 + 1) / float(fade_in + 1);
            if (!next_on && a1 - i <= fade_out) g = std::min(g, float(a1 - i) / float(fade_out + 1));
            gate[i] = g;
        }
    }
    for (auto& ch : out.channels)
        for (std::size_t i = 0; i < n; ++i) ch[i] *= gate[i];
}

// "sonic-pi:loop_tabla.flac", "lmms:909beat01.ogg": the package and the file.
std::string loop_label(const std::string& path) {
    const bool lmms = path.find("/lmms/") != std::string::npos;
    return std::string(lmms ? "lmms:" : "sonic-pi:") + fs::path(path).filename().string();
}

}  // namespace

std::vector<std::string> recorded_loops_for(const std::string& role, bool held_out) {
    if (!known_role(role)) throw usage_error("synth: no recorded loops for role '" + role + "'");
    std::vector<std::string> out;
    for (const auto& e : loop_table()) {
        const std::string path = (fs::path(e.dir) / e.file).string();
        if (e.role == role && e.held_out == held_out && !is_reserved_source(path)) out.push_back(path);
    }
    return out;
}

Source pick_recorded_loop(Rng& rng, const std::string& role, bool held_out) {
    Source s;
    s.kind = SourceKind::RecordedLoop;
    s.file = rng.pick(recorded_loops_for(role, held_out));
    s.variant = rng.next();
    s.label = loop_label(s.file);
    return s;
}

std::vector<std::size_t> detect_onsets(const std::vector<float>& mono, int sample_rate_hz, double min_gap_sec) {
    StftParams p;
    p.n_fft = 1024;
    p.hop = 128;  // 2.9 ms at 44.1 kHz: the flux finds the hit, refine_onset the sample
    if (mono.size() < std::size_t(p.n_fft)) return {};
    const std::vector<double> flux = spectral_flux(mono, p);
    const double top = *std::max_element(flux.begin(), flux.end());
    if (top <= 0.0) return {};
    const long n = long(flux.size());
    const long gap = std::max(1L, std::lround(min_gap_sec * sample_rate_hz / p.hop));
    const long mean_half = std::max(1L, std::lround(0.1 * sample_rate_hz / p.hop));  // ±100 ms
    std::vector<std::size_t> out;
    for (long t = 0; t < n; ++t) {
        // A peak: the largest value within ±gap (the first of equal ones) ...
        bool is_peak = true;
        for (long u = std::max(0L, t - gap); u <= std::min(n - 1, t + gap) && is_peak; ++u)
            is_peak = u < t ? flux[std::size_t(u)] < flux[std::size_t(t)] : flux[std::size_t(u)] <= flux[std::size_t(t)];
        if (!is_peak) continue;
        // ... standing out from its neighbourhood and from the quietest ripples.
        double mean = 0.0;
        const long a = std::max(0L, t - mean_half), b = std::min(n - 1, t + mean_half);
        for (long u = a; u <= b; ++u) mean += flux[std::size_t(u)];
        mean /= double(b - a + 1);
        if (flux[std::size_t(t)] < mean + 0.06 * top) continue;
        const std::size_t at = refine_onset(mono, std::size_t(t) * std::size_t(p.hop), p);
        if (!out.empty() && double(at - std::min(at, out.back())) < min_gap_sec * sample_rate_hz) continue;
        out.push_back(at);
    }
    return out;
}

SlicedLoop load_sliced_loop(const std::string& path, int sample_rate_hz) {
    check_not_reserved(path);
    ReadOptions o;
    o.target_rate_hz = sample_rate_hz;
    SlicedLoop loop;
    loop.audio = read_audio(path, o);  // input error naming the file: missing, corrupt, silent
    if (loop.audio.num_channels() == 1) loop.audio.channels.push_back(loop.audio.channels[0]);
    try {
        loop.bpm = estimate_loop_bpm(loop.audio, &loop.beats);
    } catch (const Error& e) {
        throw input_error(path + ": " + e.what());
    }
    // Each onset snaps to the nearest 16th of the loop's own grid; the slice
    // still starts at the real attack, so the hit lands on the song's grid.
    const double slot_frames = double(loop.audio.frames()) / double(4 * loop.beats);
    for (std::size_t f : detect_onsets(loop.audio.mono(), sample_rate_hz)) {
        const int slot = int(std::lround(double(f) / slot_frames));
        if (slot >= 4 * loop.beats || (!loop.slots.empty() && slot <= loop.slots.back())) continue;
        loop.slots.push_back(slot);
        loop.start_frames.push_back(f);
    }
    // The loop's downbeat is always a slot, even when its first hit comes later.
    if (loop.slots.empty() || loop.slots[0] != 0) {
        loop.slots.insert(loop.slots.begin(), 0);
        loop.start_frames.insert(loop.start_frames.begin(), 0);
    }
    return loop;
}

LoopMode drawn_loop_mode(std::uint64_t variant) {
    Rng rng(variant);
    const double u = rng.uniform();
    return u < 0.35 ? LoopMode::Stretch : u < 0.75 ? LoopMode::Chop : LoopMode::Vinyl;
}

const char* loop_mode_name(LoopMode mode) {
    return mode == LoopMode::Stretch ? "stretch" : mode == LoopMode::Chop ? "chop" : "vinyl";
}

Audio render_recorded_loop(const Part& part, const Song& song, int sr_hz, std::size_t frames, std::string& label) {
    SlicedLoop loop = load_sliced_loop(part.source.file, sr_hz);
    Rng rng(part.source.variant);
    const double u = rng.uniform();  // the mode (drawn_loop_mode)
    LoopMode mode = u < 0.35 ? LoopMode::Stretch : u < 0.75 ? LoopMode::Chop : LoopMode::Vinyl;
    const double edit_p = rng.uniform(0.1, 0.4);  // how often a cycle gets a beatmaker's edit

    const auto& beat_sec = song.tempo.beat_sec;
    if (beat_sec.size() < 2) throw usage_error("synth: recorded loop for a song without a tempo map");
    const int total_beats = int(beat_sec.size()) - 1;
    const double song_bpm = 60.0 * total_beats / (beat_sec.back() - beat_sec.front());
    std::vector<bool> active(std::size_t((total_beats + 3) / 4), false);
    for (const auto& n : part.notes) {
        const long bar = long(std::floor(n.beat / 4.0));
        if (bar >= 0 && bar < long(active.size())) active[std::size_t(bar)] = true;
    }

    // The loop read as its beats, twice or half as many: whichever tempo is
    // nearest the song's (a 140 BPM break is a 70 BPM half-time groove).
    const double loop_sec = loop.audio.duration_sec();
    int cycle_beats = loop.beats;
    for (int b : {loop.beats * 2, loop.beats % 2 == 0 ? loop.beats / 2 : loop.beats})
        if (std::abs(std::log(60.0 * b / loop_sec / song_bpm)) < std::abs(std::log(60.0 * cycle_beats / loop_sec / song_bpm)))
            cycle_beats = b;
    const double beats_per_slot = double(cycle_beats) / double(4 * loop.beats);
    const double cycle_sec = 60.0 * cycle_beats / song_bpm;
    const double ratio = loop_sec / cycle_sec;  // > 1: the song is faster than the loop
    if (mode == LoopMode::Vinyl && std::abs(ratio - 1.0) > 0.12) mode = LoopMode::Chop;

    if (mode == LoopMode::Vinyl) {
        // The record played slower or faster: fewer or more frames at the same rate.
        Audio slow = resample(loop.audio, int(std::lround(sr_hz / ratio)));
        slow.sample_rate_hz = sr_hz;
        const double scale = double(slow.frames()) / double(loop.audio.frames());
        for (auto& f : loop.start_frames) f = std::min(slow.frames() - 1, std::size_t(std::lround(double(f) * scale)));
        loop.audio = std::move(slow);
    }

    Audio out(2, frames, sr_hz);
    const int cycles = (total_beats + cycle_beats - 1) / cycle_beats;
    auto cycle_plays = [&](int k) {
        const int first_bar = k * cycle_beats / 4, last_bar = ((k + 1) * cycle_beats - 1) / 4;
        for (int b = first_bar; b <= last_bar && b < int(active.size()); ++b)
            if (active[std::size_t(b)]) return true;
        return false;
    };

    if (mode == LoopMode::Stretch) {
        // One Rubber Band pass to the nominal cycle length; every cycle then
        // takes exactly its own frames, beat by beat (rounding, drift), by a
        // tiny linear warp.
        const std::size_t nominal = std::size_t(std::lround(cycle_sec * sr_hz));
        const Audio stretched = stretch_to_frames(loop.audio, nominal);
        for (int k = 0; k < cycles; ++k) {
            if (!cycle_plays(k)) continue;
            const std::size_t at = onset_frame(song, double(k * cycle_beats), 0.0, sr_hz);
            std::vector<std::size_t> beats;
            for (int b = 0; b <= cycle_beats; ++b) beats.push_back(onset_frame(song, double(k * cycle_beats + b), 0.0, sr_hz) - at);
            const Audio cycle = warp_to_beats(stretched, beats);
            for (int c = 0; c < 2; ++c)
                for (std::size_t i = 0; i < cycle.frames() && at + i < frames; ++i)
                    out.channels[std::size_t(c)][at + i] += cycle.channels[std::size_t(c)][i];
        }
    } else {
        const std::size_t num_slices = loop.slots.size();
        for (int k = 0; k < cycles; ++k) {
            // Which slice plays in which slot: the loop's own order, unless this
            // cycle gets an edit (drawn for every cycle, playing or not, so a
            // cycle's edit does not depend on the arrangement).
            std::vector<std::size_t> order(num_slices);
            for (std::size_t i = 0; i < num_slices; ++i) order[i] = i;
            if (mode == LoopMode::Chop && num_slices >= 3 && rng.chance(edit_p)) {
                const std::size_t i = std::size_t(rng.range(0, int(num_slices) - 2));
                const std::size_t j = std::size_t(rng.range(int(i) + 1, int(num_slices) - 1));
                if (rng.chance(0.5)) std::swap(order[i], order[j]);  // two hits trade places
                else order[j] = order[i];                             // a hit repeated (stutter)
            }
            if (!cycle_plays(k)) continue;
            const double c0 = double(k * cycle_beats);
            for (std::size_t i = 0; i < num_slices; ++i) {
                const std::size_t at = onset_frame(song, c0 + loop.slots[i] * beats_per_slot, 0.0, sr_hz);
                const double next_beat = i + 1 < num_slices ? c0 + loop.slots[i + 1] * beats_per_slot : c0 + cycle_beats;
                const std::size_t end = onset_frame(song, next_beat, 0.0, sr_hz);
                const std::size_t s = order[i];
                const std::size_t from = loop.start_frames[s];
                const std::size_t to = s + 1 < num_slices ? loop.start_frames[s + 1] : loop.audio.frames();
                add_slice(out, loop.audio, from, std::min(to - from, end - at), at);
            }
        }
    }
    gate_bars(out, active, song, sr_hz);

    char buf[96];
    std::snprintf(buf, sizeof buf, " %s %.1f->%.1f bpm", loop_mode_name(mode), loop.bpm * cycle_beats / loop.beats, song_bpm);
    label = loop_label(part.source.file) + buf;
    return out;
}

}  // namespace loopsep::synth
