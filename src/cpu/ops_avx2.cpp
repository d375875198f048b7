// AVX2/FMA/F16C row kernels of the non-matmul ops, called from ops.cpp only when simd_enabled().
// Every kernel takes any row length (tails use masked loads/stores) and allows y == x.
//
// note: this file is compiled with -mavx2 -mfma -mf16c. It calls no inline function from shared
// headers (fp16.h, <algorithm>, containers): the linker may keep this file's AVX2 copy of such a
// function for every caller, which would then crash on a CPU without AVX2.
#include "cpu/ops_avx2_math.h"

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace vkai::cpu::avx2 {
namespace {

// Lanes [0, rem) set, for the last partial vector of a row (1 <= rem <= 7).
inline __m256i tail_mask(int64_t rem) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(rem)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

inline float hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// x * sigmoid(x) == x / (1 + exp(-x)); for x < -88 the saturated exp gives |y| < 1e-36.
inline __m256 silu_ps(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(x, _mm256_add_ps(one, exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

// 0.5 x (1 + tanh(u)) == x * sigmoid(2u) == x / (1 + exp(-2u)), u = sqrt(2/pi)(x + 0.044715 x^3):
// the sigmoid form has no cancellation near tanh(u) = -1.
inline __m256 gelu_ps(__m256 x) {
    const __m256 c0 = _mm256_set1_ps(-2.0f * 0.7978845608028654f);
    const __m256 c1 = _mm256_set1_ps(-2.0f * 0.7978845608028654f * 0.044715f);
    const __m256 m2u = _mm256_mul_ps(x, _mm256_fmadd_ps(c1, _mm256_mul_ps(x, x), c0)); // -2u
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), exp_ps(m2u)));
}

// y[i] = f(x[i]) for an 8-lane f, with the tail through masked load/store.
template <class F>
inline void map_row(const float* x, float* y, int64_t n, F f) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(x + i)));
    if (i < n) {
        const __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(y + i, m, f(_mm256_maskload_ps(x + i, m)));
    }
}

template <class F>
inline void map_row2(const float* a, const float* b, float* y, int64_t n, F f) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    if (i < n) {
        const __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(y + i, m, f(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m)));
    }
}

} // namespace

void rms_norm_row(const float* x, const float* w, float eps, float* y, int64_t n) {
    // Four accumulators of 8 lanes: 32 partial sums keep the float rounding error of a 4096-row
    // sum near 1e-6 relative and hide the FMA latency.
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
        __m256 v2 = _mm256_loadu_ps(x + i + 16), v3 = _mm256_loadu_ps(x + i + 24);
        a0 = _mm256_fmadd_ps(v0, v0, a0);
        a1 = _mm256_fmadd_ps(v1, v1, a1);
        a2 = _mm256_fmadd_ps(v2, v2, a2);
        a3 = _mm256_fmadd_ps(v3, v3, a3);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        a0 = _mm256_fmadd_ps(v, v, a0);
    }
    if (i < n) {
        __m256 v = _mm256_maskload_ps(x + i, tail_mask(n - i));
        a1 = _mm256_fmadd_ps(v, v, a1);
    }
    const double ss = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    // One scalar sqrt per row: libm's double sqrt is an inline instruction, not a shared function.
    const __m256 inv = _mm256_set1_ps(float(1.0 / __builtin_sqrt(ss / double(n) + double(eps))));
    if (w) {
        map_row2(x, w, y, n, [inv](__m256 xv, __m256 wv) { return _mm256_mul_ps(_mm256_mul_ps(xv, inv), wv); });
    } else {
        map_row(x, y, n, [inv](__m256 xv) { return _mm256_mul_ps(xv, inv); });
    }
}

void softmax_row(const float* x, const float* mask, float scale, float* y, int64_t n) {
    // Pass 1: y = x * scale + mask and the row max; masked-off tail lanes count as -inf.
    const __m256 vs = _mm256_set1_ps(scale), ninf = _mm256_set1_ps(-__builtin_inff());
    __m256 vmax = ninf;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vs);
        if (mask) v = _mm256_add_ps(v, _mm256_loadu_ps(mask + i));
        _mm256_storeu_ps(y + i, v);
        vmax = _mm256_max_ps(vmax, v);
    }
    const int64_t tail = i;
    const __m256i tm = tail_mask(n - tail > 0 ? n - tail : 1);
    if (tail < n) {
        __m256 v = _mm256_mul_ps(_mm256_maskload_ps(x + tail, tm), vs);
        if (mask) v = _mm256_add_ps(v, _mm256_maskload_ps(mask + tail, tm));
        _mm256_maskstore_ps(y + tail, tm, v);
        vmax = _mm256_max_ps(vmax, _mm256_blendv_ps(ninf, v, _mm256_castsi256_ps(tm)));
    }
    const float mx = hmax(vmax);
    if (mx == -__builtin_inff()) { // fully masked row: zeros, not 0/0
        std::memset(y, 0, size_t(n) * sizeof(float));
        return;
    }
    // Pass 2: y = exp(y - max) and its sum (exp(-inf) is exactly 0). Pass 3: normalize.
    const __m256 vm = _mm256_set1_ps(mx);
    __m256 vsum = _mm256_setzero_ps();
    for (i = 0; i < tail; i += 8) {
        __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(y + i), vm));
        _mm256_storeu_ps(y + i, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    if (tail < n) {
        __m256 e = exp_ps(_mm256_sub_ps(_mm256_maskload_ps(y + tail, tm), vm));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(tm)); // masked lanes loaded 0: exp(0 - max) must not count
        _mm256_maskstore_ps(y + tail, tm, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    const __m256 inv = _mm256_set1_ps(1.0f / hsum(vsum));
    map_row(y, y, n, [inv](__m256 v) { return _mm256_mul_ps(v, inv); });
}

void silu_row(const float* x, float* y, int64_t n) { map_row(x, y, n, silu_ps); }
void gelu_row(const float* x, float* y, int64_t n) { map_row(x, y, n, gelu_ps); }

void add_row(const float* a, const float* b, float* y, int64_t n) {
    map_row2(a, b, y, n, [](__m256 u, __m256 v) { return _mm256_add_ps(u, v); });
}
void mul_row(const float* a, const float* b, float* y, int64_t n) {
    map_row2(a, b, y, n, [](__m256 u, __m256 v) { return _mm256_mul_ps(u, v); });
}

void rope_adjacent_row(const float* x, const float* cs, const float* sn, float* y, int64_t n_rot) {
    // Pairs (x[2i], x[2i+1]); cs = (c0, c0, c1, c1, ...) and sn = (-s0, s0, -s1, s1, ...), so
    // y = x * cs + swap_pairs(x) * sn. n_rot is even, so a tail never splits a pair.
    int64_t i = 0;
    for (; i + 8 <= n_rot; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 sw = _mm256_permute_ps(v, 0xB1);
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(v, _mm256_loadu_ps(cs + i), _mm256_mul_ps(sw, _mm256_loadu_ps(sn + i))));
    }
    if (i < n_rot) {
        const __m256i m = tail_mask(n_rot - i);
        __m256 v = _mm256_maskload_ps(x + i, m);
        __m256 sw = _mm256_permute_ps(v, 0xB1);
        __m256 r = _mm256_fmadd_ps(v, _mm256_maskload_ps(cs + i, m), _mm256_mul_ps(sw, _mm256_maskload_ps(sn + i, m)));
        _mm256_maskstore_ps(y + i, m, r);
    }
}

