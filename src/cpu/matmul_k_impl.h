// Dot kernels for the 256-element super-block types (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS) against
// x as block_q8_K, compiled once per ISA: matmul_avx2_k.cpp (AVX2) and the VNNI files, where the
// int16 scale multiply-add (madd + add) is one vpdpwssd, and Q4_K, Q5_K and Q6_K sum w * x with
// vpdpbusd before the scales (mac2; other bits than AVX2, the same for every column count). Sub-block scales
// are applied in int32 (madd with int16 scales), so a super-block costs one int->float conversion
// per column; offsets and mins use x's sums of 16.
#pragma once

#include "cpu/matmul_avx2.h"
#include "cpu/matmul_values.h"

#include <type_traits>

namespace vkai::cpu::avx2 {
namespace {

using XK = block_q8_K;

// int16 lane s (0..7) of a 128-bit vector of int16, repeated over both 128-bit halves of v.
inline __m256i bcast16(__m256i v, int s) { return _mm256_shuffle_epi8(v, _mm256_set1_epi16(short(((2 * s + 1) << 8) | (2 * s)))); }

// The 16 per-16 scales of a super-block (int8 bytes of sc, signed or not) as int16, in two vectors
// that each hold 8 of them in both 128-bit halves: half[0] scales 0..7, half[1] scales 8..15.
struct Scales16 {
    __m256i half[2];
    template <bool kSignedScales>
    static Scales16 from(__m128i sc) {
        const __m128i hi = _mm_unpackhi_epi64(sc, sc);
        if constexpr (kSignedScales)
            return {{_mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(sc)), _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(hi))}};
        else
            return {{_mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sc)), _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(hi))}};
    }
    // Scales of the 16-element groups 2g and 2g+1 (g in 0..7): 8 int16 lanes of scale 2g, then 8
    // of scale 2g+1, matching the int16 outputs of maddubs over 32 elements. One shuffle.
    __m256i pair(int g) const {
        const int o = 4 * (g & 3);
        const __m256i idx = _mm256_setr_epi8(o, o + 1, o, o + 1, o, o + 1, o, o + 1, o, o + 1, o, o + 1, o, o + 1, o, o + 1,
                                             o + 2, o + 3, o + 2, o + 3, o + 2, o + 3, o + 2, o + 3, o + 2, o + 3, o + 2, o + 3,
                                             o + 2, o + 3, o + 2, o + 3);
        return _mm256_shuffle_epi8(half[g >> 2], idx);
    }
};

// acc + madd(a, b): pairs of int16 products added to the int32 lanes of acc. With VNNI and kDp one
// vpdpwssd (non-saturating like madd + add, so the results are the same bits: a kernel may pick
// either form per column count without making a column's result depend on its batch).
template <bool kDp = true>
inline __m256i madd_acc(__m256i acc, __m256i a, __m256i b) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    if constexpr (kDp) return _mm256_dpwssd_epi32(acc, a, b);
#elif defined(__AVXVNNI__)
    if constexpr (kDp) return _mm256_dpwssd_avx_epi32(acc, a, b);
#endif
    return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
}

// Adds w * x of 32 elements, scaled per 16 (or 32) by the int16 lanes of s, to the 8 int32 lanes of acc.
template <bool kDp = true>
inline __m256i mac(__m256i acc, __m256i q_u8, const int8_t* x, __m256i s) {
    return madd_acc<kDp>(acc, _mm256_maddubs_epi16(q_u8, load256(x)), s);
}

