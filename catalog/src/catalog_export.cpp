// Exporting loops as DAW-ready WAV files with library-style names (loopsep/loopfile.h).
#include <cctype>
#include <filesystem>

#include <sys/stat.h>

#include "catalog_internal.h"
#include "loopsep/files.h"

#ifdef LOOPSEP_CATALOG_HAVE_LOOPS
#include "loopsep/key.h"
#include "loopsep/loopfile.h"
#endif

namespace loopsep {

namespace fs = std::filesystem;

namespace {

#ifndef LOOPSEP_CATALOG_HAVE_LOOPS
// loopsep::loop_file_name's convention for builds without the loops library, less the key and
// song fields (their parsing lives there).
std::string name_part(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        const char ch = static_cast<char>(std::tolower(c));
        if (std::isalnum(static_cast<unsigned char>(ch))) out += ch;
        else if (!out.empty() && out.back() != '-') out += '-';
    }
    while (!out.empty() && out.back() == '-') out.pop_back();
    return out;
}
std::string fallback_file_name(const LoopRecord& r) {
    std::string name;
    for (const std::string& part : {name_part(r.genre), name_part(r.instrument),
                                    std::to_string(std::lround(r.bpm)) + "bpm", name_part(r.section)})
        if (!part.empty()) name += (name.empty() ? "" : "_") + part;
    char idx[32];
    std::snprintf(idx, sizeof idx, "_%04lld.wav", static_cast<long long>(r.id));
    return name + idx;
}
#endif

}  // namespace

std::vector<std::string> export_loops(const Catalog& catalog, const std::vector<std::int64_t>& ids,
                                      const std::string& out_dir, ExistingExport existing) {
    if (out_dir.empty()) throw usage_error("--out must not be empty");
    // Every name first, checked against the output rule (loopsep/files.h) before anything is written.
    std::vector<LoopRecord> records;
    std::vector<std::string> paths;
    for (std::int64_t id : ids) {
        auto rec = catalog.get(id);
        if (!rec) throw input_error(catalog.path() + ": no loop #" + std::to_string(id));
        // The tags name the file and fill its acid chunk: a tampered row is the catalog's fault (input), not the caller's.
        check_record_tags(*rec, catalog.path() + ": loop #" + std::to_string(id));
#ifdef LOOPSEP_CATALOG_HAVE_LOOPS
        // Harvested loops carry their song in the source ("<song> bar n @ t s"): it names the file too.
        const std::string song = song_of_source(rec->source);
        const std::string name = loop_file_name({rec->genre, rec->instrument, rec->bpm, rec->key, rec->section,
                                                 song.empty() ? "" : song_name_field(song), id});
#else
        const std::string name = fallback_file_name(*rec);
#endif
        paths.push_back((fs::path(out_dir) / name).string());
        records.push_back(*rec);
    }
    std::vector<bool> keep(paths.size(), false);
    for (std::size_t i = 0; i < paths.size(); ++i) {
        if (existing == ExistingExport::Keep) {
            struct stat st {};
            keep[i] = ::stat(paths[i].c_str(), &st) == 0 && S_ISREG(st.st_mode);
            if (keep[i]) continue;
        }
        check_output_path(paths[i], existing == ExistingExport::Replace, {catalog.path()});
    }
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    if (ec || !fs::is_directory(out_dir)) throw input_error(out_dir + ": cannot create the output folder");
    for (std::size_t i = 0; i < paths.size(); ++i) {
        if (keep[i]) continue;
        const LoopRecord& rec = records[i];
        Audio audio = catalog.load_audio(rec.id);
#ifdef LOOPSEP_CATALOG_HAVE_LOOPS
        LoopInfo info;
        info.tempo_bpm = rec.bpm;
        info.beats = rec.beats;
        if (auto key = parse_key(rec.key)) info.root_note = key_root_note(*key);
        write_loop_wav(paths[i], audio, info);
#else
        write_audio(paths[i], audio);
#endif
    }
    return paths;
}

}  // namespace loopsep
