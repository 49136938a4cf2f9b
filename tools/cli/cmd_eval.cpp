// loopsep eval --reference REF --estimate EST [--mixture MIX] [--json]
#include <cstdio>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "loopsep/audio.h"
#include "loopsep/error.h"
#include "loopsep/metrics.h"
#include "report/levels.h"

namespace loopsep::cli {

// Under this an estimate is silent for every purpose (16-bit output's quietest non-zero RMS is about -100).
constexpr double kSilentEstimateDbfs = -100.0;

int run_eval(const Argv& argv) {
    const CommandSpec spec{
        "eval", "--reference REF --estimate EST [--mixture MIX] [--downmix] [--json]",
        "Scores an estimated stem against its reference: SDR (MDX definition, whole signal) and SI-SDR, in dB,\n"
        "with both levels (a silent estimate is said so) and, with --mixture, the mixture's own score as a baseline.",
        {{"--reference", true, "the true stem", "REF"},
         {"--estimate", true, "the separated stem", "EST"},
         {"--mixture", true, "the song the estimate came from: its score as an estimate is the baseline", "MIX"},
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
    // Levels, so a bad score can be told apart from a missing stem: an all-but-zero estimate scores
    // about 0 dB SDR and means the separation found nothing.
    const double ref_dbfs = report::level_dbfs(ref), est_dbfs = report::level_dbfs(est);
    const bool est_silent = est.peak() == 0.0f || est_dbfs < kSilentEstimateDbfs;
    if (est_silent) std::fprintf(stderr, "loopsep: warning: %s: estimate is silent\n", est_path.c_str());
    // The mixture as the estimate: what doing nothing scores (the baseline a separation must beat).
    std::optional<QualityScores> mix_q;
    std::string mix_path;
    if (args.has("--mixture")) {
        mix_path = args.get("--mixture");
        Audio mix = read_audio(mix_path, ro);
        if (mix.num_channels() != ref_channels && !downmix)
            throw input_error(mix_path + ": " + std::to_string(mix.num_channels()) + " channel(s), the reference " + ref_path +
                              " has " + std::to_string(ref_channels) + " (use --downmix to compare mono downmixes)");
        mix_q = downmix ? compare(to_mono(ref), to_mono(mix)) : compare(ref, mix);
    }
    if (args.has("--json")) {
        nlohmann::json j{{"reference", ref_path},         {"estimate", est_path},
                         {"reference_channels", ref_channels}, {"estimate_channels", est_channels},
                         {"compared", compared},          {"sdr_db", q.sdr_db},
                         {"si_sdr_db", q.si_sdr_db},
                         {"reference_level_dbfs", ref_dbfs}, {"estimate_level_dbfs", est_dbfs},
                         {"estimate_silent", est_silent}};
        if (mix_q)
            j["mixture"] = {{"path", mix_path}, {"sdr_db", mix_q->sdr_db}, {"si_sdr_db", mix_q->si_sdr_db},
                            {"sdr_improvement_db", q.sdr_db - mix_q->sdr_db}};
        std::cout << j.dump() << "\n";
    } else {
        std::printf("SDR    %7.2f dB\nSI-SDR %7.2f dB\ncompared: %s (reference %d channels, estimate %d)\n", q.sdr_db,
                    q.si_sdr_db, compared.c_str(), ref_channels, est_channels);
        std::printf("levels: reference %.1f dBFS, estimate %.1f dBFS%s\n", ref_dbfs, est_dbfs,
                    est_silent ? " (estimate is silent)" : "");
        if (mix_q)
            std::printf("mixture as estimate: SDR %.2f dB, SI-SDR %.2f dB (the estimate is %+.2f dB SDR over it)\n",
                        mix_q->sdr_db, mix_q->si_sdr_db, q.sdr_db - mix_q->sdr_db);
    }
    return 0;
}

}  // namespace loopsep::cli
