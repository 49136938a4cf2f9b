// bench_key — key detection (loopsep/key.h) on synth songs with known keys
// (meta.json "key": the key as heard, after any speed change of production).
//
// For each song: the key estimated from mix.wav, with the Krumhansl and the
// Temperley profiles, against the truth: exact, fifth, relative, parallel, other
// (MIREX classes) and MIREX's weighted score (1, 0.5, 0.3, 0.2, 0). Then the same
// on each stem alone, to see which instruments carry the key at all (drums do not):
// per instrument, the exact rate and the median correlation of the winning key.
//
// usage: bench_key --data DIR [--data DIR ...] [--max-songs N] [--json]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "loopsep/audio.h"
#include "loopsep/error.h"
#include "loopsep/key.h"
#include "synth_songs.h"

using namespace loopsep;
namespace fs = std::filesystem;

namespace {

struct Tally {
    int n = 0;
    std::map<KeyRelation, int> by;
    std::vector<double> correlations;
    void add(KeyRelation r, double correlation) {
        ++n;
        ++by[r];
        correlations.push_back(correlation);
    }
    double rate(KeyRelation r) const { return n ? double(by.count(r) ? by.at(r) : 0) / n : 0.0; }
    double mirex() const {
        return rate(KeyRelation::Exact) + 0.5 * rate(KeyRelation::Fifth) + 0.3 * rate(KeyRelation::Relative) +
               0.2 * rate(KeyRelation::Parallel);
    }
    double median_correlation() const {
        if (correlations.empty()) return 0;
        std::vector<double> c = correlations;
        std::sort(c.begin(), c.end());
        return c[c.size() / 2];
    }
    nlohmann::json json() const {
        nlohmann::json j = {{"songs", n}, {"mirex", mirex()}, {"median_correlation", median_correlation()}};
        for (KeyRelation r : {KeyRelation::Exact, KeyRelation::Fifth, KeyRelation::Relative, KeyRelation::Parallel,
                              KeyRelation::Other})
            j[key_relation_name(r)] = rate(r);
        return j;
    }
};

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> data;
    int max_songs = 1000;
    bool json = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--data" && i + 1 < argc) data.push_back(argv[++i]);
        else if (a == "--max-songs" && i + 1 < argc) max_songs = std::atoi(argv[++i]);
        else if (a == "--json") json = true;
        else {
            std::fprintf(stderr, "usage: bench_key --data DIR [--data DIR ...] [--max-songs N] [--json]\n");
            return 2;
        }
    }
    if (data.empty()) {
        std::fprintf(stderr, "bench_key: give --data DIR\n");
        return 2;
    }
    const KeyProfile profiles[] = {KeyProfile::Krumhansl, KeyProfile::Temperley};
    nlohmann::json out = nlohmann::json::object();
    for (const std::string& dir : data) {
        const auto songs = bench::load_synth_songs(dir, max_songs);
        std::map<std::string, Tally> mix;                     // profile → tally
        std::map<std::string, Tally> stems;                   // instrument → tally (Temperley)
        nlohmann::json per_song = nlohmann::json::array();
        double seconds = 0, audio_sec = 0;
        for (const auto& song : songs) {
            const auto truth = parse_key(song.meta.value("key", ""));
            if (!truth) {
                std::fprintf(stderr, "bench_key: %s: no key in meta.json, skipped\n", song.dir.c_str());
                continue;
            }
            const Audio audio = read_audio(song.dir + "/mix.wav");
            nlohmann::json js = {{"song", song.name}, {"truth", key_name(*truth)}};
            for (KeyProfile p : profiles) {
                const auto t0 = std::chrono::steady_clock::now();
                const KeyEstimate e = estimate_key(audio, p, song.name);
                if (p == KeyProfile::Temperley) {
                    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                    audio_sec += audio.duration_sec();
                }
                const KeyRelation r = key_relation(e.key, *truth);
                mix[key_profile_name(p)].add(r, e.correlation);
                js[key_profile_name(p)] = {{"key", key_name(e.key)}, {"relation", key_relation_name(r)},
                                           {"correlation", e.correlation}, {"tuning_cents", e.tuning_cents}};
            }
            std::vector<std::string> names = song.instruments;
            names.push_back("other");
            for (const auto& inst : names) {
                const std::string path = song.dir + "/stems/" + inst + ".wav";
                if (!fs::exists(path)) continue;
                try {
                    const KeyEstimate e = estimate_key(read_audio(path), KeyProfile::Temperley, path);
                    stems[inst].add(key_relation(e.key, *truth), e.correlation);
                } catch (const Error&) {
                    stems[inst].add(KeyRelation::Other, 0.0);  // silent stem: no key
                }
            }
            per_song.push_back(js);
        }
        nlohmann::json jset = {{"mix", nlohmann::json::object()}, {"stems", nlohmann::json::object()}, {"songs", per_song}};
        for (const auto& [p, t] : mix) jset["mix"][p] = t.json();
        for (const auto& [inst, t] : stems) jset["stems"][inst] = t.json();
        jset["seconds_per_audio_minute"] = audio_sec > 0 ? 60.0 * seconds / audio_sec : 0.0;
        const std::string set = fs::path(dir).filename().string();
        out[set] = jset;
        if (!json) {
            std::printf("== %s (%d songs)\n", set.c_str(), mix.empty() ? 0 : mix.begin()->second.n);
            std::printf("  %-10s %6s %6s %8s %8s %6s %6s\n", "mix", "exact", "fifth", "relative", "parallel", "other", "mirex");
            for (const auto& [p, t] : mix)
                std::printf("  %-10s %6.3f %6.3f %8.3f %8.3f %6.3f %6.3f\n", p.c_str(), t.rate(KeyRelation::Exact),
                            t.rate(KeyRelation::Fifth), t.rate(KeyRelation::Relative), t.rate(KeyRelation::Parallel),
                            t.rate(KeyRelation::Other), t.mirex());
            std::printf("  %-10s %6s %6s  (stems alone, temperley)\n", "stem", "exact", "med r");
            for (const auto& [inst, t] : stems)
                std::printf("  %-10s %6.3f %6.3f\n", inst.c_str(), t.rate(KeyRelation::Exact), t.median_correlation());
            std::printf("  %.3f s per minute of audio\n", jset["seconds_per_audio_minute"].get<double>());
        }
    }
    if (json) std::cout << out.dump(2) << "\n";
    return 0;
}
