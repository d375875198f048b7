// Internal interface between the mul_mat dispatcher (matmul.cpp) and the AVX2 kernels
// (matmul_avx2*.cpp, built with -mavx2 -mfma -mf16c) and VNNI kernels (matmul_vnni*.cpp, built with
// VNNI flags as well). Only declarations are visible without __AVX2__. The inline helpers are
// `static`: each file compiles its own copy with its own flags, so the linker can never hand an
// AVX2-only caller a copy built for AVX-512.
#pragma once

#include "base/thread_pool.h"
#include "tensor/quant_blocks.h"
#include "tensor/tensor.h"

#include <cstddef>
#include <cstdint>

namespace vkai::cpu::avx2 {

bool has_mul_mat(DType w_type);
// w: (k, m) 2-D; xcols[j]: column j of x (k floats); ycols[j]: column j of y (m floats), j < n.
void mul_mat(const Tensor& w, const float* const* xcols, float* const* ycols, int64_t n, ThreadPool& pool);

// How x is prepared for a weight type: kept f32, or quantized to int8 per call (see below).
enum class XFormat { f32, q8_32, q8_K, g4_signed, g4_off8, g4_off16, g4_biased };

// x quantized in blocks of 32 for the 32-element weight types: x[i] ~= d * qs[i]; s = d * sum(qs)
// (used by the unsigned-weight types: the min of Q4_1 / Q5_1, the -8d / -16d offset of Q4_0 / Q5_0).
struct XQ32 {
    float d, s;
    int8_t qs[32];
};
static_assert(sizeof(XQ32) == 40);
// The K-quants and IQ4_XS take x as block_q8_K (quant_blocks.h): bsums[i] = sum of qs[16i..16i+15].

// x for the VNNI kernels (matmul_vnni_impl.h), quantized like XQ32 / block_q8_K but laid out so
// that one vpdpbusd per 32 bytes leaves each chunk's (block's) partial sums in its own dword lanes,
// the weights getting the same layout from a few shuffles shared by every column.
// XG4: groups of 4 blocks A, B, C, D of 32 (a row's last group padded with zero blocks, d = s = 0,
// q = 0). Vector k (k = 0..3, 32 bytes) holds elements 8k..8k+7 of A, C, B, D in that order, so
// lanes 0-1 belong to A, 2-3 to C, 4-5 to B, 6-7 to D (qword_layout below builds it from two
// 128-bit halves [A|B] and [C|D]). d8 holds each lane's block scale.
// g4_signed (for weight types with unsigned values): qs = q as int8. g4_off8 / g4_off16 (Q4_0 / Q5_0,
// whose weights are d * (q - 8) / d * (q - 16)): the same, plus init = -8 / -16 * (the sum of the
// x bytes of each lane), the integer offset term that starts each lane's vpdpbusd sum.
// g4_biased (signed weights): qs = q + 128 as uint8, so vpdpbusd (unsigned x signed) takes x
// first; s and init are unused then.
struct XG4 {
    float d8[8];     // dA dA dC dC dB dB dD dD
    float s[4];      // d * sum(q) of A, B, C, D
    int32_t init[8]; // g4_off8 / g4_off16 only
    uint8_t qs[128];
};
static_assert(sizeof(XG4) == 208);

// One call multiplies rows [row0, row0 + nrows) of w with nc <= kMaxCols columns of prepared x.
constexpr int kMaxCols = 8;
struct RowsArgs {
    const uint8_t* w;      // first weight row (row row0)
    size_t w_stride;       // bytes between weight rows
    int64_t nrows;
    int64_t nb;            // blocks per row (elements for f32/f16/bf16)
    const void* const* x;  // nc prepared columns: float*, XQ32* or block_q8_K*
    float* const* y;       // nc output columns; this call writes y[c][row0 .. row0 + nrows)
    int nc;
    int64_t row0;
};
using RowsFn = void (*)(const RowsArgs&);
struct Kernel {
    XFormat x = XFormat::f32;
    RowsFn rows = nullptr;
};

// Each kernel file fills *k for the types it implements and returns false for the others.
bool kernel_float(DType t, Kernel* k); // matmul_avx2.cpp: F32, F16, BF16
bool kernel_q32(DType t, Kernel* k);   // matmul_avx2_q.cpp: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL
bool kernel_k(DType t, Kernel* k);     // matmul_avx2_k.cpp: Q2_K..Q6_K, IQ4_XS
// matmul_vnni512.cpp / matmul_avxvnni.cpp (only with VKAI_HAVE_VNNI_KERNELS): the 32-element block
// types with x in the g4 formats, and the K-quants (matmul_k_impl.h built with VNNI flags).
bool kernel_vnni512(DType t, Kernel* k);
bool kernel_avxvnni(DType t, Kernel* k);

#ifdef __AVX2__
} // namespace vkai::cpu::avx2
#include <immintrin.h>
namespace vkai::cpu::avx2 {

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

// 16 bytes of packed nibbles -> 32 bytes: byte j = low nibble of qs[j], byte 16 + j = high nibble.
static inline __m256i nibbles32(const uint8_t* qs) {
    __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}

// Software prefetch of the weight stream: the lines of [p, p + bytes), g_prefetch_ahead bytes
// ahead (2048 by default; VKAI_CPU_PREFETCH=<bytes> overrides, 0 disables). Measured on a 4096 x
// 14336 matvec: +10-100 % on Xeon (KVM) cores, whose hardware prefetchers leave compute and DRAM
// reads partly serial; neutral on Zen 4. Prefetching past the end of a row or of the tensor is
// harmless: prefetches never fault.
extern const int g_prefetch_ahead;
static inline void prefetch_ahead(const void* p, size_t bytes) {
    if (g_prefetch_ahead <= 0) return;
    // Integer arithmetic: the address may lie past the end of the weights' allocation.
    const uintptr_t a = reinterpret_cast<uintptr_t>(p) + uintptr_t(g_prefetch_ahead);
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(a + o), _MM_HINT_T0);
}

// Sums of adjacent int8 pairs of (unsigned a) * (signed b), widened to int32 lanes of 4 products.
static inline __m256i dot_u8s8(__m256i a, __m256i b) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1));
}

// Runs K::dot<NC>(row, x, nb, out) for every row of a; NC is a template parameter so the
// per-column accumulators stay in registers.
template <class K, int NC>
static void rows_nc(const RowsArgs& a) {
    using XT = typename K::XBlock;
    const XT* x[NC];
    for (int c = 0; c < NC; ++c) x[c] = static_cast<const XT*>(a.x[c]);
    for (int64_t r = 0; r < a.nrows; ++r) {
        float out[NC];
        K::template dot<NC>(a.w + size_t(r) * a.w_stride, x, a.nb, out);
        for (int c = 0; c < NC; ++c) a.y[c][a.row0 + r] = out[c];
    }
}

template <class K>
static void rows_kernel(const RowsArgs& a) {
    switch (a.nc) {
    case 1: rows_nc<K, 1>(a); break;
    case 2: rows_nc<K, 2>(a); break;
    case 3: rows_nc<K, 3>(a); break;
    case 4: rows_nc<K, 4>(a); break;
    case 5: rows_nc<K, 5>(a); break;
    case 6: rows_nc<K, 6>(a); break;
    case 7: rows_nc<K, 7>(a); break;
    default: rows_nc<K, 8>(a); break;
    }
}

#endif // __AVX2__

} // namespace vkai::cpu::avx2
