// The float-weight (F32 / F16 / BF16) mul_mat for many columns: a cache-blocked, register-tiled
// GEMM (gemm_float_impl.h, built for AVX2 in gemm_float_avx2.cpp and for AVX-512 in
// gemm_float_avx512.cpp). It computes every output with exactly the arithmetic of the one-column
// kernel (float_rows in matmul_avx2.cpp, through float_dot_finish below), so a column's result
// does not depend on how many columns share the call, nor on the threads or the ISA variant.
#pragma once

#include "cpu/matmul_avx2.h"

namespace vkai::cpu::avx2 {

// From this many columns on, mul_mat takes the GEMM for float weights.
constexpr int64_t kGemmMinCols = 16;
// w: (k, m) F32, F16 or BF16; as avx2::mul_mat otherwise.
void gemm_float_avx2(const Tensor& w, const float* const* xcols, float* const* ycols, int64_t n, ThreadPool& pool);
void gemm_float_avx512(const Tensor& w, const float* const* xcols, float* const* ycols, int64_t n, ThreadPool& pool);

#ifdef __AVX2__
// The canonical dot product of one weight row w (as f32 lanes, any loader) with one column x over k
// elements: four 8-lane accumulators a0..a3 take the elements l + 8u + i of each whole group of 32
// (l = 0, 32, ...; a0..a3 arrive here holding those sums, with `l` past the last whole group),
// a0 then takes the remaining whole groups of 8, the accumulators add as ((a0 + a1) + a2) + a3, the
// 8 lanes reduce through hsum, and the last k % 8 products add one by one with a fused multiply-add.
template <class WLoad8, class WLoad1>
static inline float float_dot_finish(__m256 a0, __m256 a1, __m256 a2, __m256 a3, WLoad8 wload8, WLoad1 wload1, const float* x,
                                     int64_t l, int64_t k) {
    for (; l + 8 <= k; l += 8) a0 = _mm256_fmadd_ps(wload8(l), _mm256_loadu_ps(x + l), a0);
    a0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), a2), a3);
    float s = hsum(a0);
    for (; l < k; ++l) s = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(wload1(l)), _mm_set_ss(x[l]), _mm_set_ss(s)));
    return s;
}
#endif

} // namespace vkai::cpu::avx2
