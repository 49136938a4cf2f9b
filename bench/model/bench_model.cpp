// Benchmark of the separation network: parameters, file size, forward time per
// four-beat segment (batched), query embedding time.
//   loopsep_bench_model [--model FILE] [--threads 2] [--batch 8] [--iters 5]
// Without --model, an untrained model with the default config is written to /tmp and timed.
// With --val-cache FILE (from `loopsep train --val DIR --val-cache FILE --prepare-only`): validation
// SDR per instrument vs the ideal ratio mask and the mixture, wrong-query SDR, leakage.
//   [--val-examples 24] [--seed 12345] [--by-source: also SDR per instrument / target sound source]
#include <sys/stat.h>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "loopsep/model.h"
#ifdef LOOPSEP_HAVE_TRAIN
#include <iostream>

#include "loopsep/train.h"
#endif

using Clock = std::chrono::steady_clock;

// Process CPU seconds (user + system): a load-independent measure on a shared machine.
static double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

int main(int argc, char** argv) {
    std::string model;
    loopsep::ModelConfig cfg;
    int threads = 2, batch = 8, iters = 5, val_examples = 24;
    std::string val_cache;
    bool by_source = false;
    unsigned long seed = 12345;
    for (int i = 1; i < argc; ++i) by_source = by_source || !std::strcmp(argv[i], "--by-source");
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--by-source")) { --i; continue; }  // a flag, read above: no value
        if (!std::strcmp(argv[i], "--model")) model = argv[i + 1];
        else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--batch")) batch = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--iters")) iters = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--bands")) cfg.num_bands = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--val-cache")) val_cache = argv[i + 1];
        else if (!std::strcmp(argv[i], "--val-examples")) val_examples = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--seed")) seed = std::strtoul(argv[i + 1], nullptr, 10);
        else if (!std::strcmp(argv[i], "--channels")) {  // untrained model shape, e.g. 8,16,32,64
            cfg.unet_channels.clear();
            for (char* t = std::strtok(argv[i + 1], ","); t; t = std::strtok(nullptr, ",")) cfg.unet_channels.push_back(std::atoi(t));
        }
    }
    try {
        loopsep::set_torch_threads(threads);
        if (model.empty()) {
            model = "/tmp/loopsep-bench-untrained.safetensors";
            loopsep::write_untrained_model(model, cfg, 1);
        }
        auto sep = loopsep::Separator::load(model);
        const auto& c = sep->config();
        struct stat st{};
        ::stat(model.c_str(), &st);
        std::printf("model %s\n  parameters %lld, file %.2f MB, bands %d, window %d frames × %d bins, embedding %d\n",
                    model.c_str(), (long long)sep->num_parameters(), st.st_size / 1e6, c.num_bands, c.window_frames(),
                    c.num_bins(), c.embedding_size);
        std::mt19937 rng(1);
        std::exponential_distribution<float> mag(0.5f);
        std::vector<std::vector<float>> mix(batch, std::vector<float>(std::size_t(c.window_frames()) * c.num_bins()));
        for (auto& m : mix)
            for (auto& v : m) v = mag(rng);
        loopsep::Audio loop(2, c.segment_samples());
        for (auto& ch : loop.channels)
            for (auto& v : ch) v = std::uniform_real_distribution<float>(-0.3f, 0.3f)(rng);
        auto t0 = Clock::now();
        auto emb = sep->embed_query(loop);
        const double embed_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        // Wall and CPU ms per window of `queries` copies of the query in one call (after a warm-up call), as the
        // engine runs it: band masks (their expansion to bins happens later, on the song's own STFT frames).
        auto time_per_window = [&](std::size_t queries, double* cpu_ms) {
            const std::vector<std::vector<float>> q(queries, emb);
            sep->predict_band_masks_for_queries(mix, q);
            const auto start = Clock::now();
            const double cpu_start = cpu_seconds();
            for (int i = 0; i < iters; ++i) sep->predict_band_masks_for_queries(mix, q);
            *cpu_ms = 1000.0 * (cpu_seconds() - cpu_start) / (iters * batch);
            return std::chrono::duration<double, std::milli>(Clock::now() - start).count() / (iters * batch);
        };
        double cpu_ms = 0, cpu_ms4 = 0;
        const double ms = time_per_window(1, &cpu_ms);
        std::printf("  threads %d, batch %d: %.2f ms wall per four-beat segment (band mask prediction; %.2f ms CPU), "
                    "query embedding %.1f ms\n", threads, batch, ms, cpu_ms, embed_ms);
        // Four targets in one call (separate --targets a,b,c,d): what each extra target costs. With
        // shared_levels > 0 the query-independent encoder runs once per window for all of them.
        const double ms4 = time_per_window(4, &cpu_ms4);
        std::printf("  four queries: %.2f ms wall per segment (%.2f ms CPU) = %.2fx one; each extra target %.2f ms wall "
                    "(shared levels %d)\n", ms4, cpu_ms4, ms4 / ms, (ms4 - ms) / 3.0, c.shared_levels);
        std::printf("  trained %ld steps on: %s\n", c.training_steps, c.training_data.c_str());
        if (!val_cache.empty()) {
#ifdef LOOPSEP_HAVE_TRAIN
            const auto val = loopsep::read_segment_cache(val_cache);
            std::printf("validation on %s (%zu songs, %zu windows), up to %d windows per instrument, seed %lu:\n",
                        val_cache.c_str(), val.songs.size(), val.segments.size(), val_examples, seed);
            std::fflush(stdout);
            const auto r = loopsep::evaluate_model(model, val, val_examples, seed, threads);
            loopsep::print_report(r, std::cout);
            if (by_source) loopsep::print_sources(r, std::cout);
#else
            std::fprintf(stderr, "bench_model: built without loopsep_train; --val-cache ignored\n");
#endif
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_model: %s\n", e.what());
        return 1;
    }
    return 0;
}