#ifdef VKAI_VNNI_DPBUSD
// VNNI: w * x of two 32-element chunks (q_u8 unsigned, at most 63) as vpdpbusd sums of 4 (at most
// 4 * 63 * 127 < 2^15, so they pack to int16 exactly), then one vpdpwssd applies the int16 scales in
// s to each pair of packed sums: 3 multiply instructions per 64 elements instead of 4 (maddubs,
// madd) x 2. The packed int16 of a 128-bit half are [a0..a3, b0..b3] (a, b: the chunks' sums).
inline __m256i mac2(__m256i acc, __m256i qa, const int8_t* xa, __m256i qb, const int8_t* xb, __m256i s) {
    const __m256i z = _mm256_setzero_si256();
    const __m256i ta = VKAI_VNNI_DPBUSD(z, qa, load256(xa)), tb = VKAI_VNNI_DPBUSD(z, qb, load256(xb));
    return madd_acc(acc, _mm256_packs_epi32(ta, tb), s);
}
#endif

template <int NC>
inline void zero(__m256i* v) {
    for (int c = 0; c < NC; ++c) v[c] = _mm256_setzero_si256();
}

// ---- Q4_K / Q5_K: 8 sub-blocks of 32, 6-bit scale and min each; x = d*sc*q - dmin*m ------------

template <bool kFive>
struct DotQ45K {
    using XBlock = XK;
    using Block = std::conditional_t<kFive, block_q5_K, block_q4_K>;

    template <int NC>
    static void dot(const uint8_t* wrow, const XK* const* x, int64_t nb, float* out) {
        const auto* w = reinterpret_cast<const Block*>(wrow);
        __m256 acc[NC];
        for (int c = 0; c < NC; ++c) acc[c] = _mm256_setzero_ps();
        for (int64_t b = 0; b < nb; ++b) {
            prefetch_ahead(&w[b], sizeof(Block));
            const Block& B = w[b];
            const __m128i sm = unpack_scale_min_k4(B.scales);
            const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
            // mins repeated twice: madd with the 16 sums of 16 gives m[s] * (sum of sub-block s).
            const __m256i mins = _mm256_cvtepu8_epi16(
                _mm_shuffle_epi8(sm, _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15)));
            __m256i hv = _mm256_setzero_si256();
            if constexpr (kFive) hv = load256(B.qh);
            __m256i isum[NC];
            zero<NC>(isum);
            for (int j = 0; j < 4; ++j) {
                __m256i qlo, qhi;
                q45k_pair<kFive>(B, j, hv, qlo, qhi);
#ifdef VKAI_VNNI_DPBUSD
                // Sub-blocks 2j and 2j + 1: int16 scale of 2j four times, then of 2j + 1, per half.
                const char a = char(4 * j), b2 = char(4 * j + 2);
                const __m256i sp = _mm256_shuffle_epi8(scales, _mm256_setr_epi8(a, char(a + 1), a, char(a + 1), a, char(a + 1), a, char(a + 1), b2,
                                                                                 char(b2 + 1), b2, char(b2 + 1), b2, char(b2 + 1), b2, char(b2 + 1), a,
                                                                                 char(a + 1), a, char(a + 1), a, char(a + 1), a, char(a + 1), b2, char(b2 + 1),
                                                                                 b2, char(b2 + 1), b2, char(b2 + 1), b2, char(b2 + 1)));
                for (int c = 0; c < NC; ++c) {
                    const int8_t* xq = x[c][b].qs + 64 * j;
                    isum[c] = mac2(isum[c], qlo, xq, qhi, xq + 32, sp);
                }
#else
                const __m256i slo = bcast16(scales, 2 * j), shi = bcast16(scales, 2 * j + 1);
                for (int c = 0; c < NC; ++c) {
                    const int8_t* xq = x[c][b].qs + 64 * j;
                    isum[c] = mac(mac(isum[c], qlo, xq, slo), qhi, xq + 32, shi);
                }
#endif
            }
            const __m256 d = _mm256_set1_ps(half_to_float(B.d)), dmin = _mm256_set1_ps(half_to_float(B.dmin));
            for (int c = 0; c < NC; ++c) {
                const __m256 xd = _mm256_set1_ps(x[c][b].d);
                const __m256i mp = _mm256_madd_epi16(load256(x[c][b].bsums), mins);
                acc[c] = _mm256_fmadd_ps(_mm256_mul_ps(d, xd), _mm256_cvtepi32_ps(isum[c]), acc[c]);
                acc[c] = _mm256_fnmadd_ps(_mm256_mul_ps(dmin, xd), _mm256_cvtepi32_ps(mp), acc[c]);
            }
        }
        for (int c = 0; c < NC; ++c) out[c] = hsum(acc[c]);
    }
};

