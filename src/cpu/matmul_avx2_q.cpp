// AVX2 dot kernels for the 32-element block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL) against
// x quantized to XQ32: one int8 product per block (maddubs + madd), scaled and summed in f32.
#include "cpu/matmul_avx2.h"
#include "cpu/matmul_values.h"

#include <cmath>

namespace vkai::cpu::avx2 {
namespace {

template <class T>
struct Dot32 {
    using XBlock = XQ32;

    // Block b of the row against block b of NC columns, into accumulator set acc.
    // Signed weights use maddubs(|w|, sign(x, w)), which equals w * x lane by lane.
    template <int NC>
    static inline void step(const typename T::Block& wb, const XQ32* const* x, int64_t b, __m256* acc, float* macc) {
        const __m256i q = T::values(wb);
        const __m256i qa = T::kSigned ? _mm256_sign_epi8(q, q) : q;
        const float d = half_to_float(wb.d);
        const __m256 wd = _mm256_set1_ps(d);
        const float wm = T::kSigned ? 0.0f : T::min(wb, d);
        for (int c = 0; c < NC; ++c) {
            const XQ32& xb = x[c][b];
            __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qs));
            if (T::kSigned) xv = _mm256_sign_epi8(xv, q);
            const __m256 p = _mm256_cvtepi32_ps(dot_u8s8(qa, xv));
            acc[c] = _mm256_fmadd_ps(_mm256_mul_ps(wd, _mm256_set1_ps(xb.d)), p, acc[c]);
            // An explicit FMA: contraction left to the compiler could differ between NC variants.
            if (!T::kSigned) macc[c] = std::fma(wm, xb.s, macc[c]);
        }
    }

    template <int NC>
    static void dot(const uint8_t* wrow, const XQ32* const* x, int64_t nb, float* out) {
        const auto* w = reinterpret_cast<const typename T::Block*>(wrow);
        // Two accumulator sets break the FMA latency chain when few columns share a block.
        // The scalar min sums get two sets as well: one chain of float adds would cost 3 cycles a block.
        __m256 acc[2][NC];
        float macc[2][NC];
        for (int c = 0; c < NC; ++c) {
            acc[0][c] = acc[1][c] = _mm256_setzero_ps();
            macc[0][c] = macc[1][c] = 0;
        }
        int64_t b = 0;
        for (; b + 2 <= nb; b += 2) {
            prefetch_ahead(&w[b], 2 * sizeof(w[b]));
            step<NC>(w[b], x, b, acc[0], macc[0]);
            step<NC>(w[b + 1], x, b + 1, acc[1], macc[1]);
        }
        if (b < nb) step<NC>(w[b], x, b, acc[0], macc[0]);
        for (int c = 0; c < NC; ++c) out[c] = hsum(_mm256_add_ps(acc[0][c], acc[1][c])) + (macc[0][c] + macc[1][c]);
    }
};

} // namespace

bool kernel_q32(DType t, Kernel* k) {
    switch (t) {
    case DType::Q4_0: *k = {XFormat::q8_32, rows_kernel<Dot32<TQ4_0>>}; return true;
    case DType::Q4_1: *k = {XFormat::q8_32, rows_kernel<Dot32<TQ4_1>>}; return true;
    case DType::Q5_0: *k = {XFormat::q8_32, rows_kernel<Dot32<TQ5_0>>}; return true;
    case DType::Q5_1: *k = {XFormat::q8_32, rows_kernel<Dot32<TQ5_1>>}; return true;
    case DType::Q8_0: *k = {XFormat::q8_32, rows_kernel<Dot32<TQ8_0>>}; return true;
    case DType::IQ4_NL: *k = {XFormat::q8_32, rows_kernel<Dot32<TIQ4_NL>>}; return true;
    default: return false;
    }
}

} // namespace vkai::cpu::avx2
