// loopsep — command-line entry point: dispatches to subcommands and turns
// errors into one stderr line and an exit code (1 bad input, 2 usage).
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"
#include "loopsep/error.h"

#ifndef LOOPSEP_VERSION
#define LOOPSEP_VERSION "0.0.0"
#endif

namespace {

struct Subcommand {
    const char* name;
    int (*run)(const loopsep::cli::Argv&);
    const char* summary;
};

const Subcommand kSubcommands[] = {
    {"separate", loopsep::cli::run_separate, "extract target instruments from songs, guided by an example loop"},
    {"beats", loopsep::cli::run_beats, "beat grid, downbeats and four-beat segments of a song"},
    {"stretch", loopsep::cli::run_stretch, "time-stretch a loop to a tempo (Rubber Band, exact length)"},
    {"catalog", loopsep::cli::run_catalog, "manage the SQLite loop catalog (init, add, import, list, export, verify...)"},
    {"synth", loopsep::cli::run_synth, "render synthetic bachata / hip-hop songs with stems, beats and loops"},
    {"train", loopsep::cli::run_train, "train the query-conditioned U-Net"},
    {"harvest", loopsep::cli::run_harvest, "turn songs into a tagged library of four-beat loops"},
    {"eval", loopsep::cli::run_eval, "score an estimate against a reference (SDR, SI-SDR)"},
};

void print_help() {
    std::printf(
        "loopsep %s — pull one instrument out of a song using an example loop of it\n\n"
        "usage: loopsep <command> [options]   (loopsep <command> --help for details)\n\n"
        "commands:\n",
        LOOPSEP_VERSION);
    for (const auto& s : kSubcommands) std::printf("  %-10s %s\n", s.name, s.summary);
    std::printf("\n  --help     show this help\n  --version  show the version\n");
}

}  // namespace


int main(int argc, char** argv) {
    if (argc < 2) {
        print_help();
        return 2;
    }
    const std::string command = argv[1];
    if (command == "--help" || command == "-h" || command == "help") {
        print_help();
        return 0;
    }
    if (command == "--version" || command == "-V") {
        std::printf("loopsep %s\n", LOOPSEP_VERSION);
        return 0;
    }
    for (const auto& s : kSubcommands) {
        if (command != s.name) continue;
        try {
            return s.run(loopsep::cli::Argv(argv + 2, argv + argc));
        } catch (const loopsep::Error& e) {
            std::fprintf(stderr, "loopsep: %s\n", e.what());
            return e.exit_code();
        } catch (const std::bad_alloc&) {
            std::fprintf(stderr, "loopsep %s: out of memory\n", command.c_str());
            return 1;
        } catch (const std::exception& e) {
            // Library exceptions (LibTorch, std) — still one line, never a trace.
            std::string what = e.what();
            if (auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
            std::fprintf(stderr, "loopsep %s: %s\n", command.c_str(), what.c_str());
            return 1;
        }
    }
    std::fprintf(stderr, "loopsep: unknown command '%s' (see loopsep --help)\n", command.c_str());
    return 2;
}
