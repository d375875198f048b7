// Every op of the Vulkan backend against the scalar reference (ops/ref.h) on odd and padded shapes,
// in the normal and the forced-baseline path; mul_mat and get_rows for every weight type; operands
// larger than one storage-buffer binding split into several dispatches; errors as Status.
// Runs on lavapipe in CI; skips with the reason when there is no Vulkan device.
#include "op_harness.h"

#include "tensor/quant_blocks.h"

#ifdef VKAI_HAVE_VULKAN
#include "vulkan/vk_commands.h"
#include "vulkan/vk_pipelines.h"
#include "vulkan/vulkan_backend.h"
#endif

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

using namespace vkai;
using test::Owned;
using test::Tol;

#ifdef VKAI_HAVE_VULKAN
namespace {

const DType kTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,   DType::Q5_0,  DType::Q5_1, DType::Q8_0,
                        DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS};

// One backend per (mode, binding limit), created on first use and kept for the whole run.
Backend* backend(bool baseline, uint64_t max_binding = 0, std::string* why = nullptr) {
    static std::map<std::pair<bool, uint64_t>, std::unique_ptr<Backend>> cache;
    static std::string reason;
    auto key = std::make_pair(baseline, max_binding);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second.get();
    vk::VulkanOptions o;
    o.baseline = baseline;
    o.max_binding = max_binding;
    Result<std::unique_ptr<Backend>> r = vk::create_vulkan_backend(o);
    if (!r.ok()) {
        reason = r.status().message();
        if (why) *why = reason;
        return nullptr;
    }
    return (cache[key] = std::move(r).value()).get();
}

#define NEED_BACKEND_LIMIT(var, baseline, limit)                                            \
    std::string why_;                                                                       \
    Backend* var = backend(baseline, limit, &why_);                                         \
    if (!var) GTEST_SKIP() << "no Vulkan device: " << why_
#define NEED_BACKEND(var, baseline) NEED_BACKEND_LIMIT(var, baseline, 0)

// A device copy of a host tensor (same strides, padding included).
struct Dev {
    Backend* be;
    void* base = nullptr;
    Tensor t;
    uint64_t bytes = 0;
    Dev(Backend* b, const Owned& h) : be(b) {
        bytes = h.bytes.size();
        Result<void*> p = be->alloc(bytes, "test");
        EXPECT_TRUE(p.ok()) << p.status().message();
        base = *p;
        EXPECT_TRUE(be->upload(base, h.bytes.data(), bytes).ok());
        t = h.t;
        t.data = base;
    }
    ~Dev() { be->free(base); }
    // Downloads into a copy of h (so padding bytes that the op must not touch come back too).
    Owned get(const Owned& h) const {
        Owned o(h);
        Status st = be->download(o.bytes.data(), base, bytes);
        EXPECT_TRUE(st.ok()) << st.message();
        return o;
    }
};

class VulkanOps : public ::testing::TestWithParam<bool> {};

// Random blocks with sane f16 scales for types that do not quantize; quantize_row otherwise.
void fill_weights(Owned& w, uint64_t seed) { w.fill(seed); }

TEST_P(VulkanOps, MulMatEveryType) {
    NEED_BACKEND(be, GetParam());
    for (DType t : kTypes) {
        const int64_t blk = dtype_info(t).block;
        const int64_t k = blk == 1 ? 37 : blk == 32 ? 32 * 7 : 256 * 3;
        for (int64_t n : {1, 2, 3, 4, 5, 6, 7, 8, 31, 70, 200}) { // from 32 columns on the tiled kernels (200: two 128-column tiles)
            SCOPED_TRACE(strf("%s k=%lld n=%lld", dtype_name(t), (long long)k, (long long)n));
            // 71 rows: not a multiple of the matrix-vector kernel's rows per workgroup.
            Owned w(t, k, 71, 1, 1, 1), x(DType::F32, k, n, 1, 1, 3), y(DType::F32, 71, n, 1, 1, 2);
            fill_weights(w, 7);
            x.fill(8);
            Owned want(y);
            ref::mul_mat(w.t, x.t, want.t);
            Dev dw(be, w), dx(be, x), dy(be, y);
            be->mul_mat(dw.t, dx.t, dy.t);
            ASSERT_TRUE(be->sync().ok());
            Owned got = dy.get(y);
            const std::vector<float> g = got.f32(), wv = want.f32();
            // f16 inputs (cooperative matrices): each product off by up to ~2^-10 relative.
            const double tol = vk::mul_mat_rounds_to_f16(*be, n) ? 5e-6 : 1e-10;
            EXPECT_LE(test::nmse(g.data(), wv.data(), int64_t(g.size())), tol);
            EXPECT_TRUE(got.padding_intact());
        }
    }
}

