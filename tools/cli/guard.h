// loopsep CLI — runs one subcommand and turns every error into one stderr line
// and an exit code (1 bad input, 2 usage). Shared by the executable and the
// model-commands module, so both report errors the same way and no C++
// exception ever crosses the module boundary.
#pragma once

#include "commands.h"

namespace loopsep::cli {

using CommandFn = int (*)(const Argv&);

int run_guarded(const char* command, CommandFn run, const Argv& args);

}  // namespace loopsep::cli
