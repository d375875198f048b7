// VNNI dot kernels, compiled twice: matmul_vnni512.cpp (AVX512-VNNI + VL, 256-bit vectors, 32
// registers) and matmul_avxvnni.cpp (AVX-VNNI, VEX). The includer defines VKAI_VNNI_DPBUSD(acc, u8, s8)
// and VKAI_VNNI_KERNEL (the name of the entry point). The 32-element block types use the layout
// below; the K-quants use matmul_k_impl.h built with these flags (vpdpwssd for madd + add).
//
// x is prepared in a layout (XG4 in matmul_avx2.h) that the weights of 4 chunks of 32 reach
// with a few shuffles shared by every column, so one vpdpbusd per 32 bytes and column leaves each
// chunk's partial sums in its own lanes; the scales are applied per group of 4 chunks with one
// float FMA per column instead of a madd + convert + FMA per chunk. Per column and
// chunk of 32 that is ~2 instructions instead of ~6 (maddubs, madd, add or sign, convert, mul, FMA).
// Each column is summed in the same order whatever the number of columns, so a token's result
// does not depend on its batch.
//
// With 32 registers (AVX-512VL) and 3+ columns, rows go in pairs: each x vector is loaded once for
// both rows' vpdpbusd. On Zen 4 two 256-bit loads a cycle bound one row of 8 columns (6 loads per
// column and group), pairs leave vpdpbusd and the FMA pipes as the limit: Q5_0, k = 896, 8 columns,
// 1 thread: 11.6 -> 8.9 ns per group of 128 weights together with the cheaper Q5 fifth bits
// (nibbles5_g4) and scale loads (f16x4). Same bits as one row at a time.
#pragma once

#include "cpu/matmul_avx2.h"
#include "cpu/matmul_k_impl.h"
#include "cpu/matmul_values.h"

#include <cstddef>
#include <cstring>
#include <type_traits>

namespace vkai::cpu::avx2 {
namespace {

#ifdef __AVX512VL__
constexpr bool kPairRows = true;
#else
constexpr bool kPairRows = false; // 16 registers: two rows of 8 columns would spill
#endif

inline __m256i dp(__m256i acc, __m256i u8, __m256i s8) { return VKAI_VNNI_DPBUSD(acc, u8, s8); }
inline __m256 bcast4(const float* p) { return _mm256_broadcast_ps(reinterpret_cast<const __m128*>(p)); }

// ---- 32-element block types: groups of 4 blocks against XG4 -----------------------------------

#define VKAI_INLINE inline __attribute__((always_inline))

// The f16 field at byte offset `off` of 4 consecutive blocks (stride bytes apart) as 4 floats.
template <size_t kStride, size_t kOff>
VKAI_INLINE __m128 f16x4(const uint8_t* p) {
    // Packed in a general register (one vector insert instead of four).
    uint64_t h = 0;
    for (int i = 0; i < 4; ++i) {
        uint16_t v;
        std::memcpy(&v, p + i * kStride + kOff, 2);
        h |= uint64_t(v) << (16 * i);
    }
    return _mm_cvtph_ps(_mm_cvtsi64_si128(int64_t(h)));
}

// [lo | hi] from two 16-byte loads.
VKAI_INLINE __m256i load2x128(const void* lo, const void* hi) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(load128(lo)), load128(hi), 1);
}

// The qword layout of XG4 from p = [A | B] and r = [C | D] (16 bytes of each block): the two
// vectors holding qwords 0 and 1 of each half, in the order A, C | B, D.
VKAI_INLINE void qwords(__m256i p, __m256i r, __m256i* w) {
    w[0] = _mm256_unpacklo_epi64(p, r);
    w[1] = _mm256_unpackhi_epi64(p, r);
}

