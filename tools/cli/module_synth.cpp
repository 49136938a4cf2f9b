// libloopsep_synth_commands.so: the synthetic song generator (FluidSynth).
#include <iterator>
#include <type_traits>

#include "command_modules.h"

namespace {
constexpr loopsep::cli::ModuleCommand kCommands[] = {
    {"synth", loopsep::cli::run_synth},
};
}  // namespace

extern "C" __attribute__((visibility("default"))) int loopsep_run_command(const char* command, int argc,
                                                                          const char* const* argv) {
    return loopsep::cli::dispatch_module_command(kCommands, std::size(kCommands), command, argc, argv);
}
// The loader calls this through ModuleEntryFn: keep the two in step.
static_assert(std::is_same_v<decltype(&loopsep_run_command), loopsep::cli::ModuleEntryFn>);
