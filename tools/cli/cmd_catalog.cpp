// loopsep catalog — manage the SQLite loop catalog.
//
//   loopsep catalog [--db FILE] <init|add|import|list|show|export|remove|stats|verify> ...
//   loopsep catalog merge OUT.db IN.db...
//
// Without --db the default per-user catalog is used (created and seeded from the
// bundled samples on first use; see loopsep/catalog.h for the path).
#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "loopsep/catalog.h"
#include "loopsep/catalog_merge.h"
#include "loopsep/files.h"
#include "loopsep/error.h"
#include "progress.h"

namespace loopsep::cli {

namespace {

namespace fs = std::filesystem;

const OptionSpec kDbOption{"--db", true, "catalog file (default: the per-user catalog)", "FILE"};

std::vector<OptionSpec> meta_options() {
    return {kDbOption,
            {"--instrument", true, "instrument name (required), e.g. bongo", "I"},
            {"--genre", true, "genre (required), e.g. bachata", "G"},
            {"--bpm", true, "tempo; estimated from the audio when not given", "B"},
            {"--beats", true, "number of beats; derived from bpm and length when not given", "N"},
            {"--key", true, "musical key, e.g. Am", "K"},
            {"--section", true, "section: intro/verse/chorus/bridge/mambo/derecho/majao/outro/...", "S"},
            {"--source", true, "where the loop came from (default: the file path)", "S"}};
}

const char* kOverview =
    "usage: loopsep catalog [--db FILE] <command> [options]\n\n"
    "Manage the SQLite loop catalog (one portable file: audio + tags + embeddings).\n\n"
    "commands:\n"
    "  init                          create the catalog (idempotent)\n"
    "  add AUDIO --instrument I --genre G [--bpm B] [--beats N] [--key K] [--section S] [--source S]\n"
    "  import DIR --instrument I --genre G [...] [--recursive]   every audio file in DIR\n"
    "  list [--instrument I] [--genre G] [--section S] [--bpm-min A] [--bpm-max B] [--limit N] [--json]\n"
    "  show ID [--json]\n"
    "  export ID|--instrument I [--genre G] [--section S] --out DIR [--force]   WAV files with acid/smpl chunks\n"
    "  remove ID\n"
    "  stats [--json]\n"
    "  verify                        integrity check, every loop decodes and matches its hash\n"
    "  merge OUT.db IN.db... [--json]   combine catalogs (e.g. one per cluster task) into OUT, all or nothing\n\n"
    "Without --db: $LOOPSEP_CATALOG, else ${XDG_DATA_HOME:-$HOME/.local/share}/loopsep/catalog.db,\n"
    "created and seeded from the bundled samples on first use.\n";

struct Context {
    std::string db;  // empty: the default catalog
    ParsedArgs args;