// Elements of 4 blocks with 4-bit fields (qs: byte j = element j | element j + 16 << 4) in the qword
// layout: 2 loads, 2 inserts, 6 ALU, 4 shuffles for 128 values.
template <class Block>
VKAI_INLINE void nibbles_g4(const Block* b, __m256i* w) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i p = load2x128(b[0].qs, b[1].qs), r = load2x128(b[2].qs, b[3].qs);
    qwords(_mm256_and_si256(p, m4), _mm256_and_si256(r, m4), w);
    qwords(_mm256_and_si256(_mm256_srli_epi16(p, 4), m4), _mm256_and_si256(_mm256_srli_epi16(r, 4), m4), w + 2);
}

// Adds 16 to every element whose bit is set in the blocks' qh (bit e = element e), qword layout.
template <class Block>
VKAI_INLINE void fifth_bits_g4(const Block* b, __m256i* w) {
    const __m128i h = _mm_setr_epi32(int(load_u32(b[0].qh)), int(load_u32(b[1].qh)), int(load_u32(b[2].qh)), int(load_u32(b[3].qh)));
    const __m256i hh = _mm256_broadcastsi128_si256(h);
    const __m256i bit = _mm256_set1_epi64x(int64_t(0x8040201008040201ull)), b16 = _mm256_set1_epi8(0x10);
    for (int k = 0; k < 4; ++k) {
        // Vector k, qword of block X: byte k of qh(X) in all 8 bytes; A, C in the low half, B, D high.
        const char a = char(k), bb = char(4 + k), c = char(8 + k), d = char(12 + k);
        const __m256i idx = _mm256_setr_epi8(a, a, a, a, a, a, a, a, c, c, c, c, c, c, c, c, bb, bb, bb, bb, bb, bb, bb, bb, d, d, d, d, d, d, d, d);
        const __m256i sh = _mm256_shuffle_epi8(hh, idx);
#ifdef __AVX512BW__
        w[k] = _mm256_mask_add_epi8(w[k], _mm256_test_epi8_mask(sh, bit), w[k], b16);
#else
        w[k] = _mm256_or_si256(w[k], _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(sh, bit), bit), b16));
#endif
    }
}

#ifdef __AVX512BW__
// nibbles_g4 with the fifth bits (qh, bit e = element e) added as 16 before the qword shuffles,
// while each vector still holds 16 consecutive elements of two blocks: the masks then are two
// 16-bit halves of two qh words, built in general registers (AVX-512 byte masks).
template <class Block>
VKAI_INLINE void nibbles5_g4(const Block* b, __m256i* w) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), b16 = _mm256_set1_epi8(0x10);
    const __m256i p = load2x128(b[0].qs, b[1].qs), r = load2x128(b[2].qs, b[3].qs);
    const uint32_t ha = load_u32(b[0].qh), hb = load_u32(b[1].qh), hc = load_u32(b[2].qh), hd = load_u32(b[3].qh);
    // Elements 0..15 of A | of B, and 16..31 of A | of B (C and D the same).
    const __mmask32 plo = (ha & 0xffffu) | (hb << 16), phi = (ha >> 16) | (hb & 0xffff0000u);
    const __mmask32 rlo = (hc & 0xffffu) | (hd << 16), rhi = (hc >> 16) | (hd & 0xffff0000u);
    const __m256i pl = _mm256_and_si256(p, m4), rl = _mm256_and_si256(r, m4);
    const __m256i ph = _mm256_and_si256(_mm256_srli_epi16(p, 4), m4), rh = _mm256_and_si256(_mm256_srli_epi16(r, 4), m4);
    qwords(_mm256_mask_add_epi8(pl, plo, pl, b16), _mm256_mask_add_epi8(rl, rlo, rl, b16), w);
    qwords(_mm256_mask_add_epi8(ph, phi, ph, b16), _mm256_mask_add_epi8(rh, rhi, rh, b16), w + 2);
}
#endif

