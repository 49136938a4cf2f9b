// See guard.h.
#include "guard.h"

#include <cstring>

#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include "command_modules.h"
#include "loopsep/error.h"

namespace loopsep::cli {

int run_guarded(const char* command, CommandFn run, const Argv& args) {
    try {
        return run(args);
    } catch (const loopsep::Error& e) {
        std::fprintf(stderr, "loopsep: %s\n", e.what());
        return e.exit_code();
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "loopsep %s: out of memory\n", command);
        return 1;
    } catch (const std::exception& e) {
        // Library exceptions (LibTorch, std) — still one line, never a trace.
        std::string what = e.what();
        if (auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
        std::fprintf(stderr, "loopsep %s: %s\n", command, what.c_str());
        return 1;
    }
}

int dispatch_module_command(const ModuleCommand* table, std::size_t count, const char* command, int argc,
                            const char* const* argv) {
    for (std::size_t i = 0; i < count; ++i)
        if (std::strcmp(command, table[i].name) == 0) return run_guarded(command, table[i].run, Argv(argv, argv + argc));
    std::fprintf(stderr, "loopsep: this module has no command '%s'\n", command);
    return 2;
}

}  // namespace loopsep::cli