// The decode kernel with the residual add fused: y = W x + add against ref mul_mat + add, for
// every type, add separate and aliasing y, short and long rows; with gelu: y = gelu_erf(W x + add).
TEST_P(VulkanOps, MulMatAdd) {
    NEED_BACKEND(be, GetParam());
    for (DType t : kTypes) {
        ASSERT_TRUE(be->fuses_mul_mat_add(t, 1)) << dtype_name(t);
        EXPECT_FALSE(be->fuses_mul_mat_add(t, 2));
        ASSERT_TRUE(be->fuses_mul_mat_add_gelu(t, 1)) << dtype_name(t);
        const int64_t blk = dtype_info(t).block;
        for (int64_t k : {blk == 1 ? int64_t(37) : blk * 3, blk == 1 ? int64_t(1001) : blk * 19}) {
            for (int mode = 0; mode < 3; ++mode) {
                const bool alias = mode == 1, gelu = mode == 2;
                SCOPED_TRACE(strf("%s k=%lld alias=%d gelu=%d", dtype_name(t), (long long)k, alias, gelu));
                Owned w(t, k, 13), x(DType::F32, k), a(DType::F32, 13), y(DType::F32, 13); // 13: not a multiple of the rows per workgroup
                fill_weights(w, 27);
                x.fill(28, -2.0f, 2.0f);
                a.fill(30);
                Owned want(y);
                ref::mul_mat(w.t, x.t, want.t);
                ref::add(want.t, a.t, want.t);
                if (gelu) ref::gelu_erf(want.t, want.t);
                Dev dw(be, w), dx(be, x), da(be, a), dy(be, y);
                if (gelu) be->mul_mat_add_gelu(dw.t, dx.t, da.t, dy.t);
                else be->mul_mat_add(dw.t, dx.t, da.t, alias ? da.t : dy.t);
                ASSERT_TRUE(be->sync().ok());
                const std::vector<float> got = (alias ? da.get(a) : dy.get(y)).f32(), wv = want.f32();
                EXPECT_LE(test::nmse(got.data(), wv.data(), int64_t(got.size())), 1e-10);
            }
        }
    }
}

// SwiGLU, the down projection and the residual add in one dispatch: y = W (silu(g) * u) + add,
// against ref silu, mul, mul_mat, add; u aligned like g (16-byte loads) and one float off (word
// loads), add separate and aliasing y.
TEST_P(VulkanOps, SwigluMulMatAdd) {
    NEED_BACKEND(be, GetParam());
    for (DType t : kTypes) {
        ASSERT_TRUE(be->fuses_swiglu_mul_mat_add(t, 1)) << dtype_name(t);
        const int64_t blk = dtype_info(t).block;
        for (int64_t k : {blk == 1 ? int64_t(37) : blk * 3, blk == 1 ? int64_t(1001) : blk * 19}) {
            for (int shift : {0, 1}) {
                const bool alias = shift == 1;
                SCOPED_TRACE(strf("%s k=%lld u_shift=%d alias=%d", dtype_name(t), (long long)k, shift, alias));
                Owned w(t, k, 13), g(DType::F32, k), ub(DType::F32, k + 1), a(DType::F32, 13), y(DType::F32, 13);
                fill_weights(w, 41);
                g.fill(42, -4.0f, 4.0f);
                ub.fill(43, -2.0f, 2.0f);
                a.fill(44);
                Owned u(DType::F32, k), want(y), h(g);
                std::memcpy(u.frow(0), ub.frow(0) + shift, size_t(k) * 4);
                ref::silu(g.t, h.t);
                ref::mul(h.t, u.t, h.t);
                ref::mul_mat(w.t, h.t, want.t);
                ref::add(want.t, a.t, want.t);
                Dev dw(be, w), dg(be, g), dub(be, ub), da(be, a), dy(be, y);
                Tensor du = make_tensor(DType::F32, static_cast<uint8_t*>(dub.t.data) + 4 * shift, k);
                be->swiglu_mul_mat_add(dw.t, dg.t, du, da.t, alias ? da.t : dy.t);
                ASSERT_TRUE(be->sync().ok());
                const std::vector<float> got = (alias ? da.get(a) : dy.get(y)).f32(), wv = want.f32();
                EXPECT_LE(test::nmse(got.data(), wv.data(), int64_t(got.size())), 1e-10);
            }
        }
    }
}

// rms_norm inside the projection: y = W rms_norm(x, g), against ref rms_norm + mul_mat, for every
// type, g aligned like x (16-byte loads) and one float off (word loads), x large and small.
TEST_P(VulkanOps, RmsNormMulMat) {
    NEED_BACKEND(be, GetParam());
    for (DType t : kTypes) {
        ASSERT_TRUE(be->fuses_rms_norm_mul_mat(t, 1)) << dtype_name(t);
        EXPECT_FALSE(be->fuses_rms_norm_mul_mat(t, 2));
        const int64_t blk = dtype_info(t).block;
        for (int64_t k : {blk == 1 ? int64_t(37) : blk * 3, blk == 1 ? int64_t(1001) : blk * 19}) {
            for (int shift : {0, 1}) {
                SCOPED_TRACE(strf("%s k=%lld g_shift=%d", dtype_name(t), (long long)k, shift));
                Owned w(t, k, 13), x(DType::F32, k), gb(DType::F32, k + 1), y(DType::F32, 13);
                fill_weights(w, 51);
                x.fill(52, shift ? -30.0f : -0.5f, shift ? 30.0f : 0.5f);
                gb.fill(53, 0.5f, 1.5f);
                Owned g(DType::F32, k), want(y), h(x);
                std::memcpy(g.frow(0), gb.frow(0) + shift, size_t(k) * 4);
                ref::rms_norm(x.t, &g.t, 1e-5f, h.t);
                ref::mul_mat(w.t, h.t, want.t);
                Dev dw(be, w), dx(be, x), dgb(be, gb), dy(be, y);
                Tensor dg = make_tensor(DType::F32, static_cast<uint8_t*>(dgb.t.data) + 4 * shift, k);
                be->rms_norm_mul_mat(dw.t, dx.t, dg, 1e-5f, dy.t);
                ASSERT_TRUE(be->sync().ok());
                const std::vector<float> got = dy.get(y).f32(), wv = want.f32();
                EXPECT_LE(test::nmse(got.data(), wv.data(), int64_t(got.size())), 1e-10);
            }
        }
    }
}

