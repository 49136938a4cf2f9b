// Benchmark of the separation network: parameters, file size, forward time per
// four-beat segment (batched), query embedding time.
//   loopsep_bench_model [--model FILE] [--threads 2] [--batch 8] [--iters 5]
// Without --model, an untrained model with the default config is written to /tmp and timed.
// With --val-cache FILE (from `loopsep train --val DIR --val-cache FILE --prepare-only`): validation
// SDR per instrument vs the ideal ratio mask and the mixture, wrong-query SDR, leakage.
//   [--val-examples 24] [--seed 12345] [--by-source: also SDR per instrument / target sound source]
// --probe-noise: the shipped-model test's analytic mixture (an 82 Hz tone + sixteenth-note white-noise
// bursts) with a tone query and with noise queries of 4 levels × 5 rhythms (gated on and off in 32nd
// notes, sixteenths, eighths and quarters at the reference 120 BPM, or continuous): the mean mask a query keeps
// where only its own sound is (43–150 Hz for the tone, 8.6–19 kHz for the noise). A noise-like query
// should keep the noise band open; a model that closes it answers unseen noisy loops with silence.
#include <sys/stat.h>

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <complex>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "loopsep/model.h"
#include "loopsep/stft.h"
#ifdef LOOPSEP_HAVE_TRAIN
#include <iostream>

#include "loopsep/train.h"
#endif

using Clock = std::chrono::steady_clock;

// Mean mask over all frames and bins [k0, k1) (time-major, `bins` per frame).
static double mean_mask(const std::vector<float>& m, int bins, int k0, int k1) {
    double s = 0;
    const std::size_t frames = m.size() / std::size_t(bins);
    for (std::size_t t = 0; t < frames; ++t)
        for (int k = k0; k < k1; ++k) s += m[t * bins + k];
    return s / (double(frames) * (k1 - k0));
}

// See --probe-noise above. Same signals as tests/models/model_test.cpp (ShippedModel).
static void probe_noise(const loopsep::Separator& sep) {
    const auto& c = sep.config();
    const std::size_t n = c.num_window_samples();
    loopsep::Audio tone(1, n), mix(1, n);
    std::mt19937 rng(3);
    std::normal_distribution<float> g(0.0f, 0.1f);
    for (std::size_t i = 0; i < n; ++i) {
        tone.channels[0][i] = 0.4f * float(std::sin(2 * M_PI * 82.4 * double(i) / c.sample_rate_hz));
        mix.channels[0][i] = tone.channels[0][i] + (((i / 2756) % 2 == 0) ? g(rng) : 0.0f);
    }
    loopsep::Stft stft({c.n_fft, c.hop});
    const auto spec = stft.forward(mix.channel(0), n);
    std::vector<float> mag(spec.data.size());
    for (std::size_t k = 0; k < mag.size(); ++k) mag[k] = std::abs(spec.data[k]);
    const int bins = c.num_bins();
    const auto m_tone = sep.predict_masks({mag}, sep.embed_query(tone))[0];
    std::printf("noise probe (mean mask; tone band = bins 2-7, noise band = bins 400-899):\n"
                "  tone query: tone band %.3f, noise band %.3f\n", mean_mask(m_tone, bins, 2, 8),
                mean_mask(m_tone, bins, 400, 900));
    std::printf("  noise query, noise band       32nds  sixteenths    eighths   quarters  continuous\n");
    for (float rms : {0.01f, 0.03f, 0.1f, 0.3f}) {
        std::printf("  rms %.2f              ", rms);
        // Half a gating cycle in samples: on for `period`, off for `period` (a sixteenth is 5512 at 120 BPM).
        for (std::size_t period : {std::size_t(1378), std::size_t(2756), std::size_t(5512), std::size_t(11025), n}) {
            loopsep::Audio q(1, n);
            std::mt19937 r2(5);
            std::normal_distribution<float> g2(0.0f, rms);
            for (std::size_t i = 0; i < n; ++i) q.channels[0][i] = ((i / period) % 2 == 0) ? g2(r2) : 0.0f;
            std::printf("  %9.3f", mean_mask(sep.predict_masks({mag}, sep.embed_query(q))[0], bins, 400, 900));
        }
        std::printf("\n");
    }
}

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
    bool by_source = false, probe = false;
    unsigned long seed = 12345;
    for (int i = 1; i < argc; ++i) by_source = by_source || !std::strcmp(argv[i], "--by-source");
    for (int i = 1; i < argc; ++i) probe = probe || !std::strcmp(argv[i], "--probe-noise");
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--by-source") || !std::strcmp(argv[i], "--probe-noise")) { --i; continue; }  // flags, read above
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
        // engine runs it: band masks (their expansion to bins happens later, on the song's own STFT frames),
        // and a model's per-bin delta logits, which the engine asks for too.
        std::vector<std::vector<std::vector<float>>> logits;
        auto time_per_window = [&](std::size_t queries, double* cpu_ms) {
            const std::vector<std::vector<float>> q(queries, emb);
            sep->predict_band_masks_for_queries(mix, q, nullptr, &logits);
            const auto start = Clock::now();
            const double cpu_start = cpu_seconds();
            for (int i = 0; i < iters; ++i) sep->predict_band_masks_for_queries(mix, q, nullptr, &logits);
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
        if (c.band_split_channels > 0) std::printf("  band-split input: %d values per band\n", c.band_split_channels);
        if (sep->has_bin_logits()) {  // the engine's part: whole bin masks, the logits added (per target, one thread)
            const auto bands = sep->predict_band_masks_for_queries(mix, {emb}, nullptr, &logits)[0];
            auto apply_all = [&] {
                for (std::size_t i = 0; i < mix.size(); ++i) {
                    auto m = sep->band_to_bin().expand_rows(bands[i]);
                    loopsep::apply_bin_logits(m.data(), logits[0][i].data(), m.size());
                }
            };
            apply_all();
            const auto start = Clock::now();
            const double cpu_start = cpu_seconds();
            for (int i = 0; i < iters; ++i) apply_all();
            std::printf("  bin logits on the bins (expansion + logit sum): %.2f ms wall, %.2f ms CPU per segment (per target)\n",
                        std::chrono::duration<double, std::milli>(Clock::now() - start).count() / (iters * batch),
                        1000.0 * (cpu_seconds() - cpu_start) / (iters * batch));
        }
        if (sep->refines_bins()) {  // the engine's bin refinement, per window on the window's own frames
            const auto bands = sep->predict_band_masks_for_queries(mix, {emb})[0];
            auto refine_all = [&] {
                for (std::size_t i = 0; i < mix.size(); ++i) {
                    std::vector<std::vector<float>> m{sep->band_to_bin().expand_rows(bands[i])};
                    sep->refine_bin_masks(mix[i], m, {emb});
                }
            };
            refine_all();
            const auto start = Clock::now();
            const double cpu_start = cpu_seconds();
            for (int i = 0; i < iters; ++i) refine_all();
            std::printf("  bin refinement (%d regions): %.2f ms wall, %.2f ms CPU per segment (one thread, per target)\n",
                        c.fine_regions, std::chrono::duration<double, std::milli>(Clock::now() - start).count() / (iters * batch),
                        1000.0 * (cpu_seconds() - cpu_start) / (iters * batch));
        }
        std::printf("  trained %ld steps on: %s\n", c.training_steps, c.training_data.c_str());
        if (probe) probe_noise(*sep);
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
