// loopsep train --data DIR [--data DIR2 ...] --out MODEL [--steps N] [--batch B] [--lr X]
//               [--seed S] [--resume CKPT] [--checkpoint FILE] [--threads T] [--val DIR]
// Prepares tempo-normalised four-beat windows of every stem (once; optionally kept
// in --cache / --val-cache files), then trains the query-conditioned U-Net. The song
// folders are synth songs or multitracks (loopsep/multitrack.h); the beat tracker
// supplies the bars of multitracks that bring no beats.txt.
#include <iostream>
#include <optional>
#include <vector>

#include "args.h"
#include "commands.h"
#include "loopsep/beat.h"
#include "loopsep/error.h"
#include "loopsep/files.h"
#include "loopsep/model.h"
#include "loopsep/train.h"
#include "progress.h"

namespace loopsep::cli {

namespace {
std::vector<int> int_list(const std::string& text, const std::string& what) {
    std::vector<int> out;
    for (const auto& item : split_list(text)) out.push_back(int(parse_int(item, what, 1, 1024)));
    if (out.empty()) throw usage_error(what + ": expected a list like 8,16,32,64");
    return out;
}

// Multitracks without beats.txt: the beat tracker's bar starts on the mixture. A beatless song gets the
// tracker's fixed grid (its windows then fall anywhere in the bar, which training tolerates).
std::vector<double> estimate_downbeats(const Audio& mixture) {
    BeatParams bp;
    bp.allow_beatless = true;
    return track_beats(mixture, bp).downbeats_sec;
}

// The output rule (loopsep/files.h) for the files a run writes. An existing --out, --out-last or
// --checkpoint is refused without --force, except the run's own files when --resume names its
// checkpoint: that checkpoint as --checkpoint, and the --out and --out-last it records (a checkpoint
// written before loopsep recorded --out-last accepts any --out-last) — a run interrupted and resumed
// rewrites them, as the uninterrupted run would have. Never, even with --force: a non-regular file
// (device, FIFO), the --resume file (except a checkpoint continuing in itself), a --cache or
// --val-cache file. A --cache prepared from folders is rewritten like a build product (it is derived
// from the folders), but never over a non-regular file or the --resume file.
// `caches`: every --cache and --val-cache; `written_caches`: those prepared from folders here.
void check_run_outputs(const TrainParams& p, const std::vector<std::string>& caches,
                       const std::vector<std::string>& written_caches, bool prepare_only, bool force) {
    std::optional<CheckpointRunFiles> own;
    if (!p.resume.empty()) {
        require_regular_file(p.resume);
        own = checkpoint_run_files(p.resume);
    }
    auto is = [](const std::string& given, const std::string& recorded) {
        return !recorded.empty() && (given == recorded || same_file(given, recorded));
    };
    std::vector<std::string> inputs = caches;
    if (!p.resume.empty()) inputs.push_back(p.resume);
    for (const auto& cache : written_caches) check_output_path(cache, true, {p.resume});
    if (prepare_only) return;
    check_output_path(p.out, force || (own && is(p.out, own->out)), inputs);
    if (!p.out_last.empty())
        check_output_path(p.out_last,
                          force || (own && (!own->out_last_recorded || is(p.out_last, own->out_last))), inputs);
    if (!p.checkpoint.empty()) {
        if (own && is(p.checkpoint, p.resume))   // the run goes on in its own checkpoint
            check_output_path(p.checkpoint, true, caches);
        else
            check_output_path(p.checkpoint, force, inputs);
    }
}

// Without folders: the cache files, read and merged in order. With folders: prepared from them, and
// written to the one cache file if one is given (run_train refuses more than one).

SegmentCache load_or_prepare(const std::vector<std::string>& dirs, const std::vector<std::string>& cache_paths,
                             const ModelConfig& cfg, int threads, bool fast, int bars, const char* what,
                             const char* musdb_subset) {
    if (dirs.empty()) {
        SegmentCache merged;
        for (const auto& path : cache_paths) {
            std::cerr << "reading " << what << " cache " << path << "\n";
            merged.append(read_segment_cache(path));
        }
        return merged;
    }
    const std::string cache_path = cache_paths.empty() ? std::string() : cache_paths.front();
    PrepareParams pp;
    pp.data_dirs = dirs;
    pp.musdb_subset = musdb_subset;
    pp.estimate_downbeats = estimate_downbeats;
    pp.threads = threads;
    pp.fast_stretch = fast;
    pp.bars_per_song = bars;
    std::cerr << "preparing " << what << " windows from " << dirs.size() << " folder(s)\n";
    SegmentCache c = prepare_segments(pp, cfg, std::cerr);
    std::cerr << "  " << c.segments.size() << " windows, " << c.songs.size() << " songs, "
              << c.instruments.size() << " instruments\n";
    if (!cache_path.empty()) {
        write_segment_cache(cache_path, c);
        std::cerr << "  wrote " << cache_path << "\n";
    }
    return c;
}
}  // namespace

int run_train(const Argv& argv) {
    const CommandSpec spec{
        "train", "--data DIR [--data DIR2 ...] --out MODEL [options]",
        "Trains the query-conditioned U-Net on `loopsep synth` folders or your own multitracks (models/TRAINING.md);\n"
        "keeps the model with the best validation SDR.",
        {{"--data", true, "folder of songs for training: synth songs or multitracks <song>/<instrument>.wav, MUSDB18's train/ (repeatable)", "DIR"},
         {"--out", true, "model file to write (safetensors)", "MODEL"},
         {"--out-last", true, "also write the run's final weights here (--out keeps the best validation score's)", "MODEL"},
         {"--steps", true, "training steps (default 3000)", "N"},
         {"--batch", true, "examples per step (default 16)", "B"},
         {"--lr", true, "Adam learning rate, cosine-decayed (default 0.001)", "X"},
         {"--seed", true, "random seed (default 1)", "S"},
         {"--resume", true, "start from this model file (its architecture wins; Adam and the schedule start afresh), or go on with the run in this --checkpoint file (its weights, optimiser, schedule, weight average and random streams; its training parameters replace those given)", "CKPT"},
         {"--checkpoint", true, "write the run's full state here (atomically) every --checkpoint-every-min minutes, on SIGINT/SIGTERM (after the current step; the exit status is then 128 + the signal) and at the end, to --resume from", "FILE"},
         {"--force", false, "overwrite an existing --out, --out-last or --checkpoint (not needed for the files of the run that --resume CKPT goes on with)"},
         {"--checkpoint-every-min", true, "minutes between --checkpoint writes (default 10)", "M"},
         {"--threads", true, "CPU threads (default 2)", "T"},
         {"--replicas", true, "copies of the net sharing each batch, one thread each of --threads (default 1; 2 on 2 cores is faster, models/TRAINING.md)", "R"},
         {"--quiet", false, "no progress bar (it is drawn only when stderr is a terminal)"},
         {"--val", true, "folder of songs from held-out sound sources, as --data; MUSDB18's test/ (repeatable)", "DIR"},
         {"--cache", true, "training windows file: written after preparing --data, read when --data is absent (then repeatable: the files are merged)", "FILE"},
         {"--val-cache", true, "validation windows file, like --cache (repeatable without --val: the files are merged)", "FILE"},
         {"--prepare-only", false, "stop after writing the caches (for loopsep-train-gpu)"},
         {"--minutes", true, "stop after this many minutes (the best model so far is kept)", "M"},
         {"--val-every", true, "steps between validations (default 250)", "N"},
         {"--val-examples", true, "validation windows per instrument (default 24)", "N"},
         {"--loss", true, "magnitude (L1 on |S|), psa (L1 on the phase-sensitive target |S|·cos(∠S−∠X)) or sdr (−SDR in dB of the masked mixture per example) (default magnitude)", "NAME"},
         {"--pair-fraction", true, "share of examples that reuse the previous mixture with another stem as target (default 0)", "X"},
         {"--ema", true, "validate and save an exponential moving average of the weights with this decay per step, e.g. 0.999 (default 0: off)", "D"},
         {"--augment-eq", true, "random smooth EQ for the target, the rest of the mixture and the query, each its own, up to this many dB of boost or cut (default 0: off)", "DB"},
         {"--augment-pitch", true, "random pitch (and tempo) shift per example and per query, up to this many semitones (default 0: off)", "ST"},
         {"--generic-fraction", true, "share of examples whose target is a generated noise band or tone in a random rhythm, queried by another rendering of it; the same share of the rest get one as a distractor (default 0: off; at most 0.5)", "F"},
         {"--self-query-fraction", true, "share of examples queried by their own target in another bar of the same song (with the rest of that bar leaking in 25 to 5 dB under it, as a first pass's estimate would), for separate --passes 2; validation then also scores same-song queries (default 0: off; 0..1)", "F"},
         {"--channels", true, "U-Net channels per level (default 8,16,32,64)", "LIST"},
         {"--query-channels", true, "query encoder channels (default 16,32,64)", "LIST"},
         {"--bands", true, "mel bands the net sees (default 96)", "N"},
         {"--embedding", true, "query embedding size (default 64)", "N"},
         {"--shared-levels", true, "encoder levels the query does not condition, computed once for all targets (default 0; with --resume: converts the model)", "N"},
         {"--block-kernels", true, "residual block convolutions of a new model: square (3x3, 3x3) or timefreq (7x1 in time, then 1x5 in bands); with --resume timefreq converts the model (default: square, or the resumed model's)", "NAME"},
         {"--top-decoder", true, "last decoder level: resblock (two 3x3 convolutions) or film (norm + FiLM only, cheaper per target); with --resume film converts the model (default: resblock, or the resumed model's)", "NAME"},
         {"--mid-blocks", true, "residual blocks at the bottleneck (default 1, or the resumed model's; with --resume a larger number deepens the model, the new blocks starting as the identity)", "N"},
         {"--top-channels", true, "channels of the top U-Net level (default: --channels' first, or the resumed model's; with --resume a larger multiple of 8 widens the model, its masks unchanged at first)", "N"},
         {"--query-profile", false, "also condition on the query's band profile (a band-wise bias per decoder level); with --resume converts the model, its masks unchanged at first (default: off, or the resumed model's)"},
         {"--fine-head", true, "add a bin-resolution refinement after the band mask, its weights chosen by the query per region of this many equal groups of bands (must divide --bands); with --resume converts the model, its masks unchanged at first (default: none, or the resumed model's)", "R"},
         {"--repetition", true, "give the net the song's repetition: a template per window, the median of the K most alike other bars of its song; with --resume converts the model, its masks unchanged at first (default: none, or the resumed model's)", "K"},
         {"--band-split", true, "give the net the bins inside each band: each band's log bin magnitudes through its own learned map to this many values, added to the stem's output; with --resume converts the model, its masks unchanged at first (default: none, or the resumed model's)", "C"},
         {"--bin-logits", false, "add a per-bin delta logit (from the top decoder level's features at the bin's band) to the interpolated band mask; with --resume converts the model, its masks unchanged at first (default: off, or the resumed model's)"},
         {"--space-to-depth", false, "a new model whose U-Net starts at --channels' second level: the band features folded 2x2 (time x band) into 4 channels, the mask unfolded back (about 2x the examples per second; not a conversion: with --resume only a model that has it)"},
         {"--fine-lr-scale", true, "the bin refinement's learning rate as a multiple of --lr (default 1)", "X"},
         {"--warmup-steps", true, "raise the learning rate linearly from 0 over this many steps before the cosine decay (default 0: none)", "N"},
         {"--bars-per-song", true, "prepare only this many bars per song, spread evenly (default: all)", "N"},
         {"--finer-stretch", false, "prepare with Rubber Band R3 instead of R2 (slower)"}}};
    ParsedArgs args = parse_args(spec, argv);
    if (args.has("--help")) { std::cout << usage_text(spec); return 0; }

    TrainParams p;
    p.out = args.get("--out");
    p.out_last = args.get("--out-last");
    p.steps = args.get_int("--steps", 3000, 1, 10000000);
    p.batch = int(args.get_int("--batch", 16, 1, 1024));
    p.lr = args.get_double("--lr", 1e-3, 1e-7, 0.5);
    p.seed = std::uint64_t(args.get_int("--seed", 1, 0, 2147483647));
    p.resume = args.get("--resume");
    p.checkpoint = args.get("--checkpoint");
    p.checkpoint_every_min = args.get_double("--checkpoint-every-min", 10, 1e-6, 1e6);
    p.threads = int(args.get_int("--threads", 2, 1, 256));
    p.replicas = int(args.get_int("--replicas", 1, 1, 64));
    p.max_minutes = args.get_double("--minutes", 0, 0, 1e6);
    p.val_every = int(args.get_int("--val-every", 250, 1, 10000000));
    p.val_examples = int(args.get_int("--val-examples", 24, 1, 10000));
    p.pair_fraction = args.get_double("--pair-fraction", 0.0, 0.0, 1.0);
    p.ema_decay = args.get_double("--ema", 0.0, 0.0, 0.999999);
    p.augment_eq_db = args.get_double("--augment-eq", 0.0, 0.0, 24.0);
    p.augment_pitch_semitones = args.get_double("--augment-pitch", 0.0, 0.0, 6.0);
    p.generic_fraction = args.get_double("--generic-fraction", 0.0, 0.0, 0.5);
    p.self_query_fraction = args.get_double("--self-query-fraction", 0.0, 0.0, 1.0);
    if (args.has("--loss")) p.loss = parse_train_loss(args.get("--loss"));
    if (args.has("--channels")) p.config.unet_channels = int_list(args.get("--channels"), "--channels");
    if (args.has("--query-channels"))
        p.config.query_channels = int_list(args.get("--query-channels"), "--query-channels");
    p.config.num_bands = int(args.get_int("--bands", p.config.num_bands, 8, 1025));
    p.config.embedding_size = int(args.get_int("--embedding", p.config.embedding_size, 1, 4096));
    if (args.has("--shared-levels"))
        p.shared_levels = int(args.get_int("--shared-levels", 0, 0, int(p.config.unet_channels.size()) - 1));
    if (args.has("--block-kernels")) p.block_kernels = parse_block_kernels(args.get("--block-kernels"));
    if (args.has("--top-decoder")) p.top_decoder = parse_top_decoder(args.get("--top-decoder"));
    if (args.has("--mid-blocks")) p.mid_blocks = int(args.get_int("--mid-blocks", 1, 1, 8));
    if (args.has("--top-channels")) p.top_channels = int(args.get_int("--top-channels", 8, 1, 1024));
    p.query_profile = args.has("--query-profile");
    if (args.has("--fine-head")) p.fine_regions = int(args.get_int("--fine-head", 4, 1, 1025));
    if (args.has("--repetition")) p.repetition_neighbours = int(args.get_int("--repetition", 4, 1, 16));
    if (args.has("--band-split")) p.band_split_channels = int(args.get_int("--band-split", 8, 1, 64));
    p.bin_logits = args.has("--bin-logits");
    p.space_to_depth = args.has("--space-to-depth");
    p.fine_lr_scale = args.get_double("--fine-lr-scale", 1.0, 1e-6, 1000.0);
    p.warmup_steps = args.get_int("--warmup-steps", 0, 0, 10000000);
    p.config.validate();

    const auto data = args.all("--data"), val_dirs = args.all("--val");
    const auto caches = args.all("--cache");
    const auto val_caches = args.all("--val-cache");
    if (data.empty() && caches.empty()) throw usage_error("--data: at least one folder of songs is required");
    const bool prepare_only = args.has("--prepare-only");
    if (!prepare_only && p.out.empty()) throw usage_error("--out: a model file is required");
    if (!data.empty() && caches.size() > 1)
        throw usage_error("training folders are prepared into one cache file: give one, not " + std::to_string(caches.size()));
    if (!val_dirs.empty() && val_caches.size() > 1)
        throw usage_error("validation folders are prepared into one cache file: give one, not " +
                          std::to_string(val_caches.size()));
    std::vector<std::string> all_caches = caches, written_caches;
    all_caches.insert(all_caches.end(), val_caches.begin(), val_caches.end());
    if (!data.empty()) written_caches = caches;
    if (!val_dirs.empty()) written_caches.insert(written_caches.end(), val_caches.begin(), val_caches.end());
    check_run_outputs(p, all_caches, written_caches, prepare_only, args.has("--force"));
    set_torch_threads(p.threads);

    const bool fast = !args.has("--finer-stretch");
    const int bars = int(args.get_int("--bars-per-song", 0, 0, 100000));
    SegmentCache train = load_or_prepare(data, caches, p.config, p.threads, fast, bars, "training", "train");
    SegmentCache val;
    const bool have_val = !val_dirs.empty() || !val_caches.empty();
    if (have_val) val = load_or_prepare(val_dirs, val_caches, p.config, p.threads, fast, bars, "validation", "test");
    if (prepare_only) return 0;

    // On a terminal: a bar over the steps; the trainer's log lines (through `log`) clear it first.
    Progress bar("train", args.has("--quiet"));
    ProgressClearingBuf log_buf(bar, std::cerr.rdbuf());
    std::ostream log(&log_buf);
    if (bar.enabled())
        p.on_step = [&](long step, long steps) {
            bar.update(double(step) / double(steps), "step " + std::to_string(step) + "/" + std::to_string(steps));
        };
    TrainResult r = train_model(p, train, have_val ? &val : nullptr, log);
    bar.clear();
    std::cerr << (r.interrupted ? "interrupted" : "done") << " after " << r.steps_done << " steps; loss "
              << r.first_loss << " → " << r.last_loss << "; model in " << p.out << "\n";
    // Stopped by a signal: saved, but the schedule is not done (a script resumes until this is 0).
    return r.interrupted ? 128 + r.signal : 0;
}

}  // namespace loopsep::cli
