// CPU layer_norm, gelu_erf, im2col: portable loops threaded over rows (no AVX2 path yet: whisper's
// time goes to mul_mat and attention; these are a few percent).
#include "base/check.h"
#include "cpu/cpu.h"

#include <algorithm>
#include <cmath>

namespace vkai::cpu {
namespace {

float* row(const Tensor& t, int64_t r) {
    const int64_t i1 = r % t.ne[1], i2 = (r / t.ne[1]) % t.ne[2], i3 = r / (t.ne[1] * t.ne[2]);
    return t.row<float>(i1, i2, i3);
}

void check_f32(const Tensor& t, const char* what) {
    VKAI_ASSERT(t.type == DType::F32 && t.nb[0] == sizeof(float), "%s: want f32 with contiguous rows, got %s", what, dtype_name(t.type));
}

template <class F>
void rows(ThreadPool& pool, int64_t n_rows, int64_t row_len, F&& fn) {
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(row_len, 1));
    if (pool.size() == 1 || n_rows <= grain) return fn(int64_t(0), n_rows);
    pool.parallel_for(n_rows, grain, [&](int64_t b, int64_t e, int) { fn(b, e); });
}

} // namespace

void layer_norm(const Tensor& x, const Tensor* w, const Tensor* b, float eps, Tensor& y, ThreadPool& pool) {
    check_f32(x, "layer_norm x");
    check_f32(y, "layer_norm y");
    VKAI_ASSERT(x.ne == y.ne, "layer_norm: x and y shapes differ");
    const int64_t n = x.ne[0];
    for (const Tensor* p : {w, b})
        if (p) {
            check_f32(*p, "layer_norm w/b");
            VKAI_ASSERT(p->ne[0] == n, "layer_norm: w/b have %lld elements, rows have %lld", (long long)p->ne[0], (long long)n);
        }
    const float* wr = w ? static_cast<const float*>(w->data) : nullptr;
    const float* br = b ? static_cast<const float*>(b->data) : nullptr;
    rows(pool, x.nrows(), n, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const float* xr = row(x, r);
            float* yr = row(y, r);
            float mean = 0;
            for (int64_t i = 0; i < n; ++i) mean += xr[i];
            mean /= float(n);
            float var = 0;
            for (int64_t i = 0; i < n; ++i) var += (xr[i] - mean) * (xr[i] - mean);
            const float inv = 1.0f / std::sqrt(var / float(n) + eps);
            for (int64_t i = 0; i < n; ++i) yr[i] = (xr[i] - mean) * inv * (wr ? wr[i] : 1.0f) + (br ? br[i] : 0.0f);
        }
    });
}

void gelu_erf(const Tensor& x, Tensor& y, ThreadPool& pool) {
    check_f32(x, "gelu_erf x");
    check_f32(y, "gelu_erf y");
    VKAI_ASSERT(x.ne == y.ne, "gelu_erf: x and y shapes differ");
    const int64_t n = x.ne[0];
    rows(pool, x.nrows(), n * 8, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const float* xr = row(x, r);
            float* yr = row(y, r);
            for (int64_t i = 0; i < n; ++i) yr[i] = 0.5f * xr[i] * (1.0f + std::erf(xr[i] * 0.70710678118654752f));
        }
    });
}

void im2col(const Tensor& x, int k, int stride, int pad, Tensor& out, ThreadPool& pool) {
    check_f32(x, "im2col x");
    check_f32(out, "im2col out");
    const int64_t c = x.ne[0], t = x.ne[1];
    VKAI_ASSERT(k >= 1 && stride >= 1 && pad >= 0 && x.ne[2] == 1 && x.ne[3] == 1, "im2col: bad k/stride/pad or x not 2-D");
    const int64_t t_out = (t + 2 * pad - k) / stride + 1;
    VKAI_ASSERT(out.ne[0] == c * k && out.ne[1] == t_out && out.ne[2] == 1 && out.ne[3] == 1, "im2col: out shape");
    rows(pool, t_out, c * k, [&](int64_t j0, int64_t j1) {
        for (int64_t j = j0; j < j1; ++j) {
            float* o = out.row<float>(j);
            for (int64_t kk = 0; kk < k; ++kk) {
                const int64_t src = j * stride + kk - pad;
                const float* xr = src >= 0 && src < t ? x.row<float>(src) : nullptr;
                for (int64_t ci = 0; ci < c; ++ci) o[ci * k + kk] = xr ? xr[ci] : 0.0f;
            }
        }
    });
}

} // namespace vkai::cpu
