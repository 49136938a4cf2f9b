// loopsep — a minimal fork-join loop over std::threads, for work that must not go
// through LibTorch's or OpenMP's pools (the engine's per-segment stretching and
// reconstruction, the model's per-chunk inference).
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <thread>
#include <vector>

namespace loopsep {

// Runs f(i, worker) for i in [0, n) on up to `threads` workers (the calling thread is
// one of them); `worker` (< threads) lets each worker use its own scratch objects.
// The first exception a worker throws is rethrown here after all have finished.
template <typename F>
void parallel_for(std::size_t n, int threads, F&& f) {
    const std::size_t workers = std::min<std::size_t>(n, std::size_t(std::max(1, threads)));
    if (workers <= 1) {
        for (std::size_t i = 0; i < n; ++i) f(i, std::size_t(0));
        return;
    }
    std::vector<std::exception_ptr> errors(workers);
    auto work = [&](std::size_t w) {
        try {
            for (std::size_t i = w; i < n; i += workers) f(i, w);
        } catch (...) {
            errors[w] = std::current_exception();
        }
    };
    std::vector<std::thread> pool;
    for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(work, w);
    work(0);
    for (auto& t : pool) t.join();
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

}  // namespace loopsep
