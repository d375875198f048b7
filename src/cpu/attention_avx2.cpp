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
// Each row goes over the cells it sees only (per 128-cell block: its range, or the list of its
// visible cells where the range has holes, as when batched sequences' cells interleave); a masked
// cell would add an exact zero to l and to o, so a row's result depends on the values of the cells
// it sees and their order only: not on where they sit in the cache (a sequence alone or beside
// another in one batch), not on the other rows of the call, not on the threads.

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

// Raw dots of R query rows with C (<= 4) cells: s[r][c0 + c].
template <int R, int C>
inline void dot_tile(const float* const* q, const float* const* kc, int64_t hd, float* const* s, int c0) {
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
            s[r][c0 + c] = o[c];
        }
    }
}

template <int R>
inline void dot_rows(const float* const* q, const float* const* kc, int nc, int64_t hd, float* const* s) {
    int c = 0;
    for (; c + 4 <= nc; c += 4) dot_tile<R, 4>(q, kc + c, hd, s, c);
    switch (nc - c) {
    case 3: dot_tile<R, 3>(q, kc + c, hd, s, c); break;
    case 2: dot_tile<R, 2>(q, kc + c, hd, s, c); break;
    case 1: dot_tile<R, 1>(q, kc + c, hd, s, c); break;
    default: break;
    }
}

