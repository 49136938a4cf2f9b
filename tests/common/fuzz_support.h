// For the libFuzzer targets (tests/*/fuzz): what every harness needs besides its own input handling.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include "loopsep/error.h"

namespace loopsep::fuzz {

// Runs one reading or checking path on fuzzed input, where a loopsep::Error is a fine answer. Anything
// else (another exception, a crash, a sanitizer report) is left to escape: libFuzzer reports it as a finding.
template <class F>
void survive(F&& f) {
    try {
        f();
    } catch (const loopsep::Error&) {
    }
}

// A fresh folder for this process's files ("loopsep-fuzz-<name>-<pid>"), in memory when /dev/shm is
// writable (a run rewrites its files thousands of times), removed when the process exits.
inline std::filesystem::path scratch_folder(const std::string& name) {
    namespace fs = std::filesystem;
    static std::vector<fs::path> made;
    const char* base = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    const fs::path dir = fs::path(base) / ("loopsep-fuzz-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    if (made.empty())
        std::atexit([] {
            std::error_code ec;
            for (const auto& d : made) fs::remove_all(d, ec);
        });
    made.push_back(dir);
    return dir;
}

// A whole file's bytes (a template to copy back before each run).
inline std::string file_bytes(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace loopsep::fuzz
