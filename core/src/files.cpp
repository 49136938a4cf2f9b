// See loopsep/files.h.
#include "loopsep/files.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "loopsep/error.h"

namespace loopsep {

namespace {

std::string describe_kind(mode_t mode) {
    if (S_ISDIR(mode)) return "is a directory";
    if (S_ISFIFO(mode)) return "not a regular file (a FIFO)";
    if (S_ISCHR(mode) || S_ISBLK(mode)) return "not a regular file (a device)";
    if (S_ISSOCK(mode)) return "not a regular file (a socket)";
    return "not a regular file";
}

// The registry the signal handler reads: fixed slots, no allocation, states changed atomically.
constexpr int kSlots = 64;
constexpr std::size_t kPathMax = 4096;
enum SlotState : int { kFree = 0, kFilling = 1, kActive = 2 };
std::atomic<int> g_state[kSlots];
char g_paths[kSlots][kPathMax];
const char* g_program = "loopsep";

void on_interrupt(int sig) {
    for (int i = 0; i < kSlots; ++i)
        if (g_state[i].load() == kActive) ::unlink(g_paths[i]);
    // write(2) only: the handler may run inside malloc or stdio.
    const char* suffix = ": interrupted\n";
    (void)!::write(2, g_program, std::strlen(g_program));
    (void)!::write(2, suffix, std::strlen(suffix));
    ::_exit(128 + sig);
}

bool all_digits(const char* s) {
    if (!*s) return false;
    for (; *s; ++s)
        if (*s < '0' || *s > '9') return false;
    return true;
}

}  // namespace

std::uint64_t require_regular_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw input_error(path + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw input_error(path + ": " + describe_kind(st.st_mode));
    return static_cast<std::uint64_t>(st.st_size);
}

void check_output_path(const std::string& output, bool force, const std::vector<std::string>& inputs) {
    if (output.empty()) throw usage_error("the output path is empty");
    remove_stale_temps(output);
    struct stat out {};
    if (::stat(output.c_str(), &out) != 0) {
        if (errno == ENOENT) return;  // the usual case: nothing there yet
        throw input_error(output + ": " + std::strerror(errno));
    }
    if (!S_ISREG(out.st_mode)) throw input_error(output + ": " + describe_kind(out.st_mode) + ", refusing to replace it");
    for (const auto& in : inputs)
        if (same_file(in, output))
            throw input_error(output + ": is the input file " + in + " (refusing to overwrite an input)");
    if (!force) throw input_error(output + ": exists (use --force to overwrite)");
}

bool same_file(const std::string& a, const std::string& b) {
    struct stat sa {}, sb {};
    return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int remove_stale_temps(const std::string& path) {
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
    const std::string prefix = (slash == std::string::npos ? path : path.substr(slash + 1)) + ".tmp-";
    DIR* d = ::opendir(dir.c_str());
    if (!d) return 0;
    int removed = 0;
    while (const dirent* e = ::readdir(d)) {
        if (std::strncmp(e->d_name, prefix.c_str(), prefix.size()) != 0) continue;
        const char* pid_text = e->d_name + prefix.size();
        if (!all_digits(pid_text)) continue;
        const long pid = std::strtol(pid_text, nullptr, 10);
        if (pid <= 0 || pid == ::getpid()) continue;
        // Alive (or alive under another user: EPERM): not ours to remove.
        if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
        const std::string full = dir + "/" + e->d_name;
        struct stat st {};
        if (::lstat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::unlink(full.c_str()) == 0) ++removed;
    }
    ::closedir(d);
    return removed;
}

void register_temp_file(const std::string& tmp_path) {
    if (tmp_path.size() >= kPathMax) return;
    for (int i = 0; i < kSlots; ++i) {
        int expected = kFree;
        if (!g_state[i].compare_exchange_strong(expected, kFilling)) continue;
        std::memcpy(g_paths[i], tmp_path.c_str(), tmp_path.size() + 1);
        g_state[i].store(kActive);
        return;
    }
}

void unregister_temp_file(const std::string& tmp_path) {
    for (int i = 0; i < kSlots; ++i)
        if (g_state[i].load() == kActive && tmp_path == g_paths[i]) {
            g_state[i].store(kFree);
            return;
        }
}

void install_interrupt_cleanup(const char* program) {
    g_program = program;
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

}  // namespace loopsep