// kFew (1 or 2 columns, memory-bound): the vector form of the fifth bits (one slot of the synth
// qwen2.5-0.5b: 2-4 % less time per token in three alternating runs); the general-register masks
// with more columns. Both give the same values.
template <class T, bool kFew>
VKAI_INLINE void values_g4(const typename T::Block* b, __m256i* w) {
    if constexpr (std::is_same_v<T, TQ8_0>) {
        qwords(load2x128(b[0].qs, b[1].qs), load2x128(b[2].qs, b[3].qs), w);
        qwords(load2x128(b[0].qs + 16, b[1].qs + 16), load2x128(b[2].qs + 16, b[3].qs + 16), w + 2);
    } else {
        constexpr bool kFive = std::is_same_v<T, TQ5_0> || std::is_same_v<T, TQ5_1>;
#ifdef __AVX512BW__
        if constexpr (kFive && !kFew) {
            nibbles5_g4(b, w);
        } else {
            nibbles_g4(b, w);
            if constexpr (kFive) fifth_bits_g4(b, w);
        }
#else
        nibbles_g4(b, w);
        if constexpr (kFive) fifth_bits_g4(b, w);
#endif
        if constexpr (std::is_same_v<T, TIQ4_NL>) {
            const __m256i table = _mm256_broadcastsi128_si256(load128(kvalues_iq4nl));
            for (int k = 0; k < 4; ++k) w[k] = _mm256_shuffle_epi8(table, w[k]);
        }
    }
}

template <class T>
struct DotG4 {
    using XBlock = XG4;
    using Block = typename T::Block;

    // The scales (and for unsigned types the mins) of 4 blocks, A B C D.
    static VKAI_INLINE __m128 scales4(const Block* w) { return f16x4<sizeof(Block), offsetof(Block, d)>(reinterpret_cast<const uint8_t*>(w)); }
    // Q4_0 / Q5_0 subtract a constant from q: done in int32 through x's init (g4_off8 / g4_off16).
    static constexpr bool kIntOffset = std::is_same_v<T, TQ4_0> || std::is_same_v<T, TQ5_0>;
    static VKAI_INLINE __m128 mins4(const Block* w, __m128) { return f16x4<sizeof(Block), offsetof(Block, m)>(reinterpret_cast<const uint8_t*>(w)); }

