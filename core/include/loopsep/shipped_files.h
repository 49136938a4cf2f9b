// loopsep — where the files loopsep ships are found: the default model and the samples (with the
// manifest the default catalog is seeded from).
//
// Installed (`cmake --install`, the .deb): under <prefix>/share/loopsep, found from the running
// executable (/proc/self/exe = <prefix>/bin/loopsep), so a prefix moved elsewhere keeps working.
// A build-tree run has no such folder and uses the source tree, whose path its caller compiles in.
// LOOPSEP_MODEL and LOOPSEP_SAMPLES override both (read by the callers).
// Header-only: the LibTorch-only trainer build uses it without the rest of the core.
#pragma once

#include <filesystem>
#include <string>
#include <system_error>

namespace loopsep {

// The folder of the running executable (the command modules run inside `loopsep`); empty if unknown.
inline std::filesystem::path executable_dir() {
    std::error_code ec;
    const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::filesystem::path() : exe.parent_path();
}

// "<exe>/../share/loopsep" when that folder exists (an installed loopsep), else "".
inline std::string installed_share_dir() {
    const std::filesystem::path dir = executable_dir();
    if (dir.empty()) return "";
    std::error_code ec;
    const std::filesystem::path share = dir.parent_path() / "share" / "loopsep";
    return std::filesystem::is_directory(share, ec) ? share.string() : "";
}

// The shipped file or folder `relative` ("models/loopsep-v6.safetensors", "samples"): under
// installed_share_dir() when installed, else under `source_dir` (empty: `relative` as it is).
inline std::string shipped_path(const std::string& relative, const std::string& source_dir) {
    const std::string share = installed_share_dir();
    if (!share.empty()) return share + "/" + relative;
    return source_dir.empty() ? relative : source_dir + "/" + relative;
}

}  // namespace loopsep
