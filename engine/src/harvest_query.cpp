// Harvest: where the query comes from (a file, a catalog loop, a catalog's class
// prototype) and harvest_into, which leaves no new catalog behind when a run fails.
#include <sys/stat.h>

#include <filesystem>
#include <optional>

#include "loopsep/catalog.h"
#include "loopsep/error.h"
#include "loopsep/files.h"
#include "loopsep/harvest.h"

namespace loopsep {

namespace fs = std::filesystem;

namespace {

bool has_instrument(const Catalog& catalog, const std::string& instrument) {
    LoopFilter f;
    f.instrument = instrument;
    f.limit = 1;
    return !catalog.list(f).empty();
}

std::string instruments_of(const Catalog& catalog) {
    std::string out;
    for (const auto& name : catalog.instruments()) out += (out.empty() ? "" : ", ") + name;
    return out.empty() ? "none" : out;
}

// The destination itself when it is the default catalog (one connection to one file).
bool is_default_catalog(const Catalog& destination) {
    std::error_code ec;
    return fs::equivalent(destination.path(), default_catalog_path(), ec);
}

}  // namespace

HarvestQuery::HarvestQuery(Catalog& destination, const HarvestParams& params) {
    if (!params.query_path.empty()) {
        kind_ = Kind::File;
        label_ = params.query_path;
        audio_ = read_audio(params.query_path);
        bpm_ = params.query_bpm;
        return;
    }
    const std::string instrument = params.target;
    if (params.query_id > 0) {
        kind_ = Kind::CatalogLoop;
        Catalog* from = &destination;
        if (params.query_id_in_default && !is_default_catalog(destination)) {
            default_.emplace(open_default_catalog());
            from = &*default_;
        }
        auto rec = from->get(params.query_id);
        if (!rec)
            throw input_error(from->path() + ": no loop with id " + std::to_string(params.query_id) + " (--query-id)");
        label_ = from->path() + " loop " + std::to_string(params.query_id);
        audio_ = from->load_audio(params.query_id);
        bpm_ = rec->bpm;
        catalog_ = from;
        loop_ids_ = {params.query_id};
        return;
    }
    kind_ = Kind::Prototype;
    catalog_ = &destination;
    if (!has_instrument(destination, instrument) && !is_default_catalog(destination)) {
        default_.emplace(open_default_catalog());
        if (!has_instrument(*default_, instrument))
            throw input_error("no loops of instrument '" + instrument + "' in " + destination.path() + " (available: " +
                              instruments_of(destination) + ") nor in the default catalog " + default_->path() +
                              " (available: " + instruments_of(*default_) + "); give --query LOOP or --query-id");
        catalog_ = &*default_;
    }
    for (const LoopRecord& rec : prototype_loops(*catalog_, instrument, params.genre)) loop_ids_.push_back(rec.id);
    label_ = catalog_->path() + " prototype of " + instrument;
}

std::vector<float> HarvestQuery::embedding(const Engine& engine, const HarvestParams& params) {
    if (kind_ == Kind::Prototype) return engine.query_from_catalog(*catalog_, params.target, params.genre);
    return engine.query_from_loop(*audio_, bpm_, label_);
}

const char* HarvestQuery::kind_name() const {
    switch (kind_) {
        case Kind::File: return "file";
        case Kind::CatalogLoop: return "catalog-loop";
        case Kind::Prototype: return "prototype";
    }
    return "?";
}

std::string HarvestQuery::catalog_path() const { return catalog_ ? catalog_->path() : std::string(); }

HarvestReport harvest_into(const std::vector<std::string>& songs, const std::string& catalog_path,
                           const HarvestParams& params, const std::function<void(const SongHarvest&)>& on_song) {
    params.validate();
    if (catalog_path.empty()) throw usage_error("--catalog must not be empty");
    struct stat st {};
    if (::lstat(catalog_path.c_str(), &st) == 0) {  // an existing catalog is never removed, whatever happens
        Catalog catalog = Catalog::open(catalog_path, true);
        return harvest(songs, catalog, params, on_song);
    }
    // A new catalog: the file, its WAL companions and the folders made for it go again if the run fails or
    // is interrupted, so a failed first harvest leaves nothing to trip over ("available: none" next time).
    fs::path top_new_dir;
    for (fs::path p = fs::absolute(catalog_path).parent_path(); !p.empty() && !fs::exists(p); p = p.parent_path()) {
        top_new_dir = p;
        if (p == p.parent_path()) break;
    }
    const std::vector<std::string> files = {catalog_path, catalog_path + "-wal", catalog_path + "-shm",
                                            catalog_path + "-journal"};
    for (const auto& f : files) register_temp_file(f);
    auto forget = [&] {
        for (const auto& f : files) unregister_temp_file(f);
    };
    try {
        HarvestReport report;
        {
            Catalog catalog = Catalog::open(catalog_path, true);
            report = harvest(songs, catalog, params, on_song);
        }
        forget();
        return report;
    } catch (...) {
        // The catalog was closed by the unwinding above: its files can go.
        std::error_code ec;
        for (const auto& f : files) fs::remove(f, ec);
        // Folders made for it, deepest first, and only while empty (an --export folder inside stays).
        if (!top_new_dir.empty())
            for (fs::path p = fs::absolute(catalog_path).parent_path();; p = p.parent_path()) {
                if (!fs::remove(p, ec) || p == top_new_dir) break;
            }
        forget();
        throw;
    }
}

}  // namespace loopsep
