// Row ops (rms_norm, softmax, silu, gelu, add, mul): the reference against hand-computed values,
// then cpu:: against ref:: over a table of cases per op, under every variant (op_harness.h).
#include "op_harness.h"

#include <limits>

using namespace vkai;
using namespace vkai::test;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// ---- rms_norm ----------------------------------------------------------------------------------

// The kernels sum squares in float over 8 (portable) or 32 (AVX2) partial sums, so for n = 4101 a
// lane adds up to 513 terms: worst case ~513 ulp = 3e-5 relative in the sum, 1.5e-5 after the
// sqrt, plus 2 ulp for the scaling. Measured: under 1e-6.
constexpr Tol kNormTol{1e-7f, 2e-5f};

struct NormCase {
    int64_t n, rows;
    bool weight;
    float eps;
    bool in_place = false;
    int64_t pad = 0;
    float range = 1.0f;
    std::string vars() const {
        return strf("rms_norm n=%lld rows=%lld weight=%d eps=%g in_place=%d pad=%lld range=%g", (long long)n, (long long)rows,
                    weight, eps, in_place, (long long)pad, range);
    }
};

const NormCase kNormCases[] = {
    {1, 1, false, 1e-5f},
    {7, 3, true, 1e-6f},
    {8, 2, true, 1e-6f, true},
    {31, 5, true, 1e-5f, true, 3},
    {64 + 3, 4, false, 1e-6f, false, 5},
    {256, 3, true, 1e-5f, false, 0, 100.0f},
    {4096 + 5, 9, true, 1e-6f},          // 37k elements: split over threads
    {4096, 16, true, 1e-5f, true, 8},    // threaded, in place, strided rows
    {33, 2, true, 1.0f, false, 0, 1e-3f}, // eps dominates the mean square
};

TEST(rms_norm, spec) {
    float x[4] = {1, 2, 3, 4}, w[4] = {1, 1, 2, 0.5f}, y[4];
    Tensor tx = make_tensor(DType::F32, x, 4), tw = make_tensor(DType::F32, w, 4), ty = make_tensor(DType::F32, y, 4);
    ref::rms_norm(tx, &tw, 0.0f, ty); // mean(x^2) = 7.5
    for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(y[i], x[i] / std::sqrt(7.5f) * w[i]) << i;
}

TEST(rms_norm, cases) {
    for (const NormCase& c : kNormCases) {
        SCOPED_TRACE(c.vars());
        Owned x(DType::F32, c.n, c.rows, 1, 1, c.pad), w(DType::F32, c.n), want(DType::F32, c.n, c.rows);
        x.fill(1, -c.range, c.range);
        w.fill(2, 0.5f, 1.5f);
        const Tensor* wt = c.weight ? &w.t : nullptr;
        ref::rms_norm(x.t, wt, c.eps, want.t);
        for_each_variant([&](ThreadPool& pool) {
            Owned y = c.in_place ? x : Owned(DType::F32, c.n, c.rows, 1, 1, c.pad);
            cpu::rms_norm(c.in_place ? y.t : x.t, wt, c.eps, y.t, pool);
            EXPECT_TRUE(close(y.f32(), want.f32(), kNormTol));
            EXPECT_TRUE(y.padding_intact());
        });
    }
}

// ---- softmax -----------------------------------------------------------------------------------

// Error sources: x * scale + mask rounded in float (|v| <= ~20 here: 1.2e-6 relative in exp),
// the exp itself (AVX2 exp_ps and libm: < 1 ulp), and the float sum over 8 lanes in the AVX2
// kernel (n = 4101: worst ~3e-5, typically 1e-6). Measured: under 2e-6.
constexpr Tol kSoftmaxTol{1e-10f, 3e-5f};

enum class Mask { none, random, causal, causal_empty_row };

struct SoftmaxCase {
    int64_t n, rows;
    float scale;
    Mask mask;
    int64_t mask_rows = 1;
    bool in_place = false;
    int64_t pad = 0;
    std::string vars() const {
        static const char* names[] = {"none", "random", "causal", "causal+empty row"};
        return strf("softmax n=%lld rows=%lld scale=%g mask=%s mask_rows=%lld in_place=%d pad=%lld", (long long)n, (long long)rows,
                    scale, names[int(mask)], (long long)mask_rows, in_place, (long long)pad);
    }
};

const SoftmaxCase kSoftmaxCases[] = {
    {1, 1, 1.0f, Mask::none},
    {1, 3, 1.0f, Mask::causal_empty_row, 3}, // a single masked element: a row of zeros
    {7, 3, 0.5f, Mask::random, 3},
    {8, 2, 2.0f, Mask::none, 1, true},
    {31, 8, 0.125f, Mask::causal, 4},                  // mask broadcast over 2 heads
    {64 + 3, 6, 1.0f, Mask::causal_empty_row, 3, true, 2},
    {256, 64, 0.125f, Mask::causal, 16},               // 16k elements: threaded
    {4096 + 5, 5, 0.088f, Mask::causal, 5, false, 3},
    {4096 + 5, 4, 1.0f, Mask::random, 1},
};

