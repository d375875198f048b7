// AVX2/F16C inner loops of cpu::attention (compiled with -mavx2 -mfma -mf16c; called only when
// cpu::simd_enabled()): the per-cell dot / scale_add pair and the blocked kernel
// (avx2_attention_rows) that cpu::attention uses for every call on this path.
//
// note: like ops_avx2.cpp, this file calls no inline function from shared headers (fp16.h,
// <cmath>, <algorithm>): the linker may keep this file's AVX2 copy for callers on any CPU.
#include "cpu/attention_kernels.h"
#include "cpu/ops_avx2_math.h"

#include <immintrin.h>

namespace vkai::cpu {
namespace {

inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

inline __m256 load8(const void* p, bool f16, int64_t i) {
    if (f16) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + i)));
    return _mm256_loadu_ps(static_cast<const float*>(p) + i);
}

inline float load1(const void* p, bool f16, int64_t i) {
    return f16 ? half_to_float(static_cast<const uint16_t*>(p)[i]) : static_cast<const float*>(p)[i];
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

// ---- the blocked kernel ----------------------------------------------------------------------
//
// Per query row, in two passes over the cells (exact softmax, no running rescale):
//   s[c] = mask[c] == -inf ? -inf : fma(dot(q, k[c]), scale, mask[c]), where dot sums 8 lanes
//          over the dims in chunks of 8, reduces them as ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)) and
//          adds the dims past the last chunk one by one;
//   m    = max_c s[c];  p[c] = exp(s[c] - m) (0 where masked);
//   l    = p[0] + p[1] + ... and o[d] = fma(p[c], v[c][d], o[d]) for c in order, from +0;
//   out  = o / l.
// A masked cell adds an exact zero to l and to o, so a row's result depends on the values of the
// cells it sees and their order only: not on where they sit in the cache (a sequence alone or
// beside another in one batch), not on the other rows of the call, not on the threads.

inline float fma1(float a, float b, float c) { return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c))); }

inline float exp1(float x) { return _mm256_cvtss_f32(avx2::exp_ps(_mm256_set1_ps(x))); }

// The 8-lane sums of a0..a3 in the fixed order above.
inline __m128 hsum4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}
inline float hsum1(__m256 a) {
    const __m256 z = _mm256_setzero_ps();
    return _mm_cvtss_f32(hsum4(a, z, z, z));
}

inline float hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Raw dots of R query rows with C (<= 4) cells: s[r * ss + c].
template <int R, int C>
inline void dot_tile(const float* const* q, const float* const* kc, int64_t hd, float* s, size_t ss) {
    __m256 acc[R][4];
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < 4; ++c) acc[r][c] = _mm256_setzero_ps();
    int64_t d = 0;
    for (; d + 8 <= hd; d += 8) {
        __m256 qv[R];
        for (int r = 0; r < R; ++r) qv[r] = _mm256_loadu_ps(q[r] + d);
        for (int c = 0; c < C; ++c) {
            const __m256 kv = _mm256_loadu_ps(kc[c] + d);
            for (int r = 0; r < R; ++r) acc[r][c] = _mm256_fmadd_ps(qv[r], kv, acc[r][c]);
        }
    }
    for (int r = 0; r < R; ++r) {
        alignas(16) float o[4];
        _mm_store_ps(o, hsum4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
        for (int c = 0; c < C; ++c) {
            for (int64_t t = d; t < hd; ++t) o[c] = fma1(q[r][t], kc[c][t], o[c]);
            s[size_t(r) * ss + size_t(c)] = o[c];
        }
    }
}

template <int R>
inline void dot_rows(const float* const* q, const float* const* kc, int nc, int64_t hd, float* s, size_t ss) {
    int c = 0;
    for (; c + 4 <= nc; c += 4) dot_tile<R, 4>(q, kc + c, hd, s + c, ss);
    switch (nc - c) {
    case 3: dot_tile<R, 3>(q, kc + c, hd, s + c, ss); break;
    case 2: dot_tile<R, 2>(q, kc + c, hd, s + c, ss); break;
    case 1: dot_tile<R, 1>(q, kc + c, hd, s + c, ss); break;
    default: break;
    }
}

