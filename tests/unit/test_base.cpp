// base/: Status, fp16/bf16 conversion, size parsing, thread pool.
#include "base/fp16.h"
#include "base/status.h"
#include "base/text.h"
#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <cmath>
#include <vector>

using namespace vkai;

TEST(Status, FailFormatsMessage) {
    Status s = fail(Code::corrupt, "tensor '%s' offset %d", "a", 7);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.code(), Code::corrupt);
    EXPECT_EQ(s.message(), "tensor 'a' offset 7");
    s.with_context("x.gguf");
    EXPECT_EQ(s.message(), "x.gguf: tensor 'a' offset 7");
}

static Result<int> half_of(int x) {
    if (x % 2) return fail(Code::invalid_argument, "%d is odd", x);
    return x / 2;
}
static Status use(int x, int* out) {
    VKAI_ASSIGN_OR_RETURN(int h, half_of(x));
    *out = h;
    return {};
}

TEST(Status, AssignOrReturn) {
    int v = 0;
    EXPECT_TRUE(use(8, &v).ok());
    EXPECT_EQ(v, 4);
    Status s = use(3, &v);
    EXPECT_EQ(s.code(), Code::invalid_argument);
    EXPECT_EQ(s.message(), "3 is odd");
}

TEST(Fp16, RoundTripsEveryHalf) {
    for (uint32_t h = 0; h < 65536; ++h) {
        float f = fp16_to_f32(uint16_t(h));
        if (std::isnan(f)) continue;
        EXPECT_EQ(f32_to_fp16(f), h) << h;
    }
}

TEST(Fp16, RoundsToNearestEven) {
    EXPECT_EQ(f32_to_fp16(1.0f), 0x3c00);
    EXPECT_EQ(f32_to_fp16(65504.0f), 0x7bff);
    EXPECT_EQ(f32_to_fp16(65520.0f), 0x7c00);   // halfway above max: inf
    EXPECT_EQ(f32_to_fp16(65519.0f), 0x7bff);
    EXPECT_EQ(f32_to_fp16(1.0f + 1.0f / 2048), 0x3c00); // tie: even
    EXPECT_EQ(f32_to_fp16(1.0f + 3.0f / 2048), 0x3c02); // tie: even (up)
    EXPECT_EQ(f32_to_fp16(5.96046448e-8f), 0x0001);     // smallest subnormal
    EXPECT_EQ(f32_to_fp16(2.98023224e-8f), 0x0000);     // half of it: tie to even zero
    EXPECT_EQ(f32_to_fp16(-0.0f), 0x8000);
}

TEST(Bf16, RoundsToNearestEven) {
    EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
    EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
    EXPECT_EQ(f32_to_bf16(bits_f32(0x3f808000)), 0x3f80); // tie to even
    EXPECT_EQ(f32_to_bf16(bits_f32(0x3f818000)), 0x3f82);
}

TEST(Text, ParseBytes) {
    EXPECT_EQ(*parse_bytes("8G"), 8ull << 30);
    EXPECT_EQ(*parse_bytes("512M"), 512ull << 20);
    EXPECT_EQ(*parse_bytes("123"), 123u);
    EXPECT_FALSE(parse_bytes("").ok());
    EXPECT_FALSE(parse_bytes("G8").ok());
    EXPECT_FALSE(parse_bytes("8X").ok());
    EXPECT_FALSE(parse_bytes("99999999999999999999").ok());
    EXPECT_FALSE(parse_bytes("99999999999T").ok());
}

TEST(ThreadPool, RunsEveryTaskOnce) {
    for (int threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        for (int round = 0; round < 200; ++round) {
            int n = round % 37 + 1;
            std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
            pool.run(n, [&](int64_t t, int th) {
                EXPECT_LT(th, threads);
                hits[size_t(t)]++;
            });
            for (auto& h : hits) EXPECT_EQ(h.load(), 1);
        }
    }
}

TEST(ThreadPool, ParallelForCoversRange) {
    ThreadPool pool(2);
    std::vector<int> v(1001, 0);
    pool.parallel_for(1001, 7, [&](int64_t b, int64_t e, int) {
        for (int64_t i = b; i < e; ++i) v[size_t(i)]++;
    });
    for (int x : v) EXPECT_EQ(x, 1);
}

