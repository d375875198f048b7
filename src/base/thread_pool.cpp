#include "base/thread_pool.h"

#include "base/check.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VKAI_PAUSE() _mm_pause()
#else
#define VKAI_PAUSE() ((void)0)
#endif

namespace vkai {

int ThreadPool::default_threads() {
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads <= 0 ? default_threads() : n_threads) {
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
    stop_.store(true);
    generation_.fetch_add(1);
    generation_.notify_all();
    for (auto& t : workers_) t.join();
}

void ThreadPool::work(int thread) {
    for (;;) {
        int64_t t = next_task_.fetch_add(1, std::memory_order_relaxed);
        if (t >= n_tasks_) break;
        (*fn_)(t, thread);
    }
}

void ThreadPool::worker(int index) {
    uint32_t seen = 0;
    for (;;) {
        // Spin a little before sleeping: back-to-back kernels arrive within microseconds.
        uint32_t g = generation_.load(std::memory_order_acquire);
        for (int spin = 0; g == seen && spin < 20000; ++spin) {
            VKAI_PAUSE();
            g = generation_.load(std::memory_order_acquire);
        }
        if (g == seen) {
            generation_.wait(seen, std::memory_order_acquire);
            continue;
        }
        seen = g;
        if (stop_.load()) return;
        work(index);
        if (active_.fetch_sub(1, std::memory_order_acq_rel) == 1) active_.notify_one();
    }
}

void ThreadPool::run(int64_t n_tasks, FunctionRef<void(int64_t task, int thread)> fn) {
    if (n_tasks <= 0) return;
    if (n_threads_ == 1 || n_tasks == 1) {
        for (int64_t t = 0; t < n_tasks; ++t) fn(t, 0);
        return;
    }
    fn_ = &fn;
    n_tasks_ = n_tasks;
    next_task_.store(0, std::memory_order_relaxed);
    active_.store(n_threads_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    work(0);
    for (int spin = 0; active_.load(std::memory_order_acquire) != 0; ++spin) {
        if (spin < 100000) {
            VKAI_PAUSE();
        } else {
            int a = active_.load(std::memory_order_acquire);
            if (a != 0) active_.wait(a, std::memory_order_acquire);
        }
    }
    fn_ = nullptr;
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, FunctionRef<void(int64_t, int64_t, int)> fn) {
    if (n <= 0) return;
    grain = std::max<int64_t>(grain, 1);
    // A few chunks per thread balances uneven cores without much scheduling overhead.
    int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, int64_t(n_threads_) * 4);
    chunks = std::max<int64_t>(chunks, 1);
    int64_t per = (n + chunks - 1) / chunks;
    run(chunks, [&](int64_t c, int thread) {
        int64_t b = c * per, e = std::min(n, b + per);
        if (b < e) fn(b, e, thread);
    });
}

} // namespace vkai