// o[r][d] = fma(p[r][c], v[c][d], o[r][d]) for every cell c in order, R rows at once. A cell
// whose p is 0 in all R rows is skipped (its V row may be unwritten cache memory); where only
// some rows have p == 0 the fma adds an exact zero, which leaves those rows' sums unchanged.
// l[r] += p[r][c] in the same cell order, in the first pass over the cells.
template <int R>
inline void pv_rows(const float* p, size_t ps, const float* const* vc, int nc, int64_t hd, float* o, size_t os, float* l) {
    int64_t d0 = 0;
    for (; d0 + 32 <= hd; d0 += 32) {
        const bool sum = d0 == 0;
        __m256 acc[R][4];
        for (int r = 0; r < R; ++r)
            for (int j = 0; j < 4; ++j) acc[r][j] = _mm256_loadu_ps(o + size_t(r) * os + size_t(d0) + 8 * j);
        for (int c = 0; c < nc; ++c) {
            bool any = false;
            for (int r = 0; r < R; ++r) any |= p[size_t(r) * ps + size_t(c)] != 0.0f;
            if (!any) continue;
            if (sum)
                for (int r = 0; r < R; ++r) l[r] += p[size_t(r) * ps + size_t(c)];
            __m256 pb[R];
            for (int r = 0; r < R; ++r) pb[r] = _mm256_broadcast_ss(p + size_t(r) * ps + size_t(c));
            for (int j = 0; j < 4; ++j) {
                const __m256 vv = _mm256_loadu_ps(vc[c] + d0 + 8 * j);
                for (int r = 0; r < R; ++r) acc[r][j] = _mm256_fmadd_ps(pb[r], vv, acc[r][j]);
            }
        }
        for (int r = 0; r < R; ++r)
            for (int j = 0; j < 4; ++j) _mm256_storeu_ps(o + size_t(r) * os + size_t(d0) + 8 * j, acc[r][j]);
    }
    for (; d0 + 8 <= hd; d0 += 8) {
        const bool sum = d0 == 0;
        __m256 acc[R];
        for (int r = 0; r < R; ++r) acc[r] = _mm256_loadu_ps(o + size_t(r) * os + size_t(d0));
        for (int c = 0; c < nc; ++c) {
            bool any = false;
            for (int r = 0; r < R; ++r) any |= p[size_t(r) * ps + size_t(c)] != 0.0f;
            if (!any) continue;
            if (sum)
                for (int r = 0; r < R; ++r) l[r] += p[size_t(r) * ps + size_t(c)];
            const __m256 vv = _mm256_loadu_ps(vc[c] + d0);
            for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(p + size_t(r) * ps + size_t(c)), vv, acc[r]);
        }
        for (int r = 0; r < R; ++r) _mm256_storeu_ps(o + size_t(r) * os + size_t(d0), acc[r]);
    }
    for (; d0 < hd; ++d0) {
        const bool sum = d0 == 0;
        for (int c = 0; c < nc; ++c) {
            bool any = false;
            for (int r = 0; r < R; ++r) any |= p[size_t(r) * ps + size_t(c)] != 0.0f;
            if (!any) continue;
            if (sum)
                for (int r = 0; r < R; ++r) l[r] += p[size_t(r) * ps + size_t(c)];
            for (int r = 0; r < R; ++r) {
                float& od = o[size_t(r) * os + size_t(d0)];
                od = fma1(p[size_t(r) * ps + size_t(c)], vc[c][d0], od);
            }
        }
    }
}

// s = scale * s + mask, -inf where the mask is; returns the max (-inf when nothing is visible).
float scale_mask_max(float* s, const float* mask, int nc, float scale) {
    const __m256 ninf = _mm256_set1_ps(-__builtin_inff()), vscale = _mm256_set1_ps(scale);
    __m256 vmax = ninf;
    int i = 0;
    for (; i + 8 <= nc; i += 8) {
        const __m256 mv = _mm256_loadu_ps(mask + i);
        __m256 sv = _mm256_fmadd_ps(_mm256_loadu_ps(s + i), vscale, mv);
        sv = _mm256_blendv_ps(sv, ninf, _mm256_cmp_ps(mv, ninf, _CMP_EQ_OQ));
        _mm256_storeu_ps(s + i, sv);
        vmax = _mm256_max_ps(vmax, sv);
    }
    float mx = hmax(vmax);
    for (int t = i; t < nc; ++t) {
        s[t] = mask[t] == -__builtin_inff() ? -__builtin_inff() : fma1(s[t], scale, mask[t]);
        mx = s[t] > mx ? s[t] : mx;
    }
    return mx;
}

// s = exp(s - m) over a row (m finite; exp(-inf) == 0).
void exp_row(float* s, int64_t n, float m) {
    const __m256 vm = _mm256_set1_ps(m);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(s + i, avx2::exp_ps(_mm256_sub_ps(_mm256_loadu_ps(s + i), vm)));
    for (; i < n; ++i) s[i] = exp1(s[i] - m);
}

// Converts n f16 rows (stride bytes apart) of hd values to packed f32.
void to_f32(const uint8_t* src, size_t stride, int n, int64_t hd, float* dst) {
    for (int c = 0; c < n; ++c) {
        const uint16_t* h = reinterpret_cast<const uint16_t*>(src + size_t(c) * stride);
        float* d = dst + size_t(c) * size_t(hd);
        int64_t i = 0;
        for (; i + 8 <= hd; i += 8) _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))));
        for (; i < hd; ++i) d[i] = half_to_float(h[i]);
    }
}

} // namespace

