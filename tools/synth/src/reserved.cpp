// The reserved-source guard (see reserved.h).
#include "reserved.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "loopsep/error.h"

namespace loopsep::synth {
namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}

// sonic-pi-samples files held out (compared by file name, extension included).
constexpr const char* kReservedSonicPi[] = {
    "loop_amen.flac",   "loop_amen_full.flac", "loop_breakbeat.flac", "guit_em9.flac",           "guit_e_fifths.flac",
    "bass_woodsy_c.flac", "bd_boom.flac",      "sn_dub.flac",         "drum_cymbal_closed.flac",
};

}  // namespace

bool is_reserved_source(const std::string& path) {
    const std::filesystem::path p(path);
    for (const auto& part : p) {
        const std::string name = lower(part.string());
        // musescore-general-soundfont, -lossless, -small: MuseScore_General*.sf2/.sf3 and their folders.
        if (name.rfind("musescore_general", 0) == 0 || name.rfind("musescore-general", 0) == 0) return true;
        if (name == "gimme a hand 1.0") return true;
    }
    const std::string file = lower(p.filename().string());
    for (const char* r : kReservedSonicPi)
        if (file == r) return true;
    return false;
}

void check_not_reserved(const std::string& path) {
    if (is_reserved_source(path))
        throw input_error(path + ": reserved for independent evaluation; never used by loopsep synth");
}

}  // namespace loopsep::synth