// layer_norm inside the projection, with its bias: y = W layer_norm(x, g, b) + add (and gelu_erf of
// it), against ref layer_norm + mul_mat + add, for every type; g and b aligned like x (16-byte
// loads) and one float off (word loads); x with a large mean (the variance is taken about it),
// rows longer than one pass of the mean's loads (16 x 64).
TEST_P(VulkanOps, LayerNormMulMatAdd) {
    NEED_BACKEND(be, GetParam());
    for (DType t : kTypes) {
        ASSERT_TRUE(be->fuses_layer_norm_mul_mat(t, 1)) << dtype_name(t);
        EXPECT_FALSE(be->fuses_layer_norm_mul_mat(t, 2));
        const int64_t blk = dtype_info(t).block;
        for (int64_t k : {blk == 1 ? int64_t(37) : blk * 3, blk == 1 ? int64_t(1001) : blk * 19}) {
            for (int shift : {0, 1}) {
                const bool gelu = shift == 1;
                SCOPED_TRACE(strf("%s k=%lld shift=%d gelu=%d", dtype_name(t), (long long)k, shift, gelu));
                Owned w(t, k, 13), x(DType::F32, k), gb(DType::F32, k + 1), bb(DType::F32, k + 1), a(DType::F32, 13), y(DType::F32, 13);
                fill_weights(w, 61);
                x.fill(62, shift ? 20.0f : -0.5f, shift ? 40.0f : 0.5f);
                gb.fill(63, 0.5f, 1.5f);
                bb.fill(64, -0.5f, 0.5f);
                a.fill(65);
                Owned g(DType::F32, k), b(DType::F32, k), want(y), h(x);
                std::memcpy(g.frow(0), gb.frow(0) + shift, size_t(k) * 4);
                std::memcpy(b.frow(0), bb.frow(0) + shift, size_t(k) * 4);
                ref::layer_norm(x.t, &g.t, &b.t, 1e-5f, h.t);
                ref::mul_mat(w.t, h.t, want.t);
                ref::add(want.t, a.t, want.t);
                if (gelu) ref::gelu_erf(want.t, want.t);
                Dev dw(be, w), dx(be, x), dgb(be, gb), dbb(be, bb), da(be, a), dy(be, y);
                Tensor dg = make_tensor(DType::F32, static_cast<uint8_t*>(dgb.t.data) + 4 * shift, k);
                Tensor db = make_tensor(DType::F32, static_cast<uint8_t*>(dbb.t.data) + 4 * shift, k);
                be->layer_norm_mul_mat_add(dw.t, dx.t, dg, db, 1e-5f, da.t, gelu, dy.t);
                ASSERT_TRUE(be->sync().ok());
                const std::vector<float> got = dy.get(y).f32(), wv = want.f32();
                EXPECT_LE(test::nmse(got.data(), wv.data(), int64_t(got.size())), 1e-10);
            }
        }
    }
}

TEST_P(VulkanOps, Swiglu) {
    NEED_BACKEND(be, GetParam());
    Owned a(DType::F32, 300, 3), b(DType::F32, 300, 3), y(DType::F32, 300, 3);
    a.fill(31, -6.0f, 6.0f);
    b.fill(32);
    Owned want(y);
    ref::silu(a.t, want.t);
    ref::mul(want.t, b.t, want.t);
    Dev da(be, a), db(be, b);
    be->swiglu(da.t, db.t, da.t); // in place, as the forward pass calls it
    ASSERT_TRUE(be->sync().ok());
    EXPECT_TRUE(test::close(da.get(a).f32(), want.f32(), Tol{1e-6f, 1e-5f}));
}

// The matrix-vector kernel on long rows (every thread loops over several blocks, the last round
// partial), a single row, and an odd row count; rows of 2-byte aligned block types start unaligned.
TEST_P(VulkanOps, MulMatVecLongRows) {
    NEED_BACKEND(be, GetParam());
    for (DType t : kTypes) {
        const int64_t blk = dtype_info(t).block;
        const int64_t k = blk == 1 ? 1001 : blk == 32 ? 32 * 133 : 256 * 17;
        for (int64_t m : {1, 5}) {
            for (int64_t n : {1, 2, 7}) {
                SCOPED_TRACE(strf("%s k=%lld m=%lld n=%lld", dtype_name(t), (long long)k, (long long)m, (long long)n));
                Owned w(t, k, m), x(DType::F32, k, n), y(DType::F32, m, n); // x rows 16-byte aligned: the vec4 loads
                fill_weights(w, 17);
                x.fill(18);
                Owned want(y);
                ref::mul_mat(w.t, x.t, want.t);
                Dev dw(be, w), dx(be, x), dy(be, y);
                be->mul_mat(dw.t, dx.t, dy.t);
                ASSERT_TRUE(be->sync().ok());
                const std::vector<float> g = dy.get(y).f32(), wv = want.f32();
                EXPECT_LE(test::nmse(g.data(), wv.data(), int64_t(g.size())), 1e-10);
            }
        }
    }
}

