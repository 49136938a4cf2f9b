// loopsep CLI — commands that live in modules, opened on first use.
//
// Three commands pull in large dependency trees: `separate`, `harvest` and
// `train` need LibTorch (≈ 290 shared libraries, 0.4–0.7 s to load), `beats`
// needs aubio (≈ 140 with FFmpeg) and `synth` FluidSynth (≈ 60). They live in
// modules — libloopsep_{model,beat,synth}_commands.so — that the executable
// opens with dlopen() only when one of their commands is asked for, so the
// others (`catalog`, `stretch`, `eval`, `--version`) start with none of them.
// Keeping those trees out of the executable also keeps them out of the global
// symbol scope, which every lookup of a module's libraries walks first.
//
// Every module exports one C function, kModuleEntryPoint (ModuleEntryFn),
// which catches every exception itself (guard.h).
#pragma once

#include <cstddef>

#include "commands.h"
#include "guard.h"

namespace loopsep::cli {

inline constexpr const char* kModuleEntryPoint = "loopsep_run_command";
using ModuleEntryFn = int (*)(const char* command, int argc, const char* const* argv);

// Loads `module_file` (once per process) and runs `command` in it. Where it is
// looked for: next to the executable (the build tree), then PREFIX/lib/loopsep/
// (installed). A module that cannot be found or loaded is one stderr line
// naming where it was looked for, exit 1.
int run_module_command(const char* module_file, const char* command, const Argv& args);

// A module's side: the commands it holds.
struct ModuleCommand {
    const char* name;
    CommandFn run;
};

// Runs `command` from the module's table under run_guarded (exit 2 for a name it lacks).
int dispatch_module_command(const ModuleCommand* table, std::size_t count, const char* command, int argc,
                            const char* const* argv);

}  // namespace loopsep::cli
