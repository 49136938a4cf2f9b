// A small untrained model for suites that need the pipeline's plumbing, not
// what the network learned (engine, separate CLI, harvest). Fast to run.
#pragma once

#include <cstdint>
#include <string>

#include "loopsep/model.h"

namespace loopsep::testing {

inline ModelConfig small_test_config() {
    ModelConfig cfg;
    cfg.num_bands = 32;
    cfg.unet_channels = {8, 8, 16};
    cfg.query_channels = {8, 16};
    cfg.embedding_size = 16;
    return cfg;
}

inline void write_small_test_model(const std::string& path, std::uint64_t seed) {
    write_untrained_model(path, small_test_config(), seed);
}

}  // namespace loopsep::testing
