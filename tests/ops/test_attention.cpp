// cpu::attention against ref::attention: head sizes that are and are not multiples of the vector
// width, GQA groups, f16 and f32 K/V, cell counts around the kernel's cell block (128), masks with
// -inf cells, fully masked rows and blocks, unwritten (NaN) K/V cells that no query sees. Under
// every variant (SIMD / portable, 1 / 2 threads); the SIMD path must give the same bits whatever
// the thread count and whatever other queries share the call (the server's batch independence).
#include "op_harness.h"

#include <limits>

using namespace vkai;
using test::Owned;
using test::Tol;

namespace {

struct Case {
    int64_t hd, n_head, n_head_kv, n_tok, n_cells;
    DType kv;
    int mask; // 0: none, 1: causal (query t sees cells <= n_cells - n_tok + t), 2: random -inf, 3: rows fully masked
};

void fill_mask(Owned& m, const Case& c, uint64_t seed) {
    std::vector<float> r = test::random_floats(c.n_cells * c.n_tok, seed, -1.0f, 1.0f);
    for (int64_t t = 0; t < c.n_tok; ++t) {
        float* row = m.frow(t);
        for (int64_t i = 0; i < c.n_cells; ++i) {
            const float u = r[size_t(t * c.n_cells + i)];
            float v = 0.0f;
            if (c.mask == 1) v = i <= c.n_cells - c.n_tok + t ? 0.0f : -INFINITY;
            if (c.mask == 2) v = u < -0.3f ? -INFINITY : 0.5f * u;
            if (c.mask == 3) v = (t % 3 == 1 || (i >= 128 && i < 256)) ? -INFINITY : 0.0f;
            row[i] = v;
        }
    }
}

// Cells that no query sees get NaN in K and V (an unwritten cache): they must not leak.
void poison_unseen(Owned& k, Owned& v, const Owned& m, const Case& c) {
    for (int64_t i = 0; i < c.n_cells; ++i) {
        bool seen = false;
        for (int64_t t = 0; t < c.n_tok; ++t) seen |= m.frow(t)[i] != -INFINITY;
        if (seen) continue;
        std::vector<float> nan(size_t(c.hd), std::numeric_limits<float>::quiet_NaN());
        for (int64_t h = 0; h < c.n_head_kv; ++h) {
            k.set_row(i * c.n_head_kv + h, nan.data());
            v.set_row(i * c.n_head_kv + h, nan.data());
        }
    }
}

void run_case(const Case& c, uint64_t seed) {
    const std::string what = strf("hd=%lld heads=%lld/%lld tok=%lld cells=%lld %s mask=%d", (long long)c.hd, (long long)c.n_head,
                                  (long long)c.n_head_kv, (long long)c.n_tok, (long long)c.n_cells, dtype_name(c.kv), c.mask);
    SCOPED_TRACE(what);
    Owned q(DType::F32, c.hd, c.n_head, c.n_tok), k(c.kv, c.hd, c.n_head_kv, c.n_cells), v(c.kv, c.hd, c.n_head_kv, c.n_cells);
    Owned m(DType::F32, c.n_cells, c.n_tok), want(DType::F32, c.hd, c.n_head, c.n_tok);
    q.fill(seed, -2.0f, 2.0f);
    k.fill(seed + 1, -2.0f, 2.0f);
    v.fill(seed + 2);
    fill_mask(m, c, seed + 3);
    poison_unseen(k, v, m, c);
    const float scale = 1.0f / std::sqrt(float(c.hd));
    ref::attention(q.t, k.t, v.t, m.t, scale, want.t);
    std::vector<float> first;
    bool first_simd = false;
    test::for_each_variant([&](ThreadPool& pool) {
        Owned out(DType::F32, c.hd, c.n_head, c.n_tok);
        cpu::attention(q.t, k.t, v.t, m.t, scale, out.t, pool);
        const std::vector<float> got = out.f32();
        EXPECT_TRUE(test::close(got, want.f32(), Tol{2e-6f, 2e-5f}));
        if (pool.size() == 1) {
            first = got;
            first_simd = cpu::simd_enabled();
        } else if (first_simd == cpu::simd_enabled()) {
            EXPECT_EQ(0, std::memcmp(got.data(), first.data(), got.size() * 4)) << "1 vs 2 threads differ";
        }
    });
}

TEST(attention, cases) {
    const Case cases[] = {
        {64, 4, 4, 1, 1, DType::F32, 0},     {64, 4, 4, 1, 300, DType::F16, 1},   {64, 20, 20, 50, 50, DType::F32, 0},
        {64, 2, 2, 37, 129, DType::F32, 0},  {64, 8, 2, 5, 260, DType::F16, 1},   {128, 8, 1, 7, 130, DType::F16, 2},
        {7, 3, 3, 9, 11, DType::F32, 2},     {40, 6, 3, 26, 127, DType::F32, 1},  {80, 4, 2, 25, 257, DType::F16, 3},
        {33, 2, 1, 30, 300, DType::F32, 3},  {96, 4, 4, 3, 128, DType::F32, 2},   {64, 6, 6, 49, 400, DType::F16, 2},
    };
    uint64_t seed = 1;
    for (const Case& c : cases) run_case(c, seed += 10);
}

// Every query alone (its own mask row, n_tok = 1) gives the same bits as inside a call of many
// queries, under the SIMD path and under the portable one.
TEST(attention, QueryIndependentOfBatch) {
    const int64_t hd = 64, n_head = 4, n_head_kv = 2, n_tok = 29, n_cells = 300;
    for (DType kv : {DType::F32, DType::F16}) {
        Owned q(DType::F32, hd, n_head, n_tok), k(kv, hd, n_head_kv, n_cells), v(kv, hd, n_head_kv, n_cells);
        Owned m(DType::F32, n_cells, n_tok), all(DType::F32, hd, n_head, n_tok);
        q.fill(5, -2.0f, 2.0f);
        k.fill(6, -2.0f, 2.0f);
        v.fill(7);
        fill_mask(m, Case{hd, n_head, n_head_kv, n_tok, n_cells, kv, 1}, 8);
        for (bool simd : {true, false}) {
            cpu::force_scalar(!simd);
            ThreadPool pool(2);
            cpu::attention(q.t, k.t, v.t, m.t, 0.125f, all.t, pool);
            for (int64_t t = 0; t < n_tok; ++t) {
                Tensor q1 = q.t, m1 = m.t;
                q1.data = q.row(t * n_head);
                q1.ne[2] = 1;
                m1.data = m.frow(t);
                m1.ne[1] = 1;
                Owned one(DType::F32, hd, n_head, 1);
                cpu::attention(q1, k.t, v.t, m1, 0.125f, one.t, pool);
                EXPECT_EQ(0, std::memcmp(one.bytes.data(), all.row(t * n_head), size_t(hd * n_head) * 4))
                    << dtype_name(kv) << " " << cpu::simd_name() << " token " << t;
            }
        }
        cpu::force_scalar(false);
    }
}

// A sequence's cells moved in the cache (behind another sequence's cells, which it does not see):
// the same bits as alone at cell 0 (the server batches sequences that share one cache).
TEST(attention, IndependentOfCellPosition) {
    const int64_t hd = 64, n_head = 4, n_head_kv = 2, n_tok = 5, n = 200, shift = 77;
    for (DType kv : {DType::F32, DType::F16}) {
        Owned q(DType::F32, hd, n_head, n_tok), k(kv, hd, n_head_kv, n), v(kv, hd, n_head_kv, n), m(DType::F32, n, n_tok);
        Owned k2(kv, hd, n_head_kv, n + shift), v2(kv, hd, n_head_kv, n + shift), m2(DType::F32, n + shift, n_tok);
        q.fill(11, -2.0f, 2.0f);
        k.fill(12, -2.0f, 2.0f);
        v.fill(13);
        k2.fill(14, -2.0f, 2.0f);
        v2.fill(15);
        fill_mask(m, Case{hd, n_head, n_head_kv, n_tok, n, kv, 1}, 16);
        for (int64_t c = 0; c < n; ++c)
            for (int64_t h = 0; h < n_head_kv; ++h) {
                std::memcpy(k2.row((c + shift) * n_head_kv + h), k.row(c * n_head_kv + h), k.row_bytes());
                std::memcpy(v2.row((c + shift) * n_head_kv + h), v.row(c * n_head_kv + h), v.row_bytes());
            }
        for (int64_t t = 0; t < n_tok; ++t) {
            for (int64_t c = 0; c < shift; ++c) m2.frow(t)[c] = -INFINITY;
            std::memcpy(m2.frow(t) + shift, m.frow(t), size_t(n) * 4);
        }
        for (bool simd : {true, false}) {
            cpu::force_scalar(!simd);
            ThreadPool pool(2);
            Owned a(DType::F32, hd, n_head, n_tok), b(DType::F32, hd, n_head, n_tok);
            cpu::attention(q.t, k.t, v.t, m.t, 0.125f, a.t, pool);
            cpu::attention(q.t, k2.t, v2.t, m2.t, 0.125f, b.t, pool);
            EXPECT_EQ(0, std::memcmp(a.bytes.data(), b.bytes.data(), a.bytes.size())) << dtype_name(kv) << " " << cpu::simd_name();
        }
        cpu::force_scalar(false);
    }
}

// Continuous batching: one query token per sequence, each sequence in its own range of cells (not
// aligned to the kernel's 128-cell blocks, some sharing a block, gaps of NaN cells nobody sees).
// Every query gives the same bits as alone with its sequence's cells at cell 0 (each row of the
// blocked kernel skips the cells it cannot see; that must not change its arithmetic).
TEST(attention, SequencesInOneCache) {
    const int64_t hd = 64, n_head = 14, n_head_kv = 2;
    const int64_t len[] = {37, 150, 1, 300, 90, 128, 5};
    const int64_t n_tok = 7, gap = 11;
    int64_t start[7], n_cells = 0;
    for (int64_t t = 0; t < n_tok; ++t) {
        start[t] = n_cells + (t % 2) * gap;
        n_cells = start[t] + len[t];
    }
    for (DType kv : {DType::F32, DType::F16}) {
        Owned q(DType::F32, hd, n_head, n_tok), k(kv, hd, n_head_kv, n_cells), v(kv, hd, n_head_kv, n_cells);
        Owned m(DType::F32, n_cells, n_tok), want(DType::F32, hd, n_head, n_tok);
        q.fill(21, -2.0f, 2.0f);
        k.fill(22, -2.0f, 2.0f);
        v.fill(23);
        const std::vector<float> r = test::random_floats(n_cells, 24, -1.0f, 1.0f);
        for (int64_t t = 0; t < n_tok; ++t)
            for (int64_t i = 0; i < n_cells; ++i)
                m.frow(t)[i] = i >= start[t] && i < start[t] + len[t] && r[size_t(i)] > -0.8f ? 0.3f * r[size_t(i)] : -INFINITY;
        const Case c{hd, n_head, n_head_kv, n_tok, n_cells, kv, 0};
        poison_unseen(k, v, m, c);
        ref::attention(q.t, k.t, v.t, m.t, 0.125f, want.t);
        for (bool simd : {true, false}) {
            cpu::force_scalar(!simd);
            for (int threads : {1, 2}) {
                ThreadPool pool(threads);
                Owned all(DType::F32, hd, n_head, n_tok);
                cpu::attention(q.t, k.t, v.t, m.t, 0.125f, all.t, pool);
                EXPECT_TRUE(test::close(all.f32(), want.f32(), Tol{2e-6f, 2e-5f})) << dtype_name(kv) << " " << cpu::simd_name();
                for (int64_t t = 0; t < n_tok; ++t) {
                    Owned k1(kv, hd, n_head_kv, len[t]), v1(kv, hd, n_head_kv, len[t]), m1(DType::F32, len[t], 1);
                    for (int64_t i = 0; i < len[t]; ++i) {
                        for (int64_t h = 0; h < n_head_kv; ++h) {
                            std::memcpy(k1.row(i * n_head_kv + h), k.row((start[t] + i) * n_head_kv + h), k.row_bytes());
                            std::memcpy(v1.row(i * n_head_kv + h), v.row((start[t] + i) * n_head_kv + h), v.row_bytes());
                        }
                        m1.frow(0)[i] = m.frow(t)[start[t] + i];
                    }
                    Tensor q1 = q.t;
                    q1.data = q.row(t * n_head);
                    q1.ne[2] = 1;
                    Owned one(DType::F32, hd, n_head, 1);
                    cpu::attention(q1, k1.t, v1.t, m1.t, 0.125f, one.t, pool);
                    EXPECT_EQ(0, std::memcmp(one.bytes.data(), all.row(t * n_head), size_t(hd * n_head) * 4))
                        << dtype_name(kv) << " " << cpu::simd_name() << " threads " << threads << " sequence " << t;
                }
            }
        }
        cpu::force_scalar(false);
    }
}

} // namespace