void rope_half_row(const float* x, const float* c, const float* s, float* y, int64_t n_rot) {
    // Pairs (x[i], x[i + h]), h = n_rot / 2; c, s have h entries. Both halves are loaded before
    // either is stored, so y == x is fine.
    const int64_t h = n_rot / 2;
    int64_t i = 0;
    for (; i + 8 <= h; i += 8) {
        __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + h + i);
        __m256 cv = _mm256_loadu_ps(c + i), sv = _mm256_loadu_ps(s + i);
        _mm256_storeu_ps(y + i, _mm256_fmsub_ps(x0, cv, _mm256_mul_ps(x1, sv)));
        _mm256_storeu_ps(y + h + i, _mm256_fmadd_ps(x0, sv, _mm256_mul_ps(x1, cv)));
    }
    if (i < h) {
        const __m256i m = tail_mask(h - i);
        __m256 x0 = _mm256_maskload_ps(x + i, m), x1 = _mm256_maskload_ps(x + h + i, m);
        __m256 cv = _mm256_maskload_ps(c + i, m), sv = _mm256_maskload_ps(s + i, m);
        _mm256_maskstore_ps(y + i, m, _mm256_fmsub_ps(x0, cv, _mm256_mul_ps(x1, sv)));
        _mm256_maskstore_ps(y + h + i, m, _mm256_fmadd_ps(x0, sv, _mm256_mul_ps(x1, cv)));
    }
}

// Conversions. F16C rounds to nearest even with IEEE overflow and subnormals, bit-identical to
// base/fp16.h; the bf16 rounding below is fp16.h's integer formula on 8 lanes. Tails go through
// an 8-element buffer so the same instructions convert them.
void f16_to_f32_row(const uint16_t* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
    if (i < n) {
        uint16_t in[8] = {};
        float out[8];
        std::memcpy(in, x + i, size_t(n - i) * 2);
        _mm256_storeu_ps(out, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in))));
        std::memcpy(y + i, out, size_t(n - i) * 4);
    }
}

void f32_to_f16_row(const float* x, uint16_t* y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    if (i < n) {
        const __m256i m = tail_mask(n - i);
        uint16_t out[8];
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm256_cvtps_ph(_mm256_maskload_ps(x + i, m), _MM_FROUND_TO_NEAREST_INT));
        std::memcpy(y + i, out, size_t(n - i) * 2);
    }
}

void bf16_to_f32_row(const uint16_t* x, float* y, int64_t n) {
    int64_t i = 0;
    auto widen = [](__m128i h) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); };
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
    if (i < n) {
        uint16_t in[8] = {};
        std::memcpy(in, x + i, size_t(n - i) * 2);
        _mm256_maskstore_ps(y + i, tail_mask(n - i), widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in))));
    }
}

void f32_to_bf16_row(const float* x, uint16_t* y, int64_t n) {
    // Round to nearest even: (bits + 0x7fff + lsb) >> 16; NaN keeps its top bits and becomes quiet.
    auto narrow = [](__m256 v) {
        const __m256i b = _mm256_castps_si256(v);
        const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
        const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(b, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb)), 16);
        const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(64));
        const __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(b, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
        const __m256i r = _mm256_blendv_epi8(rounded, quiet, is_nan);
        // Values fit in 16 bits, so the saturating pack is exact; it packs per 128-bit lane, hence the permute.
        return _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08));
    };
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), narrow(_mm256_loadu_ps(x + i)));
    if (i < n) {
        uint16_t out[8];
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out), narrow(_mm256_maskload_ps(x + i, tail_mask(n - i))));
        std::memcpy(y + i, out, size_t(n - i) * 2);
    }
}

} // namespace vkai::cpu::avx2
