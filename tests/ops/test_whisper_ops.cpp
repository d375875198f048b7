// The ops whisper added (layer_norm, gelu_erf, im2col): the reference against hand-computed values,
// then cpu:: against ref:: under every variant (op_harness.h), with padded rows and in-place cases.
#include "op_harness.h"

using namespace vkai;
using namespace vkai::test;

namespace {

// Float sums over rows of up to ~4k elements against the double reference.
constexpr Tol kNormTol{1e-5f, 1e-5f};

TEST(layer_norm, spec) {
    float x[4] = {1, 2, 3, 6}, w[4] = {1, 2, 1, 0.5f}, b[4] = {0, 1, -1, 0}, y[4];
    Tensor tx = make_tensor(DType::F32, x, 4), tw = make_tensor(DType::F32, w, 4), tb = make_tensor(DType::F32, b, 4),
           ty = make_tensor(DType::F32, y, 4);
    ref::layer_norm(tx, &tw, &tb, 0.0f, ty); // mean 3, var (4 + 1 + 0 + 9) / 4 = 3.5
    for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(y[i], (x[i] - 3.0f) / std::sqrt(3.5f) * w[i] + b[i]) << i;
}

TEST(layer_norm, cases) {
    struct C {
        int64_t n, rows;
        bool affine, in_place;
        int64_t pad;
    };
    for (const C c : {C{1, 1, false, false, 0}, C{7, 3, true, false, 2}, C{64, 5, true, true, 0}, C{384, 40, true, false, 3},
                      C{1280 + 3, 17, true, true, 1}}) {
        SCOPED_TRACE(strf("layer_norm n=%lld rows=%lld affine=%d in_place=%d pad=%lld", (long long)c.n, (long long)c.rows, c.affine, c.in_place,
                          (long long)c.pad));
        Owned x(DType::F32, c.n, c.rows, 1, 1, c.pad), w(DType::F32, c.n), b(DType::F32, c.n), want(DType::F32, c.n, c.rows);
        x.fill(1, -3.0f, 5.0f);
        w.fill(2, 0.5f, 1.5f);
        b.fill(3);
        ref::layer_norm(x.t, c.affine ? &w.t : nullptr, c.affine ? &b.t : nullptr, 1e-5f, want.t);
        for_each_variant([&](ThreadPool& pool) {
            Owned xi = x, y(DType::F32, c.n, c.rows, 1, 1, c.pad);
            Tensor& out = c.in_place ? xi.t : y.t;
            cpu::layer_norm(xi.t, c.affine ? &w.t : nullptr, c.affine ? &b.t : nullptr, 1e-5f, out, pool);
            const Owned& got = c.in_place ? xi : y;
            EXPECT_TRUE(close(got.f32(), want.f32(), kNormTol));
            EXPECT_TRUE(got.padding_intact());
        });
    }
}

TEST(gelu_erf, spec) {
    float x[5] = {-3, -1, 0, 0.5f, 2}, y[5];
    Tensor tx = make_tensor(DType::F32, x, 5), ty = make_tensor(DType::F32, y, 5);
    ref::gelu_erf(tx, ty);
    // 0.5 x (1 + erf(x / sqrt 2)) by hand: Phi(-3) = 0.0013499, Phi(-1) = 0.1586553, Phi(0.5) = 0.6914625, Phi(2) = 0.9772499
    const float want[5] = {-3 * 0.0013499f, -0.1586553f, 0.0f, 0.5f * 0.6914625f, 2 * 0.9772499f};
    for (int i = 0; i < 5; ++i) EXPECT_NEAR(y[i], want[i], 2e-6f) << i;
}

TEST(gelu_erf, cases) {
    for (int64_t n : {1, 9, 1536 * 3}) {
        Owned x(DType::F32, n, 3, 1, 1, 1), want(DType::F32, n, 3);
        x.fill(4, -6.0f, 6.0f);
        ref::gelu_erf(x.t, want.t);
        for_each_variant([&](ThreadPool& pool) {
            Owned xi = x;
            cpu::gelu_erf(xi.t, xi.t, pool); // in place
            EXPECT_TRUE(close(xi.f32(), want.f32(), Tol{1e-6f, 1e-6f}));
        });
    }
}

TEST(im2col, spec) {
    // x: 2 channels, 4 steps (channels innermost); k 3, stride 2, pad 1 -> t_out 2.
    float x[8] = {1, 10, 2, 20, 3, 30, 4, 40}, out[12];
    Tensor tx = make_tensor(DType::F32, x, 2, 4), to = make_tensor(DType::F32, out, 6, 2);
    ref::im2col(tx, 3, 2, 1, to);
    // column j, index c*3 + k = x[2j + k - 1][c]
    const float want[12] = {0, 1, 2, 0, 10, 20, 2, 3, 4, 20, 30, 40};
    for (int i = 0; i < 12; ++i) EXPECT_EQ(out[i], want[i]) << i;
}

TEST(im2col, conv1d_matches_direct) {
    // conv1d via im2col + mul_mat equals a direct convolution (the whisper encoder's use).
    const int64_t c_in = 5, c_out = 4, t = 11, k = 3;
    for (int stride : {1, 2}) {
        Owned x(DType::F32, c_in, t), w(DType::F32, k * c_in, c_out);
        x.fill(5);
        w.fill(6);
        const int64_t t_out = (t + 2 - k) / stride + 1;
        Owned cols(DType::F32, k * c_in, t_out), y(DType::F32, c_out, t_out);
        ref::im2col(x.t, int(k), stride, 1, cols.t);
        ref::mul_mat(w.t, cols.t, y.t);
        for (int64_t j = 0; j < t_out; ++j)
            for (int64_t o = 0; o < c_out; ++o) {
                double s = 0;
                for (int64_t ci = 0; ci < c_in; ++ci)
                    for (int64_t kk = 0; kk < k; ++kk) {
                        const int64_t src = j * stride + kk - 1;
                        if (src >= 0 && src < t) s += double(w.frow(o)[ci * k + kk]) * x.frow(src)[ci];
                    }
                EXPECT_NEAR(y.frow(j)[o], s, 1e-5) << "stride " << stride << " j " << j << " o " << o;
            }
        for_each_variant([&](ThreadPool& pool) {
            Owned got(DType::F32, k * c_in, t_out);
            cpu::im2col(x.t, int(k), stride, 1, got.t, pool);
            EXPECT_EQ(got.f32(), cols.f32());
        });
    }
}

} // namespace
