// libloopsep_model_commands.so: the commands that run the network (LibTorch).
#include <iterator>
#include <type_traits>

#include "command_modules.h"

namespace {
constexpr loopsep::cli::ModuleCommand kCommands[] = {
    {"separate", loopsep::cli::run_separate},
    {"harvest", loopsep::cli::run_harvest},
    {"train", loopsep::cli::run_train},
};
}  // namespace

extern "C" __attribute__((visibility("default"))) int loopsep_run_command(const char* command, int argc,
                                                                          const char* const* argv) {
    return loopsep::cli::dispatch_module_command(kCommands, std::size(kCommands), command, argc, argv);
}
// The loader calls this through ModuleEntryFn: keep the two in step.
static_assert(std::is_same_v<decltype(&loopsep_run_command), loopsep::cli::ModuleEntryFn>);
