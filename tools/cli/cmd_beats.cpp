// loopsep beats SONG [--genre G] [--json] [--no-beats] [--downbeat-offset N] [--downbeat-model M]
//
// Beat grid, downbeats and four-beat segments of a song (beat/include/loopsep/beat.h).
// Text output by default; --json prints exactly one JSON object on stdout:
// {"tempo_bpm", "beats", "downbeats", "segments": [[start_sec, end_sec], ...], "confidence"}
// (plus "genre", "beatless", "segment_beats" and "downbeat_sections": the stretches of one
// downbeat phase, so a change of phase after a breakdown shows). Silent or beatless audio (or a grid
// below the confidence threshold) is an error unless --no-beats, which falls back to fixed
// four-beat windows at the prior's tempo ("beatless_reason" says why). --downbeat-offset N moves
// every downbeat N beats later (negative: earlier), a correction by hand. --downbeat-model picks the
// meter stage's evidence (BeatParams::downbeat_model: auto, pattern, learned, both).
#include <cmath>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "loopsep/audio.h"
#include "loopsep/beat.h"
#include "loopsep/error.h"

namespace loopsep::cli {
namespace {

double round_sec(double t) { return std::round(t * 1e4) / 1e4; }  // 0.1 ms is plenty for JSON

std::vector<double> rounded(const std::vector<double>& v) {
    std::vector<double> out;
    out.reserve(v.size());
    for (double t : v) out.push_back(round_sec(t));
    return out;
}

}  // namespace

int run_beats(const Argv& argv) {
    const CommandSpec spec{
        "beats", "SONG [--genre G] [--json] [--no-beats] [--downbeat-offset N] [--downbeat-model M]",
        "Finds the beats, downbeats and four-beat segments (downbeat to downbeat) of a song.",
        {{"--genre", true, "tempo prior: bachata (110-145 BPM), hiphop (70-110), neutral (default, 70-180)", "G"},
         {"--json", false, "print one JSON object: tempo_bpm, beats, downbeats, segments, confidence"},
         {"--no-beats", false, "silent/beatless audio: fixed four-beat windows at the prior's tempo instead of an error"},
         {"--downbeat-offset", true, "move every downbeat N beats later (-3..3; negative: earlier), to correct it by hand", "N"},
         {"--downbeat-model", true, "beat phase and downbeats: auto (default: per genre, what the benches measured best), pattern (bar template), learned (trained classifier), both", "M"}},
        1, 1};
    ParsedArgs args = parse_args(spec, argv);
    if (args.has("--help")) {
        std::cout << usage_text(spec);
        return 0;
    }
    BeatParams params;
    params.genre = parse_genre(args.get("--genre"));
    params.allow_beatless = args.has("--no-beats");
    params.downbeat_offset = int(args.get_int("--downbeat-offset", 0, -(params.beats_per_bar - 1), params.beats_per_bar - 1));
    if (args.has("--downbeat-model")) params.downbeat_model = parse_downbeat_model(args.get("--downbeat-model"));
    params.validate();
    const std::string path = args.positional[0];

    ReadOptions ro;
    ro.allow_silent = params.allow_beatless;
    const Audio song = read_audio(path, ro);
    BeatGrid grid;
    try {
        grid = track_beats(song, params);
    } catch (const Error& e) {
        throw Error(e.kind(), path + ": " + e.what());
    }
    const auto segs = four_beat_segments(grid, song.frames(), song.sample_rate_hz);
    const double rate = song.sample_rate_hz;

    if (args.has("--json")) {
        nlohmann::json segments = nlohmann::json::array(), seg_beats = nlohmann::json::array();
        nlohmann::json sections = nlohmann::json::array();
        for (const auto& s : downbeat_sections(grid, params.beats_per_bar))
            sections.push_back({{"start_sec", round_sec(s.start_sec)}, {"end_sec", round_sec(s.end_sec)},
                                {"first_downbeat_sec", round_sec(s.first_downbeat_sec)}, {"phase", s.phase},
                                {"bars", s.bars}});
        for (const auto& s : segs) {
            segments.push_back({round_sec(s.start_frame / rate), round_sec(s.end_frame / rate)});
            seg_beats.push_back(std::round(s.beats * 1000) / 1000);
        }
        nlohmann::json j{{"tempo_bpm", std::round(grid.tempo_bpm * 1000) / 1000},
                         {"beats", rounded(grid.beats_sec)},
                         {"downbeats", rounded(grid.downbeats_sec)},
                         {"segments", segments},
                         {"segment_beats", seg_beats},
                         {"confidence", std::round(grid.confidence * 1000) / 1000},
                         {"genre", genre_name(params.genre)},
                         {"beatless", grid.beatless},
                         {"downbeat_sections", sections}};
        if (grid.beatless) j["beatless_reason"] = grid.beatless_reason;
        std::cout << j.dump() << "\n";
        return 0;
    }
    std::printf("%s: %.2f BPM (%s prior)%s, confidence %.2f\n", path.c_str(), grid.tempo_bpm, genre_name(params.genre),
                grid.beatless ? (", BEATLESS: fixed grid (" + grid.beatless_reason + ")").c_str() : "", grid.confidence);
    if (grid.beats_sec.empty()) {
        std::printf("beats: 0\n");
    } else {
        std::printf("beats: %zu (%.3f .. %.3f s)\n", grid.beats_sec.size(), grid.beats_sec.front(), grid.beats_sec.back());
    }
    std::printf("downbeats: %zu:", grid.downbeats_sec.size());
    for (double d : grid.downbeats_sec) std::printf(" %.3f", d);
    const auto sections = downbeat_sections(grid, params.beats_per_bar);
    if (sections.size() > 1)
        for (const auto& s : sections)
            std::printf("\n  downbeat phase %d from %.3f s (%zu bars)", s.phase, s.start_sec, s.bars);
    std::printf("\nsegments: %zu\n", segs.size());
    for (std::size_t i = 0; i < segs.size(); ++i)
        std::printf("  %3zu  %9.3f - %9.3f s  frames %zu-%zu  %.2f beats\n", i + 1, segs[i].start_frame / rate,
                    segs[i].end_frame / rate, segs[i].start_frame, segs[i].end_frame, segs[i].beats);
    return 0;
}

}  // namespace loopsep::cli
