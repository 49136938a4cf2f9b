// bench_beats — the real-recording song variants (see real_songs.h).
#include "real_songs.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "loopsep/error.h"

namespace bench {
namespace fs = std::filesystem;
namespace {

constexpr double kFadeSec = 0.01;  // fades at every cut: no clicks the tracker could take for onsets

// Percussion stems per genre: what a drum-less intro or a breakdown leaves out.
std::vector<std::string> percussion_stems(loopsep::Genre g) {
    if (g == loopsep::Genre::Bachata) return {"bongo", "guira"};
    return {"drums"};
}

loopsep::Audio read_stem(const fs::path& dir, const std::string& name) {
    for (const char* ext : {".wav", ".flac"})
        if (fs::exists(dir / "stems" / (name + ext))) return loopsep::read_audio((dir / "stems" / (name + ext)).string());
    throw loopsep::input_error(dir.string() + ": no stem '" + name + "'");
}

void add_into(loopsep::Audio& mix, const loopsep::Audio& stem, const std::vector<std::pair<double, double>>& muted_sec) {
    if (mix.channels.empty()) mix = loopsep::Audio(stem.num_channels(), stem.frames(), stem.sample_rate_hz);
    const double sr = stem.sample_rate_hz;
    for (int c = 0; c < stem.num_channels(); ++c)
        for (std::size_t i = 0; i < stem.frames() && i < mix.frames(); ++i) {
            const double t = i / sr;
            double g = 1.0;
            for (const auto& [a, b] : muted_sec) {
                // Gain 0 inside [a, b], linear fades of kFadeSec outside it.
                const double d = t < a ? a - t : t > b ? t - b : 0.0;
                g = std::min(g, std::min(1.0, d / kFadeSec));
            }
            mix.channels[c][i] += float(g * stem.channels[c][i]);
        }
}

// Linear interpolation of y(x) at xq, x increasing; extrapolated from the end segments.
double interp(const std::vector<double>& x, const std::vector<double>& y, double xq) {
    std::size_t i = std::size_t(std::upper_bound(x.begin(), x.end(), xq) - x.begin());
    i = std::clamp<std::size_t>(i, 1, x.size() - 1);
    const double f = (xq - x[i - 1]) / (x[i] - x[i - 1]);
    return y[i - 1] + f * (y[i] - y[i - 1]);
}

}  // namespace

loopsep::Audio prepend_pickup(const loopsep::Audio& mix, int bar, int k, double lead_sec, std::vector<double>& beats,
                              std::vector<double>& downbeats) {
    if (k < 1 || k > 3 || bar < 0 || std::size_t(4 * bar + 4) >= beats.size())
        throw loopsep::usage_error("prepend_pickup: bar/beats out of range");
    const double sr = mix.sample_rate_hz;
    // Cut a little before each beat so a slightly early (humanised) hit is kept whole.
    const double pre = 0.02;
    const double p0 = beats[std::size_t(4 * bar + 4 - k)] - pre, p1 = beats[std::size_t(4 * bar + 4)] - pre;
    const double s0 = beats[0] - pre;
    const auto lead = std::size_t(std::lround(lead_sec * sr));
    const auto a0 = std::size_t(std::lround(p0 * sr)), a1 = std::size_t(std::lround(p1 * sr));
    const auto b0 = std::size_t(std::lround(std::max(0.0, s0) * sr));
    const std::size_t pick = a1 - a0, rest = mix.frames() - b0;
    loopsep::Audio out(mix.num_channels(), lead + pick + rest, mix.sample_rate_hz);
    const auto fade = std::size_t(kFadeSec * sr);
    for (int c = 0; c < mix.num_channels(); ++c) {
        for (std::size_t i = 0; i < pick; ++i) {
            // Fade the pickup's end into the song (it was cut mid-sound).
            const double g = i + fade > pick ? double(pick - i) / fade : 1.0;
            out.channels[c][lead + i] = float(g * mix.channels[c][a0 + i]);
        }
        for (std::size_t i = 0; i < rest; ++i) out.channels[c][lead + pick + i] += mix.channels[c][b0 + i];
    }
    const double shift_song = lead_sec + double(pick) / sr - double(b0) / sr;
    std::vector<double> nb, nd;
    for (int j = 4 - k; j < 4; ++j) nb.push_back(lead_sec + beats[std::size_t(4 * bar + j)] - double(a0) / sr);
    for (double b : beats) nb.push_back(b + shift_song);
    for (double d : downbeats) nd.push_back(d + shift_song);
    beats = nb;
    downbeats = nd;
    return out;
}

loopsep::Audio vinyl_ramp(const loopsep::Audio& mix, double depth, std::vector<double>& beats,
                          std::vector<double>& downbeats) {
    if (!(std::fabs(depth) < 0.5)) throw loopsep::usage_error("vinyl_ramp: depth must be within ±0.5");
    const double sr = mix.sample_rate_hz, dur = mix.duration_sec();
    // Source position t(τ) = ∫ r, r(τ) = 1 − depth + 2·depth·τ/T with T the output length, chosen
    // so the source ends at T: ∫0^T r = T (the ramp is symmetric), so the song keeps its length.
    const double T = dur;
    std::vector<double> tau_grid, src_grid;
    const std::size_t n = mix.frames();
    loopsep::Audio out(mix.num_channels(), n, mix.sample_rate_hz);
    for (std::size_t i = 0; i < n; ++i) {
        const double tau = i / sr;
        const double src = (1 - depth) * tau + depth * tau * tau / T;
        const double x = src * sr;
        const auto j = std::size_t(x);
        const double f = x - double(j);
        for (int c = 0; c < mix.num_channels(); ++c) {
            const auto& ch = mix.channels[c];
            const float a = j < n ? ch[j] : 0.0f, b = j + 1 < n ? ch[j + 1] : 0.0f;
            out.channels[c][i] = float(a + f * (b - a));
        }
        if (i % 441 == 0) {
            tau_grid.push_back(tau);
            src_grid.push_back(src);
        }
    }
    for (auto* v : {&beats, &downbeats})
        for (double& t : *v) t = interp(src_grid, tau_grid, t);
    return out;
}

std::vector<AnnotatedSong> real_recording_songs(const std::string& synth_dir) {
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(synth_dir))
        if (fs::exists(e.path() / "meta.json")) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    std::vector<AnnotatedSong> out;
    int index = 0;
    for (const auto& d : dirs) {
        nlohmann::json meta;
        std::ifstream(d / "meta.json") >> meta;
        if (!meta.contains("beats") || !meta.contains("downbeats") || !meta.contains("stems"))
            throw loopsep::input_error((d / "meta.json").string() + ": no beats, downbeats or stems");
        const loopsep::Genre genre = loopsep::parse_genre(meta.value("genre", "neutral"));
        const std::string gname = loopsep::genre_name(genre);
        const auto beats = meta["beats"].get<std::vector<double>>();
        const auto downbeats = meta["downbeats"].get<std::vector<double>>();
        std::vector<std::string> tags;
        if (genre == loopsep::Genre::HipHop && meta["stems"].contains("drums")) {
            const std::string src = meta["stems"]["drums"]["sources"].dump();
            const bool loop = src.find("sonic-pi") != std::string::npos || src.find("lmms") != std::string::npos;
            tags.push_back("real hiphop: " + std::string(loop ? "sampled break" : "drum kit"));
        }
        // Stems, and the mix with percussion muted in the first four bars and in a breakdown.
        const auto perc = percussion_stems(genre);
        const double bar0 = downbeats.at(0), bar4 = downbeats.at(std::min<std::size_t>(4, downbeats.size() - 1));
        const std::size_t mid = std::max<std::size_t>(8, (downbeats.size() / 2) / 4 * 4);
        const double brk0 = downbeats.at(std::min(mid, downbeats.size() - 1));
        const double brk1 = downbeats.at(std::min(mid + 4, downbeats.size() - 1));
        loopsep::Audio mix, dry;
        for (const auto& [stem, info] : meta["stems"].items()) {
            (void)info;
            const loopsep::Audio a = read_stem(d, stem);
            add_into(mix, a, {});
            const bool is_perc = std::find(perc.begin(), perc.end(), stem) != perc.end();
            std::vector<std::pair<double, double>> muted;
            if (is_perc) muted.push_back({0.0, bar4 - 0.03});
            if (is_perc || stem == "bass") muted.push_back({brk0 - 0.03, brk1 - 0.03});
            add_into(dry, a, muted);
        }
        (void)bar0;
        const std::string base = d.filename().string();
        auto push = [&](const std::string& variant, loopsep::Audio audio, std::vector<double> b, std::vector<double> db) {
            AnnotatedSong s;
            s.category = "real " + gname + " " + variant;
            s.name = base + "/" + variant;
            s.tags = tags;
            s.audio = std::move(audio);
            s.genre = genre;
            s.beats_sec = std::move(b);
            s.downbeats_sec = std::move(db);
            out.push_back(std::move(s));
        };
        push("plain", mix, beats, downbeats);
        {
            auto b = beats, db = downbeats;
            const int bar = std::min<int>(8, int(downbeats.size()) - 3);
            loopsep::Audio a = prepend_pickup(mix, bar, 1 + index % 3, 0.25, b, db);
            push("pickup", std::move(a), b, db);
        }
        push("dry-intro", std::move(dry), beats, downbeats);
        {
            auto b = beats, db = downbeats;
            loopsep::Audio a = vinyl_ramp(mix, index % 2 ? -0.04 : 0.04, b, db);
            push("drift", std::move(a), b, db);
        }
        ++index;
    }
    return out;
}

}  // namespace bench
