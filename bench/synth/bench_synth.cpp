// bench_synth — how fast `loopsep synth` renders training songs.
//
// usage: bench_synth [--songs N] [--duration-sec S] [--seed S] [--out DIR] [--loops] [--split train|val|realval]
// Renders N bachata and N hip-hop songs (train split unless --split) with the library in one
// process (the CLI does the same work) and prints wall time and songs/minute
// per genre. Run two in parallel (--seed differs) to measure a 2-core machine.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "loopsep/error.h"
#include "loopsep/synth.h"

int main(int argc, char** argv) {
    using namespace loopsep::synth;
    int songs = 4;
    double duration = 40.0;
    std::uint64_t seed = 1;
    bool loops = false;
    SourceSplit split = SourceSplit::Train;
    std::string out = (std::filesystem::temp_directory_path() / "loopsep_bench_synth").string();
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) { std::fprintf(stderr, "bench_synth: %s needs a value\n", a.c_str()); std::exit(2); }
            return argv[++i];
        };
        if (a == "--songs") songs = std::atoi(next().c_str());
        else if (a == "--duration-sec") duration = std::atof(next().c_str());
        else if (a == "--seed") seed = std::strtoull(next().c_str(), nullptr, 10);
        else if (a == "--out") out = next();
        else if (a == "--loops") loops = true;
        else if (a == "--split") split = parse_split(next());
        else { std::fprintf(stderr, "usage: bench_synth [--songs N] [--duration-sec S] [--seed S] [--out DIR] [--loops] [--split train|val|realval]\n"); return 2; }
    }
    try {
        for (Genre g : {Genre::Bachata, Genre::HipHop}) {
            SynthParams p;
            p.genre = g;
            p.songs = songs;
            p.seed = seed;
            p.duration_sec = duration;
            p.loops = loops;
            p.split = split;
            p.quiet = true;
            p.out_dir = out;
            p.force = true;   // the same songs again over an earlier run's
            const auto t0 = std::chrono::steady_clock::now();
            render_songs(p);
            const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            std::printf("%-8s %-7s %d songs x %.0f s%s: %.2f s wall, %.2f s/song, %.1f songs/minute, %.1fx real time\n",
                        genre_name(g).c_str(), split_name(split).c_str(), songs, duration, loops ? " +loops" : "", sec, sec / songs,
                        60.0 * songs / sec, songs * duration / sec);
        }
    } catch (const loopsep::Error& e) {
        std::fprintf(stderr, "bench_synth: %s\n", e.what());
        return 1;
    }
    return 0;
}
