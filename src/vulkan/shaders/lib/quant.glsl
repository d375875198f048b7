// Dequantization of every weight type from 32-bit words (no 8/16-bit storage needed). The GLSL
// mirror of src/tensor/quant_blocks.h; the op tests check it against the C++ decoders.
// The including shader declares `uint wdata[]` (the weights) and defines one TYPE_* macro.
// Block types: dequant16(block address, group g) gives the 16 consecutive elements g*16.. of a block.
// Plain types (PLAIN_TYPE): load_plain(row address, i) gives element i.
// A shader that enables GL_EXT_control_flow_attributes may define UNROLL as [[unroll]]: v[] is then
// indexed by constants only (registers, not local memory).
#ifndef UNROLL
#define UNROLL
#endif

uint rd_u8(uint a) { return (wdata[a >> 2] >> ((a & 3u) * 8u)) & 0xffu; }
uint rd_u16(uint a) { return (wdata[a >> 2] >> ((a & 2u) * 8u)) & 0xffffu; } // a is even
// Any alignment, without a branch: the second word is read only when the address is unaligned
// (same index otherwise), and (hi << 1) << (31 - s) is 0 for s == 0.
uint rd_u32(uint a) {
    uint s = (a & 3u) * 8u;
    uint i = a >> 2;
    return (wdata[i] >> s) | ((wdata[i + min(s, 1u)] << 1u) << (31u - s));
}
float rd_f16(uint a) { return f16_bits_to_f32(rd_u16(a)); }
int sext8(uint b) { return int(b << 24) >> 24; }

// Small integers to floats without an integer-to-float conversion, which runs at an eighth of the
// FMA rate on NVIDIA since Ampere (the matrix-vector kernels were bound by it, not by memory): a
// value v < 2^23 ORed into the mantissa of 1.0 reads as 1 + v 2^-23, and fma(that, 2^23, -2^23 - o)
// is v - o exactly. A byte at bits 8..15 gives 1 + v 2^-15 (scale 2^15); bits 16..31 would reach
// the exponent, so bytes 2 and 3 are taken from w >> 16. Nibbles the same way: a high nibble at
// bits 4..7 is 16 q, so its scale is 2^19 (2^11 at bits 12..15).
float mant_f(uint bits, float scale, float o) { return fma(uintBitsToFloat(bits | 0x3f800000u), scale, -scale - o); }
// bytes 0..3 of w minus o
vec4 bytes_f(uint w, float o) {
    const uint h = w >> 16;
    return vec4(mant_f(w & 0xffu, 8388608.0, o), mant_f(w & 0xff00u, 32768.0, o), mant_f(h & 0xffu, 8388608.0, o), mant_f(h & 0xff00u, 32768.0, o));
}
// low nibbles of bytes 0..3 of w, minus o
vec4 nib_lo_f(uint w, float o) {
    const uint h = w >> 16;
    return vec4(mant_f(w & 0xfu, 8388608.0, o), mant_f(w & 0xf00u, 32768.0, o), mant_f(h & 0xfu, 8388608.0, o), mant_f(h & 0xf00u, 32768.0, o));
}
// high nibbles of bytes 0..3 of w, minus o
vec4 nib_hi_f(uint w, float o) {
    const uint h = w >> 16;
    return vec4(mant_f(w & 0xf0u, 524288.0, o), mant_f(w & 0xf000u, 2048.0, o), mant_f(h & 0xf0u, 524288.0, o), mant_f(h & 0xf000u, 2048.0, o));
}
// bit i of the 4-bit s to bit 0 of byte i (one multiply: the four shifted copies do not overlap)
uint spread4(uint s) { return (s * 0x00204081u) & 0x01010101u; }
// four consecutive values of dequant16's v from a vec4
#define SET4(v, i, f) v[(i)] = (f).x, v[(i) + 1u] = (f).y, v[(i) + 2u] = (f).z, v[(i) + 3u] = (f).w

const int kIq4nl[16] = int[16](-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);

#if defined(TYPE_F32) || defined(TYPE_F16) || defined(TYPE_BF16)
#define PLAIN_TYPE 1
#define BLOCK_ELEMS 1u
#if defined(TYPE_F32)
#define BLOCK_BYTES 4u
float load_plain(uint row, uint i) { return uintBitsToFloat(wdata[(row >> 2) + i]); }
#elif defined(TYPE_F16)
#define BLOCK_BYTES 2u
float load_plain(uint row, uint i) { return rd_f16(row + 2u * i); }
#else
#define BLOCK_BYTES 2u
float load_plain(uint row, uint i) { return uintBitsToFloat(rd_u16(row + 2u * i) << 16); }
#endif

