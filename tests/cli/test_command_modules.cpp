// Command modules: the light commands start without LibTorch, aubio or
// FluidSynth; separate/harvest/train, beats and synth load their module on
// first use, from the build tree and from an installed prefix; a missing
// module is one clear line.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "test_util.h"

using loopsep::testing::count_lines;
using loopsep::testing::read_text;
using loopsep::testing::TempDir;

namespace fs = std::filesystem;

namespace {

struct Traced {
    int exit_code = -1;
    std::string out, err;  // err holds the dynamic loader's trace (LD_DEBUG=libs) too
};

// Runs `binary args` with the loader tracing which libraries it loads.
Traced run_traced(const std::string& binary, const std::string& args, const TempDir& tmp) {
    const std::string cmd = "LD_DEBUG=libs '" + binary + "' " + args + " >'" + tmp.file("out") + "' 2>'" +
                            tmp.file("err") + "' </dev/null";
    const int status = std::system(cmd.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(tmp.file("out")), read_text(tmp.file("err"))};
}

// True when the loader initialised a library whose path contains `library`.
bool loaded(const Traced& t, const std::string& library) {
    for (std::size_t at = t.err.find("calling init: "); at != std::string::npos;
         at = t.err.find("calling init: ", at + 1)) {
        const std::size_t end = t.err.find('\n', at);
        if (t.err.substr(at, end - at).find(library) != std::string::npos) return true;
    }
    return false;
}

}  // namespace

TEST(CommandModules, LightCommandsLoadNoHeavyLibrary) {
    TempDir tmp;
    for (const std::string& args : std::vector<std::string>{
             "--version", "eval --help", "stretch --help", "catalog --db " + tmp.file("c.db") + " init",
             "catalog --db " + tmp.file("c.db") + " stats"}) {
        const Traced t = run_traced(LOOPSEP_BINARY, args, tmp);
        EXPECT_EQ(t.exit_code, 0) << args << "\n" << t.out;
        for (const char* heavy : {"libtorch", "libaubio", "libfluidsynth", "_commands.so"})
            EXPECT_FALSE(loaded(t, heavy)) << args << " loaded " << heavy;
    }
}

TEST(CommandModules, EachModuleLoadsOnFirstUseWithOnlyItsOwnTree) {
    TempDir tmp;
    struct Case {
        const char* args;
        const char* module;
        const char* library;       // the heavy tree it exists for
        const char* not_library;   // a tree it must not pull in
    };
    for (const Case& c : {Case{"separate --help", "libloopsep_model_commands.so", "libtorch", "libfluidsynth"},
                          Case{"harvest --help", "libloopsep_model_commands.so", "libtorch", "libfluidsynth"},
                          Case{"train --help", "libloopsep_model_commands.so", "libtorch", "libfluidsynth"},
                          Case{"beats --help", "libloopsep_beat_commands.so", "libaubio", "libtorch"},
                          Case{"synth --help", "libloopsep_synth_commands.so", "libfluidsynth", "libtorch"}}) {
        const Traced t = run_traced(LOOPSEP_BINARY, c.args, tmp);
        const std::string command = std::string(c.args).substr(0, std::string(c.args).find(' '));
        EXPECT_EQ(t.exit_code, 0) << c.args;
        EXPECT_TRUE(loaded(t, c.module)) << c.args;
        EXPECT_TRUE(loaded(t, c.library)) << c.args;
        EXPECT_FALSE(loaded(t, c.not_library)) << c.args;
        EXPECT_NE(t.out.find("loopsep " + command), std::string::npos) << t.out;  // the command's own help
    }
}

TEST(CommandModules, AMissingModuleIsOneLineNamingWhereItWasLookedFor) {
    TempDir tmp;
    const std::string alone = tmp.file("loopsep");
    fs::copy_file(LOOPSEP_BINARY, alone);
    fs::permissions(alone, fs::perms::owner_all);
    const Traced s = run_traced(alone, "separate --help", tmp);
    EXPECT_EQ(s.exit_code, 1);
    // The trace is in err as well: the message is the one line that names the module.
    std::string message;
    for (std::size_t at = 0; at < s.err.size();) {
        const std::size_t nl = s.err.find('\n', at);
        const std::string line = s.err.substr(at, nl - at);
        if (line.rfind("loopsep separate:", 0) == 0) message += line + "\n";
        at = nl == std::string::npos ? s.err.size() : nl + 1;
    }
    EXPECT_EQ(count_lines(message), 1) << s.err.substr(0, 2000);
    EXPECT_NE(message.find("libloopsep_model_commands.so"), std::string::npos) << message;
    EXPECT_NE(message.find(tmp.path()), std::string::npos) << message;
    // Without the modules the rest of the CLI still works.
    EXPECT_EQ(run_traced(alone, "--version", tmp).exit_code, 0);
    EXPECT_EQ(run_traced(alone, "catalog --db " + tmp.file("c.db") + " init", tmp).exit_code, 0);
    const Traced b = run_traced(alone, "beats --help", tmp);
    EXPECT_EQ(b.exit_code, 1);
    EXPECT_NE(b.err.find("libloopsep_beat_commands.so is not installed"), std::string::npos);
}

// `cmake --install` lays out PREFIX/bin/loopsep and PREFIX/lib/loopsep/<module>;
// the installed binary finds its module there, not in the build tree.
TEST(CommandModules, TheInstalledLayoutFindsTheModules) {
    TempDir tmp;
    const fs::path build = fs::path(LOOPSEP_BINARY).parent_path().parent_path();
    const std::string prefix = tmp.file("prefix");
    ASSERT_EQ(std::system(("cmake --install '" + build.string() + "' --prefix '" + prefix + "' > '" +
                           tmp.file("install.log") + "' 2>&1").c_str()),
              0)
        << read_text(tmp.file("install.log"));
    const std::string installed = prefix + "/bin/loopsep";
    ASSERT_TRUE(fs::exists(installed));
    for (const auto& [args, module] : {std::pair{"train --help", "libloopsep_model_commands.so"},
                                       std::pair{"beats --help", "libloopsep_beat_commands.so"},
                                       std::pair{"synth --help", "libloopsep_synth_commands.so"}}) {
        const Traced t = run_traced(installed, args, tmp);
        EXPECT_EQ(t.exit_code, 0) << args;
        EXPECT_TRUE(loaded(t, prefix + "/lib/loopsep/" + module)) << args << "\n" << t.err.substr(0, 2000);
    }
}