// Many short rounds back to back: the pattern of per-token kernels. Every task runs exactly once,
// thread values stay in range and no two tasks of one round share a thread value at the same time.
TEST(ThreadPool, StressManyShortRuns) {
    // More threads than cores (7) only briefly: a preempted worker that holds a claimed task costs
    // the caller a scheduler time slice.
    for (int threads : {1, 2, 4, 7}) {
        ThreadPool pool(threads);
        std::vector<std::atomic<int>> busy(static_cast<size_t>(threads));
        std::atomic<int64_t> sum{0};
        int64_t want = 0;
        const int rounds = threads <= 2 ? 20000 : 2000;
        for (int round = 0; round < rounds; ++round) {
            const int n = 1 + (round * 7919) % 13; // odd and even counts, 1..13
            pool.run(n, [&](int64_t t, int th) {
                ASSERT_GE(th, 0);
                ASSERT_LT(th, threads);
                EXPECT_EQ(busy[size_t(th)].fetch_add(1), 0) << "two tasks on thread " << th;
                sum.fetch_add(t + 1, std::memory_order_relaxed);
                busy[size_t(th)].fetch_sub(1);
            });
            want += int64_t(n) * (n + 1) / 2;
            // run() returned: every task's effect is visible without further synchronization.
            ASSERT_EQ(sum.load(std::memory_order_relaxed), want) << "round " << round;
        }
    }
}

// Results written by tasks with plain stores are visible to the caller after run() returns.
TEST(ThreadPool, WritesVisibleAfterRun) {
    ThreadPool pool(4);
    std::vector<int64_t> v(997);
    for (int round = 0; round < 2000; ++round) {
        pool.parallel_for(int64_t(v.size()), 1, [&](int64_t b, int64_t e, int) {
            for (int64_t i = b; i < e; ++i) v[size_t(i)] = i * round;
        });
        int64_t bad = 0;
        for (size_t i = 0; i < v.size(); ++i) bad += v[i] != int64_t(i) * round;
        ASSERT_EQ(bad, 0) << "round " << round;
    }
}

// A run() from inside a task of the same pool runs inline on that task's thread.
TEST(ThreadPool, NestedRunsInline) {
    for (int threads : {1, 3}) {
        ThreadPool pool(threads);
        std::vector<std::atomic<int>> hits(35 * 11);
        for (int round = 0; round < 50; ++round) {
            for (auto& h : hits) h.store(0);
            pool.run(35, [&](int64_t outer, int th) {
                pool.run(11, [&](int64_t inner, int th2) {
                    EXPECT_EQ(th2, th);
                    hits[size_t(outer * 11 + inner)]++;
                });
            });
            for (auto& h : hits) ASSERT_EQ(h.load(), 1);
        }
    }
}

// Idle workers go to sleep; a run after a pause must wake them or do the work itself, never hang.
TEST(ThreadPool, RunsAfterWorkersSleep) {
    ThreadPool pool(3);
    for (int round = 0; round < 4; ++round) {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        std::atomic<int> n{0};
        pool.run(64, [&](int64_t, int) { n++; });
        EXPECT_EQ(n.load(), 64);
    }
}

// A worker blocked inside a task holds only the task it claimed: the caller takes all the others.
TEST(ThreadPool, CallerTakesTasksWhileWorkerBlocked) {
    ThreadPool pool(2);
    std::atomic<int> ran{0};
    // Thread 1 may claim at most one task, and it blocks until the caller has done 99 of 100.
    pool.run(100, [&](int64_t, int th) {
        if (th == 1) {
            while (ran.load() < 99) std::this_thread::yield();
        }
        ran++;
    });
    EXPECT_EQ(ran.load(), 100);
}

// More tasks than one round holds (2^20): the pool splits them and still runs each once.
TEST(ThreadPool, HugeTaskCount) {
    ThreadPool pool(3);
    const int64_t n = (int64_t(1) << 20) * 2 + 17;
    std::vector<uint8_t> hit(size_t(n), 0);
    pool.run(n, [&](int64_t t, int) { hit[size_t(t)]++; });
    int64_t ones = 0;
    for (uint8_t h : hit) ones += h == 1;
    EXPECT_EQ(ones, n);
}

// Pools are created and destroyed while workers may be spinning or asleep.
TEST(ThreadPool, CreateDestroy) {
    for (int i = 0; i < 200; ++i) {
        ThreadPool pool(1 + i % 4);
        if (i % 3) pool.run(5, [](int64_t, int) {});
        if (i % 5 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
}
