// libloopsep_beat_commands.so: beat tracking (aubio, with FFmpeg behind it).
#include <iterator>
#include <type_traits>

#include "command_modules.h"

namespace {
constexpr loopsep::cli::ModuleCommand kCommands[] = {
    {"beats", loopsep::cli::run_beats},
};
}  // namespace

extern "C" __attribute__((visibility("default"))) int loopsep_run_command(const char* command, int argc,
                                                                          const char* const* argv) {
    return loopsep::cli::dispatch_module_command(kCommands, std::size(kCommands), command, argc, argv);
}
// The loader calls this through ModuleEntryFn: keep the two in step.
static_assert(std::is_same_v<decltype(&loopsep_run_command), loopsep::cli::ModuleEntryFn>);
