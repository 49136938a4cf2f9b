// bench_beats — beat and downbeat F-measure of loopsep's tracker vs aubio alone.
//
// usage: bench_beats [--seeds N] [--verbose] [--no-neutral] [--tightness T] [--write DIR] [--synth-dir DIR]...
//                    [--real-dir DIR]... [--dump FILE] [--no-aubio] [--only S]
//                    [--downbeat-model pattern|learned|both]
//        bench_beats --time FILE [--genre G] [--repeat N]
//
// Renders the synthetic song set (bench_songs.h: pop with drum-less intros, ±4 % tempo
// drift, swung boom-bap, bachata with pickups), tracks each with track_beats (given the
// song's genre prior) and with aubio alone, and scores with the mir_eval F-measure
// (±70 ms, one-to-one matching, no trimming of the first 5 s: intros count).
// Songs with a genre are scored again with the neutral prior ("/neutral" rows) unless
// --no-neutral, to show what the genre prior buys (left out of the ALL row).
// --synth-dir also scores songs made by `loopsep synth` (DIR/*/mix.wav + meta.json
// with "beats"/"downbeats" in seconds and an optional "genre").
// --real-dir scores the real-recording bench (bench/beats_real: `loopsep synth --split realval`
// songs edited into plain / pickup / dry-intro / drift variants); --seeds 0 leaves out the
// generated set. Besides F-measures each row counts continuity (mir_eval CMLt: correct beats in
// phase and period, ±17.5 % of the beat), tempo-octave errors (tempo off by ×2, ×1/2, ×3/2 or
// ×2/3) and off-beat errors (beat F < 0.5 while the grid matches the off-beats at F ≥ 0.5).
// --no-aubio skips the aubio-alone baseline (its columns read 0); --only S scores only the songs
// whose name contains S (for quick looks at one song).
// --dump writes every grid (tempo, confidence, beats, downbeats) one line per song.
// --time decodes FILE, then runs track_beats on it (best of --repeat runs) and prints its wall
// seconds, the real-time factor, the RSS with the decoded song and the peak RSS while
// tracking: what beat tracking costs in memory on top of the decoded song.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_songs.h"
#include "real_songs.h"
#include "loopsep/beat.h"
#include "loopsep/error.h"

