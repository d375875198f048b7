// cpu::mul_mat: shape checks, the choice between the AVX2 kernels and the portable path, and the
// portable path itself (dequantize each weight row once into thread scratch, dot it with every column).
#include "cpu/cpu.h"

#include "base/check.h"
#include "tensor/quant.h"

#if defined(VKAI_HAVE_AVX2_KERNELS) && !defined(VKAI_CPU_SCALAR_ONLY)
#include "cpu/matmul_avx2.h"
#define VKAI_MATMUL_AVX2 1
#endif

#include <algorithm>
#include <vector>

namespace vkai::cpu {
namespace {

// Eight independent partial sums: the compiler can keep them in vector registers without
// reassociating, and the result does not depend on the thread count.
float dot_f32(const float* a, const float* b, int64_t n) {
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j) s[j] += a[i + j] * b[i + j];
    for (; i < n; ++i) s[0] += a[i] * b[i];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

void mul_mat_portable(const Tensor& w, const float* const* xcols, float* const* ycols, int64_t n, ThreadPool& pool) {
    const int64_t k = w.ne[0], m = w.ne[1];
    const bool is_f32 = w.type == DType::F32;
    // Per-call, per-thread scratch for one dequantized row (k floats).
    std::vector<float> scratch(is_f32 ? 0 : size_t(k) * size_t(pool.size()));
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(1, k * n));
    pool.parallel_for(m, grain, [&](int64_t begin, int64_t end, int thread) {
        float* row = is_f32 ? nullptr : scratch.data() + size_t(thread) * size_t(k);
        for (int64_t i = begin; i < end; ++i) {
            const float* wr = is_f32 ? w.row<const float>(i) : row;
            if (!is_f32) dequantize_row(w.type, w.row(i), row, k);
            for (int64_t j = 0; j < n; ++j) ycols[j][i] = dot_f32(wr, xcols[j], k);
        }
    });
}

} // namespace

void mul_mat(const Tensor& w, const Tensor& x, Tensor& y, ThreadPool& pool) {
    const int64_t k = w.ne[0], m = w.ne[1];
    VKAI_ASSERT(supports_mul_mat(w.type), "mul_mat: weight type %s not supported", dtype_name(w.type));
    VKAI_ASSERT(w.ne[2] == 1 && w.ne[3] == 1, "mul_mat: weights must be 2-D");
    VKAI_ASSERT(w.nb[0] == dtype_info(w.type).block_bytes, "mul_mat: weight rows must be contiguous");
    VKAI_ASSERT(x.type == DType::F32 && y.type == DType::F32, "mul_mat: x and y must be f32");
    VKAI_ASSERT(x.ne[0] == k && x.nb[0] == sizeof(float), "mul_mat: x.ne[0]=%lld, want k=%lld contiguous",
                (long long)x.ne[0], (long long)k);
    VKAI_ASSERT(y.ne[0] == m && y.nb[0] == sizeof(float), "mul_mat: y.ne[0]=%lld, want m=%lld contiguous",
                (long long)y.ne[0], (long long)m);
    VKAI_ASSERT(x.ne[1] == y.ne[1] && x.ne[2] == y.ne[2] && x.ne[3] == y.ne[3], "mul_mat: x and y column dims differ");

    // Dims 1..3 of x and y are all columns; the kernels take one pointer per column.
    const int64_t n = x.ne[1] * x.ne[2] * x.ne[3];
    std::vector<const float*> xcols(static_cast<size_t>(n));
    std::vector<float*> ycols(static_cast<size_t>(n));
    int64_t j = 0;
    for (int64_t i3 = 0; i3 < x.ne[3]; ++i3)
        for (int64_t i2 = 0; i2 < x.ne[2]; ++i2)
            for (int64_t i1 = 0; i1 < x.ne[1]; ++i1, ++j) {
                xcols[j] = x.row<const float>(i1, i2, i3);
                ycols[j] = y.row<float>(i1, i2, i3);
            }
    if (n == 0 || m == 0) return;

#ifdef VKAI_MATMUL_AVX2
    if (simd_enabled() && avx2::has_mul_mat(w.type)) {
        avx2::mul_mat(w, xcols.data(), ycols.data(), n, pool);
        return;
    }
#endif
    mul_mat_portable(w, xcols.data(), ycols.data(), n, pool);
}

} // namespace vkai::cpu