// ---- Q6_K: 16 groups of 16 with int8 scales; q in [0, 63], x = d*sc*(q - 32) -------------------

struct DotQ6K {
    using XBlock = XK;

    template <int NC>
    static void dot(const uint8_t* wrow, const XK* const* x, int64_t nb, float* out) {
        const auto* w = reinterpret_cast<const block_q6_K*>(wrow);
        __m256 acc[NC];
        for (int c = 0; c < NC; ++c) acc[c] = _mm256_setzero_ps();
        for (int64_t b = 0; b < nb; ++b) {
            prefetch_ahead(&w[b], sizeof(block_q6_K));
            const block_q6_K& B = w[b];
            const __m128i sc8 = load128(B.scales);
            const Scales16 scales = Scales16::from<true>(sc8);
            __m256i isum[NC];
            zero<NC>(isum);
            for (int h = 0; h < 2; ++h) {
                __m256i q[4];
                q6k_half(B, h, q);
#ifdef VKAI_VNNI_DPBUSD
                // Chunks 2p and 2p + 1 (sub-blocks 8h + 4p .. 8h + 4p + 3 of 16): the low halves
                // hold sub-blocks 4p and 4p + 2 (local to half h of the scales), the high halves
                // 4p + 1 and 4p + 3.
                for (int p = 0; p < 2; ++p) {
                    const char a = char(8 * p), b2 = char(8 * p + 4), a1 = char(8 * p + 2), b3 = char(8 * p + 6);
                    const __m256i sp = _mm256_shuffle_epi8(
                        scales.half[h], _mm256_setr_epi8(a, char(a + 1), a, char(a + 1), a, char(a + 1), a, char(a + 1), b2, char(b2 + 1), b2, char(b2 + 1),
                                                         b2, char(b2 + 1), b2, char(b2 + 1), a1, char(a1 + 1), a1, char(a1 + 1), a1, char(a1 + 1), a1,
                                                         char(a1 + 1), b3, char(b3 + 1), b3, char(b3 + 1), b3, char(b3 + 1), b3, char(b3 + 1)));
                    for (int c = 0; c < NC; ++c) {
                        const int8_t* xq = x[c][b].qs + 128 * h + 64 * p;
                        isum[c] = mac2(isum[c], q[2 * p], xq, q[2 * p + 1], xq + 32, sp);
                    }
                }
#else
                for (int g = 0; g < 4; ++g) {
                    const __m256i s = scales.pair(4 * h + g);
                    for (int c = 0; c < NC; ++c) isum[c] = mac(isum[c], q[g], x[c][b].qs + 128 * h + 32 * g, s);
                }
#endif
            }
            // The -32 offset: sum over groups of sc * 32 * (sum of x in the group).
            const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
            const __m256 d = _mm256_set1_ps(half_to_float(B.d));
            for (int c = 0; c < NC; ++c) {
                const __m256i off = _mm256_madd_epi16(load256(x[c][b].bsums), sc16);
                const __m256i t = _mm256_sub_epi32(isum[c], _mm256_slli_epi32(off, 5));
                acc[c] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(x[c][b].d)), _mm256_cvtepi32_ps(t), acc[c]);
            }
        }
        for (int c = 0; c < NC; ++c) out[c] = hsum(acc[c]);
    }
};

// ---- Q2_K / Q3_K: 2-bit fields; groups of 16 with 4-bit (Q2_K) or 6-bit signed (Q3_K) scales -----

