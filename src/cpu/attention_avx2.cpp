// AVX2/F16C inner loops of cpu::attention (compiled with -mavx2 -mfma -mf16c; called only when
// cpu::simd_enabled()).
#include "cpu/attention_kernels.h"

#include "base/fp16.h"

#include <immintrin.h>

namespace vkai::cpu {
namespace {

inline __m256 load8(const void* p, bool f16, int64_t i) {
    if (f16) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + i)));
    return _mm256_loadu_ps(static_cast<const float*>(p) + i);
}

inline float load1(const void* p, bool f16, int64_t i) {
    return f16 ? fp16_to_f32(static_cast<const uint16_t*>(p)[i]) : static_cast<const float*>(p)[i];
}

float dot(const float* q, const void* k, bool f16, int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load8(k, f16, i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), load8(k, f16, i + 8), s1);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load8(k, f16, i), s0);
    s0 = _mm256_add_ps(s0, s1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float s = _mm_cvtss_f32(h);
    for (; i < n; ++i) s += q[i] * load1(k, f16, i);
    return s;
}

void scale_add(float* acc, float a, const void* v, bool f16, float b, int64_t n) {
    const __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_mul_ps(_mm256_loadu_ps(acc + i), va);
        _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(load8(v, f16, i), vb, x));
    }
    for (; i < n; ++i) acc[i] = acc[i] * a + load1(v, f16, i) * b;
}

} // namespace

AttentionKernels avx2_attention_kernels() { return {dot, scale_add}; }

} // namespace vkai::cpu
