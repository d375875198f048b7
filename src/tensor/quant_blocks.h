// The on-disk block layouts of the ggml quantized types: the one declaration in vkai.
// Layouts are facts of the GGUF ecosystem (a file written by any tool must read unchanged).
// f16 fields are raw IEEE half bits (uint16_t); convert with base/fp16.h.
// The GLSL mirror (vulkan/shaders/lib/quant.glsl) is checked against this by tests.
#pragma once

#include <cstdint>

namespace vkai {

constexpr int QK4_0 = 32, QK4_1 = 32, QK5_0 = 32, QK5_1 = 32, QK8_0 = 32, QK8_1 = 32;
constexpr int QK_K = 256;      // super-block of the K-quants and most IQ types
constexpr int K_SCALE_SIZE = 12; // packed 6-bit scales/mins of Q4_K and Q5_K
constexpr int QK4_NL = 32;

// x = d * (q - 8), q in [0,15]; qs[j] holds element j (low nibble) and j+16 (high nibble).
struct block_q4_0 { uint16_t d; uint8_t qs[QK4_0 / 2]; };
// x = d * q + m.
struct block_q4_1 { uint16_t d, m; uint8_t qs[QK4_1 / 2]; };
// x = d * (q - 16); the 5th bit of element j is bit j of qh.
struct block_q5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[QK5_0 / 2]; };
struct block_q5_1 { uint16_t d, m; uint8_t qh[4]; uint8_t qs[QK5_1 / 2]; };
// x = d * q.
struct block_q8_0 { uint16_t d; int8_t qs[QK8_0]; };
// s = d * sum(qs): used for activations against *_1 types.
struct block_q8_1 { uint16_t d, s; int8_t qs[QK8_1]; };

// 16 sub-blocks of 16; scales byte = scale (low 4 bits) | min (high 4 bits); x = d*sc*q - dmin*m.
struct block_q2_K { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; uint16_t d, dmin; };
// 16 sub-blocks of 16, 6-bit signed scales packed in 12 bytes; high bit of q in hmask.
struct block_q3_K { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; uint16_t d; };
// 8 sub-blocks of 32 with 6-bit scale and min each; x = d*sc*q - dmin*m.
struct block_q4_K { uint16_t d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; };
struct block_q5_K { uint16_t d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; };
// 16 sub-blocks of 16 with int8 scales; 6-bit q = 4 low bits in ql, 2 high bits in qh; x = d*sc*(q-32).
struct block_q6_K { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; uint16_t d; };
// Activation type for K-quant dot products: float scale, sums of 16-element groups.
struct block_q8_K { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; };

// Non-linear 4-bit: x = d * kvalues_iq4nl[q].
struct block_iq4_nl { uint16_t d; uint8_t qs[QK4_NL / 2]; };
// 8 sub-blocks of 32, 6-bit scales (low 4 bits in scales_l, high 2 in scales_h), x = d*(ls-32)*kvalues[q].
struct block_iq4_xs { uint16_t d; uint16_t scales_h; uint8_t scales_l[QK_K / 64]; uint8_t qs[QK_K / 2]; };

// Ternary types (x = d * (t - 1), t in 0..2). TQ2_0: 2-bit fields, element j*4 + l*32 + m
// (j in {0, 32}) at qs[j + m] >> 2*l. TQ1_0: five base-3 digits per byte, stored as
// ceil(digits * 256 / 243) so digit n is ((uint8_t)(byte * 3^n) * 3) >> 8; qs[0..31] hold
// elements 0..159 (digit n -> element n*32 + m), qs[32..47] elements 160..239 (n*16 + m),
// qh[0..3] elements 240..255 (four digits, n*4 + j).
struct block_tq1_0 { uint8_t qs[(QK_K - 4 * QK_K / 64) / 5]; uint8_t qh[QK_K / 64]; uint16_t d; };
struct block_tq2_0 { uint8_t qs[QK_K / 4]; uint16_t d; };

static_assert(sizeof(block_q4_0) == 18);
static_assert(sizeof(block_q4_1) == 20);
static_assert(sizeof(block_q5_0) == 22);
static_assert(sizeof(block_q5_1) == 24);
static_assert(sizeof(block_q8_0) == 34);
static_assert(sizeof(block_q8_1) == 36);
static_assert(sizeof(block_q2_K) == 84);
static_assert(sizeof(block_q3_K) == 110);
static_assert(sizeof(block_q4_K) == 144);
static_assert(sizeof(block_q5_K) == 176);
static_assert(sizeof(block_q6_K) == 210);
static_assert(sizeof(block_q8_K) == 292);
static_assert(sizeof(block_iq4_nl) == 18);
static_assert(sizeof(block_iq4_xs) == 136);
static_assert(sizeof(block_tq1_0) == 54);
static_assert(sizeof(block_tq2_0) == 66);

// The 16 levels of IQ4_NL / IQ4_XS (a fixed table of the format).
inline constexpr int8_t kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

} // namespace vkai
