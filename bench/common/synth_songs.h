// The song folders `loopsep synth` writes (mix, stems/, meta.json, loops/loops.json), as the
// separation benchmarks read them (bench_separate, bench_adaptive).
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "loopsep/audio.h"

namespace loopsep::bench {

// A query cut from a song's stem (multitrack songs have no loop files; multitrack_songs.h).
struct QueryBar {
    std::string instrument;
    Audio audio;
    double bpm = 0;
};

struct SynthSong {
    std::string dir, name;
    nlohmann::json meta;
    std::vector<std::string> instruments;                    // stems except "other"
    std::vector<std::pair<std::string, std::string>> loops;  // (instrument, path)
    bool multitrack = false;                                 // a multitrack folder (multitrack_songs.h)
    std::vector<QueryBar> query_bars;                        // its queries, in place of loops
};

// The first `max_songs` song folders under `root` (those with a meta.json), in name order.
inline std::vector<SynthSong> load_synth_songs(const std::string& root, int max_songs) {
    namespace fs = std::filesystem;
    std::vector<SynthSong> songs;
    std::vector<fs::path> dirs;
    for (auto& e : fs::directory_iterator(root))
        if (fs::exists(e.path() / "meta.json")) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    for (const auto& d : dirs) {
        if (int(songs.size()) >= max_songs) break;
        SynthSong s;
        s.dir = d.string();
        s.name = d.filename().string();
        std::ifstream(d / "meta.json") >> s.meta;
        for (auto& e : fs::directory_iterator(d / "stems")) {
            std::string inst = e.path().stem().string();
            if (inst != "other") s.instruments.push_back(inst);
        }
        std::sort(s.instruments.begin(), s.instruments.end());
        if (fs::exists(d / "loops" / "loops.json")) {
            nlohmann::json lj;
            std::ifstream(d / "loops" / "loops.json") >> lj;
            for (auto& l : lj) s.loops.push_back({l["instrument"], (d / "loops" / l["file"].get<std::string>()).string()});
        }
        songs.push_back(std::move(s));
    }
    return songs;
}

}  // namespace loopsep::bench
