// Helpers shared by the test suites: temp dirs, signal generators, running the CLI.
#pragma once

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "loopsep/audio.h"

namespace loopsep::testing {

// A fresh directory under /tmp, removed when the object dies.
class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/loopsep-test-XXXXXX";
        path_ = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

inline Audio sine(double freq_hz, double seconds, int channels = 1, int rate_hz = kEngineRateHz, float amp = 0.5f) {
    Audio a(channels, static_cast<std::size_t>(seconds * rate_hz), rate_hz);
    for (int c = 0; c < channels; ++c)
        for (std::size_t i = 0; i < a.frames(); ++i)
            a.channels[c][i] = amp * float(std::sin(2 * M_PI * freq_hz * double(i) / rate_hz));
    return a;
}

inline Audio noise(double seconds, int channels = 1, unsigned seed = 1, int rate_hz = kEngineRateHz, float amp = 0.3f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(-amp, amp);
    Audio a(channels, static_cast<std::size_t>(seconds * rate_hz), rate_hz);
    for (auto& ch : a.channels)
        for (auto& v : ch) v = d(rng);
    return a;
}

inline bool file_exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

inline void write_text(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

inline std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// How many times `needle` occurs in `text` (overlapping occurrences counted).
inline int count(const std::string& text, const std::string& needle) {
    int n = 0;
    for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

struct RunResult {
    int exit_code = -1;
    std::string out, err;
};

// Runs the built `loopsep` with a shell-quoted argument string; captures stdout/stderr.
// With timeout_sec > 0 it runs under timeout(1): a run that hangs ends with exit code 124.
inline RunResult run_loopsep(const std::string& args, const std::string& workdir = "/tmp", int timeout_sec = 0) {
    char tmpl[] = "/tmp/loopsep-run-XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    const std::string limit = timeout_sec > 0 ? "timeout " + std::to_string(timeout_sec) + " " : "";
    std::string cmd = "cd '" + workdir + "' && " + limit + "'" + std::string(LOOPSEP_BINARY) + "' " + args + " >'" + dir +
                      "/out' 2>'" + dir + "/err' </dev/null";
    int status = std::system(cmd.c_str());
    RunResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = read_text(dir + "/out");
    r.err = read_text(dir + "/err");
    std::system(("rm -rf '" + dir + "'").c_str());
    return r;
}

inline int count_lines(const std::string& s) {
    int n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

}  // namespace loopsep::testing
