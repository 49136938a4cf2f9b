// See separate_batch.h.
#include "separate_batch.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "args.h"
#include "loopsep/error.h"
#include "loopsep/files.h"

namespace loopsep::cli {

namespace fs = std::filesystem;

namespace {

// The file names a marker lists ('#' lines are its header).
std::vector<std::string> read_marker(const fs::path& path) {
    std::vector<std::string> names;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty() && line[0] != '#') names.push_back(line);
    return names;
}

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

}  // namespace

std::vector<std::string> default_targets(const std::string& genre, const std::vector<std::string>& catalog_instruments) {
    // The stems the synth's songs of each genre are made of (README, `loopsep synth`), "other" aside.
    if (genre == "bachata") return {"bongo", "guira", "bass", "guitar"};
    if (genre == "hiphop") return {"drums", "bass", "vocals"};
    std::vector<std::string> out;
    for (const auto& name : catalog_instruments) {
        if (name == "residual") continue;  // would collide with the residual's file
        try {
            check_identifier(name, "instrument");
        } catch (const Error&) {
            continue;  // e.g. "hand drum": cannot name a file; ask for it with --targets
        }
        out.push_back(name);
    }
    if (out.empty())
        throw input_error("the catalog has no instruments to separate: give --targets, or add loops (loopsep catalog add)");
    return out;
}

bool song_is_complete(const std::string& song_dir, const std::vector<std::string>& files) {
    const fs::path dir(song_dir);
    std::error_code ec;
    if (!fs::is_regular_file(dir / kDoneMarker, ec)) return false;
    const auto listed = read_marker(dir / kDoneMarker);
    for (const auto& f : files)
        if (!contains(listed, f) || !fs::is_regular_file(dir / f, ec)) return false;
    return true;
}

std::vector<std::string> partial_outputs(const std::string& song_dir) {
    std::error_code ec;
    const fs::path marker = fs::path(song_dir) / kPartialMarker;
    return fs::is_regular_file(marker, ec) ? read_marker(marker) : std::vector<std::string>{};
}

void mark_song_writing(const std::string& song_dir, const std::vector<std::string>& files, const std::string& song) {
    const fs::path dir(song_dir);
    std::vector<std::string> names = files;
    std::error_code ec;
    for (const auto& earlier : read_marker(dir / kDoneMarker))
        if (!contains(names, earlier) && fs::is_regular_file(dir / earlier, ec)) names.push_back(earlier);
    fs::remove(dir / kDoneMarker, ec);  // from here until mark_song_done the folder is not complete
    const fs::path marker = dir / kPartialMarker;
    const std::string tmp = marker.string() + ".tmp-" + std::to_string(::getpid());
    register_temp_file(tmp);
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << "# loopsep separate: stems of " << song << "\n";
        for (const auto& n : names) out << n << "\n";
        if (!out.flush()) {
            unregister_temp_file(tmp);
            fs::remove(tmp, ec);
            throw input_error(marker.string() + ": cannot write");
        }
    }
    fs::rename(tmp, marker, ec);
    unregister_temp_file(tmp);
    if (ec) {
        fs::remove(tmp, ec);
        throw input_error(marker.string() + ": cannot write (" + ec.message() + ")");
    }
}

void mark_song_done(const std::string& song_dir) {
    std::error_code ec;
    fs::rename(fs::path(song_dir) / kPartialMarker, fs::path(song_dir) / kDoneMarker, ec);
    if (ec) throw input_error((fs::path(song_dir) / kDoneMarker).string() + ": cannot write (" + ec.message() + ")");
}

}  // namespace loopsep::cli