Owned make_mask(const SoftmaxCase& c) {
    Owned m(DType::F32, c.n, c.mask_rows);
    if (c.mask == Mask::random) m.fill(3, -2.0f, 0.0f);
    if (c.mask == Mask::causal || c.mask == Mask::causal_empty_row) {
        for (int64_t r = 0; r < c.mask_rows; ++r)
            for (int64_t i = 0; i < c.n; ++i) m.frow(r)[i] = i > r + c.n - c.mask_rows ? -kInf : 0.0f;
    }
    if (c.mask == Mask::causal_empty_row)
        for (int64_t i = 0; i < c.n; ++i) m.frow(1 % c.mask_rows)[i] = -kInf;
    return m;
}

TEST(softmax, spec) {
    float x[3] = {1, 2, 3}, m[6] = {0, 0, -kInf, -kInf, -kInf, -kInf}, y[6];
    Tensor tx = make_tensor(DType::F32, x, 3), ty = make_tensor(DType::F32, y, 3);
    ref::softmax(tx, nullptr, 1.0f, ty);
    const double s = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
    for (int i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(y[i], float(std::exp(double(x[i])) / s)) << i;
    // mask row 0 hides x[2], row 1 hides everything: zeros, not NaN
    float x2[6] = {1, 2, 3, 1, 2, 3};
    Tensor tx2 = make_tensor(DType::F32, x2, 3, 2), tm = make_tensor(DType::F32, m, 3, 2), ty2 = make_tensor(DType::F32, y, 3, 2);
    ref::softmax(tx2, &tm, 2.0f, ty2);
    EXPECT_FLOAT_EQ(y[0], float(1.0 / (1.0 + std::exp(2.0))));
    EXPECT_EQ(y[2], 0.0f);
    for (int i = 3; i < 6; ++i) EXPECT_EQ(y[i], 0.0f) << i;
}

TEST(softmax, cases) {
    for (const SoftmaxCase& c : kSoftmaxCases) {
        SCOPED_TRACE(c.vars());
        Owned x(DType::F32, c.n, c.rows, 1, 1, c.pad), want(DType::F32, c.n, c.rows);
        x.fill(4, -4.0f, 4.0f);
        Owned m = make_mask(c);
        const Tensor* mt = c.mask == Mask::none ? nullptr : &m.t;
        ref::softmax(x.t, mt, c.scale, want.t);
        for_each_variant([&](ThreadPool& pool) {
            Owned y = c.in_place ? x : Owned(DType::F32, c.n, c.rows, 1, 1, c.pad);
            cpu::softmax(c.in_place ? y.t : x.t, mt, c.scale, y.t, pool);
            EXPECT_TRUE(close(y.f32(), want.f32(), kSoftmaxTol));
            EXPECT_TRUE(y.padding_intact());
            // -inf in the mask must give exactly 0 (and fully masked rows zeros, never NaN).
            int64_t bad = 0;
            for (int64_t r = 0; r < c.rows; ++r)
                for (int64_t i = 0; i < c.n; ++i) {
                    const bool masked = mt && m.frow(r % c.mask_rows)[i] == -kInf;
                    bad += (masked && y.frow(r)[i] != 0.0f) || std::isnan(y.frow(r)[i]);
                }
            EXPECT_EQ(bad, 0) << "masked entries not exactly 0, or NaN";
        });
    }
}

// ---- silu, gelu --------------------------------------------------------------------------------

// Relative error of exp (< 1 ulp) plus the float rounding of its argument: for gelu near
// x = -10 the argument is ~85, whose ulp is 8e-6 (outputs there are ~1e-36, hence abs 1e-7).
// Measured: under 2e-6 relative where |y| > 1e-7.
constexpr Tol kActTol{1e-7f, 1e-5f};

struct ActCase {
    int64_t n, rows;
    float lo, hi;
    bool in_place = false;
    int64_t pad = 0;
    std::string vars(const char* op) const {
        return strf("%s n=%lld rows=%lld range=[%g, %g] in_place=%d pad=%lld", op, (long long)n, (long long)rows, lo, hi, in_place,
                    (long long)pad);
    }
};

const ActCase kActCases[] = {
    {1, 1, -1, 1},
    {7, 3, -10, 10},
    {8, 2, -3, 3, true},
    {31, 5, -100, 100, false, 3}, // saturated tails on both sides
    {64 + 3, 4, -10, 10, true, 1},
    {4096 + 5, 9, -8, 8},         // threaded
    {4096, 5, -1, 1, true, 4},
};

using RefUnary = void (*)(const Tensor&, Tensor&);
using CpuUnary = void (*)(const Tensor&, Tensor&, ThreadPool&);

void run_act(const char* op, RefUnary ref_fn, CpuUnary cpu_fn) {
    for (const ActCase& c : kActCases) {
        SCOPED_TRACE(c.vars(op));
        Owned x(DType::F32, c.n, c.rows, 1, 1, c.pad), want(DType::F32, c.n, c.rows);
        x.fill(5, c.lo, c.hi);
        ref_fn(x.t, want.t);
        Owned want_in_place = x; // the reference also allows y == x
        ref_fn(want_in_place.t, want_in_place.t);
        EXPECT_EQ(want_in_place.f32(), want.f32());
        for_each_variant([&](ThreadPool& pool) {
            Owned y = c.in_place ? x : Owned(DType::F32, c.n, c.rows, 1, 1, c.pad);
            cpu_fn(c.in_place ? y.t : x.t, y.t, pool);
            EXPECT_TRUE(close(y.f32(), want.f32(), kActTol));
            EXPECT_TRUE(y.padding_intact());
        });
    }
}

TEST(silu, spec) {
    float x[3] = {0, 1, -2}, y[3];
    Tensor tx = make_tensor(DType::F32, x, 3), ty = make_tensor(DType::F32, y, 3);
    ref::silu(tx, ty);
    EXPECT_EQ(y[0], 0.0f);
    EXPECT_FLOAT_EQ(y[1], 0.7310585786f);
    EXPECT_FLOAT_EQ(y[2], -0.2384058440f);
}

TEST(gelu, spec) {
    float x[3] = {0, 1, -2}, y[3];
    Tensor tx = make_tensor(DType::F32, x, 3), ty = make_tensor(DType::F32, y, 3);
    ref::gelu(tx, ty);
    EXPECT_EQ(y[0], 0.0f);
    EXPECT_FLOAT_EQ(y[1], 0.8411919906f); // tanh approximation, not erf (0.8413447)
    EXPECT_FLOAT_EQ(y[2], -0.0454023059f);
}

TEST(silu, cases) { run_act("silu", ref::silu, cpu::silu); }
TEST(gelu, cases) { run_act("gelu", ref::gelu, cpu::gelu); }

// ---- add, mul ----------------------------------------------------------------------------------

// Exact: one float rounding of a + b or a * b in both (a double product of floats is exact).
constexpr Tol kExact{0.0f, 0.0f};

struct BinCase {
    int64_t n, rows, b_rows;
    bool in_place = false;
    int64_t pad = 0;
    std::string vars(const char* op) const {
        return strf("%s n=%lld rows=%lld b_rows=%lld in_place=%d pad=%lld", op, (long long)n, (long long)rows, (long long)b_rows,
                    in_place, (long long)pad);
    }
};

const BinCase kBinCases[] = {
    {1, 1, 1},
    {7, 3, 1},                 // b broadcast to every row
    {8, 4, 4, true},
    {31, 6, 3, false, 2},      // b row r % 3
    {64 + 3, 5, 5, true, 3},
    {4096 + 5, 9, 1},          // threaded
    {4096, 12, 4, true, 1},
};

using RefBinary = void (*)(const Tensor&, const Tensor&, Tensor&);
using CpuBinary = void (*)(const Tensor&, const Tensor&, Tensor&, ThreadPool&);

void run_bin(const char* op, RefBinary ref_fn, CpuBinary cpu_fn) {
    for (const BinCase& c : kBinCases) {
        SCOPED_TRACE(c.vars(op));
        Owned a(DType::F32, c.n, c.rows, 1, 1, c.pad), b(DType::F32, c.n, c.b_rows, 1, 1, c.pad), want(DType::F32, c.n, c.rows);
        a.fill(6, -2.0f, 2.0f);
        b.fill(7, -2.0f, 2.0f);
        ref_fn(a.t, b.t, want.t);
        for_each_variant([&](ThreadPool& pool) {
            Owned y = c.in_place ? a : Owned(DType::F32, c.n, c.rows, 1, 1, c.pad);
            cpu_fn(c.in_place ? y.t : a.t, b.t, y.t, pool);
            EXPECT_TRUE(close(y.f32(), want.f32(), kExact));
            EXPECT_TRUE(y.padding_intact());
        });
    }
}

TEST(add, spec) {
    float a[4] = {1, 2, 3, 4}, b[2] = {10, 20}, y[4];
    Tensor ta = make_tensor(DType::F32, a, 2, 2), tb = make_tensor(DType::F32, b, 2), ty = make_tensor(DType::F32, y, 2, 2);
    ref::add(ta, tb, ty);
    EXPECT_EQ(std::vector<float>(y, y + 4), (std::vector<float>{11, 22, 13, 24}));
    ref::mul(ta, tb, ty);
    EXPECT_EQ(std::vector<float>(y, y + 4), (std::vector<float>{10, 40, 30, 80}));
}

TEST(add, cases) { run_bin("add", ref::add, cpu::add); }
TEST(mul, cases) { run_bin("mul", ref::mul, cpu::mul); }

} // namespace
