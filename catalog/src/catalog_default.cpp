// The default per-user catalog, the bundled-samples location, seeding from a
// loops.json manifest, and tempo estimation for loops added without a bpm.
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "catalog_internal.h"

#include "loopsep/files.h"
#include "loopsep/shipped_files.h"

#ifdef LOOPSEP_CATALOG_HAVE_LOOPS
#include "loopsep/stretch.h"
#endif

#ifndef LOOPSEP_SAMPLES_DIR
#define LOOPSEP_SAMPLES_DIR "samples"
#endif

namespace loopsep {

namespace fs = std::filesystem;

namespace {
std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}
}  // namespace

std::string default_catalog_path() {
    if (auto p = env("LOOPSEP_CATALOG"); !p.empty()) return p;
    std::string base = env("XDG_DATA_HOME");
    if (base.empty()) {
        std::string home = env("HOME");
        if (home.empty())
            throw usage_error("cannot find the default catalog: set LOOPSEP_CATALOG, XDG_DATA_HOME or HOME, or pass --db");
        base = home + "/.local/share";
    }
    return base + "/loopsep/catalog.db";
}

std::string bundled_samples_dir() {
    if (auto p = env("LOOPSEP_SAMPLES"); !p.empty()) return p;
    if (const std::string share = installed_share_dir(); !share.empty()) return share + "/samples";
    return LOOPSEP_SAMPLES_DIR;
}

bool can_estimate_bpm() {
#ifdef LOOPSEP_CATALOG_HAVE_LOOPS
    return true;
#else
    return false;
#endif
}

double estimate_bpm_for_catalog(const Audio& audio, int* beats_out, const std::string& what) {
#ifdef LOOPSEP_CATALOG_HAVE_LOOPS
    try {
        return estimate_loop_bpm(audio, beats_out);
    } catch (const Error& e) {
        throw input_error(what + ": cannot estimate the tempo (" + e.what() + "); give it with --bpm");
    }
#else
    (void)audio;
    (void)beats_out;
    throw usage_error(what + ": --bpm is required (tempo estimation is not built in)");
#endif
}

SeedReport seed_from_manifest(Catalog& catalog, const std::string& manifest_path) {
    require_regular_file(manifest_path);
    std::ifstream in(manifest_path);
    if (!in) throw input_error(manifest_path + ": cannot read the loop manifest");
    nlohmann::json doc;
    try {
        in >> doc;
    } catch (const std::exception& e) {
        throw input_error(manifest_path + ": not valid JSON (" + e.what() + ")");
    }
    if (!doc.is_array()) throw input_error(manifest_path + ": expected a JSON array of loops");
    const fs::path base = fs::path(manifest_path).parent_path();
    SeedReport rep;
    std::size_t index = 0;
    for (const auto& entry : doc) {
        const std::string where = manifest_path + " entry " + std::to_string(index++);
        try {
            if (!entry.is_object() || !entry.contains("file") || !entry["file"].is_string())
                throw input_error(where + ": no \"file\"");
            auto str = [&](const char* k) {
                return entry.contains(k) && entry[k].is_string() ? entry[k].get<std::string>() : std::string();
            };
            const std::string file = (base / str("file")).string();
            ReadOptions ro;
            ro.target_rate_hz = 0;
            Audio audio = read_audio(file, ro);
            LoopMeta meta;
            meta.instrument = str("instrument");
            meta.genre = str("genre");
            meta.section = str("section");
            meta.key = str("key");
            meta.source = str("source").empty() ? "samples/loops/" + str("file") : str("source");
            if (entry.contains("bpm") && entry["bpm"].is_number()) meta.bpm = entry["bpm"].get<double>();
            if (entry.contains("beats") && entry["beats"].is_number_integer()) meta.beats = entry["beats"].get<int>();
            if (meta.bpm <= 0) meta.bpm = estimate_bpm_for_catalog(audio, &meta.beats, file);
            AddResult r = catalog.add(audio, meta);
            (r.status == AddStatus::Added ? rep.added : rep.duplicates)++;
        } catch (const Error& e) {
            ++rep.refused;
            rep.messages.push_back(e.what());
        }
    }
    return rep;
}

Catalog open_default_catalog() {
    // A default catalog made read-only (shared, or on read-only media) is used as it is, unseeded.
    Catalog catalog = Catalog::open_for_queries(default_catalog_path(), true);
    const std::string manifest = bundled_samples_dir() + "/loops/loops.json";
    struct stat st{};
    // Seed once, as soon as the bundled manifest exists (it may ship after the catalog was made).
    if (!catalog.read_only() && catalog.meta_value("seeded_from").empty() && ::stat(manifest.c_str(), &st) == 0) {
        seed_from_manifest(catalog, manifest);
        catalog.set_meta_value("seeded_from", manifest);
    }
    return catalog;
}

}  // namespace loopsep