AttentionKernels avx2_attention_kernels() { return {dot, scale_add}; }

void avx2_attention_rows(const AttnRowsArgs& a) {
    constexpr int CB = kAttnCellBlock;
    const int R = a.nrows;
    const int64_t hd = a.hd, n = a.n_cells;
    const size_t ls = attn_row_stride(n);
    float* S = a.scratch;                      // R x ls: scores, then p
    float* O = S + size_t(R) * ls;             // R x hd
    float* L = O + size_t(R) * size_t(hd);     // R
    float* M = L + kAttnRowBlock;              // R
    float* Kf = M + kAttnRowBlock;             // CB x hd (f16 K or V converted)
    for (int r = 0; r < R; ++r) {
        M[r] = -__builtin_inff();
        L[r] = 0.0f;
    }
    for (size_t i = 0; i < size_t(R) * size_t(hd); ++i) O[i] = 0.0f;
    const float* cell[CB];
    // Whether any row sees a cell of block b (blocks nobody sees are skipped in both passes).
    auto block_live = [&](int64_t c0, int nc) {
        for (int r = 0; r < R; ++r) {
            const float* m = a.mask[r] + c0;
            for (int c = 0; c < nc; ++c)
                if (m[c] != -__builtin_inff()) return true;
        }
        return false;
    };
    auto rows_of = [&](const uint8_t* base, size_t stride, int64_t c0, int nc) {
        const uint8_t* b = base + size_t(c0) * stride;
        if (a.f16) to_f32(b, stride, nc, hd, Kf);
        for (int c = 0; c < nc; ++c) cell[c] = a.f16 ? Kf + size_t(c) * size_t(hd) : reinterpret_cast<const float*>(b + size_t(c) * stride);
    };
    // Pass 1: scores and row maxima.
    for (int64_t c0 = 0; c0 < n; c0 += CB) {
        const int nc = int(n - c0 < CB ? n - c0 : CB);
        if (!block_live(c0, nc)) {
            for (int r = 0; r < R; ++r)
                for (int c = 0; c < nc; ++c) S[size_t(r) * ls + size_t(c0 + c)] = -__builtin_inff();
            continue;
        }
        rows_of(a.k, a.k_stride, c0, nc);
        int r = 0;
        for (; r + 3 <= R; r += 3) dot_rows<3>(a.q + r, cell, nc, hd, S + size_t(r) * ls + size_t(c0), ls);
        if (R - r == 2) dot_rows<2>(a.q + r, cell, nc, hd, S + size_t(r) * ls + size_t(c0), ls);
        if (R - r == 1) dot_rows<1>(a.q + r, cell, nc, hd, S + size_t(r) * ls + size_t(c0), ls);
        for (r = 0; r < R; ++r) {
            const float mx = scale_mask_max(S + size_t(r) * ls + size_t(c0), a.mask[r] + c0, nc, a.scale);
            M[r] = mx > M[r] ? mx : M[r];
        }
    }
    // p = exp(s - max); rows that see nothing get p = 0 (and output 0).
    for (int r = 0; r < R; ++r) {
        float* s = S + size_t(r) * ls;
        if (M[r] == -__builtin_inff()) {
            for (int64_t c = 0; c < n; ++c) s[c] = 0.0f;
        } else {
            exp_row(s, n, M[r]);
        }
    }
    // Pass 2: o = sum of p v, l = sum of p, cell by cell.
    for (int64_t c0 = 0; c0 < n; c0 += CB) {
        const int nc = int(n - c0 < CB ? n - c0 : CB);
        if (!block_live(c0, nc)) continue;
        rows_of(a.v, a.v_stride, c0, nc);
        int r = 0;
        for (; r + 3 <= R; r += 3) pv_rows<3>(S + size_t(r) * ls + size_t(c0), ls, cell, nc, hd, O + size_t(r) * size_t(hd), size_t(hd), L + r);
        if (R - r == 2) pv_rows<2>(S + size_t(r) * ls + size_t(c0), ls, cell, nc, hd, O + size_t(r) * size_t(hd), size_t(hd), L + r);
        if (R - r == 1) pv_rows<1>(S + size_t(r) * ls + size_t(c0), ls, cell, nc, hd, O + size_t(r) * size_t(hd), size_t(hd), L + r);
    }
    for (int r = 0; r < R; ++r) {
        const float inv = L[r] > 0 ? 1.0f / L[r] : 0.0f;
        const float* o = O + size_t(r) * size_t(hd);
        for (int64_t d = 0; d < hd; ++d) a.out[r][d] = o[d] * inv;
    }
}

} // namespace vkai::cpu