    // The weight side of a group of 4 blocks of one row, shared by every column: values in the qword
    // layout, lane scales, and the per-lane term that starts each column's sums (signed types) or
    // the mins (unsigned types without an integer offset).
    struct WG {
        __m256i u[4];
        __m256 wd;
        __m256i init; // signed types: -128 * sum(w) per lane
        __m256 wm8;   // unsigned types with a min: min * s in lanes 0..3
    };
    template <bool kFew>
    static VKAI_INLINE void prep(const Block* w, WG& p) {
        values_g4<T, kFew>(w, p.u);
        const __m128 d4 = scales4(w);
        // Lane scales in the qword layout: A A C C B B D D.
        p.wd = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(d4), _mm256_setr_epi32(0, 0, 2, 2, 1, 1, 3, 3));
        if constexpr (T::kSigned) {
            // x is stored as q + 128 (unsigned): sum((q + 128) * w) - 128 * sum(w), the second
            // term per lane, shared by all columns.
            const __m256i k80 = _mm256_set1_epi8(char(0x80));
            __m256i corr = _mm256_setzero_si256();
            for (int i = 0; i < 4; ++i) corr = dp(corr, k80, p.u[i]);
            p.init = _mm256_sub_epi32(_mm256_setzero_si256(), corr);
        } else if constexpr (!kIntOffset) {
            p.wm8 = _mm256_set_m128(_mm_setzero_ps(), mins4(w, d4));
        }
    }

    // One (row, column) pair's sums of a group, added to acc: the same instructions in the same
    // order whatever the number of rows and columns a call handles (batch independence).
    static VKAI_INLINE __m256i dpx(__m256i t, const WG& p, const XG4& xg, int i) {
        return T::kSigned ? dp(t, load256(xg.qs + 32 * i), p.u[i]) : dp(t, p.u[i], load256(xg.qs + 32 * i));
    }
    static VKAI_INLINE __m256i isum(const WG& p, const XG4& xg, __m256i t) {
        for (int i = 0; i < 4; ++i) t = dpx(t, p, xg, i);
        return t;
    }
    static VKAI_INLINE __m256i start(const WG& p, const XG4& xg) {
        if constexpr (T::kSigned) return p.init;
        else if constexpr (kIntOffset) return load256(xg.init); // weights d * (q - off): -off * lane sums of x
        else return _mm256_setzero_si256();
    }
    static VKAI_INLINE void finish(const WG& p, const XG4& xg, __m256i t, __m256& acc) {
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t), _mm256_mul_ps(p.wd, _mm256_loadu_ps(xg.d8)), acc);
        if constexpr (!T::kSigned && !kIntOffset) acc = _mm256_fmadd_ps(p.wm8, bcast4(xg.s), acc);
    }

    template <int NC>
    static VKAI_INLINE void group(const Block* w, const XG4* const* x, int64_t g, __m256* acc) {
        WG p;
        prep<(NC <= 2)>(w, p);
        for (int c = 0; c < NC; ++c) {
            const XG4& xg = x[c][g];
            finish(p, xg, isum(p, xg, start(p, xg)), acc[c]);
        }
    }

    // Two rows against the same columns: each x vector loaded once feeds both rows' vpdpbusd
    // (with 8 columns one row is bound by the loads of x, not by the arithmetic).
    template <int NC>
    static VKAI_INLINE void group2(const Block* w0, const Block* w1, const XG4* const* x, int64_t g, __m256* acc0, __m256* acc1) {
        WG p0, p1;
        prep<(NC <= 2)>(w0, p0);
        prep<(NC <= 2)>(w1, p1);
        for (int c = 0; c < NC; ++c) {
            const XG4& xg = x[c][g];
            __m256i t0 = start(p0, xg), t1 = kIntOffset ? t0 : start(p1, xg);
            for (int i = 0; i < 4; ++i) {
                __m256i xv = load256(xg.qs + 32 * i);
                // In a register: folded into both vpdpbusd as a memory operand it would be loaded twice
                // (two 256-bit loads a cycle are the limit here).
                __asm__("" : "+v"(xv));
                if constexpr (T::kSigned) {
                    t0 = dp(t0, xv, p0.u[i]);
                    t1 = dp(t1, xv, p1.u[i]);
                } else {
                    t0 = dp(t0, p0.u[i], xv);
                    t1 = dp(t1, p1.u[i], xv);
                }
            }
            finish(p0, xg, t0, acc0[c]);
            finish(p1, xg, t1, acc1[c]);
        }
    }

    // The row's last blocks, padded with zero blocks (scale 0, min 0).
    static VKAI_INLINE void tail(const Block* w, int64_t n, Block* t4) {
        std::memset(t4, 0, 4 * sizeof(Block));
        std::memcpy(t4, w, size_t(n) * sizeof(Block));
    }

    template <int NC>
    static void dot2(const uint8_t* wrow0, size_t stride, const XG4* const* x, int64_t nb, float* out0, float* out1) {
        const auto* w0 = reinterpret_cast<const Block*>(wrow0);
        const auto* w1 = reinterpret_cast<const Block*>(wrow0 + stride);
        __m256 acc0[NC], acc1[NC];
        for (int c = 0; c < NC; ++c) acc0[c] = acc1[c] = _mm256_setzero_ps();
        int64_t g = 0;
        for (; 4 * g + 4 <= nb; ++g) {
            prefetch_ahead(&w0[4 * g], 4 * sizeof(Block));
            prefetch_ahead(&w1[4 * g], 4 * sizeof(Block));
            group2<NC>(w0 + 4 * g, w1 + 4 * g, x, g, acc0, acc1);
        }
        if (4 * g < nb) {
            Block t0[4], t1[4];
            tail(w0 + 4 * g, nb - 4 * g, t0);
            tail(w1 + 4 * g, nb - 4 * g, t1);
            group2<NC>(t0, t1, x, g, acc0, acc1);
        }
        for (int c = 0; c < NC; ++c) out0[c] = hsum(acc0[c]), out1[c] = hsum(acc1[c]);
    }

    template <int NC>
    static void dot(const uint8_t* wrow, const XG4* const* x, int64_t nb, float* out) {
        const auto* w = reinterpret_cast<const Block*>(wrow);
        __m256 acc[NC];
        for (int c = 0; c < NC; ++c) acc[c] = _mm256_setzero_ps();
        int64_t g = 0;
        for (; 4 * g + 4 <= nb; ++g) {
            prefetch_ahead(&w[4 * g], 4 * sizeof(Block));
            group<NC>(w + 4 * g, x, g, acc);
        }
        if (4 * g < nb) {
            Block t4[4];
            tail(w + 4 * g, nb - 4 * g, t4);
            group<NC>(t4, x, g, acc);
        }
        for (int c = 0; c < NC; ++c) out[c] = hsum(acc[c]);
    }
};

