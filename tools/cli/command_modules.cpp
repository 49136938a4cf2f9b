// Opens command modules on first use (see command_modules.h).
#include "command_modules.h"

#include <dlfcn.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <system_error>
#include <vector>

#include "loopsep/shipped_files.h"

namespace loopsep::cli {
namespace {

namespace fs = std::filesystem;

// Where a module may be, in order: next to the executable (the build tree,
// tools/), then the installed layout (PREFIX/bin/loopsep → PREFIX/lib/loopsep/).
std::vector<fs::path> module_candidates(const char* module_file) {
    const fs::path dir = executable_dir();
    if (dir.empty()) return {};
    return {dir / module_file, dir.parent_path() / "lib" / "loopsep" / module_file};
}

// The module's entry point, or null after printing one line saying why.
ModuleEntryFn load_module(const char* module_file, const char* command) {
    std::string looked;
    for (const auto& path : module_candidates(module_file)) {
        if (!fs::exists(path)) {
            looked += (looked.empty() ? "" : ", ") + path.string();
            continue;
        }
        // RTLD_LAZY, as the executable used to bind LibTorch when it linked it; RTLD_LOCAL keeps each
        // module's copies of the loopsep libraries its own.
        void* handle = ::dlopen(path.c_str(), RTLD_LAZY | RTLD_LOCAL);
        if (!handle) {
            std::fprintf(stderr, "loopsep %s: cannot load %s: %s\n", command, path.c_str(), ::dlerror());
            return nullptr;
        }
        auto entry = reinterpret_cast<ModuleEntryFn>(::dlsym(handle, kModuleEntryPoint));
        if (!entry)
            std::fprintf(stderr, "loopsep %s: %s has no %s (a module from another build?)\n", command, path.c_str(),
                         kModuleEntryPoint);
        return entry;
    }
    std::fprintf(stderr, "loopsep %s: %s is not installed (looked for %s)\n", command, module_file,
                 looked.empty() ? "it beside the executable" : looked.c_str());
    return nullptr;
}

}  // namespace

int run_module_command(const char* module_file, const char* command, const Argv& args) {
    static std::map<std::string, ModuleEntryFn> loaded;
    auto it = loaded.find(module_file);
    if (it == loaded.end()) {
        ModuleEntryFn entry = load_module(module_file, command);
        if (!entry) return 1;
        it = loaded.emplace(module_file, entry).first;
    }
    std::vector<const char*> argv;
    argv.reserve(args.size());
    for (const auto& a : args) argv.push_back(a.c_str());
    return it->second(command, int(argv.size()), argv.data());
}

}  // namespace loopsep::cli