// Q3_K's 12 scale bytes -> 16 signed scales (6 bits, minus 32): low 4 bits from bytes 0..7
// (low nibbles first, then high nibbles), top 2 bits from bytes 8..11.
inline __m128i unpack_scales_q3k(const uint8_t* p) {
    const uint32_t s[3] = {load_u32(p), load_u32(p + 4), load_u32(p + 8)};
    const uint32_t k4 = 0x0f0f0f0f, k2 = 0x03030303;
    const uint32_t a0 = (s[0] & k4) | ((s[2] & k2) << 4);
    const uint32_t a1 = (s[1] & k4) | (((s[2] >> 2) & k2) << 4);
    const uint32_t a2 = ((s[0] >> 4) & k4) | (((s[2] >> 4) & k2) << 4);
    const uint32_t a3 = ((s[1] >> 4) & k4) | (((s[2] >> 6) & k2) << 4);
    return _mm_sub_epi8(_mm_setr_epi32(int(a0), int(a1), int(a2), int(a3)), _mm_set1_epi8(32));
}

template <bool kQ3>
struct DotQ23K {
    using XBlock = XK;
    using Block = std::conditional_t<kQ3, block_q3_K, block_q2_K>;

    template <int NC>
    static void dot(const uint8_t* wrow, const XK* const* x, int64_t nb, float* out) {
        const auto* w = reinterpret_cast<const Block*>(wrow);
        const __m256i m3 = _mm256_set1_epi8(3), b2 = _mm256_set1_epi8(4), m4 = _mm256_set1_epi8(0x0f);
        __m256 acc[NC];
        for (int c = 0; c < NC; ++c) acc[c] = _mm256_setzero_ps();
        for (int64_t b = 0; b < nb; ++b) {
            prefetch_ahead(&w[b], sizeof(Block));
            const Block& B = w[b];
            __m128i sc8, mn8 = _mm_setzero_si128();
            __m256i hm = _mm256_setzero_si256();
            if constexpr (kQ3) {
                sc8 = unpack_scales_q3k(B.scales);
                hm = load256(B.hmask);
            } else {
                const __m128i raw = load128(B.scales);
                sc8 = _mm_and_si128(raw, _mm256_castsi256_si128(m4));
                mn8 = _mm_and_si128(_mm_srli_epi16(raw, 4), _mm256_castsi256_si128(m4));
            }
            const Scales16 scales = kQ3 ? Scales16::from<true>(sc8) : Scales16::from<false>(sc8);
            __m256i isum[NC];
            zero<NC>(isum);
            for (int h = 0; h < 2; ++h) {
                // 128 elements: group j (32 elements) is bits 2j..2j+1 of the 32 bytes qs[32h..];
                // Q3_K's third bit is bit 4h + j of hmask byte l (set means no -4 offset).
                const __m256i qv = load256(B.qs + 32 * h);
                for (int j = 0; j < 4; ++j) {
                    __m256i q = _mm256_and_si256(_mm256_srli_epi16(qv, 2 * j), m3);
                    if constexpr (kQ3) {
                        // Bit b = 4h + j of each byte moved to bit 2 (value 4); 16-bit shifts stay
                        // within the byte for the bit we keep.
                        const int bit = 4 * h + j;
                        const __m256i hs = bit >= 2 ? _mm256_srli_epi16(hm, bit - 2) : _mm256_slli_epi16(hm, 2 - bit);
                        q = _mm256_or_si256(q, _mm256_and_si256(hs, b2));
                    }
                    const __m256i s = scales.pair(4 * h + j);
                    for (int c = 0; c < NC; ++c) isum[c] = mac(isum[c], q, x[c][b].qs + 128 * h + 32 * j, s);
                }
            }
            const __m256 d = _mm256_set1_ps(half_to_float(B.d));
            if constexpr (kQ3) {
                // q stored as 0..7 = value + 4: subtract 4 * sum(sc * group sum of x).
                const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
                for (int c = 0; c < NC; ++c) {
                    const __m256i off = _mm256_madd_epi16(load256(x[c][b].bsums), sc16);
                    const __m256i t = _mm256_sub_epi32(isum[c], _mm256_slli_epi32(off, 2));
                    acc[c] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(x[c][b].d)), _mm256_cvtepi32_ps(t), acc[c]);
                }
            } else {
                const __m256i mn16 = _mm256_cvtepu8_epi16(mn8);
                const __m256 dmin = _mm256_set1_ps(half_to_float(B.dmin));
                for (int c = 0; c < NC; ++c) {
                    const __m256 xd = _mm256_set1_ps(x[c][b].d);
                    const __m256i mp = _mm256_madd_epi16(load256(x[c][b].bsums), mn16);
                    acc[c] = _mm256_fmadd_ps(_mm256_mul_ps(d, xd), _mm256_cvtepi32_ps(isum[c]), acc[c]);
                    acc[c] = _mm256_fnmadd_ps(_mm256_mul_ps(dmin, xd), _mm256_cvtepi32_ps(mp), acc[c]);
                }
            }
        }
        for (int c = 0; c < NC; ++c) out[c] = hsum(acc[c]);
    }
};

