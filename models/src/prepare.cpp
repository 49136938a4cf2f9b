// Data preparation: song folders (`loopsep synth` songs and multitracks, loopsep/multitrack.h)
// → tempo-normalised four-beat windows of every stem (see loopsep/train.h). Runs once; training
// then does no DSP beyond mixing and the STFT.
//
// Window convention (as the engine): at the reference tempo a window lasts
// (window_frames−1)·hop samples, so its centred STFT has window_frames frames,
// and is centred on the four-beat bar (≈ context_frames of context each side).
// In song time the same span is scaled by song-bar-length / reference-bar-length
// (from the annotated downbeats, so tempo drift is followed bar by bar).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <ostream>
#include <thread>

#include "loopsep/audio.h"
#include "loopsep/error.h"
#include "loopsep/files.h"
#include "loopsep/multitrack.h"
#include "loopsep/train.h"
#ifdef LOOPSEP_HAVE_STRETCH
#include "loopsep/stretch.h"
#endif

namespace fs = std::filesystem;

namespace loopsep {

void PrepareParams::validate() const {
    if (data_dirs.empty()) throw usage_error("--data: at least one folder of songs is required");
    if (threads < 1 || threads > 256) throw usage_error("--threads must be in 1..256");
}

namespace {

struct SongResult {
    std::string name, note;
    std::vector<std::string> instruments, sources;  // per stem
    std::vector<CachedSegment> segments;             // instrument/source = stem index here
};

// Linear-interpolation fallback when the Rubber Band wrapper is not built (changes pitch).
Audio resample_to(const Audio& in, std::size_t out_frames) {
    Audio out(in.num_channels(), out_frames, in.sample_rate_hz);
    const double step = double(in.frames() - 1) / double(std::max<std::size_t>(1, out_frames - 1));
    for (int c = 0; c < in.num_channels(); ++c)
        for (std::size_t i = 0; i < out_frames; ++i) {
            const double x = i * step;
            const std::size_t k = std::min(in.frames() - 2, std::size_t(x));
            const double f = x - double(k);
            out.channels[c][i] = float((1 - f) * in.channels[c][k] + f * in.channels[c][k + 1]);
        }
    return out;
}

Audio stretch(const Audio& in, std::size_t out_frames, bool fast) {
    if (in.frames() == out_frames) return in;
#ifdef LOOPSEP_HAVE_STRETCH
    StretchParams sp;
    sp.engine = fast ? StretchEngine::Faster : StretchEngine::Finer;
    return stretch_to_frames(in, out_frames, sp);
#else
    (void)fast;
    return resample_to(in, out_frames);
#endif
}

// A song as the window cutter sees it: one channel per stem (its mid), and the bar starts.
struct SongStems {
    std::string name, downbeats_from;  // downbeats_from: the file (or estimate) they came from, for errors
    std::vector<std::string> instruments, sources;  // per stem
    Audio stems;
    std::vector<double> downbeats;
    std::string note;                  // for the log line
};

SongStems read_synth_song(const fs::path& dir) {
    SongStems r;
    r.name = dir.parent_path().filename().string() + "/" + dir.filename().string();
    const std::string meta_path = (dir / "meta.json").string();
    r.downbeats_from = meta_path;
    nlohmann::json meta;
    try {
        require_regular_file(meta_path);
        std::ifstream in(meta_path);
        meta = nlohmann::json::parse(in);
    } catch (const std::exception&) {
        throw input_error(meta_path + ": not valid JSON");
    }
    try {
        r.downbeats = meta.at("downbeats").get<std::vector<double>>();
    } catch (const std::exception&) {
        throw input_error(meta_path + ": has no 'downbeats' list");
    }
    // Stems in name order (deterministic); mid of each.
    std::vector<fs::path> stem_files;
    for (const auto& e : fs::directory_iterator(dir / "stems"))
        if (e.path().extension() == ".wav") stem_files.push_back(e.path());
    std::sort(stem_files.begin(), stem_files.end());
    if (stem_files.empty()) throw input_error((dir / "stems").string() + ": no stems");
    ReadOptions ro;
    ro.allow_silent = true;
    Audio& stems = r.stems;  // one channel per stem
    for (const auto& f : stem_files) {
        Audio a = read_audio(f.string(), ro);
        const std::string inst = f.stem().string();
        r.instruments.push_back(inst);
        std::string source;
        if (meta.contains("stems") && meta["stems"].contains(inst) && meta["stems"][inst].contains("sources"))
            for (const auto& s : meta["stems"][inst]["sources"])
                if (s.is_object() && s.contains("source") && s["source"].is_string())
                    source += (source.empty() ? "" : "; ") + s["source"].get<std::string>();
        r.sources.push_back(source.empty() ? r.name + ":" + inst : source);
        if (stems.channels.empty()) stems = Audio(0, 0, a.sample_rate_hz);
        if (!stems.channels.empty() && a.frames() != stems.frames())
            throw input_error(f.string() + ": stem length differs from the other stems");
        stems.channels.push_back(a.mono());
    }
    return r;
}

// A multitrack song (loopsep/multitrack.h); its downbeats from beats.txt or else estimated.
SongStems read_multitrack(const fs::path& dir, const DownbeatEstimator& estimate) {
    MultitrackReadOptions options;
    options.mono = true;
    MultitrackSong song = read_multitrack_song(dir.string(), options);
    SongStems r;
    r.name = song.name;
    r.instruments = song.instruments;
    r.stems = Audio(0, 0, song.mixture.sample_rate_hz);
    for (std::size_t i = 0; i < song.stems.size(); ++i) {
        r.sources.push_back(song.name + ":" + song.instruments[i]);  // each song's stems their own source
        r.stems.channels.push_back(std::move(song.stems[i].channels[0]));
    }
    r.downbeats = std::move(song.downbeats_sec);
    r.downbeats_from = (dir / "beats.txt").string();
    r.note = ", beats from beats.txt";
    if (r.downbeats.empty()) {
        if (!estimate) throw input_error(dir.string() + ": no beats.txt, and no beat tracker to estimate the beats");
        r.downbeats = estimate(song.mixture);
        r.downbeats_from = dir.string() + " (estimated downbeats)";
        r.note = ", beats estimated";
        if (r.downbeats.size() < 2) throw input_error(dir.string() + ": the beat tracker found less than one bar");
    }
    return r;
}

SongResult cut_windows(const SongStems& song, const ModelConfig& cfg, bool fast, int bars_per_song) {
    SongResult r;
    r.name = song.name;
    r.instruments = song.instruments;
    r.sources = song.sources;
    r.note = song.note;
    const Audio& stems = song.stems;
    const std::vector<double>& downbeats = song.downbeats;
    const int sr = cfg.sample_rate_hz;
    const double ref_bar = double(cfg.segment_samples());
    const std::size_t L = cfg.num_window_samples();
    const std::size_t n = stems.frames();
    std::vector<std::vector<float>> windows;  // per bar × stem
    const std::size_t num_bars = downbeats.size() < 2 ? 0 : downbeats.size() - 1;
    std::vector<std::size_t> bars;
    if (bars_per_song <= 0 || std::size_t(bars_per_song) >= num_bars) {
        for (std::size_t b = 0; b < num_bars; ++b) bars.push_back(b);
    } else {  // evenly spread: one per 1/K of the song (covers the sections)
        for (int k = 0; k < bars_per_song; ++k)
            bars.push_back(std::min(num_bars - 1, std::size_t((k + 0.5) * double(num_bars) / bars_per_song)));
    }
    for (std::size_t b : bars) {
        const double t0 = downbeats[b] * sr, t1 = downbeats[b + 1] * sr;
        if (!(t1 > t0)) throw input_error(song.downbeats_from + ": downbeats are not increasing");
        const double ratio = ref_bar / (t1 - t0);  // reference samples per song sample
        // Centred on the bar, as the engine's windows (engine_plan.cpp).
        const long start = std::lround(0.5 * (t0 + t1) - 0.5 * double(L) / ratio);
        const std::size_t len = std::size_t(std::lround(double(L) / ratio));
        Audio cut(stems.num_channels(), len, sr);
        for (int c = 0; c < stems.num_channels(); ++c)
            for (std::size_t i = 0; i < len; ++i) {
                const long k = start + long(i);
                if (k >= 0 && std::size_t(k) < n) cut.channels[c][i] = stems.channels[c][std::size_t(k)];
            }
        const Audio st = std::abs(ratio - 1.0) < 1e-4 ? resample_to(cut, L) : stretch(cut, L, fast);
        for (int c = 0; c < st.num_channels(); ++c) {
            CachedSegment seg = encode_segment(st.channels[c].data(), std::uint32_t(L));
            seg.instrument = std::uint16_t(c);
            seg.source = std::uint32_t(c);
            seg.bar = std::uint32_t(b);
            // Centre part RMS decides "active" (relative to the stem's loudest bar, below).
            double e = 0;
            const std::size_t seg_len = std::min<std::size_t>(L, cfg.segment_samples());
            const std::size_t c0 = (L - seg_len) / 2, c1 = c0 + seg_len;
            for (std::size_t i = c0; i < c1; ++i) e += double(st.channels[c][i]) * st.channels[c][i];
            seg.scale = std::max(seg.scale, 0.0f);
            r.segments.push_back(std::move(seg));
            windows.push_back({float(std::sqrt(e / double(c1 - c0)))});
        }
    }
    std::vector<float> loudest(stems.num_channels(), 0.0f);
    for (std::size_t i = 0; i < r.segments.size(); ++i)
        loudest[r.segments[i].instrument] = std::max(loudest[r.segments[i].instrument], windows[i][0]);
    for (std::size_t i = 0; i < r.segments.size(); ++i) {
        const float rms = windows[i][0];
        r.segments[i].active = rms > 1e-3f && rms > 0.05f * loudest[r.segments[i].instrument];  // −60 dBFS, −26 dB
    }
    return r;
}

}  // namespace

SegmentCache prepare_segments(const PrepareParams& p, const ModelConfig& cfg, std::ostream& log) {
    p.validate();
    cfg.validate();
    std::vector<SongFolder> songs;
    for (const auto& d : p.data_dirs) {
        const auto here = find_song_folders(d, p.musdb_subset);
        songs.insert(songs.end(), here.begin(), here.end());
    }
    const auto multitracks = std::size_t(std::count_if(songs.begin(), songs.end(), [](const SongFolder& s) { return !s.synth; }));
    std::vector<SongResult> results(songs.size());
    std::atomic<std::size_t> next{0};
    std::mutex mu;
    std::string first_error;
    auto worker = [&] {
        for (std::size_t i = next++; i < songs.size(); i = next++) {
            try {
                const fs::path dir = songs[i].dir;
                results[i] = cut_windows(songs[i].synth ? read_synth_song(dir) : read_multitrack(dir, p.estimate_downbeats),
                                         cfg, p.fast_stretch, p.bars_per_song);
                std::lock_guard<std::mutex> g(mu);
                log << "  prepared " << results[i].name << " (" << results[i].segments.size() << " windows"
                    << results[i].note << ")\n";
                log.flush();
            } catch (const std::exception& e) {
                std::lock_guard<std::mutex> g(mu);
                if (first_error.empty()) first_error = e.what();
            }
        }
    };
    std::vector<std::thread> pool;
    for (int t = 0; t < std::min<int>(p.threads, int(songs.size())); ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
    if (!first_error.empty()) throw input_error(first_error);

    SegmentCache cache;
    cache.sample_rate_hz = cfg.sample_rate_hz;
    cache.window_samples = std::uint32_t(cfg.num_window_samples());
    for (auto& r : results) {
        SegmentCache one;
        one.sample_rate_hz = cache.sample_rate_hz;
        one.window_samples = cache.window_samples;
        one.songs = {r.name};
        one.instruments = r.instruments;
        one.sources = r.sources;
        one.segments = std::move(r.segments);
        cache.append(one);
    }
    std::string dirs;
    for (const auto& d : p.data_dirs) dirs += (dirs.empty() ? "" : ", ") + fs::path(d).filename().string();
    const std::string kinds = multitracks == 0 ? std::to_string(songs.size()) + " loopsep-synth songs"
                              : multitracks == songs.size()
                                  ? std::to_string(songs.size()) + " multitrack songs"
                                  : std::to_string(songs.size() - multitracks) + " loopsep-synth and " +
                                        std::to_string(multitracks) + " multitrack songs";
    cache.description = kinds + " (" + dirs + "), " +
                        std::to_string(cache.segments.size()) + " stem windows, " +
#ifdef LOOPSEP_HAVE_STRETCH
                        (p.fast_stretch ? "Rubber Band R2" : "Rubber Band R3") + std::string(" to ") +
#else
                        std::string("resampled to ") +
#endif
                        std::to_string(cfg.reference_bpm) + " BPM";
    return cache;
}

}  // namespace loopsep