#elif defined(TYPE_Q4_0) || defined(TYPE_Q4_1) || defined(TYPE_IQ4_NL)
#define BLOCK_ELEMS 32u
#if defined(TYPE_Q4_1)
#define BLOCK_BYTES 20u
#define QS_OFF 4u
#else
#define BLOCK_BYTES 18u
#define QS_OFF 2u
#endif
void dequant16(uint a, uint g, out float v[16]) {
    float d = rd_f16(a);
#if defined(TYPE_Q4_1)
    float m = rd_f16(a + 2u);
#endif
    UNROLL for (uint k = 0u; k < 4u; ++k) {
        const uint w = rd_u32(a + QS_OFF + 4u * k) >> (4u * g); // the group's nibbles low
#if defined(TYPE_Q4_0)
        SET4(v, 4u * k, nib_lo_f(w, 8.0) * d);
#elif defined(TYPE_Q4_1)
        SET4(v, 4u * k, nib_lo_f(w, 0.0) * d + m);
#else
        UNROLL for (uint b = 0u; b < 4u; ++b) v[4u * k + b] = d * float(kIq4nl[(w >> (8u * b)) & 0xfu]);
#endif
    }
}

#elif defined(TYPE_Q5_0) || defined(TYPE_Q5_1)
#define BLOCK_ELEMS 32u
#if defined(TYPE_Q5_1)
#define BLOCK_BYTES 24u
#define QH_OFF 4u
#else
#define BLOCK_BYTES 22u
#define QH_OFF 2u
#endif
void dequant16(uint a, uint g, out float v[16]) {
    float d = rd_f16(a);
#if defined(TYPE_Q5_1)
    float m = rd_f16(a + 2u);
#endif
    uint qh = rd_u32(a + QH_OFF);
    UNROLL for (uint k = 0u; k < 4u; ++k) {
        // nibbles of the group with their fifth bits (qh bits 4k + 16g ..) as bit 4 of each byte
        const uint w = ((rd_u32(a + QH_OFF + 4u + 4u * k) >> (4u * g)) & 0x0f0f0f0fu) | (spread4((qh >> (4u * k + 16u * g)) & 0xfu) << 4);
#if defined(TYPE_Q5_0)
        SET4(v, 4u * k, bytes_f(w, 16.0) * d);
#else
        SET4(v, 4u * k, bytes_f(w, 0.0) * d + m);
#endif
    }
}

#elif defined(TYPE_Q8_0)
#define BLOCK_ELEMS 32u
#define BLOCK_BYTES 34u
void dequant16(uint a, uint g, out float v[16]) {
    float d = rd_f16(a);
    UNROLL for (uint k = 0u; k < 4u; ++k) {
        uint w = rd_u32(a + 2u + 16u * g + 4u * k);
        SET4(v, 4u * k, bytes_f(w ^ 0x80808080u, 128.0) * d); // signed bytes
    }
}

#elif defined(TYPE_Q2_K) || defined(TYPE_Q3_K)
#define BLOCK_ELEMS 256u
#if defined(TYPE_Q2_K)
#define BLOCK_BYTES 84u
#else
#define BLOCK_BYTES 110u
#endif
// Element h*128 + s*32 + p*16 + l: group g = h*8 + s*2 + p; its 2 low bits at qs[h*32 + p*16 + l] >> 2s.
void dequant16(uint a, uint g, out float v[16]) {
    uint h = g / 8u, s = (g / 2u) % 4u, p = g % 2u;
#if defined(TYPE_Q2_K)
    float d = rd_f16(a + 80u), dmin = rd_f16(a + 82u);
    uint sc = rd_u8(a + g);
    float dl = d * float(sc & 0xfu), ml = dmin * float(sc >> 4);
    uint qa = a + 16u + h * 32u + p * 16u;
#else
    float d = rd_f16(a + 108u);
    uint sa = a + 96u;
    uint low = g < 8u ? (rd_u8(sa + g) & 0xfu) : (rd_u8(sa + g - 8u) >> 4);
    uint high = (rd_u8(sa + 8u + g % 4u) >> (2u * (g / 4u))) & 3u;
    float dl = d * float(int(low | (high << 4)) - 32);
    uint qa = a + 32u + h * 32u + p * 16u;
    uint ha = a + p * 16u;
    uint hbit = h * 4u + s;
#endif
    UNROLL for (uint k = 0u; k < 4u; ++k) {
        uint w = rd_u32(qa + 4u * k);
#if defined(TYPE_Q3_K)
        uint hw = rd_u32(ha + 4u * k);
#endif
        const uint q = (w >> (2u * s)) & 0x03030303u;
#if defined(TYPE_Q2_K)
        SET4(v, 4u * k, dl * bytes_f(q, 0.0) - ml);
#else
        // q - 4 where the high bit is clear: q + 4 hb - 4
        SET4(v, 4u * k, dl * bytes_f(q | (((hw >> hbit) & 0x01010101u) << 2), 4.0));
#endif
    }
}