TEST_P(VulkanOps, GetRowsEveryType) {
    NEED_BACKEND(be, GetParam());
    const int32_t ids[] = {3, 0, 12, 3, 7};
    for (DType t : kTypes) {
        SCOPED_TRACE(dtype_name(t));
        const int64_t blk = dtype_info(t).block;
        const int64_t k = blk == 1 ? 19 : blk == 32 ? 96 : 512;
        Owned tab(t, k, 13, 1, 1, 1), out(DType::F32, k, 5, 1, 1, 2);
        tab.fill(3);
        Owned want(out);
        ref::get_rows(tab.t, ids, 5, want.t);
        Dev dt(be, tab), dout(be, out);
        be->get_rows(dt.t, ids, 5, dout.t);
        Owned got = dout.get(out);
        EXPECT_TRUE(test::close(got.f32(), want.f32(), Tol{1e-7f, 1e-6f}));
        EXPECT_TRUE(got.padding_intact());
    }
}

TEST_P(VulkanOps, CopyConversions) {
    NEED_BACKEND(be, GetParam());
    const std::pair<DType, DType> cases[] = {{DType::F32, DType::F16}, {DType::F32, DType::BF16}, {DType::F16, DType::F32},
                                             {DType::Q8_0, DType::F32}, {DType::Q4_K, DType::F16}, {DType::Q6_K, DType::F32},
                                             {DType::F32, DType::F32},  {DType::Q4_0, DType::Q4_0}};
    for (auto [s, d] : cases) {
        SCOPED_TRACE(strf("%s -> %s", dtype_name(s), dtype_name(d)));
        const int64_t n = dtype_info(s).block == 256 ? 256 : dtype_info(s).block == 32 ? 64 : 33;
        Owned src(s, n, 5, 1, 1, 1), dst(d, n, 5, 1, 1, dtype_info(d).block == 1 ? 3 : 1);
        src.fill(5);
        Owned want(dst);
        ref::copy(src.t, want.t);
        Dev ds(be, src), dd(be, dst);
        be->copy(ds.t, dd.t);
        Owned got = dd.get(dst);
        EXPECT_TRUE(test::same_bytes(got.packed(), want.packed()));
        EXPECT_TRUE(got.padding_intact());
    }
}

TEST_P(VulkanOps, RowOps) {
    NEED_BACKEND(be, GetParam());
    const Tol tol{1e-6f, 1e-5f};
    for (int64_t n : {1, 7, 67, 300, 5000}) { // 5000: rms_norm rows longer than its register cache
        SCOPED_TRACE(strf("n=%lld", (long long)n));
        Owned x(DType::F32, n, 3, 2, 1, 2), y(DType::F32, n, 3, 2, 1, 1), w(DType::F32, n);
        x.fill(1, -3.0f, 3.0f);
        w.fill(2);
        Dev dx(be, x), dy(be, y), dw(be, w);
        {
            Owned want(y);
            ref::rms_norm(x.t, &w.t, 1e-5f, want.t);
            be->rms_norm(dx.t, &dw.t, 1e-5f, dy.t);
            EXPECT_TRUE(test::close(dy.get(y).f32(), want.f32(), tol)) << "rms_norm";
            ref::rms_norm(x.t, nullptr, 1e-6f, want.t);
            be->rms_norm(dx.t, nullptr, 1e-6f, dy.t);
            EXPECT_TRUE(test::close(dy.get(y).f32(), want.f32(), tol)) << "rms_norm without w";
        }
        {
            Owned want(y);
            ref::silu(x.t, want.t);
            be->silu(dx.t, dy.t);
            EXPECT_TRUE(test::close(dy.get(y).f32(), want.f32(), tol)) << "silu";
            ref::gelu(x.t, want.t);
            be->gelu(dx.t, dy.t);
            EXPECT_TRUE(test::close(dy.get(y).f32(), want.f32(), tol)) << "gelu";
        }
        {
            Owned b1(DType::F32, n, 1), b6(DType::F32, n, 3, 2, 1, 4);
            b1.fill(11);
            b6.fill(12);
            Dev db1(be, b1), db6(be, b6);
            Owned want(y);
            ref::add(x.t, b1.t, want.t);
            be->add(dx.t, db1.t, dy.t);
            EXPECT_TRUE(test::close(dy.get(y).f32(), want.f32(), tol)) << "add broadcast";
            ref::mul(x.t, b6.t, want.t);
            be->mul(dx.t, db6.t, dy.t);
            Owned got = dy.get(y);
            EXPECT_TRUE(test::close(got.f32(), want.f32(), tol)) << "mul";
            EXPECT_TRUE(got.padding_intact());
        }
        {
            Owned mask(DType::F32, n, 2);
            for (int64_t r = 0; r < 2; ++r)
                for (int64_t i = 0; i < n; ++i) mask.frow(r)[i] = (r == 1 || i % 3 == 1) ? -INFINITY : 0.0f;
            Dev dm(be, mask);
            Owned want(y);
            ref::softmax(x.t, &mask.t, 0.7f, want.t);
            be->softmax(dx.t, &dm.t, 0.7f, dy.t);
            EXPECT_TRUE(test::close(dy.get(y).f32(), want.f32(), tol)) << "softmax masked";
            ref::softmax(x.t, nullptr, 1.0f, want.t);
            be->softmax(dx.t, nullptr, 1.0f, dy.t);
            EXPECT_TRUE(test::close(dy.get(y).f32(), want.f32(), tol)) << "softmax";
        }
        // In place, as the forward pass calls them.
        {
            Owned want(x), xx(x);
            ref::silu(x.t, want.t);
            Dev d(be, xx);
            be->silu(d.t, d.t);
            EXPECT_TRUE(test::close(d.get(x).f32(), want.f32(), tol)) << "silu in place";
        }
    }
}

