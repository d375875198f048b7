// The ops whisper added (layer_norm, gelu_erf, im2col) on the Vulkan backend against the scalar
// reference (ops/ref.h): odd and padded shapes, in place, normal and forced-baseline path, and
// row splitting under a 64 KiB binding limit. Runs on lavapipe in CI; skips when there is no device.
#include "op_harness.h"

#ifdef VKAI_HAVE_VULKAN
#include "vulkan/vulkan_backend.h"
#endif

#include <cstring>
#include <map>
#include <memory>

using namespace vkai;
using test::Owned;
using test::Tol;

#ifdef VKAI_HAVE_VULKAN
namespace {

// One backend per (baseline, binding limit), kept for the run.
Backend* backend(bool baseline, uint64_t max_binding, std::string& why) {
    static std::map<std::pair<bool, uint64_t>, std::unique_ptr<Backend>> cache;
    auto& slot = cache[{baseline, max_binding}];
    if (slot) return slot.get();
    vk::VulkanOptions o;
    o.baseline = baseline;
    o.max_binding = max_binding;
    Result<std::unique_ptr<Backend>> r = vk::create_vulkan_backend(o);
    if (!r.ok()) {
        why = r.status().message();
        return nullptr;
    }
    slot = std::move(r).value();
    return slot.get();
}

#define NEED_BACKEND(var, baseline, limit)                                                  \
    std::string why_;                                                                       \
    Backend* var = backend(baseline, limit, why_);                                          \
    if (!var) GTEST_SKIP() << "no Vulkan device: " << why_

// A device copy of a host tensor (same strides, padding included).
struct Dev {
    Backend* be;
    void* base = nullptr;
    Tensor t;
    uint64_t bytes = 0;
    Dev(Backend* b, const Owned& h) : be(b), t(h.t), bytes(h.bytes.size()) {
        Result<void*> p = be->alloc(bytes, "test");
        EXPECT_TRUE(p.ok()) << p.status().message();
        base = *p;
        EXPECT_TRUE(be->upload(base, h.bytes.data(), bytes).ok());
        t.data = base;
    }
    ~Dev() { be->free(base); }
    Owned get(const Owned& h) const { // a copy of h with the device bytes (padding included)
        Owned o(h);
        Status st = be->download(o.bytes.data(), base, bytes);
        EXPECT_TRUE(st.ok()) << st.message();
        return o;
    }
};

constexpr Tol kNormTol{1e-5f, 1e-5f};
constexpr Tol kGeluTol{1e-6f, 1e-5f}; // erfc by a rational fit: |err| <= 4e-7 measured over [-12, 12]

void check_layer_norm(Backend* be, int64_t n, int64_t rows, int64_t pad) {
    SCOPED_TRACE(strf("layer_norm n=%lld rows=%lld pad=%lld", (long long)n, (long long)rows, (long long)pad));
    Owned x(DType::F32, n, rows, 2, 1, pad), y(DType::F32, n, rows, 2, 1, pad + 1), w(DType::F32, n), b(DType::F32, n);
    x.fill(1, -3.0f, 5.0f); // a mean far from 0: variance by (x - mean)^2, not E[x^2] - mean^2
    w.fill(2, 0.5f, 1.5f);
    b.fill(3);
    Dev dx(be, x), dy(be, y), dw(be, w), db(be, b);
    struct Case {
        const char* what;
        bool w, b;
    };
    for (const Case c : {Case{"affine", true, true}, Case{"none", false, false}, Case{"w only", true, false}, Case{"b only", false, true}}) {
        Owned want(y);
        ref::layer_norm(x.t, c.w ? &w.t : nullptr, c.b ? &b.t : nullptr, 1e-5f, want.t);
        be->layer_norm(dx.t, c.w ? &dw.t : nullptr, c.b ? &db.t : nullptr, 1e-5f, dy.t);
        Owned got = dy.get(y);
        EXPECT_TRUE(test::close(got.f32(), want.f32(), kNormTol)) << c.what;
        EXPECT_TRUE(got.padding_intact()) << c.what;
    }
    Owned want(x); // in place, as the encoder's ln_post runs
    ref::layer_norm(x.t, &w.t, &b.t, 1e-5f, want.t);
    Owned xi = x;
    Dev dxi(be, xi);
    be->layer_norm(dxi.t, &dw.t, &db.t, 1e-5f, dxi.t);
    Owned got = dxi.get(xi);
    EXPECT_TRUE(test::close(got.f32(), want.f32(), kNormTol)) << "in place";
    EXPECT_TRUE(got.padding_intact());
}

void check_im2col(Backend* be, int64_t c, int64_t t, int k, int stride, int pad, int64_t xpad, int64_t opad) {
    SCOPED_TRACE(strf("im2col c=%lld t=%lld k=%d stride=%d pad=%d", (long long)c, (long long)t, k, stride, pad));
    const int64_t t_out = (t + 2 * pad - k) / stride + 1;
    Owned x(DType::F32, c, t, 1, 1, xpad), out(DType::F32, c * k, t_out, 1, 1, opad);
    x.fill(4);
    Owned want(out);
    ref::im2col(x.t, k, stride, pad, want.t);
    Dev dx(be, x), dout(be, out);
    be->im2col(dx.t, k, stride, pad, dout.t);
    Owned got = dout.get(out);
    EXPECT_TRUE(test::close(got.f32(), want.f32(), Tol{0, 0})); // a copy: exact
    EXPECT_TRUE(got.padding_intact());
}

class VulkanWhisperOps : public ::testing::TestWithParam<bool> {};

TEST_P(VulkanWhisperOps, Declared) {
    NEED_BACKEND(be, GetParam(), 0);
    EXPECT_TRUE(be->has_whisper_ops());
    for (Op op : {Op::layer_norm, Op::gelu_erf, Op::im2col}) {
        EXPECT_TRUE(be->supports(op, DType::F32)) << op_name(op);
        EXPECT_FALSE(be->supports(op, DType::F16)) << op_name(op);
    }
}

TEST_P(VulkanWhisperOps, LayerNorm) {
    NEED_BACKEND(be, GetParam(), 0);
    // 5000: rows longer than the shader's register cache (16 x 256 elements).
    for (const auto& [n, rows, pad] : {std::tuple{1, 1, 0}, {7, 3, 2}, {67, 5, 0}, {384, 40, 3}, {1280 + 3, 17, 1}, {5000, 3, 1}})
        check_layer_norm(be, n, rows, pad);
}

TEST_P(VulkanWhisperOps, GeluErf) {
    NEED_BACKEND(be, GetParam(), 0);
    for (int64_t n : {1, 9, 67, 1536 * 3}) {
        SCOPED_TRACE(strf("gelu_erf n=%lld", (long long)n));
        Owned x(DType::F32, n, 3, 1, 1, 1), y(DType::F32, n, 3, 1, 1, 2);
        x.fill(5, -12.0f, 12.0f);
        Owned want(y);
        ref::gelu_erf(x.t, want.t);
        Dev dx(be, x), dy(be, y);
        be->gelu_erf(dx.t, dy.t);
        Owned got = dy.get(y);
        EXPECT_TRUE(test::close(got.f32(), want.f32(), kGeluTol));
        EXPECT_TRUE(got.padding_intact());
        be->gelu_erf(dx.t, dx.t); // in place
        EXPECT_TRUE(test::close(dx.get(x).f32(), want.f32(), kGeluTol)) << "in place";
    }
    // Exact values near 0 and the tails (where 0.5 x erfc(|x| / sqrt 2) is tiny but not 0).
    Owned x(DType::F32, 8), want(DType::F32, 8);
    const float v[8] = {0.0f, 1e-8f, -1e-8f, 0.5f, -0.5f, -5.0f, -9.0f, 30.0f};
    x.set_row(0, v);
    ref::gelu_erf(x.t, want.t);
    Dev dx(be, x);
    be->gelu_erf(dx.t, dx.t);
    EXPECT_TRUE(test::close(dx.get(x).f32(), want.f32(), Tol{1e-12f, 2e-6f}));
}

TEST_P(VulkanWhisperOps, Im2col) {
    NEED_BACKEND(be, GetParam(), 0);
    check_im2col(be, 2, 4, 3, 2, 1, 0, 0);     // the hand example of test_whisper_ops
    check_im2col(be, 5, 11, 3, 1, 1, 1, 2);    // conv1 layout, padded rows
    check_im2col(be, 5, 11, 3, 2, 1, 0, 1);    // conv2 layout
    check_im2col(be, 7, 4, 5, 3, 2, 3, 0);     // wider kernel than the input, odd stride
    check_im2col(be, 3, 9, 2, 1, 0, 0, 0);     // no padding, even kernel
    check_im2col(be, 80, 300, 3, 1, 1, 0, 0);  // 80 mel bins
    check_im2col(be, 384, 150, 3, 2, 1, 0, 0); // whisper tiny's width
}

// conv1d = im2col + mul_mat with f16 weights, as the encoder runs it, against the reference.
TEST_P(VulkanWhisperOps, Conv1dThroughMulMat) {
    NEED_BACKEND(be, GetParam(), 0);
    const int64_t c_in = 80, c_out = 67, t = 301;
    for (int stride : {1, 2}) {
        SCOPED_TRACE(strf("stride %d", stride));
        const int64_t t_out = (t + 2 - 3) / stride + 1;
        Owned x(DType::F32, c_in, t), w(DType::F16, 3 * c_in, c_out), cols(DType::F32, 3 * c_in, t_out), y(DType::F32, c_out, t_out);
        x.fill(6);
        w.fill(7);
        Owned want(y), want_cols(cols);
        ref::im2col(x.t, 3, stride, 1, want_cols.t);
        ref::mul_mat(w.t, want_cols.t, want.t);
        Dev dx(be, x), dw(be, w), dc(be, cols), dy(be, y);
        be->im2col(dx.t, 3, stride, 1, dc.t);
        be->mul_mat(dw.t, dc.t, dy.t);
        const std::vector<float> g = dy.get(y).f32(), wv = want.f32();
        // f16 inputs where the backend takes cooperative matrices for this many columns.
        EXPECT_LE(test::nmse(g.data(), wv.data(), int64_t(g.size())), vk::mul_mat_rounds_to_f16(*be, t_out) ? 5e-6 : 1e-10);
    }
}

// attention with many queries takes the tiled kernel (head size <= 64 and a multiple of 4, a fixed-
// loop variant for 64; >= 8 queries): whisper's encoder
// (every cell visible, 1500 x 1500), causal prompts (whole tiles skipped), several sequences in one
// cache, NaN in every unused cell, a fully masked query, GQA, f16 and f32, sizes not multiples of
// the 32 x 32 tiles. Few queries (decode) keep attention.comp and are covered by test_vulkan_ops.
TEST_P(VulkanWhisperOps, AttentionManyQueries) {
    NEED_BACKEND(be, GetParam(), 0);
    struct C {
        const char* what;
        int64_t n_tok, n_cells, n_head, n_head_kv;
        int kind; // 0: all visible, 1: causal with unused cells, 2: two sequences interleaved + a masked query
        int64_t hd;
    };
    for (DType kv : {DType::F32, DType::F16})
        for (const C c : {C{"encoder", 150, 150, 2, 2, 0, 64}, C{"causal", 70, 101, 4, 2, 1, 64}, C{"two sequences", 45, 77, 3, 1, 2, 64},
                          C{"8 queries", 8, 33, 2, 2, 1, 64}, C{"encoder hd 32", 99, 99, 2, 2, 0, 32}, C{"causal hd 40", 40, 60, 4, 1, 1, 40},
                          C{"two sequences hd 8", 37, 50, 2, 2, 2, 8}}) {
            SCOPED_TRACE(strf("%s %s", c.what, dtype_name(kv)));
            const int64_t hd = c.hd;
            Owned kc(kv, hd, c.n_head_kv, c.n_cells), vc(kv, hd, c.n_head_kv, c.n_cells), q(DType::F32, hd, c.n_head, c.n_tok),
                out(DType::F32, hd, c.n_head, c.n_tok), mask(DType::F32, c.n_cells, c.n_tok);
            kc.fill(30, -2.0f, 2.0f);
            vc.fill(31);
            q.fill(32, -2.0f, 2.0f);
            std::vector<bool> used(size_t(c.n_cells), true);
            for (int64_t t = 0; t < c.n_tok; ++t)
                for (int64_t j = 0; j < c.n_cells; ++j) {
                    bool see = true;
                    if (c.kind == 1) see = j <= t + (c.n_cells - c.n_tok - 20); // the last 20 cells are never written
                    if (c.kind == 2) see = (j % 2 == t % 2) && j / 2 <= t / 2 + 10 && t != 7;
                    mask.frow(t)[j] = see ? (j % 7 == 0 ? -0.25f : 0.0f) : -INFINITY;
                }
            for (int64_t j = 0; j < c.n_cells; ++j) {
                bool seen = false;
                for (int64_t t = 0; t < c.n_tok; ++t) seen |= mask.frow(t)[j] != -INFINITY;
                used[size_t(j)] = seen;
            }
            for (int64_t j = 0; j < c.n_cells; ++j) // unused cells hold NaN: they must never be read
                if (!used[size_t(j)])
                    for (int64_t hk = 0; hk < c.n_head_kv; ++hk) {
                        std::memset(kc.t.row<uint8_t>(hk, j), 0xFF, size_t(kc.row_bytes()));
                        std::memset(vc.t.row<uint8_t>(hk, j), 0xFF, size_t(vc.row_bytes()));
                    }
            Owned want(out);
            ref::attention(q.t, kc.t, vc.t, mask.t, 0.125f, want.t);
            Dev dq(be, q), dk(be, kc), dv(be, vc), dm(be, mask), dout(be, out);
            be->attention(dq.t, dk.t, dv.t, dm.t, 0.125f, dout.t);
            const std::vector<float> g = dout.get(out).f32();
            for (float x : g) ASSERT_TRUE(std::isfinite(x));
            EXPECT_TRUE(test::close(g, want.f32(), Tol{1e-5f, 1e-4f}));
            // 70 independent calls before one sync (whisper's windows in lockstep): they run
            // side by side, and more than the split path's 64 count slots are taken in turn.
            std::vector<std::unique_ptr<Dev>> outs;
            for (int i = 0; i < 70; ++i) {
                outs.push_back(std::make_unique<Dev>(be, out));
                be->attention(dq.t, dk.t, dv.t, dm.t, 0.125f, outs.back()->t);
            }
            for (auto& o : outs) ASSERT_TRUE(test::close(o->get(out).f32(), want.f32(), Tol{1e-5f, 1e-4f}));
        }
}

// attention with few queries takes attention_wide.comp (decode: whisper's cross-attention over
// 1500 positions, LLM caches): chunks of 256 cells, several chunks, a partial last chunk, NaN in
// unused cells, a fully masked query, GQA, f16/f32, head sizes 64/128/40, short contexts (100
// cells: q.k in two rounds at hd 128) and a head size whose rows are not whole 16-byte slices (36:
// f16 rows of 72 bytes, left to attention.comp).
// From 512 cells the cells are split over workgroups (256 each) and merged: splits that see no
// cell (query 2 of 3 sees only the first 300) must weigh nothing.
TEST_P(VulkanWhisperOps, AttentionLongCache) {
    NEED_BACKEND(be, GetParam(), 0);
    struct C {
        int64_t n_tok, n_cells, n_head, n_head_kv, hd;
    };
    for (DType kv : {DType::F32, DType::F16})
        for (const C c : {C{1, 1500, 4, 4, 64}, C{3, 2100, 4, 2, 128}, C{2, 300, 3, 1, 40}, C{1, 256, 2, 2, 64}, C{1, 100, 4, 2, 128},
                           C{1, 37, 2, 1, 36}, C{4, 9, 2, 1, 64}}) {
            SCOPED_TRACE(strf("%s tok=%lld cells=%lld hd=%lld", dtype_name(kv), (long long)c.n_tok, (long long)c.n_cells, (long long)c.hd));
            Owned kc(kv, c.hd, c.n_head_kv, c.n_cells), vc(kv, c.hd, c.n_head_kv, c.n_cells), q(DType::F32, c.hd, c.n_head, c.n_tok),
                out(DType::F32, c.hd, c.n_head, c.n_tok), mask(DType::F32, c.n_cells, c.n_tok);
            kc.fill(40, -2.0f, 2.0f);
            vc.fill(41);
            q.fill(42, -2.0f, 2.0f);
            for (int64_t t = 0; t < c.n_tok; ++t)
                for (int64_t j = 0; j < c.n_cells; ++j) {
                    const bool used = j % 97 != 13;              // cells never written: NaN, masked for every query
                    // query 1 of 3 sees nothing, query 2 of 3 only cells < 300 (whole splits of 256 unseen)
                    const bool see = used && (t != 1 || c.n_tok == 2) && (t != 2 || j < 300);
                    mask.frow(t)[j] = see ? (j % 5 == 0 ? -0.5f : 0.0f) : -INFINITY;
                }
            for (int64_t j = 13; j < c.n_cells; j += 97)
                for (int64_t hk = 0; hk < c.n_head_kv; ++hk) {
                    std::memset(kc.t.row<uint8_t>(hk, j), 0xFF, size_t(kc.row_bytes()));
                    std::memset(vc.t.row<uint8_t>(hk, j), 0xFF, size_t(vc.row_bytes()));
                }
            Owned want(out);
            ref::attention(q.t, kc.t, vc.t, mask.t, 0.125f, want.t);
            Dev dq(be, q), dk(be, kc), dv(be, vc), dm(be, mask), dout(be, out);
            be->attention(dq.t, dk.t, dv.t, dm.t, 0.125f, dout.t);
            const std::vector<float> g = dout.get(out).f32();
            for (float x : g) ASSERT_TRUE(std::isfinite(x));
            EXPECT_TRUE(test::close(g, want.f32(), Tol{1e-5f, 1e-4f}));
            // 70 independent calls before one sync (whisper's windows in lockstep): they run
            // side by side, and more than the split path's 64 count slots are taken in turn.
            std::vector<std::unique_ptr<Dev>> outs;
            for (int i = 0; i < 70; ++i) {
                outs.push_back(std::make_unique<Dev>(be, out));
                be->attention(dq.t, dk.t, dv.t, dm.t, 0.125f, outs.back()->t);
            }
            for (auto& o : outs) ASSERT_TRUE(test::close(o->get(out).f32(), want.f32(), Tol{1e-5f, 1e-4f}));
        }
}

INSTANTIATE_TEST_SUITE_P(Modes, VulkanWhisperOps, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "baseline" : "normal"; });

// A 64 KiB binding limit splits each op into several dispatches (rows; im2col also binds only the
// input rows each chunk of output rows reads).
TEST(VulkanWhisperSplit, SmallBindingLimit) {
    NEED_BACKEND(be, false, 64 * 1024);
    check_layer_norm(be, 1000, 50, 1); // 100 rows of 4 KB
    check_im2col(be, 300, 200, 3, 1, 1, 1, 0); // out rows of 3.6 KB: 200 rows
    check_im2col(be, 300, 401, 3, 2, 1, 0, 3);
    check_im2col(be, 5000, 20, 3, 2, 1, 0, 0); // x rows of 20 KB, out rows of 60 KB: one output row per dispatch
    Owned x(DType::F32, 1000, 100), want(DType::F32, 1000, 100);
    x.fill(8, -4.0f, 4.0f);
    ref::gelu_erf(x.t, want.t);
    Dev dx(be, x);
    be->gelu_erf(dx.t, dx.t);
    EXPECT_TRUE(test::close(dx.get(x).f32(), want.f32(), kGeluTol));
}

} // namespace
#else
TEST(VulkanWhisperOps, Skipped) { GTEST_SKIP() << "built without the Vulkan backend (VKAI_VULKAN=OFF)"; }
#endif