// Rows in pairs (dot2) when the registers hold two rows' accumulators and weights (AVX-512VL: 32
// registers) and there are enough columns for x's loads to matter; the same bits as one row at a time.
template <class K, int NC>
void rows_g4_nc(const RowsArgs& a) {
    const XG4* x[NC];
    for (int c = 0; c < NC; ++c) x[c] = static_cast<const XG4*>(a.x[c]);
    int64_t r = 0;
    if constexpr (kPairRows && NC >= 3) {
        for (; r + 2 <= a.nrows; r += 2) {
            float o0[NC], o1[NC];
            K::template dot2<NC>(a.w + size_t(r) * a.w_stride, a.w_stride, x, a.nb, o0, o1);
            for (int c = 0; c < NC; ++c) a.y[c][a.row0 + r] = o0[c], a.y[c][a.row0 + r + 1] = o1[c];
        }
    }
    for (; r < a.nrows; ++r) {
        float out[NC];
        K::template dot<NC>(a.w + size_t(r) * a.w_stride, x, a.nb, out);
        for (int c = 0; c < NC; ++c) a.y[c][a.row0 + r] = out[c];
    }
}

template <class K>
void rows_g4(const RowsArgs& a) {
    switch (a.nc) {
    case 1: rows_g4_nc<K, 1>(a); break;
    case 2: rows_g4_nc<K, 2>(a); break;
    case 3: rows_g4_nc<K, 3>(a); break;
    case 4: rows_g4_nc<K, 4>(a); break;
    case 5: rows_g4_nc<K, 5>(a); break;
    case 6: rows_g4_nc<K, 6>(a); break;
    case 7: rows_g4_nc<K, 7>(a); break;
    default: rows_g4_nc<K, 8>(a); break;
    }
}

} // namespace

bool VKAI_VNNI_KERNEL(DType t, Kernel* k) {
    switch (t) {
    case DType::Q4_0: *k = {XFormat::g4_off8, rows_g4<DotG4<TQ4_0>>}; return true;
    case DType::Q4_1: *k = {XFormat::g4_signed, rows_g4<DotG4<TQ4_1>>}; return true;
    case DType::Q5_0: *k = {XFormat::g4_off16, rows_g4<DotG4<TQ5_0>>}; return true;
    case DType::Q5_1: *k = {XFormat::g4_signed, rows_g4<DotG4<TQ5_1>>}; return true;
    case DType::Q8_0: *k = {XFormat::g4_biased, rows_g4<DotG4<TQ8_0>>}; return true;
    case DType::IQ4_NL: *k = {XFormat::g4_biased, rows_g4<DotG4<TIQ4_NL>>}; return true;
    default: return k_kernel(t, k); // the K-quants: the AVX2 kernels with vpdpwssd
    }
}

} // namespace vkai::cpu::avx2
