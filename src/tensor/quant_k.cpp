// The K-quants (256-element super-blocks): Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and the activation type
// Q8_K. Decoders follow the ecosystem's formulas in the same float evaluation order (bit-exact);
// encoders are two-level least-squares fits (quant_fit.cpp) plus the bit packing.
#include "tensor/quant_internal.h"

#include "base/fp16.h"
#include "tensor/quant_blocks.h"

#include <cmath>
#include <cstring>

namespace vkai::qi {
namespace {

// Q4_K / Q5_K: 8 6-bit scales and 8 6-bit mins in 12 bytes. Sub-blocks 0..3 keep scale and
// min in the low 6 bits of bytes 0..3 and 4..7; sub-blocks 4..7 keep their low 4 bits in the
// nibbles of bytes 8..11 and their top 2 bits in the top bits of bytes 0..7.
void get_scale_min_k4(int j, const uint8_t* s, int* sc, int* mn) {
    if (j < 4) {
        *sc = s[j] & 63;
        *mn = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
        *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

void pack_scale_min_k4(const int* sc, const int* mn, uint8_t* s) {
    for (int j = 0; j < 4; ++j) {
        s[j] = uint8_t((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        s[j + 4] = uint8_t((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
        s[j + 8] = uint8_t((sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4));
    }
}

// Q3_K: 16 6-bit scales (stored +32) in 12 bytes. Low 4 bits: scale i < 8 in the low nibble
// of byte i, i >= 8 in the high nibble of byte i-8. High 2 bits: bits 2*(i/4) of byte 8+i%4.
int q3k_scale(const uint8_t* s, int i) {
    int low = i < 8 ? (s[i] & 0xF) : (s[i - 8] >> 4);
    int high = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
    return (low | (high << 4)) - 32;
}

void q3k_pack_scales(const int* sc, uint8_t* s) {
    std::memset(s, 0, 12);
    for (int i = 0; i < 16; ++i) {
        int u = sc[i] + 32; // 0..63
        if (i < 8) s[i] = uint8_t(s[i] | (u & 0xF));
        else s[i - 8] = uint8_t(s[i - 8] | ((u & 0xF) << 4));
        s[8 + i % 4] = uint8_t(s[8 + i % 4] | ((u >> 4) << (2 * (i / 4))));
    }
}

// 2-bit planes shared by Q2_K and Q3_K: element n*128 + j*32 + l has its bits at
// qs[n*32 + l] >> 2*j.
void pack_2bit_planes(const uint8_t* q, uint8_t* qs) {
    std::memset(qs, 0, QK_K / 4);
    for (int e = 0; e < QK_K; ++e) {
        int n = e / 128, j = (e % 128) / 32, l = e % 32;
        qs[n * 32 + l] = uint8_t(qs[n * 32 + l] | ((q[e] & 3) << (2 * j)));
    }
}

} // namespace

// ---- Q2_K: x = d*sc*q - dmin*mn, q in 0..3, 16 sub-blocks of 16 ----
void dequantize_q2_K(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const block_q2_K*>(src);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = fp16_to_f32(b[i].d), dmin = fp16_to_f32(b[i].dmin);
        const uint8_t* q = b[i].qs;
        int is = 0;
        for (int half = 0; half < 2; ++half, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int part = 0; part < 2; ++part) {
                    const uint8_t sc = b[i].scales[is++];
                    const float dl = d * float(sc & 0xF), ml = dmin * float(sc >> 4);
                    for (int l = 0; l < 16; ++l) *dst++ = dl * float((q[l + 16 * part] >> shift) & 3) - ml;
                }
            }
        }
    }
}

void quantize_q2_K(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<block_q2_K*>(dst);
    Affine2Result r;
    for (int64_t i = 0; i < n / QK_K; ++i, src += QK_K) {
        fit_affine2(src, 16, 16, 3, 15, &r);
        b[i].d = r.d;
        b[i].dmin = r.dmin;
        for (int j = 0; j < 16; ++j) b[i].scales[j] = uint8_t(r.sc[j] | (r.mn[j] << 4));
        pack_2bit_planes(r.q, b[i].qs);
    }
}

// ---- Q3_K: x = d*sc*(q - 4), q in 0..7 (2 low bits in qs, the third in hmask) ----
void dequantize_q3_K(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const block_q3_K*>(src);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d_all = fp16_to_f32(b[i].d);
        const uint8_t* q = b[i].qs;
        const uint8_t* hm = b[i].hmask;
        int is = 0;
        uint8_t m = 1;
        for (int half = 0; half < 2; ++half, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m = uint8_t(m << 1)) {
                for (int part = 0; part < 2; ++part) {
                    const float dl = d_all * float(q3k_scale(b[i].scales, is++));
                    for (int l = 16 * part; l < 16 * part + 16; ++l) {
                        int v = ((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4);
                        *dst++ = dl * float(v);
                    }
                }
            }
        }
    }
}

void quantize_q3_K(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<block_q3_K*>(dst);
    const Levels L = linear_levels(-4, 3);
    Sym2Result r;
    for (int64_t i = 0; i < n / QK_K; ++i, src += QK_K) {
        fit_sym2(src, 16, 16, L, -32, 31, &r);
        b[i].d = r.d;
        q3k_pack_scales(r.sc, b[i].scales);
        pack_2bit_planes(r.idx, b[i].qs); // idx = q + 4: low 2 bits here, bit 2 in hmask
        std::memset(b[i].hmask, 0, sizeof(b[i].hmask));
        for (int e = 0; e < QK_K; ++e)
            if (r.idx[e] & 4) b[i].hmask[e % 32] = uint8_t(b[i].hmask[e % 32] | (1 << (e / 32)));
    }
}

// ---- Q4_K: x = d*sc*q - dmin*mn, q in 0..15, 8 sub-blocks of 32 ----
void dequantize_q4_K(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const block_q4_K*>(src);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = fp16_to_f32(b[i].d), dmin = fp16_to_f32(b[i].dmin);
        const uint8_t* q = b[i].qs;
        for (int j = 0; j < 8; j += 2, q += 32) {
            int sc, mn;
            get_scale_min_k4(j, b[i].scales, &sc, &mn);
            const float d1 = d * float(sc), m1 = dmin * float(mn);
            get_scale_min_k4(j + 1, b[i].scales, &sc, &mn);
            const float d2 = d * float(sc), m2 = dmin * float(mn);
            for (int l = 0; l < 32; ++l) *dst++ = d1 * float(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; ++l) *dst++ = d2 * float(q[l] >> 4) - m2;
        }
    }
}

void quantize_q4_K(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<block_q4_K*>(dst);
    Affine2Result r;
    for (int64_t i = 0; i < n / QK_K; ++i, src += QK_K) {
        fit_affine2(src, 8, 32, 15, 63, &r);
        b[i].d = r.d;
        b[i].dmin = r.dmin;
        pack_scale_min_k4(r.sc, r.mn, b[i].scales);
        for (int c = 0; c < 4; ++c)
            for (int l = 0; l < 32; ++l)
                b[i].qs[32 * c + l] = uint8_t(r.q[64 * c + l] | (r.q[64 * c + 32 + l] << 4));
    }
}

// ---- Q5_K: as Q4_K with a fifth bit per element in qh ----
void dequantize_q5_K(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const block_q5_K*>(src);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = fp16_to_f32(b[i].d), dmin = fp16_to_f32(b[i].dmin);
        const uint8_t* ql = b[i].qs;
        const uint8_t* qh = b[i].qh;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0; j < 8; j += 2, ql += 32, u1 = uint8_t(u1 << 2), u2 = uint8_t(u2 << 2)) {
            int sc, mn;
            get_scale_min_k4(j, b[i].scales, &sc, &mn);
            const float d1 = d * float(sc), m1 = dmin * float(mn);
            get_scale_min_k4(j + 1, b[i].scales, &sc, &mn);
            const float d2 = d * float(sc), m2 = dmin * float(mn);
            for (int l = 0; l < 32; ++l) *dst++ = d1 * float((ql[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - m1;
            for (int l = 0; l < 32; ++l) *dst++ = d2 * float((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
        }
    }
}

void quantize_q5_K(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<block_q5_K*>(dst);
    Affine2Result r;
    for (int64_t i = 0; i < n / QK_K; ++i, src += QK_K) {
        fit_affine2(src, 8, 32, 31, 63, &r);
        b[i].d = r.d;
        b[i].dmin = r.dmin;
        pack_scale_min_k4(r.sc, r.mn, b[i].scales);
        std::memset(b[i].qh, 0, sizeof(b[i].qh));
        for (int c = 0; c < 4; ++c) {
            for (int l = 0; l < 32; ++l) {
                const uint8_t lo = r.q[64 * c + l], hi = r.q[64 * c + 32 + l];
                b[i].qs[32 * c + l] = uint8_t((lo & 0xF) | ((hi & 0xF) << 4));
                b[i].qh[l] = uint8_t(b[i].qh[l] | ((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
            }
        }
    }
}

// ---- Q6_K: x = d*sc*(q - 32), q in 0..63, 16 sub-blocks of 16 with int8 scales ----
void dequantize_q6_K(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const block_q6_K*>(src);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = fp16_to_f32(b[i].d);
        const uint8_t* ql = b[i].ql;
        const uint8_t* qh = b[i].qh;
        const int8_t* sc = b[i].scales;
        for (int half = 0; half < 2; ++half, dst += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                const int q1 = int((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = int((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = int((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = int((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                dst[l] = d * float(sc[is + 0]) * float(q1);
                dst[l + 32] = d * float(sc[is + 2]) * float(q2);
                dst[l + 64] = d * float(sc[is + 4]) * float(q3);
                dst[l + 96] = d * float(sc[is + 6]) * float(q4);
            }
        }
    }
}

void quantize_q6_K(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<block_q6_K*>(dst);
    const Levels L = linear_levels(-32, 31);
    Sym2Result r;
    for (int64_t i = 0; i < n / QK_K; ++i, src += QK_K) {
        fit_sym2(src, 16, 16, L, -128, 127, &r);
        b[i].d = r.d;
        for (int j = 0; j < 16; ++j) b[i].scales[j] = int8_t(r.sc[j]);
        std::memset(b[i].qh, 0, sizeof(b[i].qh));
        for (int half = 0; half < 2; ++half) {
            const uint8_t* q = r.idx + 128 * half; // idx = q + 32 in 0..63
            uint8_t* ql = b[i].ql + 64 * half;
            uint8_t* qh = b[i].qh + 32 * half;
            for (int l = 0; l < 32; ++l) {
                ql[l] = uint8_t((q[l] & 0xF) | ((q[l + 64] & 0xF) << 4));
                ql[l + 32] = uint8_t((q[l + 32] & 0xF) | ((q[l + 96] & 0xF) << 4));
                qh[l] = uint8_t((q[l] >> 4) | ((q[l + 32] >> 4) << 2) | ((q[l + 64] >> 4) << 4) | ((q[l + 96] >> 4) << 6));
            }
        }
    }
}

// ---- Q8_K: x = d*q with a float d; bsums = sums of 16-element groups ----
void dequantize_q8_K(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const block_q8_K*>(src);
    for (int64_t i = 0; i < n / QK_K; ++i, dst += QK_K) {
        for (int j = 0; j < QK_K; ++j) dst[j] = b[i].d * float(b[i].qs[j]);
    }
}

// An activation type: quantized on the fly before dot products, so a single max-scaled
// rounding (fast) rather than a search. q in [-127, 127].
void quantize_q8_K(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<block_q8_K*>(dst);
    for (int64_t i = 0; i < n / QK_K; ++i, src += QK_K) {
        float amax = 0;
        for (int j = 0; j < QK_K; ++j) amax = std::fmax(amax, std::fabs(src[j]));
        const float d = amax / 127.0f;
        const float inv = d > 0 ? 1.0f / d : 0.0f;
        b[i].d = d;
        for (int j = 0; j < QK_K; ++j) b[i].qs[j] = int8_t(round_clamp(src[j] * inv, -127, 127));
        for (int g = 0; g < QK_K / 16; ++g) {
            int sum = 0;
            for (int l = 0; l < 16; ++l) sum += b[i].qs[16 * g + l];
            b[i].bsums[g] = int16_t(sum);
        }
    }
}

} // namespace vkai::qi
