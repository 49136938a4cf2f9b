// loopsep separate — song in, target stems out (see loopsep/engine.h).
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <future>
#include <iostream>
#include <memory>
#include <optional>
#include <algorithm>

#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "loopsep/audio.h"
#include "loopsep/catalog.h"
#include "loopsep/engine.h"
#include "loopsep/error.h"
#include "loopsep/files.h"
#include "loopsep/model.h"
#include "loopsep/parallel.h"
#include "progress.h"
#include "report/levels.h"
#include "report/report.h"
#include "separate_batch.h"
#include "song_list.h"

namespace loopsep::cli {

namespace fs = std::filesystem;

namespace {

const CommandSpec kSpec = with_song_list_options({
    "separate",
    "SONG --target NAME --output OUT.wav [options]\n       loopsep separate PATH... [--list FILE] [--targets a,b,c] [--outdir DIR] [--residual] "
    "[--shard I/N] [options]",
    "Extracts target instruments from songs. The query that selects a target is an example loop (--query), a catalog\n"
    "loop (--query-id), or else the catalog's loops of that instrument averaged (class prototype).\n"
    "PATH: song files or folders (scanned recursively); each song's stems go to DIR/<its path>/. Without --targets:\n"
    "the genre's instruments (bachata: bongo,guira,bass,guitar; hiphop: drums,bass,vocals; else the catalog's) and\n"
    "the residual. A song already complete in DIR is skipped (--force redoes it), so a re-run resumes a batch.",
    {{"--target", true, "one target instrument (with --output)", "NAME"},
     {"--output", true, "output file for --target (.wav .flac .aiff .ogg .opus .mp3)", "OUT"},
     {"--targets", true, "comma-separated targets (default: the genre's set, see above)", "LIST"},
     {"--outdir", true, "writes DIR/<song>/<target>.<ext> for each song (default: separated; ext from --format)", "DIR"},
     {"--residual", false, "also write residual = mixture minus the targets (with --outdir)"},
     {"--query", true, "example loop of the target (repeat: one per target, in order)", "LOOP"},
     {"--query-id", true, "catalog loop id as the query (repeat: one per target)", "ID"},
     {"--query-bpm", true, "tempo of the --query loop (default: estimated)", "BPM"},
     {"--genre", true, "bachata | hiphop | neutral: tempo prior and catalog genre", "G"},
     {"--catalog", true, "loop catalog (default: the per-user catalog, seeded from samples/)", "DB"},
     {"--model", true, std::string("model file (default: ") + kShippedModelFile + ")", "FILE"},
     {"--format", true, "wav | flac | aiff | ogg | opus | mp3 (default: from --output's extension, else wav)", "F"},
     {"--bits", true, "16 | 24 | f32 for wav, flac (no f32), aiff (default 16)", "B"},
     {"--bitrate", true, "kbps for ogg, opus, mp3 (default 192, 160, 320)", "KBPS"},
     {"--threads", true, "CPU threads (default 2)", "N"},
     {"--batch", true, "segments per model call (default 8)", "N"},
     {"--passes", true, "1 (default) | 2: a second pass queried by the song itself, the estimates of the bars where pass 1 is most confident of each target (--json: self_query_bars, self_query_confidence)", "N"},
     {"--reconstruct", true, "mask (default: masks warped back to song time) | stretch (re-stretch audio)", "M"},
     {"--input-stretch", true, "spectral (default) | rubberband: how segments reach the reference tempo for the model", "M"},
     {"--grid", true, "beats (default) | fixed (plain windows, no beat sync: ablation)", "G"},
     {"--no-beats", false, "songs without a beat (or a grid below the confidence threshold): fixed grid at the genre's tempo instead of an error"},
     {"--downbeat-offset", true, "move every downbeat N beats later (-3..3; negative: earlier): a correction by hand", "N"},
     {"--force", false, "overwrite existing outputs"},
     {"--json", false, "print one JSON summary on stdout (docs/separate.schema.json)"},
     {"--quiet", false, "no progress bar (it is drawn only when stderr is a terminal)"},
     {"--report", false, "also write report.html and run.json beside the stems (--outdir, or --output's folder)"},
     {"--reference-dir", true, "true stems (REF/<song's output folder>/<target>.wav, else REF/<song name>/, else (one song) REF/): SDR per stem in the JSON and report", "REF"}},
    0,
    SIZE_MAX});

// Streams every output to its file as the engine finishes it; commit() renames them all into place.
// Destroyed before commit() (an error), it leaves no output behind.
// Several outputs are encoded on `threads` workers at once (each file is independent).
// It measures each output's energy on the way (for the levels and warnings): no stem is read back.
class FileSink : public StemSink {
public:
    FileSink(const std::vector<std::string>& paths, int num_channels, int rate_hz, const WriteOptions& options,
             int threads)
        : threads_(threads) {
        for (const auto& p : paths) writers_.push_back(std::make_unique<AudioFileWriter>(p, num_channels, rate_hz, options));
        sum_squares_.assign(paths.size(), 0.0);
    }
    void write(std::size_t, std::size_t frames, const std::vector<std::vector<const float*>>& outputs) override {
        parallel_for(writers_.size(), threads_, [&](std::size_t o, std::size_t) {
            writers_[o]->write(outputs[o], frames);
            for (const float* ch : outputs[o])
                for (std::size_t i = 0; i < frames; ++i) sum_squares_[o] += double(ch[i]) * ch[i];
        });
        if (!outputs.empty()) samples_ += frames * outputs[0].size();
    }
    double level_dbfs(std::size_t output) const { return report::level_dbfs(sum_squares_[output], samples_); }
    double energy(std::size_t output) const { return sum_squares_[output]; }
    void commit() {
        for (auto& w : writers_) w->commit();
    }
    // One stderr line per file whose integer samples were clipped (a float output is not clipped).
    void warn_clipping() const {
        for (const auto& w : writers_)
            if (w->clipped_samples() > 0)
                std::fprintf(stderr, "loopsep: warning: %s: %zu samples above full scale were clipped (use --bits f32 to keep them)\n",
                             w->path().c_str(), w->clipped_samples());
    }

private:
    int threads_;
    std::vector<std::unique_ptr<AudioFileWriter>> writers_;
    std::vector<double> sum_squares_;  // per output; each written by its own worker only
    std::size_t samples_ = 0;          // per output, all channels
};

// One line for the human-readable listing: the query's file, catalog loop or prototype.
std::string describe_query(const nlohmann::json& q) {
    const std::string kind = q.at("kind");
    if (kind == "file") return q.at("path").get<std::string>();
    const auto& loops = q.at("loops");
    if (kind == "catalog") return "catalog loop " + std::to_string(loops.at(0).at("id").get<long>());
    return "prototype of " + std::to_string(loops.size()) + " catalog loop" + (loops.size() == 1 ? "" : "s");
}

std::string fmt_db(double db) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f dBFS", db);
    return buf;
}

}  // namespace

