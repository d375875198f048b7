// base/: Status, fp16/bf16 conversion, size parsing, thread pool.
#include "base/fp16.h"
#include "base/status.h"
#include "base/text.h"
#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
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
