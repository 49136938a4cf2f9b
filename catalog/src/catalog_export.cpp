// Exporting loops as DAW-ready WAV files with Splice-style names.
#include <cctype>
#include <filesystem>

#include <sys/stat.h>

#include "catalog_internal.h"
#include "loopsep/files.h"

#ifdef LOOPSEP_CATALOG_HAVE_LOOPS
#include "loopsep/loopfile.h"
#endif

namespace loopsep {

namespace fs = std::filesystem;

namespace {

// "A", "C#", "Bb", "F#m", "Am" → MIDI note in octave 4 (60..71); -1 if not a key.
int root_note_of(const std::string& key) {
    if (key.empty()) return -1;
    static const int base[7] = {9, 11, 0, 2, 4, 5, 7};  // A B C D E F G
    char letter = static_cast<char>(std::toupper(static_cast<unsigned char>(key[0])));
    if (letter < 'A' || letter > 'G') return -1;
    int pc = base[letter - 'A'];
    if (key.size() > 1 && key[1] == '#') pc += 1;
    if (key.size() > 1 && key[1] == 'b') pc += 11;
    return 60 + pc % 12;
}

#ifndef LOOPSEP_CATALOG_HAVE_LOOPS
// Same convention as loopsep::loop_file_name, for builds without the loops library.
std::string name_part(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        char ch = static_cast<char>(std::tolower(c));
        if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '#')) ch = '_';
        if (ch == '_' && (out.empty() || out.back() == '_')) continue;
        out += ch;
    }
    while (!out.empty() && out.back() == '_') out.pop_back();
    return out.empty() ? "x" : out;
}
std::string fallback_file_name(const LoopRecord& r) {
    char idx[32];
    std::snprintf(idx, sizeof idx, "%04lld", static_cast<long long>(r.id));
    return name_part(r.genre) + "_" + name_part(r.instrument) + "_" + std::to_string(std::lround(r.bpm)) + "bpm_" +
           name_part(r.section) + "_" + idx + ".wav";
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
#ifdef LOOPSEP_CATALOG_HAVE_LOOPS
        const std::string name = loop_file_name(rec->genre, rec->instrument, rec->bpm, rec->section, static_cast<int>(id));
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
        info.root_note = root_note_of(rec.key);
        write_loop_wav(paths[i], audio, info);
#else
        (void)root_note_of;
        write_audio(paths[i], audio);
#endif
    }
    return paths;
}

}  // namespace loopsep