// ---- IQ4_XS: 8 sub-blocks of 32, non-linear 4-bit values, 6-bit scales minus 32 ----------------

struct DotIQ4XS {
    using XBlock = XK;

    template <int NC>
    static void dot(const uint8_t* wrow, const XK* const* x, int64_t nb, float* out) {
        const auto* w = reinterpret_cast<const block_iq4_xs*>(wrow);
        const __m256i table = _mm256_broadcastsi128_si256(load128(kvalues_iq4nl));
        __m256 acc[NC];
        for (int c = 0; c < NC; ++c) acc[c] = _mm256_setzero_ps();
        for (int64_t b = 0; b < nb; ++b) {
            prefetch_ahead(&w[b], sizeof(block_iq4_xs));
            const block_iq4_xs& B = w[b];
            __m256i isum[NC];
            zero<NC>(isum);
            for (int ib = 0; ib < QK_K / 32; ++ib) {
                const int ls = ((B.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((B.scales_h >> (2 * ib)) & 3) << 4);
                const __m256i s = _mm256_set1_epi16(short(ls - 32));
                // Signed values: maddubs(|w|, sign(x, w)) == w * x.
                const __m256i q = _mm256_shuffle_epi8(table, nibbles32(B.qs + 16 * ib));
                const __m256i qa = _mm256_sign_epi8(q, q);
                for (int c = 0; c < NC; ++c) {
                    const __m256i xv = _mm256_sign_epi8(load256(x[c][b].qs + 32 * ib), q);
                    isum[c] = madd_acc(isum[c], _mm256_maddubs_epi16(qa, xv), s);
                }
            }
            const __m256 d = _mm256_set1_ps(half_to_float(B.d));
            for (int c = 0; c < NC; ++c)
                acc[c] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(x[c][b].d)), _mm256_cvtepi32_ps(isum[c]), acc[c]);
        }
        for (int c = 0; c < NC; ++c) out[c] = hsum(acc[c]);
    }
};

bool k_kernel(DType t, Kernel* k) {
    switch (t) {
    case DType::Q2_K: *k = {XFormat::q8_K, rows_kernel<DotQ23K<false>>}; return true;
    case DType::Q3_K: *k = {XFormat::q8_K, rows_kernel<DotQ23K<true>>}; return true;
    case DType::Q4_K: *k = {XFormat::q8_K, rows_kernel<DotQ45K<false>>}; return true;
    case DType::Q5_K: *k = {XFormat::q8_K, rows_kernel<DotQ45K<true>>}; return true;
    case DType::Q6_K: *k = {XFormat::q8_K, rows_kernel<DotQ6K>}; return true;
    case DType::IQ4_XS: *k = {XFormat::q8_K, rows_kernel<DotIQ4XS>}; return true;
    default: return false;
    }
}

} // namespace
} // namespace vkai::cpu::avx2
