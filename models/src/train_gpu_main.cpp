// loopsep-train-gpu: the trainer with LibTorch as its only dependency (built with
// -DLOOPSEP_TRAINER_ONLY=ON), for machines with a GPU. It reads segment caches
// written by `loopsep train --prepare-only` and writes the same model file.
//   loopsep-train-gpu --cache FILE [--cache FILE2 ...] --out MODEL [--val-cache FILE]
//       [--steps N] [--batch B] [--lr X] [--seed S] [--minutes M] [--resume MODEL]
//       [--channels 8,16,32,64] [--bands 96] [--embedding 64] [--query-channels 16,32,64]
//       [--shared-levels N] [--mid-blocks N] [--query-profile] [--space-to-depth] [--fine-head R] [--repetition K] [--band-split C] [--bin-logits] [--fine-lr-scale X] [--warmup-steps N] [--val-every N] [--cpu] [--threads T]
//       [--replicas R] [--checkpoint FILE] [--checkpoint-every-min M] [--self-query-fraction F]
// Exit status 128 + the signal when SIGINT/SIGTERM stopped the run (saved, the schedule not done).
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "arch_args.h"
#include "loopsep/error.h"
#include "loopsep/train.h"

int main(int argc, char** argv) {
    using namespace loopsep;
    try {
        TrainParams p;
        p.cuda = true;
        std::vector<std::string> caches;
        std::string val_cache;
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            if (a == "--cpu") { p.cuda = false; continue; }
            if (a == "--query-profile") { p.query_profile = true; continue; }
            if (a == "--bin-logits") { p.bin_logits = true; continue; }
            if (a == "--space-to-depth") { p.space_to_depth = true; continue; }
            if (i + 1 >= argc) throw usage_error(a + ": needs a value");
            const std::string v = argv[++i];
            if (a == "--cache") caches.push_back(v);
            else if (a == "--val-cache") val_cache = v;
            else if (a == "--out") p.out = v;
            else if (a == "--resume") p.resume = v;
            else if (a == "--checkpoint") p.checkpoint = v;
            else if (a == "--checkpoint-every-min") p.checkpoint_every_min = std::atof(v.c_str());
            else if (a == "--steps") p.steps = std::atol(v.c_str());
            else if (a == "--batch") p.batch = std::atoi(v.c_str());
            else if (a == "--lr") p.lr = std::atof(v.c_str());
            else if (a == "--seed") p.seed = std::strtoull(v.c_str(), nullptr, 10);
            else if (a == "--minutes") p.max_minutes = std::atof(v.c_str());
            else if (a == "--threads") p.threads = std::atoi(v.c_str());
            else if (a == "--replicas") p.replicas = std::atoi(v.c_str());
            else if (a == "--val-every") p.val_every = std::atoi(v.c_str());
            else if (a == "--val-examples") p.val_examples = std::atoi(v.c_str());
            else if (a == "--pair-fraction") p.pair_fraction = std::atof(v.c_str());
            else if (a == "--ema") p.ema_decay = std::atof(v.c_str());
            else if (a == "--augment-eq") p.augment_eq_db = std::atof(v.c_str());
            else if (a == "--augment-pitch") p.augment_pitch_semitones = std::atof(v.c_str());
            else if (a == "--out-last") p.out_last = v;
            else if (a == "--generic-fraction") p.generic_fraction = std::atof(v.c_str());
            else if (a == "--self-query-fraction") p.self_query_fraction = std::atof(v.c_str());
            else if (a == "--loss") p.loss = parse_train_loss(v);
            else if (a == "--silent-fraction") p.silent_fraction = std::atof(v.c_str());
            else if (a == "--channels") p.config.unet_channels = detail::parse_int_list(v, a);
            else if (a == "--query-channels") p.config.query_channels = detail::parse_int_list(v, a);
            else if (a == "--bands") p.config.num_bands = std::atoi(v.c_str());
            else if (a == "--embedding") p.config.embedding_size = std::atoi(v.c_str());
            else if (a == "--shared-levels") p.shared_levels = std::atoi(v.c_str());
            else if (a == "--block-kernels") p.block_kernels = parse_block_kernels(v);
            else if (a == "--top-decoder") p.top_decoder = parse_top_decoder(v);
            else if (a == "--mid-blocks") p.mid_blocks = std::atoi(v.c_str());
            else if (a == "--top-channels") p.top_channels = std::atoi(v.c_str());
            else if (a == "--fine-head") p.fine_regions = std::atoi(v.c_str());
            else if (a == "--repetition") p.repetition_neighbours = std::atoi(v.c_str());
            else if (a == "--band-split") p.band_split_channels = std::atoi(v.c_str());
            else if (a == "--fine-lr-scale") p.fine_lr_scale = std::atof(v.c_str());
            else if (a == "--warmup-steps") p.warmup_steps = std::atol(v.c_str());
            else throw usage_error("unknown option " + a);
        }
        if (caches.empty()) throw usage_error("--cache: at least one segment cache is required");
        SegmentCache train;
        for (const auto& c : caches) train.append(read_segment_cache(c));
        SegmentCache val;
        if (!val_cache.empty()) val = read_segment_cache(val_cache);
        auto r = train_model(p, train, val_cache.empty() ? nullptr : &val, std::cout);
        std::cout << (r.interrupted ? "interrupted: " : "done: ") << r.steps_done << " steps, loss " << r.first_loss
                  << " → " << r.last_loss << "\n";
        return r.interrupted ? 128 + r.signal : 0;
    } catch (const Error& e) {
        std::cerr << "loopsep-train-gpu: " << e.what() << "\n";
        return e.exit_code();
    } catch (const std::exception& e) {
        std::cerr << "loopsep-train-gpu: " << e.what() << "\n";
        return 1;
    }
}
