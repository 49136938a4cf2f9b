// train_downbeat — trains the learned meter stage (beat/src/downbeat_model.cpp) and writes its
// weights as a C++ header (beat/src/downbeat_weights.h).
//
// usage: train_downbeat --out FILE [--seed N] [--epochs N] [--holdout K] --dir DIR...
//
// Each DIR is a `loopsep synth --split train` folder (DIR/*/meta.json + stems/). Every song is
// edited into the real-recording bench's four variants (bench/beats_real/real_songs.h: plain,
// pickup, drum-less intro + breakdown, ±4 % vinyl drift), tracked up to the DP grid exactly as
// track_beats does, and every tatum of the grid that sits within a quarter of a sixteenth of the
// annotated grid becomes one sample: its classifier inputs and its annotated position in the bar.
// One classifier per genre (the songs' meta "genre"). The last K songs of each genre (name
// order) are held out: not trained on, their accuracy printed.
// Songs of any split but "train" are refused: realval (the real bench) and val (the generated
// bench) are never trained on. Deterministic: same songs and seed → the same file.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "beat_internal.h"
#include "loopsep/error.h"
#include "real_songs.h"

namespace {

namespace fs = std::filesystem;
using namespace loopsep::beat_detail;

struct Samples {
    std::vector<float> inputs;
    std::vector<int> labels;
};

// The DP grid of a song, as track_beats computes it before the meter stage.
bool dp_grid(const loopsep::Audio& song, loopsep::Genre genre, Features& f, std::vector<double>& dp) {
    AnalysisSignal signal(song);
    if (signal.peak() < 1e-5f) return false;
    signal.set_gain(0.1 / std::max(1e-9, std::sqrt(signal.mean_square())));
    f = compute_features(signal);
    const TempoEstimate tempo = estimate_tempo(f, loopsep::tempo_prior(genre), f.aubio_bpm);
    if (tempo.period_frames <= 0) return false;
    dp = dp_beats(f, local_periods(f, tempo.period_frames), loopsep::BeatParams{}.tightness);
    return dp.size() >= 4;
}

// Position in the bar (0..15) of time t from the annotations, or -1 when t is outside them or
// more than a quarter of a sixteenth from the nearest one.
int annotated_position(double t, const std::vector<double>& beats, const std::vector<double>& downbeats) {
    if (beats.size() < 2 || downbeats.empty() || t < beats.front() || t >= beats.back()) return -1;
    const std::size_t k = std::size_t(std::upper_bound(beats.begin(), beats.end(), t) - beats.begin()) - 1;
    const double u = 4.0 * (double(k) + (t - beats[k]) / (beats[k + 1] - beats[k]));  // sixteenths
    const long r = std::lround(u);
    if (std::fabs(u - double(r)) > 0.25) return -1;
    const std::size_t beat = std::size_t(r / 4);
    if (beat >= beats.size()) return -1;
    // Beat-in-bar: beats since the last downbeat at or before it (before the first: counted back).
    auto near = [&](double d) {
        return std::size_t(std::lower_bound(beats.begin(), beats.end(), d - 1e-3) - beats.begin());
    };
    long last = long(near(downbeats.front()));
    for (double d : downbeats) {
        const long i = long(near(d));
        if (i <= long(beat)) last = i;
    }
    const long in_bar = ((long(beat) - last) % 4 + 4) % 4;
    return int(4 * in_bar + r % 4);
}

void add_song(const bench::AnnotatedSong& s, Samples& out) {
    Features f;
    std::vector<double> dp;
    if (!dp_grid(s.audio, s.genre, f, dp)) return;
    const TatumEvidence e = tatum_evidence(f, dp);
    std::vector<float> in(kClassifierInputs);
    for (std::size_t j = 0; j < e.tatum_frames.size(); ++j) {
        const int p = annotated_position(f.frame_time(e.tatum_frames[j]), s.beats_sec, s.downbeats_sec);
        if (p < 0) continue;
        classifier_inputs(e, j, in.data());
        out.inputs.insert(out.inputs.end(), in.begin(), in.end());
        out.labels.push_back(p);
    }
}

double accuracy(const TatumClassifier& c, const Samples& s) {
    std::size_t ok = 0;
    for (std::size_t i = 0; i < s.labels.size(); ++i) {
        const auto lp = log_posterior(c, s.inputs.data() + i * kClassifierInputs);
        ok += int(std::max_element(lp.begin(), lp.end()) - lp.begin()) == s.labels[i];
    }
    return s.labels.empty() ? 0.0 : double(ok) / double(s.labels.size());
}

void write_array(std::ofstream& o, const char* name, const TatumClassifier& c) {
    o << "inline constexpr float " << name << "[" << c.w.size() << "] = {";
    char buf[32];
    for (std::size_t i = 0; i < c.w.size(); ++i) {
        std::snprintf(buf, sizeof buf, "%.9g", double(c.w[i]));
        o << (i % 8 == 0 ? "\n    " : " ") << buf << "f,";
    }
    o << "\n};\n";
}

}  // namespace

