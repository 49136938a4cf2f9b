// loopsep stretch LOOP --to-bpm B [--from-bpm A] [--engine r3|r2] [--short-window] --output OUT
//
// Stretches a whole file by A/B with Rubber Band (offline, pitch kept); the
// output has exactly round(frames·A/B) frames. Without --from-bpm the loop's
// tempo is estimated from its length and onsets (loops start on a beat and last
// a whole number of beats).
//
// A WAV output that is a loop gets acid (tempo, beats, root note, loop flag) and smpl
// (one forward loop over the file, root note) chunks, through write_loop_wav as harvest
// and catalog export write theirs. "Is a loop": the input lasts a whole number of beats
// at its tempo (within 2 % of a beat; always so when the tempo was estimated, which
// assumes whole beats). The root note: --key, else the input's own acid root note.
#include <cmath>
#include <cstdio>
#include <optional>
#include <iostream>

#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "loopsep/audio.h"
#include "loopsep/error.h"
#include "loopsep/files.h"
#include "loopsep/key.h"
#include "loopsep/loopfile.h"
#include "loopsep/stretch.h"

namespace loopsep::cli {

namespace {

constexpr double kWholeBeatTolerance = 0.02;  // of a beat

// The input's acid root note, when it has one (-1 otherwise: not a WAV, no acid chunk, no root).
int input_root_note(const std::string& path) {
    try {
        return read_loop_info(path).root_note;
    } catch (const Error&) {
        return -1;
    }
}

}  // namespace

int run_stretch(const Argv& argv) {
    const CommandSpec spec{
        "stretch", "LOOP --to-bpm B [--from-bpm A] [--engine r3|r2] [--short-window] [--format F] [--bits B | --bitrate KBPS] [--key K] --output OUT [--force] [--json]",
        "Time-stretches a loop to tempo B (pitch kept, exact length frames·A/B). Without --from-bpm the loop's\n"
        "tempo A is estimated from its length and onsets (4, 8, 16 or 32 beats at 70..180 BPM).\n"
        "A .wav output of a loop (a whole number of beats at A) carries acid and smpl chunks: tempo B, beats,\n"
        "loop points over the whole file, root note from --key or the input's acid chunk.",
        {{"--to-bpm", true, "target tempo (20..400)", "B"},
         {"--from-bpm", true, "the loop's own tempo (20..400); estimated when absent", "A"},
         {"--engine", true, "r3 (finer, default) or r2 (faster)", "r3|r2"},
         {"--short-window", false, "R3 short window: much faster, slightly less smooth"},
         {"--format", true, "wav | flac | aiff | ogg | opus | mp3 (default: from OUT's extension, else wav)", "F"},
         {"--bits", true, "16 (default), 24 or f32 for wav, flac (no f32), aiff", "BITS"},
         {"--bitrate", true, "kbps for ogg, opus, mp3 (default 192, 160, 320)", "KBPS"},
         {"--key", true, "the loop's key, e.g. Am: sets the acid/smpl root note", "K"},
         {"--output", true, "output file (.wav .flac .aiff .ogg .opus .mp3), written atomically", "OUT"},
         {"--force", false, "overwrite an existing OUT (never the input, never a device or FIFO)"},
         {"--json", false, "print one JSON object describing the result"}},
        1, 1};
    ParsedArgs args = parse_args(spec, argv);
    if (args.has("--help")) { std::cout << usage_text(spec); return 0; }

    // Validate every option before touching any file.
    args.require("--to-bpm");
    const double to_bpm = args.get_double("--to-bpm", 0, 20, 400);
    const bool have_from = args.has("--from-bpm");
    const double from_bpm_given = args.get_double("--from-bpm", 0, 20, 400);
    StretchParams params;
    if (args.has("--engine")) params.engine = parse_stretch_engine(args.get("--engine"));
    params.short_window = args.has("--short-window");
    params.validate();
    const std::string out_path = args.require("--output");
    // .m4a, --bits with mp3, ...: refused before any work.
    const WriteOptions wo = output_write_options(out_path, args.get("--format"), args.get("--bits"), args.get("--bitrate"));
    std::optional<MusicalKey> key;
    if (args.has("--key") && !(key = parse_key(args.get("--key"))))
        throw usage_error("--key must be a key such as Am, C#, Bb minor (got '" + args.get("--key") + "')");
    const std::string in_path = args.positional[0];
    check_output_path(out_path, args.has("--force"), {in_path});  // before any work

    // At the file's own rate: a stretch changes the tempo, not the rate (an 8 kHz loop stays 8 kHz, and
    // input_frames counts the file's frames).
    ReadOptions ro;
    ro.target_rate_hz = 0;
    Audio loop = read_audio(in_path, ro);
    double from_bpm = from_bpm_given;
    int beats = 0;
    if (!have_from) {
        try {
            from_bpm = estimate_loop_bpm(loop, &beats);
        } catch (const Error& e) {
            throw Error(e.kind(), in_path + ": " + e.what());
        }
    }
    const std::size_t out_frames = stretched_frames(loop.frames(), from_bpm, to_bpm);
    const double ratio = double(out_frames) / double(loop.frames());
    if (out_frames == 0 || ratio < kMinStretchRatio || ratio > kMaxStretchRatio)
        throw usage_error("stretch ratio " + std::to_string(from_bpm) + "/" + std::to_string(to_bpm) +
                          " BPM is outside 1/8..8");
    Audio out = stretch_to_frames(loop, out_frames, params);
    const double beats_exact = loop.duration_sec() * from_bpm / 60.0;
    if (have_from) beats = int(std::lround(beats_exact));
    const bool is_loop = beats >= 1 && std::fabs(beats_exact - beats) <= kWholeBeatTolerance;
    const bool chunks = is_loop && wo.format == FileFormat::Wav;
    LoopInfo info;
    if (chunks) {
        info.tempo_bpm = to_bpm;
        info.beats = beats;
        info.root_note = key ? key_root_note(*key) : input_root_note(in_path);
    }
    if (const std::size_t clipped = chunks ? write_loop_wav(out_path, out, info, wo) : write_audio(out_path, out, wo);
        clipped > 0)
        std::fprintf(stderr, "loopsep stretch: warning: %s: %zu samples above full scale were clipped (use --bits f32 to keep them)\n",
                     out_path.c_str(), clipped);

    if (args.has("--json")) {
        nlohmann::json j{{"input", in_path},
                         {"output", out_path},
                         {"from_bpm", from_bpm},
                         {"from_bpm_estimated", !have_from},
                         {"to_bpm", to_bpm},
                         {"engine", stretch_engine_name(params.engine)},
                         {"input_frames", loop.frames()},
                         {"output_frames", out.frames()},
                         {"sample_rate_hz", out.sample_rate_hz}};
        if (!have_from || is_loop) j["beats"] = beats;
        j["loop_chunks"] = chunks;
        if (chunks && info.root_note >= 0) j["root_note"] = info.root_note;
        std::cout << j.dump() << "\n";
    } else {
        if (!have_from) std::printf("estimated tempo %.2f BPM (%d beats)\n", from_bpm, beats);
        std::printf("%s: %.2f -> %.2f BPM, %zu -> %zu frames (%s)\n", out_path.c_str(), from_bpm, to_bpm,
                    loop.frames(), out.frames(), stretch_engine_name(params.engine));
    }
    return 0;
}

}  // namespace loopsep::cli