namespace {

// mir_eval.beat.f_measure: each reference beat matches at most one estimate within ±window.
double f_measure(const std::vector<double>& ref, const std::vector<double>& est, double window = 0.07) {
    if (ref.empty() || est.empty()) return 0.0;
    std::size_t hits = 0, j = 0;
    std::vector<bool> used(est.size(), false);
    for (double r : ref) {
        while (j < est.size() && est[j] < r - window) ++j;
        std::size_t best = est.size();
        for (std::size_t k = j; k < est.size() && est[k] <= r + window; ++k)
            if (!used[k] && (best == est.size() || std::fabs(est[k] - r) < std::fabs(est[best] - r))) best = k;
        if (best < est.size()) {
            used[best] = true;
            ++hits;
        }
    }
    const double p = double(hits) / est.size(), r = double(hits) / ref.size();
    return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

double median_tempo(const std::vector<double>& beats) {
    if (beats.size() < 2) return 0;
    std::vector<double> ibi;
    for (std::size_t i = 1; i < beats.size(); ++i) ibi.push_back(beats[i] - beats[i - 1]);
    std::nth_element(ibi.begin(), ibi.begin() + ibi.size() / 2, ibi.end());
    return 60.0 / ibi[ibi.size() / 2];
}

// mir_eval.beat.continuity's CMLt: the share of reference beats matched by an estimate within
// ±17.5 % of the beat period (phase) whose interval to the previous estimate is within 17.5 % of
// the reference interval (period), the previous reference beat being matched too.
double cml_t(const std::vector<double>& ref, const std::vector<double>& est) {
    if (ref.size() < 2 || est.size() < 2) return 0.0;
    std::size_t correct = 0;
    bool prev_ok = false;
    for (std::size_t i = 1; i < ref.size(); ++i) {
        const double ibi = ref[i] - ref[i - 1];
        const auto it = std::lower_bound(est.begin(), est.end(), ref[i]);
        std::size_t j = std::size_t(it - est.begin());
        if (j == est.size() || (j > 0 && ref[i] - est[j - 1] < est[j] - ref[i])) --j;
        bool ok = std::fabs(est[j] - ref[i]) <= 0.175 * ibi && j > 0 &&
                  std::fabs((est[j] - est[j - 1]) - ibi) <= 0.175 * ibi;
        if (ok && !prev_ok) ok = std::fabs(est[j - 1] - ref[i - 1]) <= 0.175 * ibi;  // the run's start
        if (ok) ++correct;
        prev_ok = ok;
    }
    return double(correct) / double(ref.size() - 1);
}

bool octave_error(double est_bpm, double true_bpm) {
    for (double r : {2.0, 0.5, 1.5, 2.0 / 3.0})
        if (std::fabs(est_bpm / true_bpm / r - 1) < 0.05) return true;
    return false;
}

// The grid sits on the off-beats: poor against the beats, good against the midpoints between them.
bool offbeat_error(const std::vector<double>& ref, const std::vector<double>& est, double beat_f);

struct Row {
    int n = 0;
    double beat_f = 0, beat_f_aubio = 0, down_f = 0, down_f_aubio = 0, tempo_err = 0, tempo_err_aubio = 0;
    double cmlt = 0;
    int errors = 0, octave = 0, offbeat = 0;
};

struct Case {
    std::string category, name;
    loopsep::Audio audio;
    loopsep::Genre genre;
    std::vector<double> beats, downbeats;
    std::vector<std::string> tags;  // extra rows the case counts in (not in ALL twice)
};

bool offbeat_error(const std::vector<double>& ref, const std::vector<double>& est, double beat_f) {
    if (beat_f >= 0.5 || ref.size() < 2) return false;
    std::vector<double> off;
    for (std::size_t i = 1; i < ref.size(); ++i) off.push_back(0.5 * (ref[i - 1] + ref[i]));
    return f_measure(off, est) >= 0.5;
}

double g_tightness = loopsep::BeatParams{}.tightness;
loopsep::DownbeatModel g_model = loopsep::BeatParams{}.downbeat_model;  // --downbeat-model
bool g_aubio = true;      // --no-aubio: skip the aubio-alone baseline (its columns read 0)
std::string g_only;       // --only S: score only songs whose name contains S
std::FILE* g_dump = nullptr;  // --dump: every grid, to check that a speed-up leaves beats where they were

void dump_grid(const std::string& name, const loopsep::BeatGrid& g) {
    if (!g_dump) return;
    std::fprintf(g_dump, "%s tempo %.6f conf %.6f beats", name.c_str(), g.tempo_bpm, g.confidence);
    for (double b : g.beats_sec) std::fprintf(g_dump, " %.6f", b);
    std::fprintf(g_dump, " downbeats");
    for (double b : g.downbeats_sec) std::fprintf(g_dump, " %.6f", b);
    std::fprintf(g_dump, "\n");
}

void score(const Case& c, std::map<std::string, Row>& rows, bool verbose, bool in_all = true) {
    if (!g_only.empty() && c.name.find(g_only) == std::string::npos) return;
    loopsep::BeatParams params;
    params.tightness = g_tightness;
    params.genre = c.genre;
    params.downbeat_model = g_model;
    const double true_bpm = median_tempo(c.beats);
    std::vector<Row*> targets{&rows[c.category]};
    for (const auto& t : c.tags) targets.push_back(&rows[t]);
    if (in_all) targets.push_back(&rows["~all"]);
    double bf = 0, df = 0, te = 100, bfa = 0, dfa = 0, tea = 100, cm = 0;
    bool oct = false, off = false;
    try {
        const auto g = loopsep::track_beats(c.audio, params);
        bf = f_measure(c.beats, g.beats_sec);
        df = f_measure(c.downbeats, g.downbeats_sec);
        te = std::fabs(g.tempo_bpm - true_bpm);
        cm = cml_t(c.beats, g.beats_sec);
        oct = octave_error(g.tempo_bpm, true_bpm);
        off = offbeat_error(c.beats, g.beats_sec, bf);
        dump_grid(c.name, g);
        if (verbose && bf < 1.0) {
            std::printf("    ref %zu [%.3f .. %.3f] est %zu [%.3f .. %.3f]\n", c.beats.size(), c.beats.front(), c.beats.back(),
                        g.beats_sec.size(), g.beats_sec.front(), g.beats_sec.back());
        }
    } catch (const loopsep::Error& e) {
        std::fprintf(stderr, "%s: %s\n", c.name.c_str(), e.what());
        for (Row* r : targets) ++r->errors;
    }
    const auto a = g_aubio ? loopsep::track_beats_aubio_only(c.audio) : loopsep::BeatGrid{};
    bfa = f_measure(c.beats, a.beats_sec);
    dfa = f_measure(c.downbeats, a.downbeats_sec);
    tea = std::fabs(a.tempo_bpm - true_bpm);
    for (Row* r : targets) {
        r->n++;
        r->cmlt += cm;
        r->octave += oct;
        r->offbeat += off;
        r->beat_f += bf;
        r->down_f += df;
        r->beat_f_aubio += bfa;
        r->down_f_aubio += dfa;
        r->tempo_err += te;
        r->tempo_err_aubio += tea;
    }
    if (verbose)
        std::printf("  %-28s true %6.1f BPM | loopsep beatF %.3f downF %.3f CMLt %.3f dBPM %5.2f%s%s | aubio beatF %.3f downF %.3f dBPM %6.2f\n",
                    c.name.c_str(), true_bpm, bf, df, cm, te, oct ? " OCTAVE" : "", off ? " OFFBEAT" : "", bfa, dfa, tea);
}

// Scores with the case's genre prior, then (if it has one) again with the neutral prior in a
// "/neutral" row that is left out of ALL: what the genre prior buys.
void score_with_neutral(Case& c, std::map<std::string, Row>& rows, bool verbose, bool with_neutral) {
    score(c, rows, verbose);
    if (c.genre == loopsep::Genre::Neutral || !with_neutral) return;
    Case n = c;
    n.category += "/neutral";
    n.name += "/neutral";
    n.genre = loopsep::Genre::Neutral;
    n.tags.clear();
    score(n, rows, verbose, false);
}

void write_case(const std::string& dir, const Case& c) {
    std::filesystem::create_directories(dir);
    loopsep::write_audio(dir + "/" + c.name + ".wav", c.audio);
    nlohmann::json j{{"beats", c.beats}, {"downbeats", c.downbeats}, {"genre", loopsep::genre_name(c.genre)}};
    std::ofstream(dir + "/" + c.name + ".json") << j.dump() << "\n";
}

// VmRSS / VmHWM of this process in MB (Linux /proc).
double proc_status_mb(const char* key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(key, 0) == 0) return std::atof(line.c_str() + std::strlen(key)) / 1024.0;  // kB
    return 0;
}

int time_file(const std::string& path, loopsep::Genre genre, int repeat) {
    const loopsep::Audio song = loopsep::read_audio(path);
    // Reset the peak (VmHWM) to the current RSS so the peak below is that of tracking alone,
    // not of the decoder's own temporary buffers.
    std::ofstream("/proc/self/clear_refs") << "5";
    const double decoded_mb = proc_status_mb("VmRSS:");
    loopsep::BeatParams params;
    params.genre = genre;
    double best_sec = 1e30;
    loopsep::BeatGrid g;
    for (int i = 0; i < repeat; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        g = loopsep::track_beats(song, params);
        if (i == 0) dump_grid(path, g);
        best_sec = std::min(best_sec, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("%s: %.1f s audio, %zu beats, %zu downbeats, %.2f BPM\n", path.c_str(), song.duration_sec(),
                g.beats_sec.size(), g.downbeats_sec.size(), g.tempo_bpm);
    const double peak_mb = proc_status_mb("VmHWM:");
    std::printf("track_beats %.3f s wall (best of %d, %.0fx real time)\n", best_sec, repeat, song.duration_sec() / best_sec);
    std::printf("RSS %.1f MB with the decoded song, peak %.1f MB while tracking (+%.1f MB)\n", decoded_mb, peak_mb,
                peak_mb - decoded_mb);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    int seeds = 6;
    bool verbose = false, with_neutral = true;
    std::string write_dir;
    std::vector<std::string> synth_dirs, real_dirs;
    std::string time_path;
    loopsep::Genre time_genre = loopsep::Genre::Neutral;
    int repeat = 1;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--time" && i + 1 < argc) time_path = argv[++i];
        else if (a == "--genre" && i + 1 < argc) time_genre = loopsep::parse_genre(argv[++i]);
        else if (a == "--repeat" && i + 1 < argc) repeat = std::max(1, std::atoi(argv[++i]));
        else if (a == "--seeds" && i + 1 < argc) seeds = std::max(0, std::atoi(argv[++i]));
        else if (a == "--verbose") verbose = true;
        else if (a == "--no-neutral") with_neutral = false;
        else if (a == "--no-aubio") g_aubio = false;
        else if (a == "--downbeat-model" && i + 1 < argc) g_model = loopsep::parse_downbeat_model(argv[++i]);
        else if (a == "--only" && i + 1 < argc) g_only = argv[++i];
        else if (a == "--tightness" && i + 1 < argc) g_tightness = std::atof(argv[++i]);
        else if (a == "--write" && i + 1 < argc) write_dir = argv[++i];
        else if (a == "--synth-dir" && i + 1 < argc) synth_dirs.push_back(argv[++i]);
        else if (a == "--real-dir" && i + 1 < argc) real_dirs.push_back(argv[++i]);
        else if (a == "--dump" && i + 1 < argc) g_dump = std::fopen(argv[++i], "w");
        else {
            std::fprintf(stderr, "usage: bench_beats [--seeds N] [--verbose] [--no-neutral] [--tightness T] [--write DIR] [--synth-dir DIR]... [--real-dir DIR]... [--dump FILE] [--no-aubio] [--only S] [--downbeat-model M]\n"
                                 "       bench_beats --time FILE [--genre G] [--repeat N]\n");
            return 2;
        }
    }
    if (!time_path.empty()) {
        const int rc = time_file(time_path, time_genre, repeat);
        if (g_dump) std::fclose(g_dump);
        return rc;
    }
    std::map<std::string, Row> rows;
    int idx = 0;
    for (const auto& spec : seeds > 0 ? bench::default_song_set(seeds) : std::vector<bench::SongSpec>{}) {
        auto song = bench::render_song(spec);
        Case c{spec.name, spec.name + "_" + std::to_string(idx++), std::move(song.audio), spec.genre,
               song.beats_sec, song.downbeats_sec, {}};
        if (!write_dir.empty()) write_case(write_dir, c);
        score_with_neutral(c, rows, verbose, with_neutral);
    }
    for (const auto& synth_dir : synth_dirs) {
        std::vector<std::filesystem::path> dirs;
        for (const auto& e : std::filesystem::directory_iterator(synth_dir))
            if (std::filesystem::exists(e.path() / "meta.json")) dirs.push_back(e.path());
        std::sort(dirs.begin(), dirs.end());
        for (const auto& d : dirs) {
            try {
                nlohmann::json meta;
                std::ifstream(d / "meta.json") >> meta;
                std::filesystem::path mix = d / "mix.wav";
                if (!std::filesystem::exists(mix) && meta.contains("mix")) mix = d / meta["mix"].get<std::string>();
                Case c;
                c.genre = meta.contains("genre") ? loopsep::parse_genre(meta["genre"].get<std::string>())
                                                 : loopsep::Genre::Neutral;
                c.category = std::string("synth_") + loopsep::genre_name(c.genre);
                c.name = d.filename().string();
                c.audio = loopsep::read_audio(mix.string());
                c.beats = meta.at("beats").get<std::vector<double>>();
                c.downbeats = meta.at("downbeats").get<std::vector<double>>();
                score_with_neutral(c, rows, verbose, with_neutral);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "%s: skipped (%s)\n", d.string().c_str(), e.what());
            }
        }
    }
    for (const auto& real_dir : real_dirs) {
        for (auto& s : bench::real_recording_songs(real_dir)) {
            Case c{s.category, s.name, std::move(s.audio), s.genre, s.beats_sec, s.downbeats_sec, s.tags};
            if (!write_dir.empty()) {
                Case w = c;
                std::replace(w.name.begin(), w.name.end(), '/', '_');
                write_case(write_dir, w);
            }
            score_with_neutral(c, rows, verbose, with_neutral);
        }
    }
    if (g_dump) std::fclose(g_dump);
    std::printf("\n%-32s %3s | %-17s | %-17s | %-15s | %5s | %3s %3s | %s\n", "category", "n", "beat F loopsep/aubio",
                "downbeat F l/a", "|dBPM| l/a", "CMLt", "oct", "off", "errors");
    for (const auto& [name, r] : rows) {
        const double n = std::max(1, r.n);
        std::printf("%-32s %3d | %7.3f / %7.3f  | %7.3f / %7.3f | %6.2f / %6.2f | %5.3f | %3d %3d | %d\n",
                    name == "~all" ? "ALL" : name.c_str(), r.n, r.beat_f / n, r.beat_f_aubio / n, r.down_f / n,
                    r.down_f_aubio / n, r.tempo_err / n, r.tempo_err_aubio / n, r.cmlt / n, r.octave, r.offbeat,
                    r.errors);
    }
    return 0;
}
