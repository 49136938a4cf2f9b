// libFuzzer target: the command-line parser on any argv. The input is split on NUL bytes into words;
// its first byte picks the option table: separate's shape (many paths, value options, flags, the
// song-list options --list/--shard/--shards) or stretch's (exactly one path). The real tables live
// inside the commands (cmd_*.cpp), which cannot be reached without running them, so these copy their
// shapes. After parsing, the checks the commands run before any work (numbers, target names, output
// format, shards, with the scheduler variables taken from the input too) must each return or throw
// loopsep::Error: never crash, and no other exception.
#include <climits>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "args.h"
#include "fuzz_support.h"
#include "loopsep/audio.h"
#include "loopsep/error.h"
#include "song_list.h"

using namespace loopsep::cli;
using loopsep::fuzz::survive;

namespace {

const CommandSpec& separate_like() {
    static const CommandSpec spec = with_song_list_options(
        {"separate", "PATH... [options]", "fuzz",
         {{"--target", true, "", "NAME"}, {"--output", true, "", "OUT"}, {"--targets", true, "", "LIST"},
          {"--outdir", true, "", "DIR"}, {"--residual", false, ""}, {"--query", true, "", "LOOP"},
          {"--query-bpm", true, "", "BPM"}, {"--format", true, "", "F"}, {"--bits", true, "", "B"},
          {"--bitrate", true, "", "KBPS"}, {"--threads", true, "", "N"}, {"--downbeat-offset", true, "", "N"},
          {"--force", false, ""}, {"--json", false, ""}},
         0, SIZE_MAX});
    return spec;
}

const CommandSpec& stretch_like() {
    static const CommandSpec spec{"stretch", "LOOP --to-bpm B --output OUT", "fuzz",
                                  {{"--to-bpm", true, "", "B"}, {"--from-bpm", true, "", "A"},
                                   {"--format", true, "", "F"}, {"--bits", true, "", "BITS"},
                                   {"--bitrate", true, "", "KBPS"}, {"--output", true, "", "OUT"},
                                   {"--force", false, ""}, {"--json", false, ""}},
                                  1, 1};
    return spec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const CommandSpec& spec = (data[0] & 1) ? stretch_like() : separate_like();
    std::vector<std::string> argv;
    std::string word;
    for (std::size_t i = 1; i < size; ++i) {
        if (data[i] == 0) {
            argv.push_back(word);
            word.clear();
        } else {
            word.push_back(char(data[i]));
        }
    }
    argv.push_back(word);

    ParsedArgs args;
    try {
        args = parse_args(spec, argv);
    } catch (const loopsep::Error&) {
        return 0;
    }
    (void)usage_text(spec);
    survive([&] { (void)args.get_double("--query-bpm", 0, 20, 400); });
    survive([&] { (void)args.get_double("--to-bpm", 0, 20, 400); });
    survive([&] { (void)args.get_int("--threads", 2, 1, 256); });
    survive([&] { (void)args.get_int("--downbeat-offset", 0, -3, 3); });
    survive([&] { (void)args.require("--output"); });
    survive([&] {
        for (const auto& t : split_list(args.get("--targets"))) check_identifier(t, "--targets");
        if (args.has("--target")) check_identifier(args.get("--target"), "--target");
    });
    survive([&] {
        (void)loopsep::output_write_options(args.get("--output"), args.get("--format"), args.get("--bits"),
                                            args.get("--bitrate"));
    });
    survive([&] {
        // The scheduler's variables are outside input too: the first positional words stand in for them.
        Environment env;
        const char* names[] = {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN",
                               "SLURM_ARRAY_TASK_STEP", "JOB_COMPLETION_INDEX"};
        for (std::size_t i = 0; i < args.positional.size() && i < 5; ++i) env[names[i]] = args.positional[i];
        auto flag = [&](const char* n) { return args.has(n) ? std::optional<std::string>(args.get(n)) : std::nullopt; };
        const Shard shard = resolve_shard(flag("--shard"), flag("--shards"), env);
        if (shard.count < 1 || shard.index < 0 || shard.index >= shard.count) __builtin_trap();
    });
    return 0;
}
