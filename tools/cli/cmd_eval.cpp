// loopsep eval --reference REF --estimate EST [--json]
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "loopsep/audio.h"
#include "loopsep/error.h"
#include "loopsep/metrics.h"

namespace loopsep::cli {

int run_eval(const Argv& argv) {
    const CommandSpec spec{
        "eval", "--reference REF --estimate EST [--downmix] [--json]",
        "Scores an estimated stem against its reference: SDR (MDX definition, whole signal) and SI-SDR, in dB.",
        {{"--reference", true, "the true stem", "REF"},
         {"--estimate", true, "the separated stem", "EST"},
         {"--downmix", false, "compare mono downmixes (required when the channel counts differ)"},
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
    // A stereo reference against a mono estimate (or the reverse) is not the same measurement as
    // per-channel SDR: only on request, and the result says which one it is.
    const bool downmix = args.has("--downmix");
    const int ref_channels = ref.num_channels(), est_channels = est.num_channels();
    if (ref_channels != est_channels && !downmix)
        throw input_error(est_path + ": " + std::to_string(est_channels) + " channel(s), the reference " + ref_path +
                          " has " + std::to_string(ref_channels) + " (use --downmix to compare mono downmixes)");
    auto to_mono = [](const Audio& a) {
        Audio m(1, a.frames(), a.sample_rate_hz);
        m.channels[0] = a.mono();
        return m;
    };
    const QualityScores q = downmix ? compare(to_mono(ref), to_mono(est)) : compare(ref, est);
    const std::string compared = downmix ? "mono downmix" : std::to_string(ref_channels) + " channels";
    if (args.has("--json")) {
        nlohmann::json j{{"reference", ref_path},         {"estimate", est_path},
                         {"reference_channels", ref_channels}, {"estimate_channels", est_channels},
                         {"compared", compared},          {"sdr_db", q.sdr_db},
                         {"si_sdr_db", q.si_sdr_db}};
        std::cout << j.dump() << "\n";
    } else {
        std::printf("SDR    %7.2f dB\nSI-SDR %7.2f dB\ncompared: %s (reference %d channels, estimate %d)\n", q.sdr_db,
                    q.si_sdr_db, compared.c_str(), ref_channels, est_channels);
    }
    return 0;
}

}  // namespace loopsep::cli
