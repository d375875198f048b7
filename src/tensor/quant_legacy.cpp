// The 32-element block types Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1: reference decode (the
// ecosystem's formulas, evaluated in the same float order so results are bit-exact) and
// least-squares encoders.
#include "tensor/quant_internal.h"

#include "base/fp16.h"
#include "tensor/quant_blocks.h"

namespace vkai::qi {
namespace {

// Packs 32 4-bit values: element j in the low nibble of byte j, element j+16 in the high one.
void pack_nibbles32(const uint8_t* q, uint8_t* qs) {
    for (int j = 0; j < 16; ++j) qs[j] = uint8_t((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
}

// The fifth bits of 32 5-bit values: bit j of qh (little endian) is bit 4 of element j.
void pack_high_bits32(const uint8_t* q, uint8_t* qh) {
    uint32_t h = 0;
    for (int j = 0; j < 32; ++j) h |= uint32_t((q[j] >> 4) & 1) << j;
    for (int b = 0; b < 4; ++b) qh[b] = uint8_t(h >> (8 * b));
}

uint32_t load_u32(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// Affine block encoder shared by Q4_1 and Q5_1: fit (s, m), then choose the fp16 pair near
// the fit (each rounded value and its neighbours) whose re-rounded integers decode best.
void encode_affine(const float* x, int nmax, uint16_t* dh, uint16_t* mh, uint8_t* q) {
    float s, m;
    fit_affine(x, 32, nmax, false, &s, &m, q);
    uint16_t s0 = scale_to_fp16(s), m0 = fp16_finite(m);
    double best = assign_affine(x, 32, nmax, fp16_to_f32(s0), fp16_to_f32(m0), q);
    *dh = s0, *mh = m0;
    for (int ds = -1; ds <= 1; ++ds) {
        int smag = int(s0 & 0x7fff) + ds;
        if (smag < 0 || smag > 0x7bff) continue;
        for (int dm = -1; dm <= 1; ++dm) {
            if (ds == 0 && dm == 0) continue;
            int mmag = int(m0 & 0x7fff) + dm;
            if (mmag < 0 || mmag > 0x7bff) continue;
            uint16_t sh = uint16_t((s0 & 0x8000) | smag), mhh = uint16_t((m0 & 0x8000) | mmag);
            const float sv = fp16_to_f32(sh);
            double e = sv > 0 ? err_affine(x, 32, nmax, sv, fp16_to_f32(mhh)) : best;
            if (e < best) best = e, *dh = sh, *mh = mhh;
        }
    }
    assign_affine(x, 32, nmax, fp16_to_f32(*dh), fp16_to_f32(*mh), q);
}

} // namespace

// ---- Q4_0: x = d * (q - 8) ----
void dequantize_q4_0(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const block_q4_0*>(src);
    for (int64_t i = 0; i < n / QK4_0; ++i, dst += QK4_0) {
        const float d = fp16_to_f32(b[i].d);
        for (int j = 0; j < 16; ++j) {
            dst[j] = float((b[i].qs[j] & 0xF) - 8) * d;
            dst[j + 16] = float((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void quantize_q4_0(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<block_q4_0*>(dst);
    const Levels L = linear_levels(-8, 7);
    uint8_t idx[32];
    for (int64_t i = 0; i < n / QK4_0; ++i, src += QK4_0) {
        float s = fit_sym(src, 32, L, idx);
        b[i].d = best_fp16_scale(src, 32, L, s, idx);
        pack_nibbles32(idx, b[i].qs); // index = q - (-8): the stored nibble
    }
}

// ---- Q4_1: x = d * q + m ----
void dequantize_q4_1(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const block_q4_1*>(src);
    for (int64_t i = 0; i < n / QK4_1; ++i, dst += QK4_1) {
        const float d = fp16_to_f32(b[i].d), m = fp16_to_f32(b[i].m);
        for (int j = 0; j < 16; ++j) {
            dst[j] = float(b[i].qs[j] & 0xF) * d + m;
            dst[j + 16] = float(b[i].qs[j] >> 4) * d + m;
        }
    }
}

void quantize_q4_1(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<block_q4_1*>(dst);
    uint8_t q[32];
    for (int64_t i = 0; i < n / QK4_1; ++i, src += QK4_1) {
        encode_affine(src, 15, &b[i].d, &b[i].m, q);
        pack_nibbles32(q, b[i].qs);
    }
}

// ---- Q5_0: x = d * (q - 16) ----
void dequantize_q5_0(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const block_q5_0*>(src);
    for (int64_t i = 0; i < n / QK5_0; ++i, dst += QK5_0) {
        const float d = fp16_to_f32(b[i].d);
        const uint32_t qh = load_u32(b[i].qh);
        for (int j = 0; j < 16; ++j) {
            int lo = (b[i].qs[j] & 0xF) | int(((qh >> j) & 1) << 4);
            int hi = (b[i].qs[j] >> 4) | int(((qh >> (j + 16)) & 1) << 4);
            dst[j] = float(lo - 16) * d;
            dst[j + 16] = float(hi - 16) * d;
        }
    }
}

void quantize_q5_0(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<block_q5_0*>(dst);
    const Levels L = linear_levels(-16, 15);
    uint8_t idx[32];
    for (int64_t i = 0; i < n / QK5_0; ++i, src += QK5_0) {
        float s = fit_sym(src, 32, L, idx);
        b[i].d = best_fp16_scale(src, 32, L, s, idx);
        pack_nibbles32(idx, b[i].qs);
        pack_high_bits32(idx, b[i].qh);
    }
}

// ---- Q5_1: x = d * q + m ----
void dequantize_q5_1(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const block_q5_1*>(src);
    for (int64_t i = 0; i < n / QK5_1; ++i, dst += QK5_1) {
        const float d = fp16_to_f32(b[i].d), m = fp16_to_f32(b[i].m);
        const uint32_t qh = load_u32(b[i].qh);
        for (int j = 0; j < 16; ++j) {
            int lo = (b[i].qs[j] & 0xF) | int(((qh >> j) & 1) << 4);
            int hi = (b[i].qs[j] >> 4) | int(((qh >> (j + 16)) & 1) << 4);
            dst[j] = float(lo) * d + m;
            dst[j + 16] = float(hi) * d + m;
        }
    }
}

void quantize_q5_1(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<block_q5_1*>(dst);
    uint8_t q[32];
    for (int64_t i = 0; i < n / QK5_1; ++i, src += QK5_1) {
        encode_affine(src, 31, &b[i].d, &b[i].m, q);
        pack_nibbles32(q, b[i].qs);
        pack_high_bits32(q, b[i].qh);
    }
}

// ---- Q8_0: x = d * q ----
void dequantize_q8_0(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const block_q8_0*>(src);
    for (int64_t i = 0; i < n / QK8_0; ++i, dst += QK8_0) {
        const float d = fp16_to_f32(b[i].d);
        for (int j = 0; j < 32; ++j) dst[j] = float(b[i].qs[j]) * d;
    }
}

// q stays in [-127, 127] like every other Q8_0 writer: int8 SIMD kernels elsewhere negate
// these values and -128 would overflow.
void quantize_q8_0(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<block_q8_0*>(dst);
    const Levels L = linear_levels(-127, 127);
    uint8_t idx[32];
    for (int64_t i = 0; i < n / QK8_0; ++i, src += QK8_0) {
        float s = fit_sym(src, 32, L, idx);
        b[i].d = best_fp16_scale(src, 32, L, s, idx);
        for (int j = 0; j < 32; ++j) b[i].qs[j] = int8_t(int(idx[j]) - 127);
    }
}

// ---- Q8_1: x = d * q; s = d * sum(q) for the dot products against *_1 weights ----
void dequantize_q8_1(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const block_q8_1*>(src);
    for (int64_t i = 0; i < n / QK8_1; ++i, dst += QK8_1) {
        const float d = fp16_to_f32(b[i].d);
        for (int j = 0; j < 32; ++j) dst[j] = float(b[i].qs[j]) * d;
    }
}

void quantize_q8_1(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<block_q8_1*>(dst);
    const Levels L = linear_levels(-127, 127);
    uint8_t idx[32];
    for (int64_t i = 0; i < n / QK8_1; ++i, src += QK8_1) {
        float s = fit_sym(src, 32, L, idx);
        b[i].d = best_fp16_scale(src, 32, L, s, idx);
        int sum = 0;
        for (int j = 0; j < 32; ++j) {
            b[i].qs[j] = int8_t(int(idx[j]) - 127);
            sum += b[i].qs[j];
        }
        b[i].s = fp16_finite(fp16_to_f32(b[i].d) * float(sum));
    }
}

} // namespace vkai::qi
