// loopsep CLI — the subcommands. Each takes the arguments after its name and
// returns the process exit code; errors are thrown as loopsep::Error and turned
// into one stderr line plus exit code by main().
#pragma once

#include <string>
#include <vector>

namespace loopsep::cli {

using Argv = std::vector<std::string>;

int run_separate(const Argv& args);
int run_beats(const Argv& args);
int run_stretch(const Argv& args);
int run_catalog(const Argv& args);
int run_synth(const Argv& args);
int run_train(const Argv& args);
int run_harvest(const Argv& args);
int run_eval(const Argv& args);
int run_report(const Argv& args);

}  // namespace loopsep::cli
