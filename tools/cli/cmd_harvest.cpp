// loopsep harvest — songs in, a tagged library of clean loops of one instrument out
// (see loopsep/harvest.h for how loops are cut, scored and filed).
#include <climits>
#include <cmath>
#include <algorithm>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "loopsep/catalog.h"
#include "loopsep/error.h"
#include "loopsep/files.h"
#include "loopsep/harvest.h"
#include "loopsep/model.h"
#include "progress.h"
#include "song_list.h"

namespace loopsep::cli {

namespace {

const CommandSpec kSpec = with_song_list_options({
    "harvest",
    "PATH... [--list FILE] [--shard I/N] --target NAME --genre G --catalog DB [--query LOOP] [--export DIR] [--bpm B] [--bars 1|2|4]\n"
    "       [--max-loops N] [--min-quality Q] [--force] [--json] [--model FILE]",
    "Separates the target from each song, cuts it on the downbeat grid into loops of whole bars, keeps the best\n"
    "distinct ones and files them in the catalog (instrument, genre, section, key, tempo, source song and bar).\n"
    "A song already harvested for this target (same audio) is skipped unless --force.",
    {{"--target", true, "instrument to harvest, e.g. bongo", "NAME"},
     {"--genre", true, "bachata | hiphop | neutral: tempo prior and the loops' genre tag", "G"},
     {"--catalog", true, "catalog file to fill (created if missing)", "DB"},
     {"--query", true, "example loop of the target (default: the catalog's loops of it)", "LOOP"},
     {"--query-bpm", true, "tempo of the --query loop (default: estimated)", "BPM"},
     {"--export", true, "also write the loops as WAV files (acid + smpl chunks) into DIR", "DIR"},
     {"--bpm", true, "stretch loops to this tempo (default: keep the song's tempo)", "B"},
     {"--bars", true, "bars per loop: 1 (default, four beats), 2 or 4", "N"},
     {"--max-loops", true, "loops kept per song, best first (default 8)", "N"},
     {"--min-quality", true, "drop loops scoring below Q, 0..1 (default 0.3)", "Q"},
     {"--threads", true, "CPU threads (default 2)", "N"},
     {"--model", true, std::string("model file (default: ") + kShippedModelFile + ")", "FILE"},
     {"--force", false, "harvest songs again even if already done"},
     {"--json", false, "print one JSON summary on stdout"},
     {"--quiet", false, "no progress bar (it is drawn only when stderr is a terminal)"}},
    0,
    SIZE_MAX});

nlohmann::json score_json(const LoopScore& s) {
    auto r = [](double v) { return std::round(v * 1000.0) / 1000.0; };
    return {{"quality", r(s.quality)}, {"level_dbfs", r(s.level_dbfs)}, {"share_db", r(s.share_db)},
            {"rel_level_db", r(s.rel_level_db)}, {"match", r(s.match)},
            {"leakage", r(s.leakage)}, {"silence", r(s.silence)}};
}

nlohmann::json song_json(const SongHarvest& s) {
    nlohmann::json loops = nlohmann::json::array();
    for (const auto& l : s.loops) {
        nlohmann::json j = {{"id", l.catalog_id}, {"bar", l.first_bar + 1}, {"start_sec", l.start_sec}, {"end_sec", l.end_sec},
                            {"bpm", l.bpm},       {"section", l.section},   {"new", !l.was_duplicate}};
        if (!s.skipped) j["score"] = score_json(l.score);
        if (!l.file.empty()) j["file"] = l.file;
        loops.push_back(j);
    }
    nlohmann::json considered = nlohmann::json::array();
    for (const auto& c : s.considered)
        considered.push_back({{"bar", c.first_bar + 1}, {"start_sec", c.start_sec}, {"end_sec", c.end_sec},
                              {"decision", drop_reason_name(c.decision)}, {"score", score_json(c.score)}});
    nlohmann::json dropped = nlohmann::json::object();
    for (const auto& [reason, n] : s.dropped) dropped[reason] = n;
    return {{"song", s.song},         {"hash", s.hash},     {"status", s.skipped ? "skipped" : "harvested"},
            {"tempo_bpm", s.tempo_bpm}, {"candidates", s.candidates}, {"kept", s.loops.size()},
            {"dropped", dropped},     {"loops", loops},       {"considered", considered}};
}

std::string song_line(const SongHarvest& s) {
    char buf[256];
    if (s.skipped) {
        std::snprintf(buf, sizeof buf, "%s: already harvested (%zu loops), skipped (--force to redo)", s.song.c_str(),
                      s.loops.size());
        return buf;
    }
    int added = 0;
    for (const auto& l : s.loops) added += l.was_duplicate ? 0 : 1;
    std::string why;
    for (const auto& [reason, n] : s.dropped) why += (why.empty() ? "" : ", ") + std::to_string(n) + " " + reason;
    std::snprintf(buf, sizeof buf, "%s: %.1f BPM, %d candidate loops, kept %zu (%d new), dropped %d%s%s%s", s.song.c_str(),
                  s.tempo_bpm, s.candidates, s.loops.size(), added, s.candidates - int(s.loops.size()),
                  why.empty() ? "" : " (", why.c_str(), why.empty() ? "" : ")");
    return buf;
}

}  // namespace

int run_harvest(const Argv& argv) {
    ParsedArgs args = parse_args(kSpec, argv);
    if (args.has("--help")) { std::cout << usage_text(kSpec); return 0; }
    install_interrupt_cleanup("loopsep");  // as separate: temporaries removed on SIGINT/SIGTERM/SIGHUP

    HarvestParams p;
    p.target = args.require("--target");
    check_identifier(p.target, "--target");  // it names catalog tags and exported files
    p.genre = parse_genre(args.require("--genre"));
    const std::string db = args.require("--catalog");
    p.query_path = args.get("--query");
    if (args.has("--query-bpm")) {
        if (p.query_path.empty()) throw usage_error("--query-bpm needs --query");
        p.query_bpm = args.get_double("--query-bpm", 0, 20, 400);
    }
    p.export_dir = args.get("--export");
    if (args.has("--export") && p.export_dir.empty()) throw usage_error("--export must not be empty");
    p.bpm = args.get_double("--bpm", 0, 30, 300);
    p.bars = int(args.get_int("--bars", 1, 1, 4));
    p.max_loops = int(args.get_int("--max-loops", 8, 1, 100000));
    p.min_quality = args.get_double("--min-quality", 0.3, 0, 1);
    p.threads = int(args.get_int("--threads", 2, 1, 64));
    p.model_path = args.get("--model");
    p.force = args.has("--force");
    p.validate();
    const bool json = args.has("--json");
    set_torch_threads(p.threads);

    // Songs from PATH... and --list, this task's shard (song_list.h); exported loops are no songs.
    const SongBatch batch = songs_from_args(args, {{p.export_dir}});
    report_shard(batch);
    std::vector<std::string> songs;
    for (const auto& s : batch.songs) songs.push_back(s.path);

    Catalog catalog = Catalog::open(db, true);
    // On a terminal: a bar over the songs (the harvest reports per song), each song's line above it.
    Progress bar("harvest", args.has("--quiet"));
    const std::size_t num_songs = songs.size();
    std::size_t songs_done = 0;
    auto show = [&] {
        bar.update(num_songs ? double(songs_done) / double(num_songs) : 1.0,
                   "song " + std::to_string(std::min(songs_done + 1, num_songs)) + "/" + std::to_string(num_songs));
    };
    show();
    // An empty shard leaves its catalog (empty) like the others: a merge takes every shard's file.
    HarvestReport report = songs.empty() ? HarvestReport{} : harvest(songs, catalog, p, [&](const SongHarvest& s) {
        bar.clear();
        if (!json) std::cerr << song_line(s) << "\n";
        ++songs_done;
        show();
    });
    bar.clear();

    if (json) {
        nlohmann::json songs = nlohmann::json::array();
        for (const auto& s : report.songs) songs.push_back(song_json(s));
        nlohmann::json out = {{"target", p.target},
                              {"genre", genre_name(p.genre)},
                              {"catalog", db},
                              {"songs_harvested", report.songs_harvested()},
                              {"songs_skipped", report.songs_skipped()},
                              {"loops_kept", report.loops_kept()},
                              {"songs", songs}};
        std::cout << out.dump(2) << "\n";
    } else {
        std::printf("harvest: %d songs harvested, %d skipped, %d loops kept -> %s\n", report.songs_harvested(),
                    report.songs_skipped(), report.loops_kept(), db.c_str());
    }
    return 0;
}

}  // namespace loopsep::cli