    Catalog open(bool create) const {
        std::string file = args.has("--db") ? args.get("--db") : db;
        if (file.empty()) return open_default_catalog();
        return Catalog::open(file, create);
    }
};

std::int64_t parse_id(const std::string& text) { return parse_int(text, "ID", 1, LONG_MAX); }

std::string fmt(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

// JSON string literal (RFC 8259 escaping), written by hand: listing 100k loops
// through a DOM costs ten times the query.
void append_json_string(std::string& out, const std::string& s) {
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
}

// The fields of to_json(), appended as one compact object.
void append_json_record(std::string& out, const LoopRecord& r) {
    char num[64];
    out += "{\"id\":";
    out += std::to_string(r.id);
    out += ",\"instrument\":";
    append_json_string(out, r.instrument);
    out += ",\"genre\":";
    append_json_string(out, r.genre);
    out += ",\"section\":";
    append_json_string(out, r.section);
    std::snprintf(num, sizeof num, ",\"bpm\":%.12g,\"beats\":%d,\"key\":", r.bpm, r.beats);
    out += num;
    append_json_string(out, r.key);
    std::snprintf(num, sizeof num, ",\"duration_sec\":%.12g,\"source\":", r.duration_sec);
    out += num;
    append_json_string(out, r.source);
    out += ",\"hash\":";
    append_json_string(out, r.hash);
    std::snprintf(num, sizeof num, ",\"sample_rate_hz\":%d,\"channels\":%d,\"created_at\":", r.sample_rate_hz,
                  r.channels);
    out += num;
    append_json_string(out, r.created_at);
    out += '}';
}

nlohmann::json to_json(const LoopRecord& r) {
    return {{"id", r.id},           {"instrument", r.instrument}, {"genre", r.genre},
            {"section", r.section}, {"bpm", r.bpm},               {"beats", r.beats},
            {"key", r.key},         {"duration_sec", r.duration_sec}, {"source", r.source},
            {"hash", r.hash},       {"sample_rate_hz", r.sample_rate_hz}, {"channels", r.channels},
            {"created_at", r.created_at}};
}

LoopMeta meta_from(const ParsedArgs& a) {
    LoopMeta m;
    m.instrument = a.require("--instrument");
    m.genre = a.require("--genre");
    if (m.instrument.find_first_not_of(" \t") == std::string::npos) throw usage_error("--instrument must not be empty");
    if (m.genre.find_first_not_of(" \t") == std::string::npos) throw usage_error("--genre must not be empty");
    m.bpm = a.get_double("--bpm", 0, 20, 400);
    if (a.has("--bpm") && m.bpm <= 0) throw usage_error("--bpm must be positive");
    m.beats = static_cast<int>(a.get_int("--beats", 0, 1, 4096));
    m.key = a.get("--key");
    m.section = a.get("--section");
    m.source = a.get("--source");
    return m;
}

struct ReadyLoop {
    Audio audio;
    LoopMeta meta;
    std::string warning;  // empty, or one line for stderr (the file is still added)
};

// Reads one file and settles its tempo. Input errors (bad audio, no tempo)
// propagate before any catalog is opened or written.
ReadyLoop prepare_file(const std::string& file, LoopMeta meta) {
    ReadOptions ro;
    ro.target_rate_hz = 0;  // stored at its own rate; the engine resamples when it loads
    ReadyLoop r{read_audio(file, ro), std::move(meta)};
    // Stored as 16-bit FLAC: anything below half a step would be stored as silence.
    if (r.audio.peak() < 0.5f / 32768) throw input_error(file + ": audio is silent (below 16-bit resolution)");
    // ... and anything above full scale (a float file) clipped: said, as stretch and separate say it.
    if (const float peak = r.audio.peak(); peak > 1.0f)
        r.warning = file + ": peak " + fmt("%.3g", peak) + " is above full scale: clipped in the catalog's 16-bit FLAC " +
                    "(scale the file down to keep it)";
    if (r.meta.source.empty()) r.meta.source = file;
    if (r.meta.bpm <= 0) {
        int beats = 0;
        r.meta.bpm = estimate_bpm_for_catalog(r.audio, &beats, file);
        if (r.meta.beats == 0) r.meta.beats = beats;
    }
    // Refused here, as a bad file (import goes on with the next), not inside the catalog write.
    const int beats = r.meta.beats > 0 ? r.meta.beats : std::max(1, int(std::lround(r.audio.duration_sec() * r.meta.bpm / 60.0)));
    check_length_matches_tags(r.audio.duration_sec(), r.meta.bpm, beats, file);
    return r;
}

std::string describe(const LoopRecord& r) {
    return "#" + std::to_string(r.id) + " " + r.genre + "/" + r.instrument + (r.section.empty() ? "" : "/" + r.section) +
           ", " + fmt("%.1f", r.bpm) + " bpm, " + std::to_string(r.beats) + " beats, " + fmt("%.2f", r.duration_sec) +
           " s";
}

int cmd_init(const Context& c) {
    Catalog cat = c.open(true);
    std::printf("catalog ready: %s (%lld loops)\n", cat.path().c_str(), static_cast<long long>(cat.count()));
    return 0;
}

int cmd_add(const Context& c) {
    ReadyLoop loop = prepare_file(c.args.positional[0], meta_from(c.args));
    Catalog cat = c.open(true);
    if (!loop.warning.empty()) std::fprintf(stderr, "loopsep catalog: warning: %s\n", loop.warning.c_str());
    AddResult r = cat.add(loop.audio, loop.meta);
    if (r.status == AddStatus::Duplicate)
        std::printf("duplicate: %s is already stored as #%lld (not added again)\n", c.args.positional[0].c_str(),
                    static_cast<long long>(r.id));
    else
        std::printf("added %s\n", describe(cat.get(r.id).value()).c_str());
    return 0;
}

bool is_audio_name(const fs::path& p) {
    static const std::set<std::string> exts = {".wav", ".wave", ".flac", ".aif", ".aiff", ".aifc", ".ogg",
                                               ".oga", ".opus", ".mp3", ".caf", ".w64", ".au", ".snd"};
    std::string e = p.extension().string();
    std::transform(e.begin(), e.end(), e.begin(), ::tolower);
    return exts.count(e) > 0;
}

int cmd_import(const Context& c) {
    const std::string dir = c.args.positional[0];
    LoopMeta meta = meta_from(c.args);
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw input_error(dir + ": not a folder");
    std::vector<std::string> files;
    auto consider = [&](const fs::directory_entry& e) {
        if (e.is_regular_file() && is_audio_name(e.path())) files.push_back(e.path().string());
    };
    if (c.args.has("--recursive"))
        for (const auto& e : fs::recursive_directory_iterator(dir, ec)) consider(e);
    else
        for (const auto& e : fs::directory_iterator(dir, ec)) consider(e);
    if (ec) throw input_error(dir + ": cannot list the folder (" + ec.message() + ")");
    if (files.empty()) throw input_error(dir + ": no audio files (.wav, .flac, .aiff, .ogg, .mp3, ...)");
    std::sort(files.begin(), files.end());

    Catalog cat = c.open(true);  // a bad --db is refused before any file is read
    int added = 0, skipped = 0, refused = 0;
    // On a terminal: a bar over the files, cleared for each line printed.
    Progress bar("import", c.args.has("--quiet"));
    std::size_t done = 0;
    for (const auto& f : files) {
        bar.update(double(done) / double(files.size()),
                   "file " + std::to_string(done + 1) + "/" + std::to_string(files.size()));
        ++done;
        std::optional<ReadyLoop> loop;
        try {
            loop.emplace(prepare_file(f, meta));
        } catch (const Error& e) {
            ++refused;
            bar.clear();
            std::printf("refused %s: %s\n", f.c_str(), e.what());
            std::fflush(stdout);
            continue;
        }
        // One transaction per file (inside add): a crash loses at most the file in flight.
        // A database error here is not the file's fault: it ends the import.
        AddResult r = cat.add(loop->audio, loop->meta);
        bar.clear();
        if (!loop->warning.empty()) std::fprintf(stderr, "loopsep catalog: warning: %s\n", loop->warning.c_str());
        if (r.status == AddStatus::Added) {
            ++added;
            std::printf("added %s -> %s\n", f.c_str(), describe(cat.get(r.id).value()).c_str());
        } else {
            ++skipped;
            std::printf("skipped %s: duplicate of #%lld\n", f.c_str(), static_cast<long long>(r.id));
        }
        std::fflush(stdout);
    }
    bar.clear();
    std::printf("import %s: %d added, %d skipped (duplicates), %d refused\n", dir.c_str(), added, skipped, refused);
    return refused > 0 ? 1 : 0;
}

LoopFilter filter_from(const ParsedArgs& a) {
    LoopFilter f;
    f.instrument = a.get("--instrument");
    f.genre = a.get("--genre");
    f.section = a.get("--section");
    f.bpm_min = a.get_double("--bpm-min", 0, 0, 1000);
    f.bpm_max = a.get_double("--bpm-max", 0, 0, 1000);
    if (f.bpm_min > 0 && f.bpm_max > 0 && f.bpm_min > f.bpm_max)
        throw usage_error("--bpm-min must not exceed --bpm-max");
    f.limit = static_cast<int>(a.get_int("--limit", 0, 1, INT_MAX));
    return f;
}

int cmd_list(const Context& c) {
    LoopFilter f = filter_from(c.args);
    Catalog cat = c.open(false);
    // Streamed: a 100k-loop catalog is listed without building it in memory first.
    std::string out;
    auto flush_if_big = [&] {
        if (out.size() > (1 << 16)) { std::fwrite(out.data(), 1, out.size(), stdout); out.clear(); }
    };
    if (c.args.has("--json")) {
        // One object per line inside the array: still one JSON document, and greppable.
        bool first = true;
        out += "[";
        cat.for_each(f, [&](const LoopRecord& r) {
            out += first ? "\n  " : ",\n  ";
            first = false;
            append_json_record(out, r);
            flush_if_big();
        });
        out += first ? "]\n" : "\n]\n";
    } else {
        char line[512];
        std::snprintf(line, sizeof line, "%6s  %-12s %-10s %-10s %7s %5s %-4s %7s  %s\n", "ID", "INSTRUMENT", "GENRE",
                      "SECTION", "BPM", "BEATS", "KEY", "SEC", "SOURCE");
        out += line;
        cat.for_each(f, [&](const LoopRecord& r) {
            std::snprintf(line, sizeof line, "%6lld  %-12s %-10s %-10s %7.2f %5d %-4s %7.2f  ",
                          static_cast<long long>(r.id), r.instrument.c_str(), r.genre.c_str(),
                          r.section.empty() ? "-" : r.section.c_str(), r.bpm, r.beats,
                          r.key.empty() ? "-" : r.key.c_str(), r.duration_sec);
            out += line;
            out += r.source;
            out += '\n';
            flush_if_big();
        });
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}

int cmd_show(const Context& c) {
    const std::int64_t id = parse_id(c.args.positional[0]);
    Catalog cat = c.open(false);
    auto rec = cat.get(id);
    if (!rec) throw input_error(cat.path() + ": no loop #" + std::to_string(id));
    auto tags = cat.embedding_tags(id);
    if (c.args.has("--json")) {
        nlohmann::json j = to_json(*rec);
        j["frames"] = rec->frames;
        j["embeddings"] = tags;
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    std::printf("id:          %lld\ninstrument:  %s\ngenre:       %s\nsection:     %s\nbpm:         %.2f\n"
                "beats:       %d\nkey:         %s\nsample rate: %d Hz\nchannels:    %d\nduration:    %.3f s\n"
                "source:      %s\nhash:        %s\ncreated:     %s\n",
                static_cast<long long>(rec->id), rec->instrument.c_str(), rec->genre.c_str(), rec->section.c_str(),
                rec->bpm, rec->beats, rec->key.c_str(), rec->sample_rate_hz, rec->channels, rec->duration_sec,
                rec->source.c_str(), rec->hash.c_str(), rec->created_at.c_str());
    std::string t;
    for (const auto& s : tags) t += (t.empty() ? "" : ", ") + s;
    std::printf("embeddings:  %s\n", t.empty() ? "-" : t.c_str());
    return 0;
}

int cmd_export(const Context& c) {
    const std::string out = c.args.require("--out");
    const bool by_id = !c.args.positional.empty();
    const bool by_filter = c.args.has("--instrument") || c.args.has("--genre") || c.args.has("--section");
    if (by_id == by_filter) throw usage_error("loopsep catalog export: give either an ID or --instrument/--genre/--section");
    Catalog cat = c.open(false);
    std::vector<std::int64_t> ids;
    if (by_id) {
        ids.push_back(parse_id(c.args.positional[0]));
    } else {
        for (const auto& r : cat.list(filter_from(c.args))) ids.push_back(r.id);
        if (ids.empty()) throw input_error(cat.path() + ": no loops match");
    }
    const auto existing = c.args.has("--force") ? ExistingExport::Replace : ExistingExport::Refuse;
    for (const auto& p : export_loops(cat, ids, out, existing)) std::printf("%s\n", p.c_str());
    return 0;
}

int cmd_remove(const Context& c) {
    const std::int64_t id = parse_id(c.args.positional[0]);
    Catalog cat = c.open(false);
    if (!cat.remove(id)) throw input_error(cat.path() + ": no loop #" + std::to_string(id));
    std::printf("removed #%lld\n", static_cast<long long>(id));
    return 0;
}

int cmd_stats(const Context& c) {
    Catalog cat = c.open(false);
    CatalogStats s = cat.stats();
    if (c.args.has("--json")) {
        nlohmann::json j = {{"path", cat.path()},
                            {"loops", s.loops},
                            {"embeddings", s.embeddings},
                            {"total_duration_sec", s.total_duration_sec},
                            {"audio_bytes", s.audio_bytes},
                            {"file_bytes", s.file_bytes},
                            {"schema_version", s.schema_version},
                            {"instruments", nlohmann::json::object()},
                            {"genres", nlohmann::json::object()}};
        for (const auto& [k, v] : s.per_instrument) j["instruments"][k] = v;
        for (const auto& [k, v] : s.per_genre) j["genres"][k] = v;
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    std::printf("catalog:     %s (schema %d)\nloops:       %lld (%.1f s of audio)\nembeddings:  %lld\n"
                "audio:       %.2f MB\nfile:        %.2f MB\n",
                cat.path().c_str(), s.schema_version, static_cast<long long>(s.loops), s.total_duration_sec,
                static_cast<long long>(s.embeddings), s.audio_bytes / 1e6, s.file_bytes / 1e6);
    for (const auto& [k, v] : s.per_instrument) std::printf("  instrument %-12s %lld\n", k.c_str(), static_cast<long long>(v));
    for (const auto& [k, v] : s.per_genre) std::printf("  genre      %-12s %lld\n", k.c_str(), static_cast<long long>(v));
    return 0;
}

int cmd_verify(const Context& c) {
    Catalog cat = c.open(false);
    VerifyReport r = cat.verify();
    std::printf("integrity: %s\nloops checked: %lld\n", r.integrity.c_str(), static_cast<long long>(r.loops_checked));
    for (const auto& p : r.problems) std::printf("problem: %s\n", p.c_str());
    std::printf("%s: %s\n", cat.path().c_str(), r.ok() ? "OK" : "DAMAGED");
    return r.ok() ? 0 : 1;
}

int cmd_merge(const Context& c) {
    if (!c.db.empty() || c.args.has("--db"))
        throw usage_error("loopsep catalog merge: give the output as the first argument, not --db");
    install_interrupt_cleanup("loopsep");  // Ctrl-C leaves no half-built OUT behind
    const std::vector<std::string> inputs(c.args.positional.begin() + 1, c.args.positional.end());
    const MergeReport r = merge_catalogs(c.args.positional[0], inputs);
    std::int64_t conflicts = 0, skipped_frames = 0;
    for (const auto& in : r.inputs) {
        conflicts += in.tag_conflicts;
        skipped_frames += in.uncommitted_frames;
        // What was left out goes to stderr, whatever the output format: a scheduler's log keeps it.
        for (const auto& note : in.notes) std::fprintf(stderr, "loopsep: %s: %s\n", in.path.c_str(), note.c_str());
    }
    if (c.args.has("--json")) {
        nlohmann::json inputs_json = nlohmann::json::array();
        for (const auto& in : r.inputs)
            inputs_json.push_back({{"path", in.path}, {"loops", in.loops}, {"added", in.added},
                                   {"duplicates", in.duplicates}, {"tags_filled", in.tags_filled},
                                   {"tag_conflicts", in.tag_conflicts}, {"embeddings_added", in.embeddings_added},
                                   {"embeddings_kept_existing", in.embeddings_kept_existing},
                                   {"embeddings_damaged", in.embeddings_damaged},
                                   {"song_records_added", in.song_records_added},
                                   {"song_records_existing", in.song_records_existing},
                                   {"loops_without_song_record", in.loops_without_song_record},
                                   {"uncommitted_frames", in.uncommitted_frames}, {"torn_frame", in.torn_frame},
                                   {"notes", in.notes}});
        nlohmann::json j = {{"out", r.out_path}, {"created", r.created}, {"loops_before", r.loops_before},
                            {"loops_after", r.loops_after}, {"inputs", inputs_json}};
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    for (const auto& in : r.inputs)
        std::printf("%s: %lld loops, %lld added, %lld duplicates\n", in.path.c_str(), static_cast<long long>(in.loops),
                    static_cast<long long>(in.added), static_cast<long long>(in.duplicates));
    std::printf("merged %zu catalogs into %s%s: %lld loops (was %lld)%s%s\n", r.inputs.size(), r.out_path.c_str(),
                r.created ? " (new)" : "", static_cast<long long>(r.loops_after),
                static_cast<long long>(r.loops_before),
                conflicts ? (", " + std::to_string(conflicts) + " tag conflicts (first kept)").c_str() : "",
                skipped_frames ? (", " + std::to_string(skipped_frames) + " uncommitted pages left out").c_str() : "");
    return 0;
}

struct Sub {
    const char* name;
    int (*run)(const Context&);
    CommandSpec spec;
};

std::vector<Sub> subcommands() {
    auto with_db = [](std::vector<OptionSpec> o) { o.insert(o.begin(), kDbOption); return o; };
    std::vector<OptionSpec> filters = {{"--instrument", true, "only this instrument", "I"},
                                       {"--genre", true, "only this genre", "G"},
                                       {"--section", true, "only this section", "S"},
                                       {"--bpm-min", true, "tempo at least A", "A"},
                                       {"--bpm-max", true, "tempo at most B", "B"},
                                       {"--limit", true, "at most N loops", "N"}};
    std::vector<OptionSpec> list_opts = filters;
    list_opts.push_back({"--json", false, "print a JSON array"});
    std::vector<OptionSpec> export_opts = filters;
    export_opts.push_back({"--out", true, "output folder (created if missing)", "DIR"});
    export_opts.push_back({"--force", false, "overwrite files already in DIR"});
    std::vector<OptionSpec> import_opts = meta_options();
    import_opts.push_back({"--recursive", false, "also import from subfolders"});
    import_opts.push_back({"--quiet", false, "no progress bar (it is drawn only when stderr is a terminal)"});
    return {
        {"init", cmd_init, {"catalog init", "", "create the catalog (idempotent)", with_db({}), 0, 0}},
        {"add", cmd_add, {"catalog add", "AUDIO --instrument I --genre G [...]", "add one loop", meta_options(), 1, 1}},
        {"import", cmd_import,
         {"catalog import", "DIR --instrument I --genre G [...]",
          "add every audio file in DIR (one transaction per file); exit 1 if any was refused", import_opts, 1, 1}},
        {"list", cmd_list, {"catalog list", "[filters] [--json]", "list loops", with_db(list_opts), 0, 0}},
        {"show", cmd_show,
         {"catalog show", "ID [--json]", "show one loop", with_db({{"--json", false, "print JSON"}}), 1, 1}},
        {"export", cmd_export,
         {"catalog export", "ID|--instrument I --out DIR", "write loops as WAV files with acid/smpl chunks",
          with_db(export_opts), 0, 1}},
        {"remove", cmd_remove, {"catalog remove", "ID", "remove one loop and its embeddings", with_db({}), 1, 1}},
        {"stats", cmd_stats,
         {"catalog stats", "[--json]", "counts and sizes", with_db({{"--json", false, "print JSON"}}), 0, 0}},
        {"verify", cmd_verify,
         {"catalog verify", "", "integrity_check, every loop decodes and matches its hash; exit 0 only if all is well",
          with_db({}), 0, 0}},
        {"merge", cmd_merge,
         {"catalog merge", "OUT.db IN.db... [--json]",
          "add the loops of every IN to OUT (created if missing) in one transaction: duplicates kept once, ids "
          "remapped, embeddings and harvest records carried over; what a crashed IN left uncommitted is reported",
          {{"--json", false, "print the merge report as JSON"}}, 2, SIZE_MAX}},
    };
}

}  // namespace

int run_catalog(const Argv& argv) {
    std::string db;
    std::size_t i = 0;
    // Options before the command: only --db (and --help).
    while (i < argv.size() && argv[i].size() > 1 && argv[i][0] == '-') {
        const std::string& a = argv[i];
        if (a == "--help" || a == "-h") { std::fputs(kOverview, stdout); return 0; }
        if (a == "--db") {
            if (i + 1 >= argv.size()) throw usage_error("option --db needs a value");
            db = argv[i + 1];
            i += 2;
        } else if (a.rfind("--db=", 0) == 0) {
            db = a.substr(5);
            ++i;
        } else {
            throw usage_error("loopsep catalog: unknown option " + a + " (see loopsep catalog --help)");
        }
        if (db.empty()) throw usage_error("--db must not be empty");
    }
    if (i >= argv.size())
        throw usage_error("loopsep catalog: missing command (init, add, import, list, show, export, remove, stats, verify, merge)");
    const std::string name = argv[i];
    for (auto& s : subcommands()) {
        if (name != s.name) continue;
        Context c;
        c.db = db;
        c.args = parse_args(s.spec, Argv(argv.begin() + i + 1, argv.end()));
        if (c.args.has("--help")) { std::fputs(usage_text(s.spec).c_str(), stdout); return 0; }
        if (c.args.has("--db") && c.args.get("--db").empty()) throw usage_error("--db must not be empty");
        return s.run(c);
    }
    throw usage_error("loopsep catalog: unknown command '" + name + "' (see loopsep catalog --help)");
}

}  // namespace loopsep::cli