#elif defined(TYPE_Q4_K) || defined(TYPE_Q5_K)
#define BLOCK_ELEMS 256u
#if defined(TYPE_Q4_K)
#define BLOCK_BYTES 144u
#define QS_OFF 16u
#else
#define BLOCK_BYTES 176u
#define QS_OFF 48u
#endif
// Element c*64 + half*32 + l: sub-block j = 2c + half, nibble `half` of qs[c*32 + l].
void dequant16(uint a, uint g, out float v[16]) {
    uint c = g / 4u, hf = (g / 2u) % 2u, l0 = (g % 2u) * 16u;
    uint j = 2u * c + hf;
    uint sa = a + 4u;
    uint sc, mn;
    if (j < 4u) {
        sc = rd_u8(sa + j) & 63u;
        mn = rd_u8(sa + j + 4u) & 63u;
    } else {
        sc = (rd_u8(sa + j + 4u) & 0xfu) | ((rd_u8(sa + j - 4u) >> 6) << 4);
        mn = (rd_u8(sa + j + 4u) >> 4) | ((rd_u8(sa + j) >> 6) << 4);
    }
    float d1 = rd_f16(a) * float(sc), m1 = rd_f16(a + 2u) * float(mn);
    UNROLL for (uint k = 0u; k < 4u; ++k) {
        uint w = rd_u32(a + QS_OFF + c * 32u + l0 + 4u * k);
#if defined(TYPE_Q5_K)
        uint hw = rd_u32(a + 16u + l0 + 4u * k);
#endif
        uint q = (w >> (4u * hf)) & 0x0f0f0f0fu;
#if defined(TYPE_Q5_K)
        q |= ((hw >> j) & 0x01010101u) << 4;
#endif
        SET4(v, 4u * k, d1 * bytes_f(q, 0.0) - m1);
    }
}

#elif defined(TYPE_Q6_K)
#define BLOCK_ELEMS 256u
#define BLOCK_BYTES 210u
// Element hf*128 + k*32 + l: low 4 bits from ql[hf*64 + l + (k&1)*32] >> 4*(k>>1),
// high 2 bits from qh[hf*32 + l] >> 2k, scale scales[hf*8 + l/16 + 2k].
void dequant16(uint a, uint g, out float v[16]) {
    uint hf = g / 8u, k = (g / 2u) % 4u, l0 = (g % 2u) * 16u;
    float d = rd_f16(a + 208u);
    float dl = d * float(sext8(rd_u8(a + 192u + hf * 8u + (g % 2u) + 2u * k)));
    uint qla = a + hf * 64u + l0 + (k & 1u) * 32u;
    uint qha = a + 128u + hf * 32u + l0;
    UNROLL for (uint e = 0u; e < 4u; ++e) {
        uint w = rd_u32(qla + 4u * e);
        uint hw = rd_u32(qha + 4u * e);
        const uint q = ((w >> (4u * (k >> 1))) & 0x0f0f0f0fu) | (((hw >> (2u * k)) & 0x03030303u) << 4);
        SET4(v, 4u * e, dl * bytes_f(q, 32.0));
    }
}

#elif defined(TYPE_IQ4_XS)
#define BLOCK_ELEMS 256u
#define BLOCK_BYTES 136u
void dequant16(uint a, uint g, out float v[16]) {
    uint ib = g / 2u, hi = g % 2u;
    uint ls = ((rd_u8(a + 4u + ib / 2u) >> (4u * (ib % 2u))) & 0xfu) | (((rd_u16(a + 2u) >> (2u * ib)) & 3u) << 4);
    float dl = rd_f16(a) * float(int(ls) - 32);
    UNROLL for (uint k = 0u; k < 4u; ++k) {
        uint w = rd_u32(a + 8u + ib * 16u + 4u * k);
        UNROLL for (uint b = 0u; b < 4u; ++b) v[4u * k + b] = dl * float(kIq4nl[(w >> (8u * b + 4u * hi)) & 0xfu]);
    }
}
#else
#error "quant.glsl: define one TYPE_* macro"
#endif

#ifndef PLAIN_TYPE
#define GROUPS (BLOCK_ELEMS / 16u)
#endif
