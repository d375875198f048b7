#include "base/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VKAI_PAUSE() _mm_pause()
#else
#define VKAI_PAUSE() ((void)0)
#endif

// How a round works (the caller's run_round and the workers' work()):
//
//   claim_ = generation (22 bits) | n (21 bits) | next (21 bits)
//
// The caller writes fn_/first_, zeroes done_, then stores claim_ = (g, n, 0) (seq_cst, hence
// release). Everyone, the caller included, claims with claim_.fetch_add(1) (acq_rel): a result with
// next < n is task `next` of round g, and that thread now owns it; next >= n means the round has no
// task left. A fetch_add always lands in the newest round, so a worker that wakes late can only claim
// a task of the round in progress, never one of a finished round; overshooting next is harmless
// (each thread overshoots at most once per round, so next stays below 2^21 for n <= 2^20).
//
// Memory ordering: the claiming fetch_add reads the caller's store or a later RMW of the same word,
// all acq_rel, so fn_/first_ (plain fields written before the store) are visible to the claimer.
// They stay valid until every claimed task has incremented done_, which the caller waits for; so a
// thread that read them after a successful claim never races with the next round's writes. done_
// increments are release (seq_cst) after the task's writes; the caller reads done_ with acquire, so
// the tasks' results are visible when run() returns. The caller zeroes done_ before it publishes the
// round, and a worker can only increment it after claiming from that round, so no increment of an
// old round lands in a new one.
//
// Sleeping (no lost wake-ups): a worker that found nothing new reads wake_ (k), increments
// sleepers_, re-reads claim_, and only then futex-waits on wake_ == k. The caller stores claim_ and
// then reads sleepers_; when non-zero it increments wake_ and notifies. All four accesses are
// seq_cst: either the worker's re-read sees the new round, or the caller sees the sleeper and its
// wake_ increment (after the worker's read of k, or else visible to the re-read) ends the wait.
// The caller's own wait on done_ uses the same pattern with caller_sleeping_.

namespace vkai {
namespace {

constexpr int kIdxBits = 21;
constexpr uint64_t kIdxMask = (uint64_t(1) << kIdxBits) - 1;
constexpr uint32_t kGenMask = (uint32_t(1) << (64 - 2 * kIdxBits)) - 1;
constexpr int64_t kMaxRound = int64_t(1) << (kIdxBits - 1); // tasks per round
constexpr int kWorkerSpin = 20000; // pauses before an idle worker sleeps (kernels arrive within us)
constexpr int kCallerSpin = 4000;  // pauses before the caller sleeps on a claimed, unfinished task

inline uint32_t gen_of(uint64_t c) { return uint32_t(c >> (2 * kIdxBits)); }
inline int64_t n_of(uint64_t c) { return int64_t((c >> kIdxBits) & kIdxMask); }
inline int64_t next_of(uint64_t c) { return int64_t(c & kIdxMask); }
inline uint64_t pack(uint32_t gen, int64_t n) { return (uint64_t(gen) << (2 * kIdxBits)) | (uint64_t(n) << kIdxBits); }

// The pool whose task this thread is running and its thread value (nested run() goes inline).
thread_local const ThreadPool* tl_pool = nullptr;
thread_local int tl_thread = 0;

} // namespace

int ThreadPool::default_threads() {
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads <= 0 ? default_threads() : n_threads) {
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
    stop_.store(true);
    // A new, empty round wakes spinning workers; the wake_ bump wakes sleeping ones.
    generation_ = (generation_ + 1) & kGenMask;
    claim_.store(pack(generation_, 0));
    wake_.fetch_add(1);
    wake_.notify_all();
    for (auto& t : workers_) t.join();
}

uint32_t ThreadPool::work(int thread) {
    const ThreadPool* prev_pool = tl_pool;
    const int prev_thread = tl_thread;
    tl_pool = this;
    tl_thread = thread;
    uint32_t gen;
    for (;;) {
        const uint64_t c = claim_.fetch_add(1, std::memory_order_acq_rel);
        const int64_t n = n_of(c), t = next_of(c);
        gen = gen_of(c);
        if (t >= n) break;
        (*fn_)(first_ + t, thread);
        // fn_ and first_ may change once this increment completes the round: read nothing after it.
        if (done_.fetch_add(1) + 1 == n && caller_sleeping_.load() != 0) done_.notify_one();
    }
    tl_pool = prev_pool;
    tl_thread = prev_thread;
    return gen;
}

void ThreadPool::worker(int index) {
    uint32_t seen = 0; // the round this worker last found empty
    for (;;) {
        uint64_t c = claim_.load(std::memory_order_acquire);
        for (int spin = 0; gen_of(c) == seen && spin < kWorkerSpin; ++spin) {
            VKAI_PAUSE();
            c = claim_.load(std::memory_order_acquire);
        }
        if (stop_.load()) return;
        if (gen_of(c) == seen) {
            const uint32_t k = wake_.load();
            sleepers_.fetch_add(1);
            if (gen_of(claim_.load()) == seen && !stop_.load()) wake_.wait(k);
            sleepers_.fetch_sub(1);
            continue;
        }
        // The destructor's empty round may be the one this claim lands in: stop_ is checked above
        // on every pass, so a worker never waits for a round after that one.
        seen = work(index);
    }
}

void ThreadPool::run_round(int64_t first, int64_t n, FunctionRef<void(int64_t, int)>& fn) {
    fn_ = &fn;
    first_ = first;
    done_.store(0, std::memory_order_relaxed);
    generation_ = (generation_ + 1) & kGenMask;
    claim_.store(pack(generation_, n));
    if (sleepers_.load() != 0) {
        wake_.fetch_add(1);
        wake_.notify_all();
    }
    // The caller claims like a worker; then waits only for tasks other threads claimed.
    int32_t mine = 0;
    {
        const ThreadPool* prev_pool = tl_pool;
        const int prev_thread = tl_thread;
        tl_pool = this;
        tl_thread = 0;
        for (;;) {
            const uint64_t c = claim_.fetch_add(1, std::memory_order_acq_rel);
            const int64_t t = next_of(c);
            if (t >= n) break;
            fn(first + t, 0);
            ++mine;
        }
        tl_pool = prev_pool;
        tl_thread = prev_thread;
    }
    int32_t d = mine ? done_.fetch_add(mine) + mine : done_.load(std::memory_order_acquire);
    for (int spin = 0; d != int32_t(n); ++spin) {
        if (spin < kCallerSpin) {
            VKAI_PAUSE();
        } else {
            caller_sleeping_.store(1);
            d = done_.load();
            if (d != int32_t(n)) done_.wait(d);
            caller_sleeping_.store(0, std::memory_order_relaxed);
        }
        d = done_.load(std::memory_order_acquire);
    }
    fn_ = nullptr;
}

void ThreadPool::run(int64_t n_tasks, FunctionRef<void(int64_t task, int thread)> fn) {
    if (n_tasks <= 0) return;
    if (tl_pool == this) {
        // Nested inside one of this pool's tasks: the pool is busy with the outer round.
        for (int64_t t = 0; t < n_tasks; ++t) fn(t, tl_thread);
        return;
    }
    if (n_threads_ == 1 || n_tasks == 1) {
        for (int64_t t = 0; t < n_tasks; ++t) fn(t, 0);
        return;
    }
    for (int64_t first = 0; first < n_tasks; first += kMaxRound) run_round(first, std::min(kMaxRound, n_tasks - first), fn);
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
