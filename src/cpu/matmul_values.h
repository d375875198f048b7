// Weight blocks -> int8 values in AVX2 registers, shared by the AVX2 kernels (matmul_avx2_q.cpp,
// matmul_avx2_k.cpp) and the VNNI kernels (matmul_vnni_impl.h). Everything is in an anonymous
// namespace: each file compiles its own copy with its own ISA flags (see matmul_avx2.h).
#pragma once

#include "cpu/matmul_avx2.h"

#ifdef __AVX2__
#include <cstring>
#include <type_traits>

namespace vkai::cpu::avx2 {
namespace {

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }

inline uint32_t load_u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// ---- 32-element blocks ------------------------------------------------------------------------

// The 32 bits of qh as 32 bytes, 0xff where bit j is set (byte j <- bit j).
inline __m256i bits32(const uint8_t* qh) {
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32(int(load_u32(qh))),
                                    _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                                     2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    const __m256i bit = _mm256_set1_epi64x(int64_t(0x8040201008040201ull));
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

// Each type gives its 32 weights as int8. kSigned types give signed values w (x = d * w); the
// others give unsigned q in [0, 31] with x = d * q + min, where min is the stored m of the *_1
// types and -8d / -16d for Q4_0 / Q5_0 (cheaper than the sign trick: the offset costs one scalar
// FMA per block against the precomputed sum of x).
struct TQ4_0 {
    using Block = block_q4_0;
    static constexpr bool kSigned = false;
    static __m256i values(const Block& b) { return nibbles32(b.qs); }
    static float min(const Block&, float d) { return -8.0f * d; }
};
struct TQ4_1 {
    using Block = block_q4_1;
    static constexpr bool kSigned = false;
    static __m256i values(const Block& b) { return nibbles32(b.qs); }
    static float min(const Block& b, float) { return half_to_float(b.m); }
};
struct TQ5_0 {
    using Block = block_q5_0;
    static constexpr bool kSigned = false;
    static __m256i values(const Block& b) {
        return _mm256_or_si256(nibbles32(b.qs), _mm256_and_si256(bits32(b.qh), _mm256_set1_epi8(0x10)));
    }
    static float min(const Block&, float d) { return -16.0f * d; }
};
struct TQ5_1 {
    using Block = block_q5_1;
    static constexpr bool kSigned = false;
    static __m256i values(const Block& b) {
        return _mm256_or_si256(nibbles32(b.qs), _mm256_and_si256(bits32(b.qh), _mm256_set1_epi8(0x10)));
    }
    static float min(const Block& b, float) { return half_to_float(b.m); }
};
struct TQ8_0 {
    using Block = block_q8_0;
    static constexpr bool kSigned = true;
    static __m256i values(const Block& b) { return load256(b.qs); }
    static float min(const Block&, float) { return 0; }
};
struct TIQ4_NL {
    using Block = block_iq4_nl;
    static constexpr bool kSigned = true;
    static __m256i values(const Block& b) {
        const __m256i table = _mm256_broadcastsi128_si256(load128(kvalues_iq4nl));
        return _mm256_shuffle_epi8(table, nibbles32(b.qs));
    }
    static float min(const Block&, float) { return 0; }
};

// ---- K-quants -----------------------------------------------------------------------------------

// Q4_K / Q5_K: the 12 packed scale bytes -> 16 bytes: scales 0..7, then mins 0..7. Scales/mins
// 0..3 are the low 6 bits of bytes 0..3 / 4..7; 4..7 take their low 4 bits from the nibbles of
// bytes 8..11 and their top 2 bits from bits 6..7 of bytes 0..3 / 4..7.
inline __m128i unpack_scale_min_k4(const uint8_t* p) {
    const uint64_t s0 = load_u32(p), s1 = load_u32(p + 4), s2 = load_u32(p + 8);
    const uint64_t sc = (s0 & 0x3f3f3f3f) | (((s2 & 0x0f0f0f0f) | ((s0 >> 2) & 0x30303030)) << 32);
    const uint64_t mn = (s1 & 0x3f3f3f3f) | ((((s2 >> 4) & 0x0f0f0f0f) | ((s1 >> 2) & 0x30303030)) << 32);
    return _mm_set_epi64x(int64_t(mn), int64_t(sc));
}

// Q4_K / Q5_K sub-blocks 2j (lo) and 2j+1 (hi) of a super-block as unsigned bytes, j = 0..3 in
// order. 32 bytes of qs hold sub-block 2j in the low nibbles and 2j+1 in the high nibbles; Q5_K's
// fifth bits are bits 2j / 2j+1 of qh byte l: hv starts as qh and is shifted by 2 per call.
template <bool kFive, class Block>
inline void q45k_pair(const Block& B, int j, __m256i& hv, __m256i& lo, __m256i& hi) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i q = load256(B.qs + 32 * j);
    lo = _mm256_and_si256(q, m4);
    hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
    if constexpr (kFive) {
        const __m256i b4 = _mm256_set1_epi8(0x10);
        lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(hv, 4), b4));
        hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(hv, 3), b4));
        hv = _mm256_srli_epi16(hv, 2);
    }
}

// Q6_K: the 4 chunks of 32 of half h (elements 128h .. 128h + 127, in order) as q in [0, 63].
// ql[0..31] low/high nibbles are chunks 0/2, ql[32..63] chunks 1/3; qh bits 0-1, 2-3, 4-5, 6-7 are
// the top two bits of chunks 0, 1, 2, 3.
inline void q6k_half(const block_q6_K& B, int h, __m256i* q) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    const __m256i ql0 = load256(B.ql + 64 * h), ql1 = load256(B.ql + 64 * h + 32);
    const __m256i qh = load256(B.qh + 32 * h);
    q[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
    q[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
    q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), _mm256_and_si256(qh, m30));
    q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
}

} // namespace
} // namespace vkai::cpu::avx2
#endif // __AVX2__
