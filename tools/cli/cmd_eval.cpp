// loopsep eval --reference REF --estimate EST [--json]
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "loopsep/audio.h"
#include "loopsep/metrics.h"

namespace loopsep::cli {

int run_eval(const Argv& argv) {
    const CommandSpec spec{
        "eval", "--reference REF --estimate EST [--json]",
        "Scores an estimated stem against its reference: SDR (MDX definition, whole signal) and SI-SDR, in dB.",
        {{"--reference", true, "the true stem", "REF"},
         {"--estimate", true, "the separated stem", "EST"},
         {"--json", false, "print one JSON object"}}};
    ParsedArgs args = parse_args(spec, argv);
    if (args.has("--help")) { std::cout << usage_text(spec); return 0; }
    ReadOptions ro;
    ro.allow_silent = true;  // a silent estimate is a valid (bad) estimate
    const std::string ref_path = args.require("--reference"), est_path = args.require("--estimate");
    ReadOptions ref_opts = ro;
    ref_opts.allow_silent = false;  // SDR against silence is meaningless
    Audio ref = read_audio(ref_path, ref_opts);
    Audio est = read_audio(est_path, ro);
    QualityScores q = compare(ref, est);
    if (args.has("--json")) {
        nlohmann::json j{{"reference", ref_path}, {"estimate", est_path}, {"sdr_db", q.sdr_db}, {"si_sdr_db", q.si_sdr_db}};
        std::cout << j.dump() << "\n";
    } else {
        std::printf("SDR    %7.2f dB\nSI-SDR %7.2f dB\n", q.sdr_db, q.si_sdr_db);
    }
    return 0;
}

}  // namespace loopsep::cli