TEST_P(VulkanOps, Rope) {
    NEED_BACKEND(be, GetParam());
    const int32_t pos[] = {0, 5, 17, 4000, 123456};
    std::vector<float> ff(32);
    for (size_t i = 0; i < ff.size(); ++i) ff[i] = 1.0f + float(i) * 0.25f;
    for (RopeMode mode : {RopeMode::normal, RopeMode::neox})
        for (int n_rot : {64, 32}) {
            for (bool factors : {false, true}) {
                SCOPED_TRACE(strf("mode=%d n_rot=%d ff=%d", int(mode), n_rot, int(factors)));
                RopeParams p;
                p.n_rot = n_rot;
                p.mode = mode;
                p.freq_base = 500000.0f;
                p.freq_scale = 0.5f;
                p.attn_factor = 1.1f;
                p.freq_factors = factors ? ff.data() : nullptr;
                Owned x(DType::F32, 64, 3, 5), y(DType::F32, 64, 3, 5);
                x.fill(3);
                Owned want(y);
                ref::rope(x.t, pos, p, want.t);
                Dev dx(be, x), dy(be, y);
                be->rope(dx.t, pos, p, dy.t);
                EXPECT_TRUE(test::close(dy.get(y).f32(), want.f32(), Tol{1e-6f, 1e-5f}));
                be->rope(dx.t, pos, p, dx.t); // in place
                EXPECT_TRUE(test::close(dx.get(x).f32(), want.f32(), Tol{1e-6f, 1e-5f}));
            }
        }
}

// k's rope written straight into the cache rows: against ref rope + set_rows, f32 and f16 caches,
// both modes, partial rotation; rows not named by ids keep their (NaN) bytes.
TEST_P(VulkanOps, RopeSetRows) {
    NEED_BACKEND(be, GetParam());
    ASSERT_TRUE(be->fuses_rope_set_rows());
    const int32_t pos[] = {0, 5, 17, 4000, 123456};
    const int32_t ids[] = {7, 0, 12, 3, 8};
    for (DType kv : {DType::F32, DType::F16})
        for (RopeMode mode : {RopeMode::normal, RopeMode::neox})
            for (int n_rot : {64, 32}) {
                SCOPED_TRACE(strf("%s mode=%d n_rot=%d", dtype_name(kv), int(mode), n_rot));
                RopeParams p;
                p.n_rot = n_rot;
                p.mode = mode;
                p.freq_base = 500000.0f;
                p.freq_scale = 0.5f;
                p.attn_factor = 1.1f;
                Owned x(DType::F32, 64, 3, 5), cache(kv, 64 * 3, 13), roped(DType::F32, 64, 3, 5);
                x.fill(5);
                std::fill(cache.bytes.begin(), cache.bytes.end(), uint8_t(0xFF));
                Owned want(cache);
                ref::rope(x.t, pos, p, roped.t);
                Tensor r2 = make_tensor(DType::F32, roped.t.data, 64 * 3, 5);
                ref::set_rows(r2, ids, want.t);
                Dev dx(be, x), dc(be, cache);
                be->rope_set_rows(dx.t, pos, p, ids, dc.t);
                ASSERT_TRUE(be->sync().ok());
                const Owned got = dc.get(cache);
                for (int64_t r = 0; r < 13; ++r) {
                    const bool written = std::find(std::begin(ids), std::end(ids), r) != std::end(ids);
                    if (!written) {
                        EXPECT_EQ(std::memcmp(got.t.row<uint8_t>(r), want.t.row<uint8_t>(r), size_t(cache.row_bytes())), 0) << "row " << r;
                        continue;
                    }
                    Owned g1(DType::F32, 64 * 3), w1(DType::F32, 64 * 3);
                    Tensor gr = make_tensor(kv, got.t.row<uint8_t>(r), 64 * 3), wr = make_tensor(kv, want.t.row<uint8_t>(r), 64 * 3);
                    ref::copy(gr, g1.t);
                    ref::copy(wr, w1.t);
                    EXPECT_TRUE(test::close(g1.f32(), w1.f32(), Tol{1e-6f, kv == DType::F16 ? 1e-3f : 1e-5f})) << "row " << r;
                }
                EXPECT_TRUE(test::close(dx.get(x).f32(), x.f32(), Tol{0.0f, 0.0f})) << "x is unchanged";
            }
}

