// Vector math shared by the AVX2 kernel files (ops_avx2.cpp, attention_avx2.cpp), which are
// compiled with -mavx2 -mfma -mf16c. Everything here is `static inline` so each file keeps its own
// copy (see the note in ops_avx2.cpp about inline functions shared across flags).
#pragma once

#ifdef __AVX2__
#include <immintrin.h>

namespace vkai::cpu::avx2 {

// exp(x) for float lanes. Range reduction x = k ln2 + r with |r| <= ln2/2 (ln2 split in a 9-bit
// head, so k*ln2_hi is exact, and a tail), then the degree-7 Taylor polynomial of e^r, whose
// truncation error r^8/8! <= 5.2e-9 is below float epsilon. Measured against double exp on every
// 7th float in [-87.33, 88]: max error 0.93 ulp (relative error < 1.2e-7). Inputs below -87.33,
// where the result would be subnormal, give exactly 0, so exp(-inf) == 0 as softmax masks need;
// inputs above 88 saturate at exp(88) ~ 1.65e38 instead of overflowing (callers divide by it).
static inline __m256 exp_ps(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.33654f), hi = _mm256_set1_ps(88.0f);
    const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    const __m256 k = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), xc);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    // 2^k through the exponent field: k in [-126, 127] after the clamp, so always a normal float.
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    const __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LT_OQ), y);
}

} // namespace vkai::cpu::avx2

#endif // __AVX2__
