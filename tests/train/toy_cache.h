// The toy training data the trainer suites share: songs of a steady tone ("sine") and bursts of
// noise ("noise"), encoded as a SegmentCache in any window geometry; and the toy net and run they train.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "loopsep/train.h"

namespace loopsep::testing {

// Toy songs of `bars` bars: instrument "sine" (a steady tone, pitch varies by song) and instrument
// "noise" (bursts of white noise, `burst_samples(song)` on then off), each bar holding both — as a
// loop-based song would, the same rhythm in every bar of a song.
inline SegmentCache toy_song_cache(const ModelConfig& c, int songs, int bars, unsigned seed,
                                   const std::function<std::uint32_t(int)>& burst_samples, const std::string& description) {
    SegmentCache cache;
    cache.window_samples = std::uint32_t(c.num_window_samples());
    cache.instruments = {"sine", "noise"};
    cache.sources = {"sine-src", "noise-src"};
    cache.description = description;
    std::mt19937 rng(seed);
    std::normal_distribution<float> n(0.0f, 0.2f);
    const std::uint32_t L = cache.window_samples;
    for (int s = 0; s < songs; ++s) {
        cache.songs.push_back("song" + std::to_string(s));
        const double f = 300.0 + 150.0 * s;
        const std::uint32_t burst = burst_samples(s);
        for (int b = 0; b < bars; ++b) {
            std::vector<float> sine(L), noise(L, 0.0f);
            for (std::uint32_t i = 0; i < L; ++i) sine[i] = 0.3f * float(std::sin(2 * M_PI * f * i / 44100.0));
            for (std::uint32_t i = 0; i < L; ++i)
                if ((i / burst) % 2 == 0) noise[i] = n(rng);
            for (int k = 0; k < 2; ++k) {
                auto seg = encode_segment(k == 0 ? sine.data() : noise.data(), L);
                seg.instrument = std::uint16_t(k); seg.source = std::uint32_t(k);
                seg.song = std::uint32_t(s); seg.bar = std::uint32_t(b); seg.active = true;
                cache.segments.push_back(seg);
            }
        }
    }
    return cache;
}

// One bar per song, bursts of 2000 samples.
inline SegmentCache toy_cache(const ModelConfig& c, int songs, unsigned seed) {
    return toy_song_cache(c, songs, 1, seed, [](int) { return 2000u; }, "toy");
}

// Small windows: 32 frames (28 + 2·2 context) → 15872 samples; a tiny net.
inline ModelConfig toy_config() {
    ModelConfig c;
    c.segment_frames = 28;
    c.context_frames = 2;
    c.num_bands = 32;
    c.unet_channels = {8, 8, 16};
    c.query_channels = {8, 8};
    c.embedding_size = 16;
    return c;
}

// The toy training run both trainer tests start from: 60 steps of the toy net, writing `out`.
inline TrainParams toy_train_params(const std::string& out) {
    TrainParams p;
    p.config = toy_config();
    p.out = out;
    p.steps = 60;
    p.batch = 8;
    p.lr = 3e-3;
    p.val_every = 1000;
    p.val_examples = 4;
    p.threads = 1;  // OpenMP spin-waits badly on a loaded 2-core machine
    return p;
}

// `p` continued from the model it wrote, into `out`.
inline TrainParams resumed_from(const TrainParams& p, const std::string& out) {
    TrainParams q = p;
    q.resume = p.out;
    q.out = out;
    return q;
}

}  // namespace loopsep::testing
