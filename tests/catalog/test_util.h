// Helpers for the catalog tests: temporary folders, generated loops, and
// running the loopsep binary as a child process.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "loopsep/audio.h"

namespace loopsep::test {

namespace fs = std::filesystem;

struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "loopsep-catalog-XXXXXX").string();
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        path = ::mkdtemp(buf.data());
    }
    ~TempDir() {
        std::error_code ec;
        fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(path, ec);
    }
    std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// Replaces a loop's stored audio bytes behind the catalog's back (to damage it);
// true when exactly that row was updated.
inline bool overwrite_loop_audio(const std::string& db, std::int64_t id, const std::vector<unsigned char>& bytes) {
    sqlite3* h = nullptr;
    bool ok = sqlite3_open(db.c_str(), &h) == SQLITE_OK;
    sqlite3_stmt* s = nullptr;
    ok = ok && sqlite3_prepare_v2(h, "UPDATE loop_audio SET data = ?1 WHERE loop_id = ?2", -1, &s, nullptr) == SQLITE_OK;
    ok = ok && sqlite3_bind_blob(s, 1, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT) == SQLITE_OK;
    ok = ok && sqlite3_bind_int64(s, 2, id) == SQLITE_OK;
    ok = ok && sqlite3_step(s) == SQLITE_DONE && sqlite3_changes(h) == 1;
    sqlite3_finalize(s);
    sqlite3_close(h);
    return ok;
}

// A decaying tone burst on every beat: a loop with a clear pulse whose content
// (and so hash) depends on freq_hz.
inline Audio make_loop(double freq_hz, double bpm = 120, int beats = 4, int channels = 1, int rate = 44100) {
    const std::size_t frames = static_cast<std::size_t>(std::lround(beats * 60.0 / bpm * rate));
    Audio a(channels, frames, rate);
    const double beat_frames = 60.0 / bpm * rate;
    for (std::size_t i = 0; i < frames; ++i) {
        double t_in_beat = std::fmod(double(i), beat_frames) / rate;
        double v = 0.5 * std::exp(-t_in_beat * 30.0) * std::sin(2 * M_PI * freq_hz * i / rate);
        for (int c = 0; c < channels; ++c) a.channels[c][i] = static_cast<float>(v * (c ? 0.8 : 1.0));
    }
    return a;
}

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

inline void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
}

struct RunResult {
    int rc = -1;
    std::string out, err;
};

inline std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// Runs `loopsep <args>` through the shell; stdout/stderr captured via files in `dir`.
inline RunResult run_loopsep(const std::vector<std::string>& args, const std::string& dir,
                             const std::string& env_prefix = "") {
    static int counter = 0;
    const std::string tag = dir + "/run" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    std::string cmd = env_prefix + " " + shell_quote(LOOPSEP_BINARY);
    for (const auto& a : args) cmd += " " + shell_quote(a);
    cmd += " >" + shell_quote(tag + ".out") + " 2>" + shell_quote(tag + ".err");
    int st = std::system(cmd.c_str());
    RunResult r;
    r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    r.out = read_file(tag + ".out");
    r.err = read_file(tag + ".err");
    std::remove((tag + ".out").c_str());
    std::remove((tag + ".err").c_str());
    return r;
}

}  // namespace loopsep::test