TEST_P(VulkanOps, SetRowsAndAttention) {
    NEED_BACKEND(be, GetParam());
    for (DType kv : {DType::F32, DType::F16})
        for (int64_t hd : {64, 40, 128}) {
            SCOPED_TRACE(strf("%s hd=%lld", dtype_name(kv), (long long)hd));
            const int64_t n_head = 6, n_head_kv = 2, n_cells = 150, n_tok = 3;
            // The cache starts as NaN everywhere: cells that the mask hides must never be read.
            Owned kc(kv, hd, n_head_kv, n_cells), vc(kv, hd, n_head_kv, n_cells);
            std::fill(kc.bytes.begin(), kc.bytes.end(), uint8_t(0xFF));
            std::fill(vc.bytes.begin(), vc.bytes.end(), uint8_t(0xFF));
            Dev dk(be, kc), dv(be, vc);
            // Write 100 cells through set_rows in two calls, in a scattered order.
            std::vector<int32_t> cells(100);
            for (int32_t i = 0; i < 100; ++i) cells[size_t(i)] = (i * 37) % 149;
            Owned knew(DType::F32, hd * n_head_kv, 100), vnew(DType::F32, hd * n_head_kv, 100);
            knew.fill(20);
            vnew.fill(21);
            Dev dkn(be, knew), dvn(be, vnew);
            Tensor k2 = make_tensor(kv, dk.t.data, hd * n_head_kv, n_cells), v2 = make_tensor(kv, dv.t.data, hd * n_head_kv, n_cells);
            Tensor k2h = make_tensor(kv, kc.t.data, hd * n_head_kv, n_cells), v2h = make_tensor(kv, vc.t.data, hd * n_head_kv, n_cells);
            be->set_rows(dkn.t, cells.data(), k2);
            be->set_rows(dvn.t, cells.data(), v2);
            ref::set_rows(knew.t, cells.data(), k2h);
            ref::set_rows(vnew.t, cells.data(), v2h);
            EXPECT_TRUE(test::same_bytes(dk.get(kc).bytes, kc.bytes)) << "set_rows k";
            Owned q(DType::F32, hd, n_head, n_tok), out(DType::F32, hd, n_head, n_tok), mask(DType::F32, n_cells, n_tok);
            q.fill(22);
            for (int64_t t = 0; t < n_tok; ++t)
                for (int64_t c = 0; c < n_cells; ++c) {
                    bool written = false;
                    for (int32_t w : cells) written |= w == c;
                    mask.frow(t)[c] = (written && (t == 2 || c % (t + 2) == 0)) ? (c % 5 == 0 ? -0.5f : 0.0f) : -INFINITY;
                    if (t == 1) mask.frow(t)[c] = -INFINITY; // a fully masked token gets zeros
                }
            Owned want(out);
            ref::attention(q.t, kc.t, vc.t, mask.t, 0.125f, want.t);
            Dev dq(be, q), dout(be, out), dm(be, mask);
            be->attention(dq.t, dk.t, dv.t, dm.t, 0.125f, dout.t);
            EXPECT_TRUE(test::close(dout.get(out).f32(), want.f32(), Tol{1e-5f, 1e-4f})) << "attention";
        }
}

INSTANTIATE_TEST_SUITE_P(Modes, VulkanOps, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "baseline" : "normal"; });

// A small binding limit forces the row splitting that >128 MiB tensors need on lavapipe, cheaply.
TEST(VulkanSplit, SmallBindingLimit) {
    NEED_BACKEND_LIMIT(be, false, 64 * 1024);
    for (DType t : {DType::F32, DType::Q8_0, DType::Q4_K}) {
        SCOPED_TRACE(dtype_name(t));
        const int64_t k = 1024, m = 200, n = 40; // weights 800 KiB f32: 13+ dispatches
        Owned w(t, k, m), x(DType::F32, k, n), y(DType::F32, m, n);
        w.fill(1);
        x.fill(2);
        Owned want(y);
        ref::mul_mat(w.t, x.t, want.t);
        Dev dw(be, w), dx(be, x), dy(be, y);
        be->mul_mat(dw.t, dx.t, dy.t);
        const std::vector<float> g = dy.get(y).f32(), wv = want.f32();
        EXPECT_LE(test::nmse(g.data(), wv.data(), int64_t(g.size())), vk::mul_mat_rounds_to_f16(*be, n) ? 5e-6 : 1e-10);
        std::vector<int32_t> ids = {199, 0, 57, 120};
        Owned out(DType::F32, k, 4), wr(DType::F32, k, 4);
        ref::get_rows(w.t, ids.data(), 4, wr.t);
        Dev dout(be, out);
        be->get_rows(dw.t, ids.data(), 4, dout.t);
        EXPECT_TRUE(test::close(dout.get(out).f32(), wr.f32(), Tol{1e-7f, 1e-6f}));
    }
    Owned x(DType::F32, 1000, 100), y(DType::F32, 1000, 100), b(DType::F32, 1000, 1);
    x.fill(3);
    b.fill(4);
    Owned want(y);
    ref::add(x.t, b.t, want.t);
    Dev dx(be, x), dy(be, y), db(be, b);
    be->add(dx.t, db.t, dy.t);
    EXPECT_TRUE(test::close(dy.get(y).f32(), want.f32(), Tol{1e-6f, 1e-6f}));
    ref::rms_norm(x.t, &b.t, 1e-5f, want.t);
    be->rms_norm(dx.t, &db.t, 1e-5f, dy.t);
    EXPECT_TRUE(test::close(dy.get(y).f32(), want.f32(), Tol{1e-6f, 1e-5f}));
}

