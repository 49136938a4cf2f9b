// parallel_for on its persistent worker pool: every index once, per-worker scratch, errors
// rethrown, and the cases a pool can get wrong (nested calls, two callers at once).
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "loopsep/parallel.h"

using loopsep::parallel_for;

TEST(ParallelFor, RunsEveryIndexOnceOnEachWorkersOwnSlot) {
    for (int threads : {1, 2, 3, 8}) {
        for (std::size_t n : {0u, 1u, 5u, 1000u}) {
            std::vector<int> hits(n, 0);
            std::vector<std::size_t> per_worker(std::size_t(threads), 0);
            parallel_for(n, threads, [&](std::size_t i, std::size_t worker) {
                ++hits[i];                 // each index belongs to exactly one worker
                ++per_worker[worker];      // so does each worker's slot
            });
            for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i], 1) << "n " << n << " threads " << threads;
            std::size_t total = 0;
            for (auto c : per_worker) total += c;
            EXPECT_EQ(total, n);
        }
    }
}

TEST(ParallelFor, RethrowsAWorkersExceptionAfterAllFinish) {
    std::atomic<int> done{0};
    EXPECT_THROW(parallel_for(100, 2,
                              [&](std::size_t i, std::size_t) {
                                  if (i == 37) throw std::runtime_error("index 37");
                                  ++done;
                              }),
                 std::runtime_error);
    // The worker that threw stops; the other (even indices) finishes all of its 50 first.
    EXPECT_GE(done.load(), 50);
    EXPECT_LT(done.load(), 100);
    // The pool is usable afterwards.
    std::atomic<int> again{0};
    parallel_for(10, 2, [&](std::size_t, std::size_t) { ++again; });
    EXPECT_EQ(again.load(), 10);
}

TEST(ParallelFor, NestedCallsAndTwoCallersAtOnceNeitherDeadlockNorLoseWork) {
    std::atomic<long> sum{0};
    parallel_for(4, 2, [&](std::size_t, std::size_t) {
        parallel_for(50, 2, [&](std::size_t j, std::size_t) { sum += long(j); });  // from a pool thread
    });
    EXPECT_EQ(sum.load(), 4 * (49 * 50 / 2));

    std::atomic<long> a{0}, b{0};
    std::thread other([&] {
        for (int r = 0; r < 200; ++r) parallel_for(20, 2, [&](std::size_t j, std::size_t) { a += long(j); });
    });
    for (int r = 0; r < 200; ++r) parallel_for(20, 2, [&](std::size_t j, std::size_t) { b += long(j); });
    other.join();
    EXPECT_EQ(a.load(), 200L * 190);
    EXPECT_EQ(b.load(), 200L * 190);
}
