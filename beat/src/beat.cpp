// loopsep beat — public API: genre/prior, track_beats orchestration, fallback grid, segments.
#include "loopsep/beat.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "beat_internal.h"
#include "loopsep/error.h"

namespace loopsep {

using namespace beat_detail;

Genre parse_genre(const std::string& name) {
    std::string s;
    for (char c : name) s += char(std::tolower(static_cast<unsigned char>(c)));
    if (s.empty() || s == "neutral" || s == "auto") return Genre::Neutral;
    if (s == "bachata") return Genre::Bachata;
    if (s == "hiphop" || s == "hip-hop") return Genre::HipHop;
    throw usage_error("--genre: unknown genre '" + name + "' (bachata, hiphop, neutral)");
}

const char* genre_name(Genre g) {
    switch (g) {
        case Genre::Bachata: return "bachata";
        case Genre::HipHop: return "hiphop";
        default: return "neutral";
    }
}

DownbeatModel parse_downbeat_model(const std::string& name) {
    std::string s;
    for (char c : name) s += char(std::tolower(static_cast<unsigned char>(c)));
    if (s == "auto" || s.empty()) return DownbeatModel::Auto;
    if (s == "pattern") return DownbeatModel::Pattern;
    if (s == "learned") return DownbeatModel::Learned;
    if (s == "both") return DownbeatModel::Both;
    throw usage_error("--downbeat-model: unknown model '" + name + "' (auto, pattern, learned, both)");
}

const char* downbeat_model_name(DownbeatModel m) {
    switch (m) {
        case DownbeatModel::Learned: return "learned";
        case DownbeatModel::Both: return "both";
        case DownbeatModel::Pattern: return "pattern";
        default: return "auto";
    }
}

TempoPrior tempo_prior(Genre g) {
    switch (g) {
        case Genre::Bachata: return {110, 145, 127};
        case Genre::HipHop: return {70, 110, 90};
        default: return {70, 180, 115};
    }
}

void BeatParams::validate() const {
    if (!(tightness > 0 && tightness <= 10000)) throw usage_error("tightness: must be in (0, 10000]");
    if (beats_per_bar < 2 || beats_per_bar > 12) throw usage_error("beats_per_bar: must be in 2..12");
    if (!(min_periodicity >= 0 && min_periodicity < 1)) throw usage_error("min_periodicity: must be in [0, 1)");
    if (!(min_confidence >= 0 && min_confidence < 1)) throw usage_error("min_confidence: must be in [0, 1)");
    if (std::abs(downbeat_offset) >= beats_per_bar)
        throw usage_error("downbeat_offset: must be within ±" + std::to_string(beats_per_bar - 1) + " beats");
    if (downbeat_model != DownbeatModel::Auto && downbeat_model != DownbeatModel::Pattern &&
        downbeat_model != DownbeatModel::Learned && downbeat_model != DownbeatModel::Both)
        throw usage_error("downbeat_model: must be auto, pattern, learned or both");
}

BeatGrid fixed_grid(double tempo_bpm, double duration_sec) {
    if (!(tempo_bpm > 0)) throw usage_error("fixed grid: tempo must be positive");
    BeatGrid g;
    g.tempo_bpm = tempo_bpm;
    g.beatless = true;
    const double period = 60.0 / tempo_bpm;
    for (long i = 0; i * period < duration_sec; ++i) {
        g.beats_sec.push_back(i * period);
        if (i % 4 == 0) g.downbeats_sec.push_back(i * period);
    }
    return g;
}

namespace {

double median(std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
}

// Tempo from the beats themselves: median over spans of up to 8 beats, so frame quantisation
// (5.8 ms) costs < 0.2 BPM.
double grid_tempo(const std::vector<double>& beats) {
    const std::size_t k = std::min<std::size_t>(8, beats.size() - 1);
    std::vector<double> spans;
    for (std::size_t i = 0; i + k < beats.size(); ++i) spans.push_back((beats[i + k] - beats[i]) / k);
    return 60.0 / median(spans);
}

// 0..1 from the attack density (Features::attack_density), on a log scale: 1e-4 (a steady tone's
// numerical ripple) and below → 0, 3e-3 and above → 1 (music with any percussion or plucked
// notes measures 0.01–0.03; a click track 0.013).
double attack_factor(const Features& f) {
    if (f.attack_density <= 1e-4) return 0.0;
    return std::clamp(std::log(f.attack_density / 1e-4) / std::log(30.0), 0.0, 1.0);
}

}  // namespace

namespace beat_detail {

AnalysisSignal::AnalysisSignal(const Audio& song) : song_(&song), frames_(song.frames()) {
    if (song.sample_rate_hz != kRateHz && frames_ > 0 && !song.channels.empty()) {
        // Rare path: analysis needs kRateHz, and resampling streams badly through libsamplerate's
        // one-shot API, so a song at another rate costs one mono copy at kRateHz.
        Audio a;
        a.sample_rate_hz = song.sample_rate_hz;
        a.channels.push_back(song.mono());
        resampled_ = resample(a, kRateHz).channels[0];
        frames_ = resampled_.size();
    }
    std::vector<float> block(8192);  // gain_ is still 1: read() gives the plain mono mix
    for (std::size_t pos = 0; pos < frames_; pos += block.size()) {
        const std::size_t count = std::min(block.size(), frames_ - pos);
        read(pos, block.data(), count);
        for (std::size_t i = 0; i < count; ++i) {
            peak_ = std::max(peak_, std::fabs(block[i]));
            energy_ += double(block[i]) * block[i];
        }
    }
}

void AnalysisSignal::read(std::size_t pos, float* out, std::size_t count) const {
    const std::size_t avail = pos < frames_ ? std::min(count, frames_ - pos) : 0;
    if (!resampled_.empty()) {
        std::copy(resampled_.begin() + pos, resampled_.begin() + pos + avail, out);
    } else {
        // Audio::mono()'s arithmetic (channel by channel, each times 1/channels), so a mono song
        // and its stereo copy read alike.
        const float scale = 1.0f / float(song_->channels.size());
        std::fill(out, out + avail, 0.0f);
        for (const auto& ch : song_->channels)
            for (std::size_t i = 0; i < avail; ++i) out[i] += ch[pos + i] * scale;
    }
    for (std::size_t i = 0; i < avail; ++i) out[i] = float(out[i] * gain_);
    std::fill(out + avail, out + count, 0.0f);
}

}  // namespace beat_detail

BeatGrid track_beats(const Audio& song, const BeatParams& params) {
    params.validate();
    const TempoPrior prior = tempo_prior(params.genre);
    auto beatless = [&](const std::string& why) {
        if (params.allow_beatless) {
            BeatGrid g = fixed_grid(prior.center_bpm, song.duration_sec());
            g.beatless_reason = why;
            shift_downbeats(g, params.downbeat_offset, params.beats_per_bar);
            return g;
        }
        throw input_error(why + " (--no-beats gives a fixed grid)");
    };
    if (song.frames() == 0 || song.num_channels() == 0) return beatless("empty audio: no beats to track");
    AnalysisSignal signal(song);
    if (signal.peak() < 1e-5f) return beatless("silent audio: no beats to track");
    // Loudness-normalise so the log compression behaves the same for quiet and loud songs.
    signal.set_gain(0.1 / std::max(1e-9, std::sqrt(signal.mean_square())));

    const Features f = compute_features(signal);
    const TempoEstimate tempo = estimate_tempo(f, prior, f.aubio_bpm);
    if (tempo.period_frames <= 0 || tempo.periodicity < params.min_periodicity) {
        char msg[128];
        std::snprintf(msg, sizeof msg, "no steady beat found (periodicity %.2f)", tempo.periodicity);
        return beatless(msg);
    }
    const auto periods = local_periods(f, tempo.period_frames);
    const auto dp_frames = dp_beats(f, periods, params.tightness);
    if (dp_frames.size() < 4) return beatless("too few beats found (need 4)");
    // Hip-hop: beat phase and downbeats from the band-split evidence against the genre's bar
    // template and/or the learned classifier (meter.cpp, params.downbeat_model; auto = learned).
    // Bachata takes the meter stage only with a learned model (its template measured worse than the
    // beat-level model, which auto keeps); neutral always keeps the DP's phase and the beat-level
    // downbeat model (bench/beats_real/results.md).
    DownbeatModel model = params.downbeat_model;
    if (model == DownbeatModel::Auto)
        model = params.genre == Genre::HipHop ? DownbeatModel::Learned : DownbeatModel::Pattern;
    Meter meter;
    if (params.genre == Genre::HipHop || (params.genre == Genre::Bachata && model != DownbeatModel::Pattern)) {
        meter = find_meter(f, dp_frames, params.beats_per_bar, params.genre, model);
    } else {
        meter.beat_frames = dp_frames;
        meter.downbeat.assign(dp_frames.size(), false);
        for (std::size_t i : find_downbeats(f, dp_frames, params.beats_per_bar, params.genre)) meter.downbeat[i] = true;
    }

    BeatGrid grid;
    for (std::size_t i = 0; i < meter.beat_frames.size(); ++i) {
        const double t = std::clamp(f.frame_time(meter.beat_frames[i]), 0.0, song.duration_sec());
        if (!grid.beats_sec.empty() && t <= grid.beats_sec.back() + 1e-4) continue;
        grid.beats_sec.push_back(t);
        if (meter.downbeat[i]) grid.downbeats_sec.push_back(t);
    }
    if (grid.beats_sec.size() < 4) return beatless("too few beats found (need 4)");
    grid.tempo_bpm = grid_tempo(grid.beats_sec);
    std::vector<double> frames_kept;
    for (double t : grid.beats_sec) frames_kept.push_back(f.time_to_frame(t));

    // Confidence: periodicity of the onsets and the share of beats that sit on an onset peak.
    std::size_t on_onset = 0;
    for (double b : frames_kept) {
        const long c = long(std::lround(b));
        float m = 0;
        for (long t = c - 3; t <= c + 3; ++t)
            if (t >= 0 && t < long(f.frames())) m = std::max(m, f.onset[t]);
        if (m > 1.0f) ++on_onset;
    }
    const double hit = double(on_onset) / frames_kept.size();
    grid.confidence = std::clamp((0.5 * std::min(1.0, tempo.periodicity / 0.4) + 0.5 * hit) * attack_factor(f), 0.0, 1.0);
    if (grid.confidence < params.min_confidence) {
        char msg[160];
        std::snprintf(msg, sizeof msg, "no steady beat found (confidence %.2f, below %.2f)", grid.confidence,
                      params.min_confidence);
        return beatless(msg);
    }
    shift_downbeats(grid, params.downbeat_offset, params.beats_per_bar);
    return grid;
}

namespace {

// Index of each downbeat in grid.beats_sec (downbeats are a subset of the beats; nearest beat).
std::vector<std::size_t> downbeat_indices(const BeatGrid& grid) {
    std::vector<std::size_t> idx;
    const auto& b = grid.beats_sec;
    for (double d : grid.downbeats_sec) {
        if (b.empty()) break;
        auto it = std::lower_bound(b.begin(), b.end(), d);
        std::size_t i = std::size_t(it - b.begin());
        if (i == b.size() || (i > 0 && d - b[i - 1] < b[i] - d)) --i;
        if (idx.empty() || i > idx.back()) idx.push_back(i);
    }
    return idx;
}

}  // namespace

void shift_downbeats(BeatGrid& grid, int beats, int beats_per_bar) {
    if (beats == 0 || grid.beats_sec.empty()) return;
    const long n = long(grid.beats_sec.size()), bar = beats_per_bar;
    std::vector<long> moved;
    for (std::size_t i : downbeat_indices(grid))
        if (long(i) + beats >= 0 && long(i) + beats < n) moved.push_back(long(i) + beats);
    if (moved.empty()) return;
    while (moved.front() - bar >= 0) moved.insert(moved.begin(), moved.front() - bar);
    while (moved.back() + bar < n) moved.push_back(moved.back() + bar);
    grid.downbeats_sec.clear();
    for (long i : moved) grid.downbeats_sec.push_back(grid.beats_sec[std::size_t(i)]);
}

std::vector<DownbeatSection> downbeat_sections(const BeatGrid& grid, int beats_per_bar) {
    std::vector<DownbeatSection> out;
    const auto idx = downbeat_indices(grid);
    if (idx.empty()) return out;
    for (std::size_t k = 0; k < idx.size(); ++k) {
        if (k == 0 || idx[k] - idx[k - 1] != std::size_t(beats_per_bar)) {
            DownbeatSection s;
            s.first_beat = k == 0 ? 0 : idx[k];
            s.start_sec = grid.beats_sec[s.first_beat];
            s.first_downbeat_sec = grid.beats_sec[idx[k]];
            s.phase = int(idx[k] % std::size_t(beats_per_bar));
            if (!out.empty()) out.back().end_sec = s.start_sec;
            out.push_back(s);
        }
        ++out.back().bars;
    }
    out.back().end_sec = grid.beats_sec.back();
    return out;
}

BeatGrid track_beats_aubio_only(const Audio& song) {
    BeatGrid g;
    if (song.frames() == 0 || song.num_channels() == 0) return g;
    const AubioResult a = run_aubio_tempo(AnalysisSignal(song));
    g.beats_sec = a.beats_sec;
    g.tempo_bpm = a.bpm;
    for (std::size_t i = 0; i < a.beats_sec.size(); i += 4) g.downbeats_sec.push_back(a.beats_sec[i]);
    return g;
}

}  // namespace loopsep
