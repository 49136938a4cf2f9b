// loopsep — a minimal fork-join loop on persistent threads, for work that must not go
// through LibTorch's or OpenMP's pools (the engine's per-segment stretching and
// reconstruction, the model's per-chunk inference).
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace loopsep {

namespace detail {

// Threads that live as long as the process. Why not a thread per call: glibc gives each thread a
// malloc arena, and a thread started for one batch takes whichever arena is free. After an unrelated
// thread had used one (a song decoded in the background), the model's per-batch threads kept
// unmapping and page-faulting their heaps back in: the model stage of a 3-minute song ran 3× slower
// (0.46 → 1.4 s). Persistent workers keep their arenas, and the memory in them, warm.
class WorkerPool {
public:
    static WorkerPool& instance() {
        static WorkerPool pool;
        return pool;
    }
    // Runs job(w) for w in [1, workers) on pool threads and job(0) on the caller; returns when all
    // are done. Returns false without running anything when called from a pool thread or while another
    // thread is using the pool (the caller then uses threads of its own). `job` must not throw.
    bool try_run(std::size_t workers, const std::function<void(std::size_t)>& job) {
        if (in_pool_thread()) return false;
        std::unique_lock<std::mutex> busy(run_mutex_, std::try_to_lock);
        if (!busy) return false;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            while (threads_.size() + 1 < workers) {
                const std::size_t id = threads_.size() + 1;
                threads_.emplace_back([this, id] { serve(id); });
            }
            job_ = &job;
            workers_ = workers;
            pending_ = workers - 1;
            ++generation_;
        }
        wake_.notify_all();
        job(0);
        std::unique_lock<std::mutex> lock(mutex_);
        done_.wait(lock, [&] { return pending_ == 0; });
        job_ = nullptr;
        return true;
    }

    ~WorkerPool() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        for (auto& t : threads_) t.join();
    }

private:
    WorkerPool() = default;
    static bool& in_pool_thread() {
        thread_local bool in_pool = false;
        return in_pool;
    }
    void serve(std::size_t id) {
        in_pool_thread() = true;
        std::uint64_t seen = 0;
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
            if (stop_) return;
            seen = generation_;
            if (id >= workers_) continue;  // not needed this time
            const auto* job = job_;
            lock.unlock();
            (*job)(id);
            lock.lock();
            if (--pending_ == 0) done_.notify_one();
        }
    }

    std::mutex run_mutex_;  // one caller at a time
    std::mutex mutex_;      // everything below
    std::condition_variable wake_, done_;
    std::vector<std::thread> threads_;
    const std::function<void(std::size_t)>* job_ = nullptr;
    std::size_t workers_ = 0, pending_ = 0;
    std::uint64_t generation_ = 0;
    bool stop_ = false;
};

}  // namespace detail

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
    const std::function<void(std::size_t)> work = [&](std::size_t w) {
        try {
            for (std::size_t i = w; i < n; i += workers) f(i, w);
        } catch (...) {
            errors[w] = std::current_exception();
        }
    };
    if (!detail::WorkerPool::instance().try_run(workers, work)) {
        // Nested in a pool thread, or the pool is busy with another caller: threads of our own.
        std::vector<std::thread> own;
        for (std::size_t w = 1; w < workers; ++w) own.emplace_back(work, w);
        work(0);
        for (auto& t : own) t.join();
    }
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

}  // namespace loopsep