// A real tensor over 128 MiB (lavapipe's maxStorageBufferRange): a Q8_0 matrix of 136 MiB.
TEST(VulkanSplit, TensorOver128MiB) {
    NEED_BACKEND(be, false);
    const int64_t k = 4096, m = 32768 + 37;
    std::vector<uint8_t> wb(size_t(*row_bytes(DType::Q8_0, k) * uint64_t(m)));
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; i < wb.size(); ++i) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        wb[i] = uint8_t(s);
    }
    for (size_t blk = 0; blk < wb.size() / sizeof(block_q8_0); ++blk) { // f16 scale 2^-10
        wb[blk * sizeof(block_q8_0)] = 0x00;
        wb[blk * sizeof(block_q8_0) + 1] = 0x14;
    }
    ASSERT_GT(wb.size(), 128ull << 20);
    Tensor w = make_tensor(DType::Q8_0, wb.data(), k, m);
    Owned x(DType::F32, k, 2), y(DType::F32, m, 2);
    x.fill(9);
    Owned want(y);
    ref::mul_mat(w, x.t, want.t);
    Result<void*> dwp = be->alloc(wb.size(), "big");
    ASSERT_TRUE(dwp.ok()) << dwp.status().message();
    ASSERT_TRUE(be->upload(*dwp, wb.data(), wb.size()).ok());
    Tensor dw = w;
    dw.data = *dwp;
    Dev dx(be, x), dy(be, y);
    be->mul_mat(dw, dx.t, dy.t);
    const std::vector<float> g = dy.get(y).f32(), wv = want.f32();
    EXPECT_LE(test::nmse(g.data(), wv.data(), int64_t(g.size())), 1e-10);
    const int32_t ids[] = {m - 1, 0, 20000};
    Owned out(DType::F32, k, 3), wr(DType::F32, k, 3);
    ref::get_rows(w, ids, 3, wr.t);
    Dev dout(be, out);
    be->get_rows(dw, ids, 3, dout.t);
    EXPECT_TRUE(test::close(dout.get(out).f32(), wr.f32(), Tol{0, 0}));
    be->free(*dwp);
}

// More dispatches than one descriptor pool holds (2048) before a sync: the recorder submits in the
// middle, and host data staged for an op (ids, the rope table reused across calls) must survive it.
TEST(VulkanSplit, ManyDispatchesBeforeSync) {
    NEED_BACKEND(be, false);
    const int64_t n = 2600;
    Owned tab(DType::Q8_0, 64, 7), out(DType::F32, 64, n), x(DType::F32, 64, 1, n), y(DType::F32, 64, 1, n);
    tab.fill(1);
    x.fill(2);
    Dev dt(be, tab), dout(be, out), dx(be, x), dy(be, y);
    std::vector<int32_t> ids(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) ids[size_t(i)] = int32_t((i * 5) % 7);
    RopeParams p;
    p.n_rot = 64;
    const int32_t pos = 42;
    for (int64_t i = 0; i < n; ++i) {
        Tensor o = make_tensor(DType::F32, static_cast<uint8_t*>(dout.t.data) + i * out.t.nb[1], 64, 1);
        be->get_rows(dt.t, &ids[size_t(i)], 1, o);
        Tensor xi = make_tensor(DType::F32, static_cast<uint8_t*>(dx.t.data) + i * x.t.nb[2], 64, 1, 1);
        Tensor yi = make_tensor(DType::F32, static_cast<uint8_t*>(dy.t.data) + i * y.t.nb[2], 64, 1, 1);
        be->rope(xi, &pos, p, yi);
    }
    ASSERT_TRUE(be->sync().ok());
    Owned want_out(out), want_y(y);
    ref::get_rows(tab.t, ids.data(), n, want_out.t);
    std::vector<int32_t> all_pos(static_cast<size_t>(n), pos);
    ref::rope(x.t, all_pos.data(), p, want_y.t);
    EXPECT_TRUE(test::close(dout.get(out).f32(), want_out.f32(), Tol{0, 0}));
    EXPECT_TRUE(test::close(dy.get(y).f32(), want_y.f32(), Tol{1e-6f, 1e-5f}));
}

