// loopsep — command-line entry point: dispatches to subcommands and turns
// errors into one stderr line and an exit code (1 bad input, 2 usage).
#include <cstdio>
#include <iostream>
#include <string>

#include "command_modules.h"
#include "loopsep/files.h"

#ifndef LOOPSEP_VERSION
#define LOOPSEP_VERSION "0.0.0"
#endif

namespace {

// A subcommand runs here (`run`) or in a command module opened on first use
// (`module`, command_modules.h), which keeps LibTorch, aubio and FluidSynth out
// of the commands that do not need them.
struct Subcommand {
    const char* name;
    loopsep::cli::CommandFn run;
    const char* module;
    const char* summary;
};

constexpr const char* kModelModule = "libloopsep_model_commands.so";
constexpr const char* kBeatModule = "libloopsep_beat_commands.so";
constexpr const char* kSynthModule = "libloopsep_synth_commands.so";

const Subcommand kSubcommands[] = {
    {"separate", nullptr, kModelModule, "extract target instruments from songs, guided by an example loop"},
    {"beats", nullptr, kBeatModule, "beat grid, downbeats and four-beat segments of a song"},
    {"stretch", loopsep::cli::run_stretch, nullptr, "time-stretch a loop to a tempo (Rubber Band, exact length)"},
    {"catalog", loopsep::cli::run_catalog, nullptr,
     "manage the SQLite loop catalog (init, add, import, list, export, verify...)"},
    {"synth", nullptr, kSynthModule, "render synthetic bachata / hip-hop songs with stems, beats and loops"},
    {"train", nullptr, kModelModule, "train the query-conditioned U-Net"},
    {"harvest", nullptr, kModelModule, "turn songs into a tagged library of four-beat loops"},
    {"eval", loopsep::cli::run_eval, nullptr, "score an estimate against a reference (SDR, SI-SDR)"},
    {"report", loopsep::cli::run_report, nullptr, "rebuild a separation's report.html from its folder (run.json, stems)"},
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
    // The light commands (stretch, catalog export) write through this executable's registry of
    // temporaries; a command module installs its own handler over this one.
    loopsep::install_interrupt_cleanup("loopsep");
    const loopsep::cli::Argv args(argv + 2, argv + argc);
    for (const auto& s : kSubcommands) {
        if (command != s.name) continue;
        return s.run ? loopsep::cli::run_guarded(s.name, s.run, args)
                     : loopsep::cli::run_module_command(s.module, s.name, args);
    }
    std::fprintf(stderr, "loopsep: unknown command '%s' (see loopsep --help)\n", command.c_str());
    return 2;
}