// o[r][d] = fma(p[r][c], v[c][d], o[r][d]) for every cell c in order, R rows at once. A cell
// whose p is 0 in all R rows is skipped (its V row may be unwritten cache memory); where only
// some rows have p == 0 the fma adds an exact zero, which leaves those rows' sums unchanged.
// *l[r] += p[r][c] in the same cell order, in the first pass over the cells.
template <int R>
inline void pv_rows(const float* const* p, const float* const* vc, int nc, int64_t hd, float* const* o, float* const* l) {
    int64_t d0 = 0;
    for (; d0 + 32 <= hd; d0 += 32) {
        const bool sum = d0 == 0;
        __m256 acc[R][4];
        for (int r = 0; r < R; ++r)
            for (int j = 0; j < 4; ++j) acc[r][j] = _mm256_loadu_ps(o[r] + d0 + 8 * j);
        for (int c = 0; c < nc; ++c) {
            bool any = false;
            for (int r = 0; r < R; ++r) any |= p[r][c] != 0.0f;
            if (!any) continue;
            if (sum)
                for (int r = 0; r < R; ++r) *l[r] += p[r][c];
            __m256 pb[R];
            for (int r = 0; r < R; ++r) pb[r] = _mm256_broadcast_ss(p[r] + c);
            for (int j = 0; j < 4; ++j) {
                const __m256 vv = _mm256_loadu_ps(vc[c] + d0 + 8 * j);
                for (int r = 0; r < R; ++r) acc[r][j] = _mm256_fmadd_ps(pb[r], vv, acc[r][j]);
            }
        }
        for (int r = 0; r < R; ++r)
            for (int j = 0; j < 4; ++j) _mm256_storeu_ps(o[r] + d0 + 8 * j, acc[r][j]);
    }
    for (; d0 + 8 <= hd; d0 += 8) {
        const bool sum = d0 == 0;
        __m256 acc[R];
        for (int r = 0; r < R; ++r) acc[r] = _mm256_loadu_ps(o[r] + d0);
        for (int c = 0; c < nc; ++c) {
            bool any = false;
            for (int r = 0; r < R; ++r) any |= p[r][c] != 0.0f;
            if (!any) continue;
            if (sum)
                for (int r = 0; r < R; ++r) *l[r] += p[r][c];
            const __m256 vv = _mm256_loadu_ps(vc[c] + d0);
            for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(p[r] + c), vv, acc[r]);
        }
        for (int r = 0; r < R; ++r) _mm256_storeu_ps(o[r] + d0, acc[r]);
    }
    for (; d0 < hd; ++d0) {
        const bool sum = d0 == 0;
        for (int c = 0; c < nc; ++c) {
            bool any = false;
            for (int r = 0; r < R; ++r) any |= p[r][c] != 0.0f;
            if (!any) continue;
            if (sum)
                for (int r = 0; r < R; ++r) *l[r] += p[r][c];
            for (int r = 0; r < R; ++r) {
                float& od = o[r][d0];
                od = fma1(p[r][c], vc[c][d0], od);
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
    const int64_t nb = (n + CB - 1) / CB;
    const size_t ls = attn_row_stride(n);
    float* S = a.scratch;                      // R x ls: scores, then p
    float* O = S + size_t(R) * ls;             // R x hd
    float* L = O + size_t(R) * size_t(hd);     // R
    float* M = L + kAttnRowBlock;              // R
    float* Kf = M + kAttnRowBlock;             // CB x hd (f16 K or V converted)
    float* RG = Kf + size_t(CB) * size_t(hd);  // R x nb x 3: each row's lo, hi, count in each block
    for (int r = 0; r < R; ++r) {
        M[r] = -__builtin_inff();
        L[r] = 0.0f;
    }
    for (size_t i = 0; i < size_t(R) * size_t(hd); ++i) O[i] = 0.0f;
    // Each row's cells in each block: from its first visible one (lo) to its last (hi - 1), count
    // of them visible. A row computes scores and p V for its visible cells only (a dense range, or
    // the list of them where the range has holes), in cell order, and keeps their scores packed
    // from S[c0 + lo]: what it skips is -inf scores and exact zero terms, so its bits are those of
    // the same sum over all cells, and never depend on the other rows or on the cells' positions.
    const __m256 ninf = _mm256_set1_ps(-__builtin_inff());
    for (int r = 0; r < R; ++r) {
        float* rg = RG + size_t(r) * size_t(nb) * 3;
        if (r > 0 && a.mask[r] == a.mask[r - 1]) {
            for (int64_t i = 0; i < 3 * nb; ++i) rg[i] = rg[i - int64_t(nb) * 3];
            continue;
        }
        for (int64_t b = 0; b < nb; ++b) {
            const int64_t c0 = b * CB;
            const int nc = int(n - c0 < CB ? n - c0 : CB);
            const float* m = a.mask[r] + c0;
            int lo = 0, hi = nc, cnt = 0;
            for (; lo + 8 <= nc; lo += 8)
                if (_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(m + lo), ninf, _CMP_NEQ_UQ)) != 0) break;
            while (lo < nc && m[lo] == -__builtin_inff()) ++lo;
            if (lo == nc) hi = lo = 0;
            for (; hi - 8 >= lo; hi -= 8)
                if (_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(m + hi - 8), ninf, _CMP_NEQ_UQ)) != 0) break;
            while (hi > lo && m[hi - 1] == -__builtin_inff()) --hi;
            int c = lo;
            for (; c + 8 <= hi; c += 8)
                cnt += __builtin_popcount(unsigned(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(m + c), ninf, _CMP_NEQ_UQ))));
            for (; c < hi; ++c) cnt += m[c] != -__builtin_inff();
            rg[3 * b] = float(lo);
            rg[3 * b + 1] = float(hi);
            rg[3 * b + 2] = float(cnt);
        }
    }
    auto rg_of = [&](int r, int64_t b, int j) { return int(RG[(size_t(r) * size_t(nb) + size_t(b)) * 3 + size_t(j)]); };
    const float* cell[CB];
    const float* cg[CB]; // a sparse group's visible cells
    float mg[CB];        // and their mask values
    // The rows that see cells of block b, in groups of the same cells (the same dense range, or
    // the same mask row where the range has holes; row order kept in a group), and the union of
    // the ranges.
    int grow[kAttnRowBlock], gstart[kAttnRowBlock + 1], ng = 0, ulo = 0, uhi = 0;
    auto group_block = [&](int64_t b) {
        bool done[kAttnRowBlock] = {};
        int k = 0;
        ng = 0;
        ulo = CB;
        uhi = 0;
        for (int r = 0; r < R; ++r) {
            const int lo = rg_of(r, b, 0), hi = rg_of(r, b, 1), cnt = rg_of(r, b, 2);
            if (done[r] || cnt == 0) continue;
            const bool dense = cnt == hi - lo;
            ulo = lo < ulo ? lo : ulo;
            uhi = hi > uhi ? hi : uhi;
            gstart[ng++] = k;
            for (int j = r; j < R; ++j)
                if (!done[j] && rg_of(j, b, 0) == lo && rg_of(j, b, 1) == hi && rg_of(j, b, 2) == cnt && (dense || a.mask[j] == a.mask[r])) {
                    done[j] = true;
                    grow[k++] = j;
                }
        }
        gstart[ng] = k;
    };
    // The K or V rows of cells [ulo, uhi) of the block at c0 (f16 ones converted).
    auto rows_of = [&](const uint8_t* base, size_t stride, int64_t c0) {
        const uint8_t* bp = base + size_t(c0) * stride;
        if (a.f16) to_f32(bp + size_t(ulo) * stride, stride, uhi - ulo, hd, Kf + size_t(ulo) * size_t(hd));
        for (int c = ulo; c < uhi; ++c) cell[c] = a.f16 ? Kf + size_t(c) * size_t(hd) : reinterpret_cast<const float*>(bp + size_t(c) * stride);
    };
    // A group's visible cells: cell + lo when dense, else gathered into cg (and their mask values
    // into mg when masks is set).
    auto cells_of = [&](int r, int64_t b, bool masks) -> const float* const* {
        const int lo = rg_of(r, b, 0), hi = rg_of(r, b, 1), cnt = rg_of(r, b, 2);
        if (cnt == hi - lo) return cell + lo;
        const float* m = a.mask[r] + b * CB;
        int k = 0;
        for (int c = lo; c < hi; ++c)
            if (m[c] != -__builtin_inff()) {
                if (masks) mg[k] = m[c];
                cg[k++] = cell[c];
            }
        return cg;
    };
    // Pass 1: scores and row maxima.
    for (int64_t b = 0; b < nb; ++b) {
        const int64_t c0 = b * CB;
        group_block(b);
        if (ng == 0) continue;
        rows_of(a.k, a.k_stride, c0);
        for (int g = 0; g < ng; ++g) {
            const int* rows = grow + gstart[g];
            const int nr = gstart[g + 1] - gstart[g], lo = rg_of(rows[0], b, 0), cnt = rg_of(rows[0], b, 2);
            const bool dense = cnt == rg_of(rows[0], b, 1) - lo;
            const float* const* kc = cells_of(rows[0], b, true);
            const float* qg[kAttnRowBlock];
            float* sg[kAttnRowBlock];
            for (int i = 0; i < nr; ++i) {
                qg[i] = a.q[rows[i]];
                sg[i] = S + size_t(rows[i]) * ls + size_t(c0 + lo);
            }
            int i = 0;
            for (; i + 3 <= nr; i += 3) dot_rows<3>(qg + i, kc, cnt, hd, sg + i);
            if (nr - i == 2) dot_rows<2>(qg + i, kc, cnt, hd, sg + i);
            if (nr - i == 1) dot_rows<1>(qg + i, kc, cnt, hd, sg + i);
            for (i = 0; i < nr; ++i) {
                const float mx = scale_mask_max(sg[i], dense ? a.mask[rows[i]] + c0 + lo : mg, cnt, a.scale);
                M[rows[i]] = mx > M[rows[i]] ? mx : M[rows[i]];
            }
        }
    }
    // p = exp(s - max) over each row's packed scores (a row that sees nothing has none).
    for (int r = 0; r < R; ++r) {
        if (M[r] == -__builtin_inff()) continue;
        for (int64_t b = 0; b < nb; ++b) {
            const int lo = rg_of(r, b, 0), cnt = rg_of(r, b, 2);
            if (cnt > 0) exp_row(S + size_t(r) * ls + size_t(b * CB + lo), cnt, M[r]);
        }
    }
    // Pass 2: o = sum of p v, l = sum of p, cell by cell.
    for (int64_t b = 0; b < nb; ++b) {
        const int64_t c0 = b * CB;
        group_block(b);
        if (ng == 0) continue;
        rows_of(a.v, a.v_stride, c0);
        for (int g = 0; g < ng; ++g) {
            const int* rows = grow + gstart[g];
            const int nr = gstart[g + 1] - gstart[g], lo = rg_of(rows[0], b, 0), cnt = rg_of(rows[0], b, 2);
            const float* const* vc = cells_of(rows[0], b, false);
            const float* pg[kAttnRowBlock];
            float* og[kAttnRowBlock];
            float* lg[kAttnRowBlock];
            for (int i = 0; i < nr; ++i) {
                pg[i] = S + size_t(rows[i]) * ls + size_t(c0 + lo);
                og[i] = O + size_t(rows[i]) * size_t(hd);
                lg[i] = L + rows[i];
            }
            int i = 0;
            for (; i + 3 <= nr; i += 3) pv_rows<3>(pg + i, vc, cnt, hd, og + i, lg + i);
            if (nr - i == 2) pv_rows<2>(pg + i, vc, cnt, hd, og + i, lg + i);
            if (nr - i == 1) pv_rows<1>(pg + i, vc, cnt, hd, og + i, lg + i);
        }
    }
    for (int r = 0; r < R; ++r) {
        const float inv = L[r] > 0 ? 1.0f / L[r] : 0.0f;
        const float* o = O + size_t(r) * size_t(hd);
        for (int64_t d = 0; d < hd; ++d) a.out[r][d] = o[d] * inv;
    }
}

} // namespace vkai::cpu
