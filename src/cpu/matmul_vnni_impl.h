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
#pragma once

#include "cpu/matmul_avx2.h"
#include "cpu/matmul_k_impl.h"
#include "cpu/matmul_values.h"

#include <cstddef>
#include <cstring>
#include <type_traits>

namespace vkai::cpu::avx2 {
namespace {

inline __m256i dp(__m256i acc, __m256i u8, __m256i s8) { return VKAI_VNNI_DPBUSD(acc, u8, s8); }
inline __m256 bcast4(const float* p) { return _mm256_broadcast_ps(reinterpret_cast<const __m128*>(p)); }

// ---- 32-element block types: groups of 4 blocks against XG4 -----------------------------------

#define VKAI_INLINE inline __attribute__((always_inline))

// The f16 field at byte offset `off` of 4 consecutive blocks (stride bytes apart) as 4 floats.
template <size_t kStride, size_t kOff>
VKAI_INLINE __m128 f16x4(const uint8_t* p) {
    uint16_t h[4];
    for (int i = 0; i < 4; ++i) std::memcpy(&h[i], p + i * kStride + kOff, 2);
    return _mm_cvtph_ps(_mm_setr_epi16(short(h[0]), short(h[1]), short(h[2]), short(h[3]), 0, 0, 0, 0));
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

template <class T>
VKAI_INLINE void values_g4(const typename T::Block* b, __m256i* w) {
    if constexpr (std::is_same_v<T, TQ8_0>) {
        qwords(load2x128(b[0].qs, b[1].qs), load2x128(b[2].qs, b[3].qs), w);
        qwords(load2x128(b[0].qs + 16, b[1].qs + 16), load2x128(b[2].qs + 16, b[3].qs + 16), w + 2);
    } else {
        nibbles_g4(b, w);
        if constexpr (std::is_same_v<T, TQ5_0> || std::is_same_v<T, TQ5_1>) fifth_bits_g4(b, w);
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

    template <int NC>
    static VKAI_INLINE void group(const Block* w, const XG4* const* x, int64_t g, __m256* acc) {
        __m256i u[4];
        values_g4<T>(w, u);
        const __m128 d4 = scales4(w);
        // Lane scales in the qword layout: A A C C B B D D.
        const __m256 wd = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(d4), _mm256_setr_epi32(0, 0, 2, 2, 1, 1, 3, 3));
        if constexpr (T::kSigned) {
            // x is stored as q + 128 (unsigned): sum((q + 128) * w) - 128 * sum(w), the second
            // term per lane, shared by all columns.
            const __m256i k80 = _mm256_set1_epi8(char(0x80));
            __m256i corr = _mm256_setzero_si256();
            for (int i = 0; i < 4; ++i) corr = dp(corr, k80, u[i]);
            const __m256i init = _mm256_sub_epi32(_mm256_setzero_si256(), corr);
            for (int c = 0; c < NC; ++c) {
                const XG4& xg = x[c][g];
                __m256i t = init;
                for (int i = 0; i < 4; ++i) t = dp(t, load256(xg.qs + 32 * i), u[i]);
                acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t), _mm256_mul_ps(wd, _mm256_loadu_ps(xg.d8)), acc[c]);
            }
        } else if constexpr (kIntOffset) {
            // Weights d * (q - off): x's init holds -off * (sum of each lane's x bytes).
            for (int c = 0; c < NC; ++c) {
                const XG4& xg = x[c][g];
                __m256i t = load256(xg.init);
                for (int i = 0; i < 4; ++i) t = dp(t, u[i], load256(xg.qs + 32 * i));
                acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t), _mm256_mul_ps(wd, _mm256_loadu_ps(xg.d8)), acc[c]);
            }
        } else {
            // min * s in lanes 0..3 (s = d * sum(q) per x block, A B C D), 0 in lanes 4..7.
            const __m256 wm8 = _mm256_set_m128(_mm_setzero_ps(), mins4(w, d4));
            for (int c = 0; c < NC; ++c) {
                const XG4& xg = x[c][g];
                __m256i t = _mm256_setzero_si256();
                for (int i = 0; i < 4; ++i) t = dp(t, u[i], load256(xg.qs + 32 * i));
                acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t), _mm256_mul_ps(wd, _mm256_loadu_ps(xg.d8)), acc[c]);
                acc[c] = _mm256_fmadd_ps(wm8, bcast4(xg.s), acc[c]);
            }
        }
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
            // The row's last blocks, padded with zero blocks (scale 0, min 0).
            Block tail[4];
            std::memset(tail, 0, sizeof(tail));
            std::memcpy(tail, w + 4 * g, size_t(nb - 4 * g) * sizeof(Block));
            group<NC>(tail, x, g, acc);
        }
        for (int c = 0; c < NC; ++c) out[c] = hsum(acc[c]);
    }
};

} // namespace

bool VKAI_VNNI_KERNEL(DType t, Kernel* k) {
    switch (t) {
    case DType::Q4_0: *k = {XFormat::g4_off8, rows_kernel<DotG4<TQ4_0>>}; return true;
    case DType::Q4_1: *k = {XFormat::g4_signed, rows_kernel<DotG4<TQ4_1>>}; return true;
    case DType::Q5_0: *k = {XFormat::g4_off16, rows_kernel<DotG4<TQ5_0>>}; return true;
    case DType::Q5_1: *k = {XFormat::g4_signed, rows_kernel<DotG4<TQ5_1>>}; return true;
    case DType::Q8_0: *k = {XFormat::g4_biased, rows_kernel<DotG4<TQ8_0>>}; return true;
    case DType::IQ4_NL: *k = {XFormat::g4_biased, rows_kernel<DotG4<TIQ4_NL>>}; return true;
    default: return k_kernel(t, k); // the K-quants: the AVX2 kernels with vpdpwssd
    }
}

} // namespace vkai::cpu::avx2
