// A fixed pool of worker threads for data-parallel kernels. The calling thread takes part,
// so ThreadPool(1) runs everything inline. Workers spin briefly, then sleep on an atomic,
// because per-token matvecs are short (tens of microseconds) and a futex wake per call is too slow.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace vkai {

// A non-owning reference to a callable: no allocation per parallel call.
template <class Sig>
class FunctionRef;
template <class R, class... A>
class FunctionRef<R(A...)> {
public:
    template <class F>
    FunctionRef(F&& f) : obj_((void*)&f), call_([](void* o, A... a) -> R { return (*(std::remove_reference_t<F>*)o)(a...); }) {}
    R operator()(A... a) const { return call_(obj_, a...); }

private:
    void* obj_;
    R (*call_)(void*, A...);
};

class ThreadPool {
public:
    explicit ThreadPool(int n_threads); // total threads including the caller; <= 0 means all cores
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }

    // Calls fn(task, thread) for every task in [0, n_tasks); returns when all have run.
    // thread is in [0, size()), so callers can keep per-thread scratch.
    void run(int64_t n_tasks, FunctionRef<void(int64_t task, int thread)> fn);

    // Splits [0, n) into contiguous chunks of at least `grain` and calls fn(begin, end, thread).
    void parallel_for(int64_t n, int64_t grain, FunctionRef<void(int64_t begin, int64_t end, int thread)> fn);

    static int default_threads(); // physical-ish core count: hardware_concurrency, at least 1

private:
    void worker(int index);
    void work(int thread);

    int n_threads_;
    std::vector<std::thread> workers_;
    std::atomic<uint32_t> generation_{0};
    std::atomic<int64_t> next_task_{0};
    std::atomic<int> active_{0};
    std::atomic<bool> stop_{false};
    int64_t n_tasks_ = 0;
    FunctionRef<void(int64_t, int)>* fn_ = nullptr;
};

} // namespace vkai
