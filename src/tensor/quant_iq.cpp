// Non-linear and ternary types without lookup grids: IQ4_NL, IQ4_XS (16 fixed levels),
// TQ1_0 and TQ2_0 (ternary). The grid-based IQ types (IQ1_*, IQ2_*, IQ3_*) need large
// codebook tables and are not supported here.
#include "tensor/quant_internal.h"

#include "base/fp16.h"
#include "tensor/quant_blocks.h"

#include <cstring>

namespace vkai::qi {
namespace {

const Levels& iq4_levels() {
    static uint8_t tab[512];
    static const Levels L = table_levels(kvalues_iq4nl, 16, tab);
    return L;
}

// Element -> (byte, digit) of TQ1_0, see quant_blocks.h. Calls f(byte_index, digit, element)
// for every element; byte indices >= 48 address qh.
template <class F>
void tq1_layout(F&& f) {
    for (int n = 0; n < 5; ++n)
        for (int m = 0; m < 32; ++m) f(m, n, n * 32 + m);
    for (int n = 0; n < 5; ++n)
        for (int m = 0; m < 16; ++m) f(32 + m, n, 160 + n * 16 + m);
    for (int n = 0; n < 4; ++n)
        for (int j = 0; j < 4; ++j) f(48 + j, n, 240 + n * 4 + j);
}

} // namespace

// ---- IQ4_NL: x = d * kvalues[q], blocks of 32 ----
void dequantize_iq4_nl(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const block_iq4_nl*>(src);
    for (int64_t i = 0; i < n / QK4_NL; ++i, dst += QK4_NL) {
        const float d = fp16_to_f32(b[i].d);
        for (int j = 0; j < 16; ++j) {
            dst[j] = d * float(kvalues_iq4nl[b[i].qs[j] & 0xF]);
            dst[j + 16] = d * float(kvalues_iq4nl[b[i].qs[j] >> 4]);
        }
    }
}

void quantize_iq4_nl(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<block_iq4_nl*>(dst);
    uint8_t idx[32];
    for (int64_t i = 0; i < n / QK4_NL; ++i, src += QK4_NL) {
        float s = fit_sym(src, 32, iq4_levels(), idx);
        b[i].d = best_fp16_scale(src, 32, iq4_levels(), s, idx);
        for (int j = 0; j < 16; ++j) b[i].qs[j] = uint8_t(idx[j] | (idx[j + 16] << 4));
    }
}

// ---- IQ4_XS: x = d * (ls - 32) * kvalues[q], 8 sub-blocks of 32 with 6-bit ls ----
void dequantize_iq4_xs(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const block_iq4_xs*>(src);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = fp16_to_f32(b[i].d);
        const uint8_t* qs = b[i].qs;
        for (int ib = 0; ib < 8; ++ib, qs += 16, dst += 32) {
            const int ls = ((b[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((b[i].scales_h >> (2 * ib)) & 3) << 4);
            const float dl = d * float(ls - 32);
            for (int j = 0; j < 16; ++j) {
                dst[j] = dl * float(kvalues_iq4nl[qs[j] & 0xF]);
                dst[j + 16] = dl * float(kvalues_iq4nl[qs[j] >> 4]);
            }
        }
    }
}

void quantize_iq4_xs(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<block_iq4_xs*>(dst);
    Sym2Result r;
    for (int64_t i = 0; i < n / QK_K; ++i, src += QK_K) {
        fit_sym2(src, 8, 32, iq4_levels(), -32, 31, &r);
        b[i].d = r.d;
        b[i].scales_h = 0;
        std::memset(b[i].scales_l, 0, sizeof(b[i].scales_l));
        for (int ib = 0; ib < 8; ++ib) {
            const int u = r.sc[ib] + 32; // 0..63
            b[i].scales_l[ib / 2] = uint8_t(b[i].scales_l[ib / 2] | ((u & 0xF) << (4 * (ib % 2))));
            b[i].scales_h = uint16_t(b[i].scales_h | ((u >> 4) << (2 * ib)));
            const uint8_t* q = r.idx + 32 * ib;
            for (int j = 0; j < 16; ++j) b[i].qs[16 * ib + j] = uint8_t(q[j] | (q[j + 16] << 4));
        }
    }
}

// ---- TQ1_0: x = d * (t - 1), base-3 packed ----
void dequantize_tq1_0(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const block_tq1_0*>(src);
    static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
    for (int64_t i = 0; i < n / QK_K; ++i, dst += QK_K) {
        const float d = fp16_to_f32(b[i].d);
        tq1_layout([&](int byte, int digit, int e) {
            const uint8_t v = byte < 48 ? b[i].qs[byte] : b[i].qh[byte - 48];
            const uint8_t q = uint8_t(v * kPow3[digit]); // wraps mod 256: shifts the digit to the top
            const int t = (int(q) * 3) >> 8;
            dst[e] = float(t - 1) * d;
        });
    }
}

void quantize_tq1_0(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<block_tq1_0*>(dst);
    uint8_t idx[QK_K]; // 0..2 = t
    for (int64_t i = 0; i < n / QK_K; ++i, src += QK_K) {
        float s = fit_sym(src, QK_K, linear_levels(-1, 1), idx);
        b[i].d = best_fp16_scale(src, QK_K, linear_levels(-1, 1), s, idx);
        int value[52] = {}; // base-3 number per byte, most significant digit = digit 0
        static constexpr int kPlace[5] = {81, 27, 9, 3, 1};
        tq1_layout([&](int byte, int digit, int e) { value[byte] += idx[e] * kPlace[digit]; });
        auto pack = [](int v) { return uint8_t((v * 256 + 242) / 243); }; // ceil(v * 256 / 243)
        for (int k = 0; k < 48; ++k) b[i].qs[k] = pack(value[k]);
        for (int k = 0; k < 4; ++k) b[i].qh[k] = pack(value[48 + k]);
    }
}

// ---- TQ2_0: x = d * (t - 1), 2-bit fields ----
void dequantize_tq2_0(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const block_tq2_0*>(src);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = fp16_to_f32(b[i].d);
        for (int j = 0; j < QK_K / 4; j += 32)
            for (int l = 0; l < 4; ++l)
                for (int m = 0; m < 32; ++m) *dst++ = float(((b[i].qs[j + m] >> (2 * l)) & 3) - 1) * d;
    }
}

// Only t in 0..2 is written (t = 3 would decode to 2d): kernels specialised for ternary
// weights may assume it never occurs.
void quantize_tq2_0(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<block_tq2_0*>(dst);
    uint8_t idx[QK_K];
    for (int64_t i = 0; i < n / QK_K; ++i, src += QK_K) {
        float s = fit_sym(src, QK_K, linear_levels(-1, 1), idx);
        b[i].d = best_fp16_scale(src, QK_K, linear_levels(-1, 1), s, idx);
        std::memset(b[i].qs, 0, sizeof(b[i].qs));
        for (int e = 0; e < QK_K; ++e) {
            const int j = (e / 128) * 32, l = (e % 128) / 32, m = e % 32;
            b[i].qs[j + m] = uint8_t(b[i].qs[j + m] | (idx[e] << (2 * l)));
        }
    }
}

} // namespace vkai::qi