int main(int argc, char** argv) {
    std::string out_path;
    std::vector<std::string> dirs;
    ClassifierTraining opts;
    int holdout = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--out" && i + 1 < argc) out_path = argv[++i];
        else if (a == "--seed" && i + 1 < argc) opts.seed = std::stoull(argv[++i]);
        else if (a == "--epochs" && i + 1 < argc) opts.epochs = std::max(1, std::atoi(argv[++i]));
        else if (a == "--holdout" && i + 1 < argc) holdout = std::max(0, std::atoi(argv[++i]));
        else if (a == "--dir" && i + 1 < argc) dirs.push_back(argv[++i]);
        else {
            std::fprintf(stderr, "usage: train_downbeat --out FILE [--seed N] [--epochs N] [--holdout K] --dir DIR...\n");
            return 2;
        }
    }
    if (out_path.empty() || dirs.empty()) {
        std::fprintf(stderr, "train_downbeat: --out and at least one --dir are required\n");
        return 2;
    }
    try {
        std::map<loopsep::Genre, std::vector<bench::AnnotatedSong>> by_genre;
        for (const auto& d : dirs) {
            for (const auto& e : fs::directory_iterator(d)) {
                if (!fs::exists(e.path() / "meta.json")) continue;
                nlohmann::json meta;
                std::ifstream(e.path() / "meta.json") >> meta;
                if (meta.value("split", "") != "train")
                    throw loopsep::input_error((e.path() / "meta.json").string() + ": split '" +
                                               meta.value("split", "") + "' is not train (never train on realval or val)");
            }
            for (auto& s : bench::real_recording_songs(d)) by_genre[s.genre].push_back(std::move(s));
        }
        std::map<loopsep::Genre, TatumClassifier> trained;
        for (auto& [genre, songs] : by_genre) {
            std::sort(songs.begin(), songs.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
            // Hold out whole songs (all four variants of each of the last K).
            std::vector<std::string> bases;
            for (const auto& s : songs) {
                const std::string b = s.name.substr(0, s.name.find('/'));
                if (bases.empty() || bases.back() != b) bases.push_back(b);
            }
            const std::size_t keep = bases.size() > std::size_t(holdout) ? bases.size() - std::size_t(holdout) : 0;
            Samples train, held;
            for (const auto& s : songs) {
                const std::string b = s.name.substr(0, s.name.find('/'));
                const bool is_held = std::find(bases.begin() + long(keep), bases.end(), b) != bases.end();
                add_song(s, is_held ? held : train);
            }
            std::printf("%s: %zu songs (%zu held out), %zu training tatums, %zu held-out tatums\n",
                        loopsep::genre_name(genre), bases.size(), bases.size() - keep, train.labels.size(),
                        held.labels.size());
            const TatumClassifier c = train_classifier(train.inputs, train.labels, opts);
            std::printf("%s: position accuracy train %.3f held-out %.3f (chance 0.0625)\n", loopsep::genre_name(genre),
                        accuracy(c, train), accuracy(c, held));
            trained[genre] = c;
        }
        const std::string tmp = out_path + ".tmp";
        {
            std::ofstream o(tmp);
            o << "// Generated by train_downbeat (bench/beats_real/train_downbeat.cpp): do not edit.\n"
                 "// The learned meter stage's weights (beat/src/downbeat_model.cpp), trained with seed "
              << opts.seed << ", " << opts.epochs << " epochs,\n// on `loopsep synth --split train` songs only "
                 "(bench/beats_real/results.md says which).\n#pragma once\n\nnamespace loopsep::beat_detail {\n\n";
            write_array(o, "kDownbeatWeightsHipHop", trained[loopsep::Genre::HipHop]);
            write_array(o, "kDownbeatWeightsBachata", trained[loopsep::Genre::Bachata]);
            o << "\n}  // namespace loopsep::beat_detail\n";
            if (!o) throw loopsep::input_error(tmp + ": cannot write");
        }
        fs::rename(tmp, out_path);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "train_downbeat: %s\n", e.what());
        return 1;
    }
    return 0;
}
