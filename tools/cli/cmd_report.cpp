// loopsep report DIR [--reference-dir REF] — rebuilds DIR/report.html from DIR/run.json (written by
// `separate --report`) and the audio files it names (tools/report/report.h).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "loopsep/error.h"
#include "loopsep/files.h"
#include "report/report.h"

namespace loopsep::cli {

int run_report(const Argv& argv) {
    const CommandSpec spec{
        "report", "DIR [--reference-dir REF]",
        "Rebuilds DIR/report.html from DIR/run.json (separate --report writes both beside the stems): spectrograms,\n"
        "beat grid, levels, queries and players; with true stems, SDR per stem and the mixture's own score.",
        {{"--reference-dir", true, "true stems: REF/<song's output folder>/<target>.wav, else REF/<song name>/, else (one song) REF/ (.flac too)", "REF"}},
        1,
        1};
    ParsedArgs args = parse_args(spec, argv);
    if (args.has("--help")) { std::cout << usage_text(spec); return 0; }
    const std::string dir = args.positional[0];
    const std::string run_path = (std::filesystem::path(dir) / "run.json").string();
    if (!std::filesystem::exists(run_path))
        throw input_error(run_path + ": no run.json here (written by loopsep separate --report)");
    require_regular_file(run_path);
    nlohmann::json run;
    try {
        std::ifstream in(run_path, std::ios::binary);
        run = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw input_error(run_path + ": not valid JSON (" + e.what() + ")");
    }
    if (!run.is_object() || !run.contains("songs") || !run["songs"].is_array())
        throw input_error(run_path + ": not a separate run (no \"songs\" list)");
    if (args.has("--reference-dir"))  // which folder scored each song, or that none was found
        for (const auto& line : report::add_reference_scores(run, dir, args.get("--reference-dir")))
            std::fprintf(stderr, "loopsep: %s\n", line.c_str());
    report::write_report(run, dir);
    std::printf("%s\n", (std::filesystem::path(dir) / "report.html").string().c_str());
    return 0;
}

}  // namespace loopsep::cli
