// A fixed pool of worker threads for data-parallel kernels. The calling thread takes part,
// so ThreadPool(1) runs everything inline.
//
// Tasks are claimed from one atomic word that packs (generation, task count, next task); the caller
// claims tasks like any worker and then waits only for the tasks that were claimed to finish. A
// worker that is asleep or descheduled when a run starts is never waited for: on an oversubscribed
// machine the caller simply does its share. Workers spin briefly, then sleep on a futex, because
// per-token kernels are short (tens of microseconds) and a wake-up per call would cost more.
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
    // thread is in [0, size()), and no two tasks run at once with the same thread value, so callers
    // can keep per-thread scratch. One outside thread at a time may call run(); a run() from inside
    // a task of this pool executes inline on that task's thread (same thread value).
    void run(int64_t n_tasks, FunctionRef<void(int64_t task, int thread)> fn);

    // Splits [0, n) into contiguous chunks of at least `grain` and calls fn(begin, end, thread).
    void parallel_for(int64_t n, int64_t grain, FunctionRef<void(int64_t begin, int64_t end, int thread)> fn);

    static int default_threads(); // physical-ish core count: hardware_concurrency, at least 1

private:
    void worker(int index);
    void run_round(int64_t first, int64_t n_tasks, FunctionRef<void(int64_t, int)>& fn);
    // Claims and runs tasks of the current round until none is left; returns the generation seen.
    uint32_t work(int thread);

    int n_threads_;
    std::vector<std::thread> workers_;
    // The claim word: generation (22 bits) | task count (21) | next task (21); see thread_pool.cpp.
    alignas(64) std::atomic<uint64_t> claim_{0};
    // Tasks of the current round that have finished (the caller's included).
    alignas(64) std::atomic<int32_t> done_{0};
    std::atomic<int32_t> caller_sleeping_{0};
    // Sleep/wake of idle workers: how many are (about to be) asleep, and the futex they wait on.
    alignas(64) std::atomic<int32_t> sleepers_{0};
    std::atomic<uint32_t> wake_{0};
    std::atomic<bool> stop_{false};
    // The current round, valid for any thread that has claimed one of its tasks (see run_round).
    FunctionRef<void(int64_t, int)>* fn_ = nullptr;
    int64_t first_ = 0;
    uint32_t generation_ = 0; // the caller's counter (only the calling thread touches it)
};

} // namespace vkai
