// Running the CLI with stderr on a pseudo-terminal (script(1), util-linux): what a person at a
// terminal sees, for the progress bar's tests.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include "test_util.h"

namespace loopsep::testing {

struct TtyResult {
    int exit_code = -1;
    std::string terminal;  // everything written to the terminal (stderr; stdout goes to stdout_path)
};

// `args` must not contain double quotes. stdout is redirected to `stdout_path` (inside the pty run),
// so the terminal shows stderr only.
inline TtyResult run_loopsep_on_tty(const std::string& args, const std::string& workdir, const std::string& stdout_path) {
    const std::string tty_path = workdir + "/tty-capture.txt";
    const std::string inner = "'" + std::string(LOOPSEP_BINARY) + "' " + args + " > '" + stdout_path + "'";
    const std::string cmd = "cd '" + workdir + "' && script -qfec \"" + inner + "\" /dev/null > '" + tty_path +
                            "' 2>&1 < /dev/null";
    const int status = std::system(cmd.c_str());
    TtyResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.terminal = read_text(tty_path);
    return r;
}

inline bool has_script_command() { return std::system("command -v script > /dev/null 2>&1") == 0; }

}  // namespace loopsep::testing