// The barrier decision: only read-after-write, write-after-write and write-after-read on
// overlapping ranges of one buffer need a barrier.
TEST(VulkanBarriers, HazardTracker) {
    using R = vk::HazardTracker::Range;
    VkBuffer a = reinterpret_cast<VkBuffer>(uintptr_t(0x10)), b = reinterpret_cast<VkBuffer>(uintptr_t(0x20));
    vk::HazardTracker h;
    const R h_in{a, 0, 100}, q{a, 100, 200}, k{a, 200, 300}, v{b, 0, 100};
    EXPECT_FALSE(h.conflicts(&h_in, 1, &q, 1)); // empty
    h.add(&h_in, 1, &q, 1);                      // q = W h
    EXPECT_FALSE(h.conflicts(&h_in, 1, &k, 1));  // k = W h: independent
    h.add(&h_in, 1, &k, 1);
    EXPECT_FALSE(h.conflicts(&h_in, 1, &v, 1));  // v in another buffer
    h.add(&h_in, 1, &v, 1);
    const R q_part{a, 150, 160};
    EXPECT_TRUE(h.conflicts(&q_part, 1, nullptr, 0)); // reads q: RAW
    EXPECT_TRUE(h.conflicts(nullptr, 0, &q_part, 1)); // rewrites q: WAW
    const R h_part{a, 99, 101};
    EXPECT_TRUE(h.conflicts(nullptr, 0, &h_part, 1)); // overwrites h that others read: WAR
    const R other{b, 100, 200};
    EXPECT_FALSE(h.conflicts(&h_in, 1, &other, 1));
    h.clear();
    EXPECT_FALSE(h.conflicts(&q_part, 1, &q_part, 1));
}

TEST(VulkanErrors, OutOfMemoryIsAStatus) {
    NEED_BACKEND(be, false);
    Result<void*> p = be->alloc(1ull << 50, "absurd");
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.status().code(), Code::out_of_memory) << p.status().message();
    EXPECT_TRUE(be->sync().ok());
}

// --vram below one default block (256 MiB): small allocations still get exact blocks until the cap
// is reached, then a clear out-of-memory Status.
TEST(VulkanErrors, SmallVramCapFillsToTheCap) {
    std::string why;
    if (!backend(false, 0, &why)) GTEST_SKIP() << "no Vulkan device: " << why;
    vk::VulkanOptions o;
    o.max_device_bytes = 16ull << 20;
    Result<std::unique_ptr<Backend>> r = vk::create_vulkan_backend(o);
    ASSERT_TRUE(r.ok()) << r.status().message();
    Backend& be = **r;
    std::vector<void*> held;
    for (int i = 0; i < 12; ++i) {
        Result<void*> p = be.alloc(1ull << 20, "1 MiB");
        ASSERT_TRUE(p.ok()) << i << ": " << p.status().message();
        held.push_back(*p);
    }
    Result<void*> big = be.alloc(6ull << 20, "6 MiB");
    ASSERT_FALSE(big.ok());
    EXPECT_EQ(big.status().code(), Code::out_of_memory) << big.status().message();
    EXPECT_LE(be.memory().in_use, o.max_device_bytes);
    for (void* p : held) be.free(p);
    EXPECT_TRUE(be.sync().ok());
}

TEST(VulkanErrors, DeviceLostMapsToStatus) {
    EXPECT_EQ(vk::vk_status(VK_ERROR_DEVICE_LOST, "submit").code(), Code::device_lost);
    EXPECT_EQ(vk::vk_status(VK_ERROR_OUT_OF_DEVICE_MEMORY, "alloc").code(), Code::out_of_memory);
    EXPECT_EQ(vk::vk_status(VK_ERROR_INITIALIZATION_FAILED, "x").code(), Code::internal);
}

TEST(VulkanErrors, PipelineInterfaceMismatchIsAnError) {
    std::string why;
    if (!backend(false, 0, &why)) GTEST_SKIP() << "no Vulkan device: " << why;
    Result<std::unique_ptr<vk::Device>> dev = vk::Device::create(0, false);
    ASSERT_TRUE(dev.ok());
    vk::Pipelines pipes(**dev);
    Result<const vk::Pipeline*> bad = pipes.get("rms_norm", 2, 64);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().code(), Code::internal);
    Result<const vk::Pipeline*> none = pipes.get("no_such_shader", 1, 4);
    EXPECT_FALSE(none.ok());
    const uint32_t junk[] = {1, 2, 3};
    EXPECT_FALSE(vk::reflect_spirv(junk, 3).ok());
    // The written bindings come from the shader's readonly blocks: the hazard tracker's writes.
    const struct {
        const char* name;
        uint32_t n, push, written;
    } io[] = {{"rms_norm", 3, 72, 1u << 2}, {"mul_mat_vec_q4_k_n1_glu_add", 5, 80, 1u << 4}, {"attention_split_f16", 7, 92, (1u << 4) | (1u << 5) | (1u << 6)}};
    for (const auto& c : io) {
        Result<const vk::Pipeline*> p = pipes.get(c.name, c.n, c.push);
        ASSERT_TRUE(p.ok()) << c.name << ": " << p.status().message();
        EXPECT_EQ((*p)->written, c.written) << c.name;
    }
}

} // namespace
#else
TEST(VulkanOps, Skipped) { GTEST_SKIP() << "built without the Vulkan backend (VKAI_VULKAN=OFF)"; }
#endif