int run_separate(const Argv& argv) {
    ParsedArgs args = parse_args(kSpec, argv);
    if (args.has("--help")) { std::cout << usage_text(kSpec); return 0; }
    // Ctrl-C, kill or a closed terminal: remove the stems' temporaries, say so, exit 128 + signal.
    // Installed here, in the module: its own copy of the temp-file registry is the one its writers fill.
    install_interrupt_cleanup("loopsep");

    // --- configuration, validated once ---
    const bool single = args.has("--target") || args.has("--output");
    if (single && (args.has("--targets") || args.has("--outdir")))
        throw usage_error("use either --target/--output or --targets/--outdir, not both");
    if (single && (args.has("--list") || args.has("--shard") || args.has("--shards")))
        throw usage_error("--list, --shard and --shards are for batches (--targets/--outdir or no targets), not --output");
    // No --target/--targets: the genre's default set plus the residual (separate_batch.h).
    const bool default_targets_set = !single && !args.has("--targets");
    if (default_targets_set && (args.has("--query") || args.has("--query-id")))
        throw usage_error("--query and --query-id need --targets (without, every target uses its catalog prototype)");
    const std::string outdir = single ? "" : args.get("--outdir", "separated");
    if (!single && outdir.empty()) throw usage_error("--outdir is empty");
    const std::string genre_arg = args.get("--genre", "neutral");
    const std::string model_path = args.get("--model", default_model_path());
    std::optional<Catalog> catalog;
    auto open_catalog = [&]() -> Catalog& {
        if (!catalog) catalog.emplace(args.has("--catalog") ? Catalog::open_for_queries(args.get("--catalog"), false) : open_default_catalog());
        return *catalog;
    };
    std::vector<std::string> target_names;
    if (single) target_names = {args.require("--target")};
    else if (!default_targets_set) target_names = split_list(args.require("--targets"));
    else {  // the catalog is opened only where the genre has no fixed set
        const std::string genre = genre_name(parse_genre(genre_arg));
        const bool fixed_set = genre == "bachata" || genre == "hiphop";
        target_names = default_targets(genre, fixed_set ? std::vector<std::string>{} : open_catalog().instruments());
    }
    if (target_names.empty()) throw usage_error("--targets is empty");
    const bool residual = args.has("--residual") || default_targets_set;
    // Targets name output files: identifiers only, each once, and not the residual's name.
    for (std::size_t i = 0; i < target_names.size(); ++i) {
        check_identifier(target_names[i], single ? "--target" : "--targets");
        for (std::size_t j = 0; j < i; ++j)
            if (target_names[j] == target_names[i]) throw usage_error("--targets: '" + target_names[i] + "' is given twice");
        if (target_names[i] == "residual" && residual)
            throw usage_error("--targets: a target named 'residual' would collide with --residual's output");
    }
    if (single) args.require("--output");
    if (single && args.positional.size() != 1) throw usage_error("--output takes exactly one SONG (use --outdir for several)");
    if (single && args.has("--residual")) throw usage_error("--residual needs --outdir");
    // The output format (extension or --format, --bits, --bitrate): a bad one is refused before any work.
    const WriteOptions wo = output_write_options(single ? args.get("--output") : "", args.get("--format"),
                                                 args.get("--bits"), args.get("--bitrate"));

    SeparationParams params;
    params.genre = parse_genre(genre_arg);
    params.reconstruct = parse_reconstruction(args.get("--reconstruct", "mask"));
    params.grid = parse_grid_mode(args.get("--grid", "beats"));
    if (args.has("--input-stretch")) params.input_stretch = parse_input_stretch(args.get("--input-stretch"));
    params.allow_beatless = args.has("--no-beats");
    params.downbeat_offset = int(args.get_int("--downbeat-offset", 0, -3, 3));
    params.threads = int(args.get_int("--threads", 2, 1, 64));
    params.batch_segments = int(args.get_int("--batch", 8, 1, 256));
    params.passes = int(args.get_int("--passes", 1, 1, 2));
    params.residual = residual;
    params.validate();
    const bool force = args.has("--force");
    const auto queries = args.all("--query"), query_ids = args.all("--query-id"), query_bpms = args.all("--query-bpm");
    if (queries.size() > target_names.size() || query_ids.size() > target_names.size())
        throw usage_error("more --query/--query-id than targets");
    if (!queries.empty() && !query_ids.empty()) throw usage_error("use --query or --query-id, not both");
    if (query_bpms.size() > queries.size()) throw usage_error("--query-bpm needs a --query for each value");
    // The report's folder: beside the stems. Its two files follow the output rule like the stems.
    const std::string report_dir =
        single ? (fs::path(args.get("--output")).parent_path().empty() ? std::string(".")
                                                                       : fs::path(args.get("--output")).parent_path().string())
               : outdir;
    // The songs: the one SONG of --output, or PATH... and --list, this task's shard (song_list.h).
    // The output folder is never scanned for songs (a re-run of `separate .` would take the stems).
    SongBatch batch;
    if (single) {
        batch.songs = {{args.positional.front(), ""}};
        batch.total = 1;
    } else {
        batch = songs_from_args(args, {{outdir}});
    }
    report_shard(batch);
    std::vector<std::string> song_paths;
    for (const auto& s : batch.songs) song_paths.push_back(s.path);
    if (args.has("--report"))
        for (const char* name : {"run.json", "report.html"})
            check_output_path((fs::path(report_dir) / name).string(), force, song_paths);
    if (args.has("--reference-dir") && !fs::is_directory(args.get("--reference-dir")))
        throw input_error(args.get("--reference-dir") + ": not a directory (--reference-dir)");

    // Each song's output files (stems, then the residual's) and its folder ("" with --output).
    struct SongOutputs {
        std::string dir, residual;
        std::vector<std::string> stems;
        std::vector<std::string> file_names() const {  // as the completion marker lists them
            std::vector<std::string> names;
            for (const auto& p : stems) names.push_back(fs::path(p).filename().string());
            if (!residual.empty()) names.push_back(fs::path(residual).filename().string());
            return names;
        }
    };
    auto outputs_of = [&](const Song& song) {
        SongOutputs out;
        if (single) {
            out.stems.push_back(args.get("--output"));
        } else {
            out.dir = outdir + "/" + song.output_name;
            const std::string ext = file_extension(wo.format);
            for (const auto& t : target_names) out.stems.push_back(out.dir + "/" + t + ext);
            if (params.residual) out.residual = out.dir + "/residual" + ext;
        }
        return out;
    };
    // A song whose folder is complete (separate_batch.h) is skipped: a re-run resumes the batch.
    std::vector<std::size_t> todo;  // indices into batch.songs
    nlohmann::json skipped = nlohmann::json::array();
    for (std::size_t i = 0; i < batch.songs.size(); ++i) {
        const SongOutputs o = outputs_of(batch.songs[i]);
        if (!single && !force && song_is_complete(o.dir, o.file_names())) {
            std::fprintf(stderr, "loopsep: %s: already separated in %s, skipped (--force to redo)\n",
                         batch.songs[i].path.c_str(), o.dir.c_str());
            skipped.push_back({{"input", batch.songs[i].path}, {"outdir", o.dir}});
        } else {
            todo.push_back(i);
        }
    }
    // One shape for every run, one target or several (docs/separate.schema.json).
    auto run_json = [&](const nlohmann::json& summary, const nlohmann::json& failed) {
        return nlohmann::json{{"version", LOOPSEP_VERSION}, {"model", model_path}, {"genre", genre_arg},
                              {"songs", summary},           {"failed", failed},    {"skipped", skipped}};
    };
    if (todo.empty()) {  // all complete, or an empty shard: no model to load
        if (args.has("--json")) std::cout << run_json(nlohmann::json::array(), nlohmann::json::array()).dump(2) << "\n";
        return 0;
    }

    // --- model (loaded once for all songs) ---
    using Clock = std::chrono::steady_clock;
    auto since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
    // The first song is decoded and beat-tracked on another thread while the model loads and the
    // queries are embedded (both single-threaded): on a 3-minute song that hides ≈ 0.1 s of ≈ 1.9 s.
    // Its errors surface when the song's turn comes, as they would have without this.
    struct DecodedSong {
        Audio song;
        std::optional<BeatGrid> grid;  // tracked only where the engine would track the same
        double decode_sec = 0, beats_sec = 0;
    };
    auto decode_song = [&](const std::string& path, bool with_grid) {
        DecodedSong d;
        ReadOptions ro;
        ro.target_rate_hz = 0;  // keep the song's rate: stems come back at it
        const auto t0 = Clock::now();
        d.song = read_audio(path, ro);
        d.decode_sec = since(t0);
        if (with_grid && params.grid == GridMode::Beats && d.song.sample_rate_hz == kEngineRateHz) {
            const auto t1 = Clock::now();
            BeatParams bp;
            bp.genre = params.genre;
            bp.allow_beatless = params.allow_beatless;
            bp.downbeat_offset = params.downbeat_offset;
            try {
                d.grid = track_beats(d.song, bp);
            } catch (const Error&) {  // e.g. no beat: the engine tracks again and reports it for this song
            }
            d.beats_sec = since(t1);
        }
        return d;
    };
    std::future<DecodedSong> first_song =
        std::async(std::launch::async, decode_song, batch.songs[todo.front()].path, true);
    const auto setup_start = Clock::now();
    set_torch_threads(params.threads);
    Engine engine(Separator::load(model_path), model_file_tag(model_path));

    // --- one query embedding per target ---
    std::vector<TargetQuery> targets;
    std::vector<nlohmann::json> query_used;  // per target: what made its query (the JSON's "query")
    auto loop_json = [](const LoopRecord& rec) {
        return nlohmann::json{{"id", rec.id}, {"name", fs::path(rec.source).filename().string()},
                               {"instrument", rec.instrument}, {"genre", rec.genre}, {"bpm", rec.bpm}};
    };
    for (std::size_t i = 0; i < target_names.size(); ++i) {
        TargetQuery q{target_names[i], {}};
        if (i < queries.size()) {
            double bpm = i < query_bpms.size() ? parse_double(query_bpms[i], "--query-bpm", 20, 400) : 0.0;
            q.embedding = engine.query_from_loop(read_audio(queries[i]), bpm, queries[i]);
            query_used.push_back({{"kind", "file"}, {"path", queries[i]}});
            if (bpm > 0) query_used.back()["bpm"] = bpm;
        } else if (i < query_ids.size()) {
            long id = parse_int(query_ids[i], "--query-id", 1, LONG_MAX);
            Catalog& cat = open_catalog();
            auto rec = cat.get(id);
            if (!rec) throw input_error("catalog has no loop with id " + std::to_string(id));
            q.embedding = engine.query_from_loop(cat.load_audio(id), rec->bpm, "catalog loop " + std::to_string(id));
            query_used.push_back({{"kind", "catalog"}, {"loops", {loop_json(*rec)}}});
        } else {
            q.embedding = engine.query_from_catalog(open_catalog(), q.name, params.genre);
            nlohmann::json loops = nlohmann::json::array();
            for (const LoopRecord& rec : prototype_loops(open_catalog(), q.name, params.genre)) loops.push_back(loop_json(rec));
            query_used.push_back({{"kind", "prototype"}, {"loops", loops}});
        }
        targets.push_back(std::move(q));
    }
    const double setup_sec = since(setup_start);  // model load + query embeddings, once for all songs
    // One progress bar for the whole run: songs done plus the current song's share of its segments.
    Progress bar("separate", args.has("--quiet"));
    const std::size_t num_songs = todo.size();

    // --- songs ---
    nlohmann::json summary = nlohmann::json::array(), failed = nlohmann::json::array();
    int failures = 0;
    // Output folders are named by the song list (song_list.h): d1/x.wav and d2/x.wav as arguments
    // give out/x/ and out/x-2/, folders and lists mirror the songs' relative paths.
    for (std::size_t todo_index = 0; todo_index < todo.size(); ++todo_index) {
        const std::string& song_path = batch.songs[todo[todo_index]].path;
        // The prefetched audio belongs to the first song only, even if that song is refused below.
        std::future<DecodedSong> prefetched = std::move(first_song);
        // Outputs first, so an existing file is refused before any work.
        const SongOutputs planned = outputs_of(batch.songs[todo[todo_index]]);
        const std::vector<std::string>& outputs = planned.stems;
        const std::string& residual_path = planned.residual;
        const std::string song_name = single ? fs::path(song_path).stem().string() : batch.songs[todo[todo_index]].output_name;
        const std::string& song_dir = planned.dir;
        try {
            // The output rule (loopsep/files.h): never over an input, never over a device or FIFO,
            // an existing file only with --force, or when an interrupted run of ours left it
            // (listed by .loopsep-partial). The residual too. The inputs are this song (not every
            // song of a batch: with a million that would be a stat per song per existing output),
            // the model, the queries and the catalog.
            std::vector<std::string> inputs = {song_path, model_path};
            inputs.insert(inputs.end(), queries.begin(), queries.end());
            if (args.has("--catalog")) inputs.push_back(args.get("--catalog"));
            const std::vector<std::string> ours = single ? std::vector<std::string>{} : partial_outputs(song_dir);
            auto overwritable = [&](const std::string& path) {
                return force || std::find(ours.begin(), ours.end(), fs::path(path).filename().string()) != ours.end();
            };
            for (const auto& o : outputs) check_output_path(o, overwritable(o), inputs);
            if (params.residual) check_output_path(residual_path, overwritable(residual_path), inputs);
            DecodedSong decoded = prefetched.valid() ? prefetched.get() : decode_song(song_path, false);
            const Audio& song = decoded.song;
            const double decode_sec = decoded.decode_sec;
            const std::size_t song_number = todo_index + 1;  // 1-based position in this run
            auto on_segments = [&](std::size_t done, std::size_t total) {
                const double within = total ? double(done) / double(total) : 0.0;
                bar.update((double(song_number - 1) + within) / double(num_songs),
                           "song " + std::to_string(song_number) + "/" + std::to_string(num_songs) + " " + song_name +
                               (total ? ", segment " + std::to_string(done) + "/" + std::to_string(total) : ""));
            };
            on_segments(0, 0);
            bool made_dir = false;
            if (!single && !fs::exists(song_dir)) {
                std::error_code ec;
                made_dir = fs::create_directories(song_dir, ec);
                if (ec) throw input_error(song_dir + ": cannot create directory (" + ec.message() + ")");
            }
            std::vector<std::string> paths = outputs;
            if (params.residual) paths.push_back(residual_path);
            SeparationInfo r;
            std::vector<double> levels_dbfs, energies;
            try {
                FileSink sink(paths, song.num_channels(), song.sample_rate_hz, wo, params.threads);
                try {
                    r = engine.separate_to(song, targets, params, sink, on_segments, decoded.grid ? &*decoded.grid : nullptr);
                    r.times.beats += decoded.beats_sec;
                    if (r.grid.beatless && params.grid == GridMode::Beats)  // the grid was not trusted: say so
                        std::fprintf(stderr, "loopsep: note: %s: %s: fixed four-beat windows at %.0f BPM (--no-beats)\n",
                                     song_path.c_str(), r.grid.beatless_reason.c_str(), r.grid.tempo_bpm);
                } catch (const Error& e) {  // e.g. "no steady beat": say which song
                    throw Error(e.kind(), song_path + ": " + e.what());
                }
                for (std::size_t o = 0; o < paths.size(); ++o) {  // measured as the stems streamed out
                    levels_dbfs.push_back(sink.level_dbfs(o));
                    energies.push_back(sink.energy(o));
                }
                const auto commit_start = Clock::now();
                if (!single) mark_song_writing(song_dir, planned.file_names(), song_path);
                sink.commit();
                if (!single) mark_song_done(song_dir);  // last: only now is the song complete
                r.times.write += since(commit_start);
                sink.warn_clipping();
            } catch (...) {
                if (made_dir) {  // only if still empty: never removes anything that was there
                    std::error_code ec;
                    fs::remove(song_dir, ec);
                }
                throw;
            }
            // --- what was made, for the user: levels, warnings, the files (JSON shape: docs/separate.schema.json) ---
            bar.clear();  // what follows is printed: the bar comes back with the next song
            const double mixture_energy = report::sum_squares(song);
            const double mixture_dbfs = report::level_dbfs(song);
            auto share = [&](std::size_t o) { return mixture_energy > 0 ? energies[o] / mixture_energy : 0.0; };
            nlohmann::json stems = nlohmann::json::array();
            for (std::size_t t = 0; t < outputs.size(); ++t) {
                nlohmann::json warnings = nlohmann::json::array();
                for (const auto& w : report::stem_warnings(target_names[t], levels_dbfs[t], mixture_dbfs)) {
                    std::fprintf(stderr, "loopsep: warning: %s: %s\n", song_path.c_str(), w.c_str());
                    warnings.push_back(w);
                }
                stems.push_back({{"name", target_names[t]}, {"path", outputs[t]}, {"query", query_used[t]},
                                 {"level_dbfs", levels_dbfs[t]}, {"energy_share", share(t)}, {"warnings", warnings}});
                if (params.passes == 2 && t < r.self_query.size()) {   // which bars queried pass 2
                    stems.back()["self_query_bars"] = r.self_query[t].segments;
                    stems.back()["self_query_confidence"] = r.self_query[t].confidence;
                }
            }
            nlohmann::json residual = nullptr;
            if (params.residual)
                residual = {{"path", residual_path}, {"level_dbfs", levels_dbfs.back()}, {"energy_share", share(paths.size() - 1)}};
            const auto segments = four_beat_segments(r.grid, song.frames(), song.sample_rate_hz);
            nlohmann::json segment_starts = nlohmann::json::array();
            for (const auto& seg : segments) segment_starts.push_back(double(seg.start_frame) / song.sample_rate_hz);
            nlohmann::json sections = nlohmann::json::array();  // as `beats --json` lists them
            for (const auto& sec : downbeat_sections(r.grid))
                sections.push_back({{"start_sec", sec.start_sec}, {"end_sec", sec.end_sec},
                                    {"first_downbeat_sec", sec.first_downbeat_sec}, {"phase", sec.phase}, {"bars", sec.bars}});
            summary.push_back({{"input", song_path},
                               {"output_name", single ? nlohmann::json() : nlohmann::json(song_name)},
                               {"seconds", song.duration_sec()},
                               {"sample_rate_hz", song.sample_rate_hz},
                               {"channels", song.num_channels()},
                               {"tempo_bpm", r.grid.tempo_bpm},
                               {"segments", r.num_segments},
                               {"grid", {{"mode", args.get("--grid", "beats")}, {"beatless", r.grid.beatless},
                                         {"beats_sec", r.grid.beats_sec}, {"downbeats_sec", r.grid.downbeats_sec},
                                         {"segment_starts_sec", segment_starts}, {"downbeat_sections", sections}}},
                               {"mixture", {{"level_dbfs", mixture_dbfs}}},
                               {"targets", stems},
                               {"residual", residual},
                               {"timings", {{"setup_sec", setup_sec},
                                            {"stage_sec", {{"decode", decode_sec}, {"beats", r.times.beats},
                                                           {"stretch", r.times.stretch}, {"model", r.times.model},
                                                           {"reconstruct", r.times.reconstruct}, {"write", r.times.write}}}}}});
            if (!args.has("--json")) {  // every file written, the query that made it and its level
                std::printf("%s: %.1f bpm, %zu segments, mixture %s\n", song_path.c_str(), r.grid.tempo_bpm, r.num_segments,
                            fmt_db(mixture_dbfs).c_str());
                for (std::size_t t = 0; t < outputs.size(); ++t)
                    std::printf("  %s: %s, %s, query: %s\n", target_names[t].c_str(), outputs[t].c_str(),
                                fmt_db(levels_dbfs[t]).c_str(), describe_query(query_used[t]).c_str());
                if (params.residual)
                    std::printf("  residual: %s, %s\n", residual_path.c_str(), fmt_db(levels_dbfs.back()).c_str());
            }
        } catch (const Error& e) {
            bar.clear();
            if (batch.total == 1) throw;  // one song: its error is the run's
            std::fprintf(stderr, "loopsep: %s\n", e.what());
            failed.push_back({{"input", song_path}, {"error", e.what()}});
            ++failures;
        }
    }
    nlohmann::json run_out = run_json(summary, failed);
    if (args.has("--reference-dir"))  // which folder scored each song, or that none was found
        for (const auto& line : report::add_reference_scores(run_out, ".", args.get("--reference-dir")))
            std::fprintf(stderr, "loopsep: %s\n", line.c_str());
    if (args.has("--report") && !summary.empty()) {
        if (!fs::exists(report_dir)) fs::create_directories(report_dir);
        report::write_report(report::relative_to(run_out, report_dir), report_dir);
        if (!args.has("--json")) std::printf("%s\n", (fs::path(report_dir) / "report.html").string().c_str());
    }
    if (args.has("--json")) std::cout << run_out.dump(2) << "\n";
    return failures ? 1 : 0;
}

}  // namespace loopsep::cli
