// y = W x for up to NCOLS columns per pass (decode): each workgroup owns ROWS consecutive weight
// rows and every thread works on all of them, so the x values it loads (once per column, into
// registers) are reused ROWS times and each thread keeps ROWS independent weight streams in flight.
// Threads take work units tid, tid + WG, ... (consecutive threads: consecutive units, so a
// subgroup's loads cover a contiguous stretch of the row): 32 elements of one block for every
// block type (unit_dot below; a type without one falls back to 16-element dequant16 groups), an
// element pair (one 32-bit word) for F16/BF16, one element for F32. f32 accumulation; the ROWS x NCOLS partial
// sums are reduced with subgroupAdd + shared memory across subgroups (USE_SUBGROUP, any subgroup
// size) or a shared-memory tree (baseline). Weights are read as 32-bit words (16-byte loads where
// a uniform alignment test allows) and dequantized in registers: no 8/16-bit storage needed.
// Quants become floats through the mantissa (bytes_f, nib_lo_f in lib/quant.glsl), not int-to-float
// conversions: those run at an eighth of the FMA rate on NVIDIA and bounded the kernels.
#version 450
#extension GL_GOOGLE_include_directive : enable
#ifdef USE_SUBGROUP
#extension GL_KHR_shader_subgroup_arithmetic : enable
#extension GL_KHR_shader_subgroup_basic : enable
#endif

#define WG 64u
// Rows per workgroup and columns per pass (gl_WorkGroupID.z selects the column group): keep in
// sync with kVecRows / kVecCols in vk_ops.cpp. The single-column variant (decode) holds fewer x
// registers, so it takes more rows. (Tried on the H100 for decode: 1 or 2 rows, 32 or 128 threads,
// two units per step with all loads first; none faster: docs/perf.md, session 5.)
#ifdef NCOLS_1
#define ROWS 4u
#define NCOLS 1u
#else
#define ROWS 2u
#define NCOLS 4u
#endif
#define NV (ROWS * NCOLS)
layout(local_size_x = 64) in;

layout(binding = 0) readonly buffer WB { uint wdata[]; };
layout(binding = 0) readonly buffer WB4 { uvec4 wdata4[]; }; // the same binding, for 16-byte loads
layout(binding = 1) readonly buffer XB { uint xdata[]; };
layout(binding = 1) readonly buffer XB4 { vec4 xdata4[]; }; // the same binding, for 16-byte loads
#ifdef GLU
// Single-column variant of the down projection after SwiGLU, with the residual add:
// y = W (silu(g) * u) + add. Binding 1 holds g, binding 2 u; silu(g) * u is formed as x is loaded
// (once per unit, reused for every row), so the swiglu dispatch and its dependent step disappear.
#if !defined(NCOLS_1) || !defined(ADD)
#error GLU is a single-column ADD variant
#endif
layout(binding = 2) readonly buffer UB { uint udata[]; };
layout(binding = 2) readonly buffer UB4 { vec4 udata4[]; };
layout(binding = 3) readonly buffer AB { uint adata[]; };
layout(binding = 4) buffer YB { uint ydata[]; };
#elif defined(NORM)
// Single-column variant of a projection after rms_norm: y = W (x / rms(x) * g), the norm's weight g
// in binding 2. x * g is formed as x is loaded (as GLU's product) and sum(x^2) gathered on the way
// (each workgroup loads every element of x exactly once), reduced with the dot products; so the
// norm's dispatch and its dependent step disappear.
#if !defined(NCOLS_1) || defined(ADD)
#error NORM is a single-column variant without ADD
#endif
layout(binding = 2) readonly buffer UB { uint udata[]; };
layout(binding = 2) readonly buffer UB4 { vec4 udata4[]; };
layout(binding = 3) buffer YB { uint ydata[]; };
#elif defined(LNORM)
// Single-column variant of a projection after layer_norm, with its bias: y = W ln(x) + add,
// ln(x) = (x - mean) / sqrt(var + eps) * g + b (g, b in bindings 2, 3). Each workgroup first takes
// mean and variance of x (two passes, the second from cache: x is a few KiB), then forms ln(x) as
// x is loaded, so the norm's dispatch and its dependent step disappear (whisper's decoder).
#if !defined(NCOLS_1) || !defined(ADD)
#error LNORM is a single-column ADD variant
#endif
layout(binding = 2) readonly buffer UB { uint udata[]; };
layout(binding = 2) readonly buffer UB4 { vec4 udata4[]; };
layout(binding = 3) readonly buffer BB { uint bdata[]; };
layout(binding = 3) readonly buffer BB4 { vec4 bdata4[]; };
layout(binding = 4) readonly buffer AB { uint adata[]; };
layout(binding = 5) buffer YB { uint ydata[]; };
#elif defined(ADD)
// Single-column variant with the residual add fused: y = W x + add (add may alias y: each output
// is read and written by the same invocation).
#if !defined(NCOLS_1)
#error ADD is a single-column variant
#endif
layout(binding = 2) readonly buffer AB { uint adata[]; };
layout(binding = 3) buffer YB { uint ydata[]; };
#else
layout(binding = 2) buffer YB { uint ydata[]; };
#endif

#include "lib/common.glsl"
#include "lib/quant.glsl"

// 4 consecutive weight words (16 bytes) at any byte address a, branch-free: 5 word loads (4 when
// a is aligned: the fifth index then repeats the fourth) funnel-shifted as in rd_u32.
uvec4 rd_u32x4u(uint a) {
    const uint i = a >> 2, s = (a & 3u) * 8u;
    const uint w0 = wdata[i], w1 = wdata[i + 1u], w2 = wdata[i + 2u], w3 = wdata[i + 3u], w4 = wdata[i + 3u + min(s, 1u)];
    const uint t = 31u - s;
    return uvec4((w0 >> s) | ((w1 << 1u) << t), (w1 >> s) | ((w2 << 1u) << t), (w2 >> s) | ((w3 << 1u) << t), (w3 >> s) | ((w4 << 1u) << t));
}
// The same, as one 16-byte load when a is 16-byte aligned (al, uniform: the caller knows it from
// the row start and the block layout).
uvec4 rd_u32x4(uint a, bool al) {
    if (al) return wdata4[a >> 4];
    return rd_u32x4u(a);
}
// One weight word at a byte address that is 4-byte aligned when al is true.
uint rd_w(uint a, bool al) { return al ? wdata[a >> 2] : rd_u32(a); }

layout(push_constant) uniform PC {
    uint k;      // elements per weight row
    uint m;      // weight rows in this dispatch
    uint n;      // columns in this dispatch
    uint col0;   // global index of this dispatch's first column (for the column decomposition)
    uint w_bias; // byte address of row 0 in binding 0
    uint w_nb1;  // bytes per weight row
    TENSOR_PC(x);
    TENSOR_PC(y); // y_bias includes this dispatch's first row
#ifdef ADD
    uint a_bias; // byte address of add's element for this dispatch's first row in the add binding
#endif
#if defined(GLU) || defined(NORM) || defined(LNORM)
    uint u_shift; // word index of u[i] (NORM, LNORM: g[i]) minus that of x[i] (modulo 2^32)
#endif
#ifdef LNORM
    uint b_shift; // the same for the norm's bias b[i]
#endif
#if defined(NORM) || defined(LNORM)
    float eps;
#endif
} pc;

// x values: ld_x4 gives 4 consecutive ones from word index xi (one 16-byte load when every column
// starts 16-byte aligned in the binding, al uniform over the workgroup; 4 word loads otherwise),
// ld_x1 one. GLU: silu(g) * u, u at the same index shifted by pc.u_shift words. NORM: x * g, and
// x^2 added to ss.
#ifdef GLU
vec4 glu(vec4 g, vec4 u) { return g / (1.0 + exp(-g)) * u; }
#endif
#ifdef NORM
float ss = 0.0; // this invocation's share of sum(x^2)
#endif
#ifdef LNORM
float ln_mean = 0.0, ln_rstd = 0.0; // of x, set before the dot products
#endif
vec4 ld_x4(uint xi, bool al) {
#ifdef LNORM
    const uint gi = xi + pc.u_shift, bi = xi + pc.b_shift;
    vec4 xv, gv, bv;
    if (al) {
        xv = xdata4[xi >> 2], gv = udata4[gi >> 2], bv = bdata4[bi >> 2];
    } else {
        xv = vec4(uintBitsToFloat(xdata[xi]), uintBitsToFloat(xdata[xi + 1u]), uintBitsToFloat(xdata[xi + 2u]), uintBitsToFloat(xdata[xi + 3u]));
        gv = vec4(uintBitsToFloat(udata[gi]), uintBitsToFloat(udata[gi + 1u]), uintBitsToFloat(udata[gi + 2u]), uintBitsToFloat(udata[gi + 3u]));
        bv = vec4(uintBitsToFloat(bdata[bi]), uintBitsToFloat(bdata[bi + 1u]), uintBitsToFloat(bdata[bi + 2u]), uintBitsToFloat(bdata[bi + 3u]));
    }
    return (xv - ln_mean) * ln_rstd * gv + bv;
#elif defined(NORM)
    const uint gi = xi + pc.u_shift;
    vec4 xv, gv;
    if (al) {
        xv = xdata4[xi >> 2], gv = udata4[gi >> 2];
    } else {
        xv = vec4(uintBitsToFloat(xdata[xi]), uintBitsToFloat(xdata[xi + 1u]), uintBitsToFloat(xdata[xi + 2u]), uintBitsToFloat(xdata[xi + 3u]));
        gv = vec4(uintBitsToFloat(udata[gi]), uintBitsToFloat(udata[gi + 1u]), uintBitsToFloat(udata[gi + 2u]), uintBitsToFloat(udata[gi + 3u]));
    }
    ss += dot(xv, xv);
    return xv * gv;
#elif defined(GLU)
    const uint ui = xi + pc.u_shift;
    if (al) return glu(xdata4[xi >> 2], udata4[ui >> 2]);
    return glu(vec4(uintBitsToFloat(xdata[xi]), uintBitsToFloat(xdata[xi + 1u]), uintBitsToFloat(xdata[xi + 2u]), uintBitsToFloat(xdata[xi + 3u])),
               vec4(uintBitsToFloat(udata[ui]), uintBitsToFloat(udata[ui + 1u]), uintBitsToFloat(udata[ui + 2u]), uintBitsToFloat(udata[ui + 3u])));
#else
    if (al) return xdata4[xi >> 2];
    return vec4(uintBitsToFloat(xdata[xi]), uintBitsToFloat(xdata[xi + 1u]), uintBitsToFloat(xdata[xi + 2u]), uintBitsToFloat(xdata[xi + 3u]));
#endif
}
float ld_x1(uint xi) {
#ifdef LNORM
    return (uintBitsToFloat(xdata[xi]) - ln_mean) * ln_rstd * uintBitsToFloat(udata[xi + pc.u_shift]) + uintBitsToFloat(bdata[xi + pc.b_shift]);
#elif defined(NORM)
    const float xv = uintBitsToFloat(xdata[xi]);
    ss += xv * xv;
    return xv * uintBitsToFloat(udata[xi + pc.u_shift]);
#elif defined(GLU)
    const float g = uintBitsToFloat(xdata[xi]);
    return g / (1.0 + exp(-g)) * uintBitsToFloat(udata[xi + pc.u_shift]);
#else
    return uintBitsToFloat(xdata[xi]);
#endif
}



// Wide units for the most used block types: one thread takes 32 elements of one block whose
// quants are 16 contiguous bytes (4 words) of the block, so a subgroup's loads cover a contiguous
// stretch of the row; scales are decoded once per unit. unit_xoff(part, q) is the element offset
// (in the block) of the q-th group of 4 x values (q = 0..7); unit_dot adds the unit's dot product
// with every column to acc. sx[c] = (sum of x over q = 0..3, over q = 4..7) for the min/offset terms.
#if defined(TYPE_Q4_K) || defined(TYPE_Q5_K)
#define UNIT_PATH 1
#define UPB 8u // units per block: part = chunk c (0..3) * 2 + half of the chunk's 32 bytes
uint unit_xoff(uint part, uint q) { return (part / 2u) * 64u + (part % 2u) * 16u + (q % 4u) * 4u + (q / 4u) * 32u; }
// 6-bit scale and min of sub-block j from the 12 scale bytes (words s0, s1, s2).
uvec2 scale_min_k4(uint j, uint s0, uint s1, uint s2) {
    const uint b = (j & 3u) * 8u;
    const uint x0 = s0 >> b, x1 = s1 >> b, x2 = s2 >> b;
    return j < 4u ? uvec2(x0 & 63u, x1 & 63u) : uvec2((x2 & 0xfu) | (((x0 >> 6) & 3u) << 4), ((x2 >> 4) & 0xfu) | (((x1 >> 6) & 3u) << 4));
}
void unit_dot(uint a, uint part, in vec4 xv[NCOLS][8], in vec2 sx[NCOLS], uint nc, bool wal, inout float acc[NCOLS]) {
    const uint c = part / 2u, l0 = (part % 2u) * 16u;
    // wal: the block starts 16-byte aligned (144 and 176 bytes are multiples of 16).
    const uvec4 hdr = rd_u32x4(a, wal);
    const uint dm = hdr.x, s0 = hdr.y, s1 = hdr.z, s2 = hdr.w;
    const uvec4 qw = rd_u32x4(a + QS_OFF + c * 32u + l0, wal);
#if defined(TYPE_Q5_K)
    const uvec4 qhw = rd_u32x4(a + 16u + l0, wal) >> (2u * c);
#endif
    const float d = f16_bits_to_f32(dm & 0xffffu), dmin = f16_bits_to_f32(dm >> 16);
    const uvec2 sm1 = scale_min_k4(2u * c, s0, s1, s2), sm2 = scale_min_k4(2u * c + 1u, s0, s1, s2);
    const float d1 = d * float(sm1.x), m1 = dmin * float(sm1.y), d2 = d * float(sm2.x), m2 = dmin * float(sm2.y);
    vec4 lo[4], hi[4];
    for (uint q = 0u; q < 4u; ++q) {
#if defined(TYPE_Q5_K)
        // the fifth bit as bit 4 of each byte, then the bytes to floats
        const uint w = qw[q], h = qhw[q];
        lo[q] = bytes_f((w & 0x0f0f0f0fu) | ((h & 0x01010101u) << 4), 0.0);
        hi[q] = bytes_f(((w >> 4) & 0x0f0f0f0fu) | ((h & 0x02020202u) << 3), 0.0);
#else
        lo[q] = nib_lo_f(qw[q], 0.0);
        hi[q] = nib_hi_f(qw[q], 0.0);
#endif
    }
    for (uint cc = 0u; cc < NCOLS; ++cc) {
        if (cc >= nc) break;
        const float dl = dot(lo[0], xv[cc][0]) + dot(lo[1], xv[cc][1]) + dot(lo[2], xv[cc][2]) + dot(lo[3], xv[cc][3]);
        const float dh = dot(hi[0], xv[cc][4]) + dot(hi[1], xv[cc][5]) + dot(hi[2], xv[cc][6]) + dot(hi[3], xv[cc][7]);
        acc[cc] += d1 * dl - m1 * sx[cc].x + d2 * dh - m2 * sx[cc].y;
    }
}

#elif defined(TYPE_Q6_K)
#define UNIT_PATH 1
#define UPB 8u // part = hf (0..1) * 4 + kp (0..1) * 2 + half: ql bytes hf*64 + kp*32 + half*16 .. +15
uint unit_xoff(uint part, uint q) { return (part / 4u) * 128u + ((part / 2u) % 2u) * 32u + (part % 2u) * 16u + (q % 4u) * 4u + (q / 4u) * 64u; }
void unit_dot(uint a, uint part, in vec4 xv[NCOLS][8], in vec2 sx[NCOLS], uint nc, bool wal, inout float acc[NCOLS]) {
    const uint hf = part / 4u, kp = (part / 2u) % 2u, l0 = (part % 2u) * 16u;
    const float d = rd_f16(a + 208u);
    const uint sa = a + 192u + hf * 8u + (part % 2u) + 2u * kp; // scale of k = kp; k = kp + 2 is 4 bytes on
    const float d1 = d * float(sext8(rd_u8(sa))), d2 = d * float(sext8(rd_u8(sa + 4u)));
    const uvec4 qw = rd_u32x4u(a + hf * 64u + kp * 32u + l0), qhw = rd_u32x4u(a + 128u + hf * 32u + l0) >> (2u * kp);
    vec4 lo[4], hi[4];
    for (uint q = 0u; q < 4u; ++q) { // 6-bit values in bytes, minus 32
        const uint w = qw[q], h = qhw[q];
        lo[q] = bytes_f((w & 0x0f0f0f0fu) | ((h & 0x03030303u) << 4), 32.0);
        hi[q] = bytes_f(((w >> 4) & 0x0f0f0f0fu) | (h & 0x30303030u), 32.0);
    }
    for (uint cc = 0u; cc < NCOLS; ++cc) {
        if (cc >= nc) break;
        const float dl = dot(lo[0], xv[cc][0]) + dot(lo[1], xv[cc][1]) + dot(lo[2], xv[cc][2]) + dot(lo[3], xv[cc][3]);
        const float dh = dot(hi[0], xv[cc][4]) + dot(hi[1], xv[cc][5]) + dot(hi[2], xv[cc][6]) + dot(hi[3], xv[cc][7]);
        acc[cc] += d1 * dl + d2 * dh;
    }
}

#elif defined(TYPE_Q2_K) || defined(TYPE_Q3_K)
#define UNIT_PATH 1
// Element h*128 + s*32 + p*16 + l has 2 bits at qs[h*32 + p*16 + l] >> 2s (Q3_K: + the high bit
// hmask[p*16 + l] >> (4h + s)) and the scale of group h*8 + s*2 + p. part = h*4 + sp*2 + p:
// 16 quant bytes, shifts s = 2sp (q 0..3) and 2sp + 1 (q 4..7).
#if defined(TYPE_Q3_K)
#define QS2_OFF 32u
// Signed 6-bit scale of group g: low 4 bits in bytes 0..7 (nibble g / 8), high 2 bits in bytes 8..11.
float q3k_scale(uint a, uint g) {
    const uint lo = (rd_u8(a + 96u + (g % 8u)) >> (4u * (g / 8u))) & 0xfu;
    const uint hi = (rd_u8(a + 104u + g % 4u) >> (2u * (g / 4u))) & 3u;
    return float(int(lo | (hi << 4)) - 32);
}
#else
#define QS2_OFF 16u
#endif
#define UPB 8u
uint unit_xoff(uint part, uint q) {
    return (part / 4u) * 128u + (((part / 2u) % 2u) * 2u + q / 4u) * 32u + (part % 2u) * 16u + (q % 4u) * 4u;
}
void unit_dot(uint a, uint part, in vec4 xv[NCOLS][8], in vec2 sx[NCOLS], uint nc, bool wal, inout float acc[NCOLS]) {
    const uint h = part / 4u, sp = (part / 2u) % 2u, p = part % 2u;
    const uint g1 = h * 8u + sp * 4u + p; // group of s = 2sp; s = 2sp + 1 is group g1 + 2
#if defined(TYPE_Q3_K)
    const float d = rd_f16(a + 108u);
    const float d1 = d * q3k_scale(a, g1), d2 = d * q3k_scale(a, g1 + 2u);
#else
    const uint dm = rd_w(a + 80u, wal);
    const float d = f16_bits_to_f32(dm & 0xffffu), dmin = f16_bits_to_f32(dm >> 16);
    const uint sc1 = rd_u8(a + g1), sc2 = rd_u8(a + g1 + 2u);
    const float d1 = d * float(sc1 & 0xfu), m1 = dmin * float(sc1 >> 4), d2 = d * float(sc2 & 0xfu), m2 = dmin * float(sc2 >> 4);
#endif
    vec4 lo[4], hi[4];
    for (uint q = 0u; q < 4u; ++q) {
        const uint w = rd_w(a + QS2_OFF + h * 32u + p * 16u + 4u * q, wal) >> (4u * sp);
#if defined(TYPE_Q3_K)
        const uint hm = rd_w(a + p * 16u + 4u * q, wal) >> (4u * h + 2u * sp);
        lo[q] = bytes_f((w & 0x03030303u) | ((hm & 0x01010101u) << 2), 0.0);
        hi[q] = bytes_f(((w >> 2) & 0x03030303u) | ((hm & 0x02020202u) << 1), 0.0);
#else
        lo[q] = bytes_f(w & 0x03030303u, 0.0);
        hi[q] = bytes_f((w >> 2) & 0x03030303u, 0.0);
#endif
    }
    for (uint cc = 0u; cc < NCOLS; ++cc) {
        if (cc >= nc) break;
        const float dl = dot(lo[0], xv[cc][0]) + dot(lo[1], xv[cc][1]) + dot(lo[2], xv[cc][2]) + dot(lo[3], xv[cc][3]);
        const float dh = dot(hi[0], xv[cc][4]) + dot(hi[1], xv[cc][5]) + dot(hi[2], xv[cc][6]) + dot(hi[3], xv[cc][7]);
#if defined(TYPE_Q3_K)
        acc[cc] += d1 * (dl - 4.0 * sx[cc].x) + d2 * (dh - 4.0 * sx[cc].y);
#else
        acc[cc] += d1 * dl - m1 * sx[cc].x + d2 * dh - m2 * sx[cc].y;
#endif
    }
}

#elif defined(TYPE_Q8_0)
#define UNIT_PATH 1
#define UPB 1u // the whole 32-element block: 8 words of quants
uint unit_xoff(uint part, uint q) { return q * 4u; }
void unit_dot(uint a, uint part, in vec4 xv[NCOLS][8], in vec2 sx[NCOLS], uint nc, bool wal, inout float acc[NCOLS]) {
    const float d = rd_f16(a);
    const uvec4 qa = rd_u32x4u(a + 2u), qb = rd_u32x4u(a + 18u);
    vec4 qv[8];
    for (uint q = 0u; q < 8u; ++q) {
        const uint w = q < 4u ? qa[q] : qb[q - 4u];
        qv[q] = bytes_f(w ^ 0x80808080u, 128.0); // signed bytes: b ^ 0x80 = b + 128
    }
    for (uint cc = 0u; cc < NCOLS; ++cc) {
        if (cc >= nc) break;
        float s = 0.0;
        for (uint q = 0u; q < 8u; ++q) s += dot(qv[q], xv[cc][q]);
        acc[cc] += d * s;
    }
}

#elif defined(TYPE_Q4_0) || defined(TYPE_Q4_1) || defined(TYPE_Q5_0) || defined(TYPE_Q5_1) || defined(TYPE_IQ4_NL) || defined(TYPE_IQ4_XS)
#define UNIT_PATH 1
#if defined(TYPE_IQ4_NL) || defined(TYPE_IQ4_XS)
// The IQ4 codebook in shared memory (a dynamically indexed constant array would live in
// per-thread local memory on some drivers); filled at the start of main.
shared float iq4tab[16];
#define IQ4_TABLE 1
#endif
// One 32-element (sub-)block: 4 quant words, low nibbles = elements 0..15, high = 16..31.
#if defined(TYPE_IQ4_XS)
#define UPB 8u
uint unit_xoff(uint part, uint q) { return part * 32u + q * 4u; }
#else
#define UPB 1u
uint unit_xoff(uint part, uint q) { return q * 4u; }
#endif
void unit_dot(uint a, uint part, in vec4 xv[NCOLS][8], in vec2 sx[NCOLS], uint nc, bool wal, inout float acc[NCOLS]) {
#if defined(TYPE_IQ4_XS)
    const uint ls = ((rd_u8(a + 4u + part / 2u) >> (4u * (part % 2u))) & 0xfu) | (((rd_u16(a + 2u) >> (2u * part)) & 3u) << 4);
    const float d = rd_f16(a) * float(int(ls) - 32);
    const uint qa = a + 8u + part * 16u;
#elif defined(TYPE_Q4_1) || defined(TYPE_Q5_1)
    const uint dm = rd_u32(a);
    const float d = f16_bits_to_f32(dm & 0xffffu), mn = f16_bits_to_f32(dm >> 16);
#if defined(TYPE_Q5_1)
    const uint qh = rd_u32(a + 4u);
    const uint qa = a + 8u;
#else
    const uint qa = a + 4u;
#endif
#else
    const float d = rd_f16(a);
#if defined(TYPE_Q5_0)
    const uint qh = rd_u32(a + 2u);
    const uint qa = a + 6u;
#else
    const uint qa = a + 2u;
#endif
#endif
    const uvec4 qw = rd_u32x4u(qa);
    vec4 lo[4], hi[4];
    for (uint q = 0u; q < 4u; ++q) {
        const uint w = qw[q];
#if defined(TYPE_IQ4_NL) || defined(TYPE_IQ4_XS)
        const uvec4 b = (uvec4(w) >> uvec4(0u, 8u, 16u, 24u)) & 0xffu;
        const uvec4 l = b & 0xfu, h = b >> 4;
        lo[q] = vec4(iq4tab[l.x], iq4tab[l.y], iq4tab[l.z], iq4tab[l.w]);
        hi[q] = vec4(iq4tab[h.x], iq4tab[h.y], iq4tab[h.z], iq4tab[h.w]);
#elif defined(TYPE_Q5_0) || defined(TYPE_Q5_1)
        // bits 4q..4q+3 (low nibbles) and 16+4q.. (high) of qh as bit 4 of each byte
        lo[q] = bytes_f((w & 0x0f0f0f0fu) | (spread4((qh >> (4u * q)) & 0xfu) << 4), 0.0);
        hi[q] = bytes_f(((w >> 4) & 0x0f0f0f0fu) | (spread4((qh >> (16u + 4u * q)) & 0xfu) << 4), 0.0);
#else
        lo[q] = nib_lo_f(w, 0.0);
        hi[q] = nib_hi_f(w, 0.0);
#endif
    }
    for (uint cc = 0u; cc < NCOLS; ++cc) {
        if (cc >= nc) break;
        const float dl = dot(lo[0], xv[cc][0]) + dot(lo[1], xv[cc][1]) + dot(lo[2], xv[cc][2]) + dot(lo[3], xv[cc][3]);
        const float dh = dot(hi[0], xv[cc][4]) + dot(hi[1], xv[cc][5]) + dot(hi[2], xv[cc][6]) + dot(hi[3], xv[cc][7]);
#if defined(TYPE_Q4_0)
        acc[cc] += d * (dl + dh - 8.0 * (sx[cc].x + sx[cc].y));
#elif defined(TYPE_Q5_0)
        acc[cc] += d * (dl + dh - 16.0 * (sx[cc].x + sx[cc].y));
#elif defined(TYPE_Q4_1) || defined(TYPE_Q5_1)
        acc[cc] += d * (dl + dh) + mn * (sx[cc].x + sx[cc].y);
#else
        acc[cc] += d * (dl + dh);
#endif
    }
}
#endif

// Partial sums: [value][thread] on the baseline, [value][subgroup id] with USE_SUBGROUP; NORM
// reduces sum(x^2) as value NV.
#ifdef NORM
#define NRED (NV + 1u)
#else
#define NRED NV
#endif
shared float red[NRED][WG];

#ifdef LNORM
// sum over this invocation's elements of x (sq: of (x - mean)^2), LN_PER loads in flight per step.
#define LN_PER 16u
float ln_pass(uint x0, float mean, bool sq) {
    float s = 0.0;
    for (uint b = 0u; b < pc.k; b += LN_PER * WG) {
        float v[LN_PER];
        for (uint j = 0u; j < LN_PER; ++j) {
            const uint i = b + gl_LocalInvocationID.x + j * WG;
            v[j] = i < pc.k ? uintBitsToFloat(xdata[x0 + i]) : mean;
        }
        for (uint j = 0u; j < LN_PER; ++j) s += sq ? (v[j] - mean) * (v[j] - mean) : v[j];
    }
    return s;
}
// The sum of v over the workgroup, for every invocation (red[0] as scratch; ends with a barrier).
float wg_sum(float v) {
    const uint tid = gl_LocalInvocationID.x;
#ifdef USE_SUBGROUP
    v = subgroupAdd(v);
    if (subgroupElect()) red[0][gl_SubgroupID] = v;
    barrier();
    float t = 0.0;
    for (uint i = 0u; i < gl_NumSubgroups; ++i) t += red[0][i];
#else
    red[0][tid] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s) red[0][tid] += red[0][tid + s];
        barrier();
    }
    const float t = red[0][0];
#endif
    barrier();
    return t;
}
#endif

// The value written for row r of this dispatch: the dot product (plus add in the ADD variant).
float finish(float dot_r, uint r) {
#ifdef ADD
    dot_r += uintBitsToFloat(adata[(pc.a_bias >> 2) + r]);
#endif
#ifdef GELU_ERF
    dot_r = gelu_erf(dot_r); // whisper's fc1: gelu(W x + bias) in one step
#endif
    return dot_r;
}

void main() {
    const uint row0 = flat_group() * ROWS;
    if (row0 >= pc.m) return;
    const uint tid = gl_LocalInvocationID.x;
#ifdef IQ4_TABLE
    if (tid < 16u) iq4tab[tid] = float(kIq4nl[tid]);
    barrier();
#endif
    const uint c0 = gl_WorkGroupID.z * NCOLS;
#ifdef NCOLS_1
    const uint nc = 1u; // a compile-time count: no branches between the loads and sums of a step
#else
    const uint nc = min(NCOLS, pc.n - c0);
#endif
    uint xa[NCOLS];
    // Columns past n repeat the last one (their sums are computed and dropped: no divergent loop).
    bool xal = true;
    for (uint c = 0u; c < NCOLS; ++c) {
        xa[c] = ROW_ADDR(x, pc.col0 + c0 + min(c, nc - 1u)) >> 2;
        xal = xal && (xa[c] & 3u) == 0u;
#if defined(GLU) || defined(NORM) || defined(LNORM)
        xal = xal && ((xa[c] + pc.u_shift) & 3u) == 0u; // u takes the same 16-byte loads
#endif
#ifdef LNORM
        xal = xal && ((xa[c] + pc.b_shift) & 3u) == 0u;
#endif
    }
#ifdef LNORM
    {
        const float s1 = ln_pass(xa[0], 0.0, false);
        ln_mean = wg_sum(s1) / float(pc.k);
        const float s2 = ln_pass(xa[0], ln_mean, true);
        ln_rstd = inversesqrt(wg_sum(s2) / float(pc.k) + pc.eps);
    }
#endif
    uint wr[ROWS];
    // Rows past m repeat the last row (computed, never stored).
    for (uint r = 0u; r < ROWS; ++r) wr[r] = pc.w_bias + min(row0 + r, pc.m - 1u) * pc.w_nb1;
    float acc[ROWS][NCOLS];
    for (uint r = 0u; r < ROWS; ++r)
        for (uint c = 0u; c < NCOLS; ++c) acc[r][c] = 0.0;

#if defined(TYPE_F32)
    for (uint i = tid; i < pc.k; i += WG) {
        float xv[NCOLS];
        for (uint c = 0u; c < NCOLS; ++c) xv[c] = ld_x1(xa[c] + i);
        for (uint r = 0u; r < ROWS; ++r) {
            const float w = uintBitsToFloat(wdata[(wr[r] >> 2) + i]);
            for (uint c = 0u; c < NCOLS; ++c)
                if (c < nc) acc[r][c] += w * xv[c];
        }
    }
#elif defined(PLAIN_TYPE) // F16, BF16: one 32-bit word = two elements per step
    uint p0 = tid;
#if defined(TYPE_F16)
    // 8 elements per thread and step while rows and x allow 16-byte loads (uniform test); the pair
    // loop below takes the rest. (H100: the 51866-row whisper head 47 -> 91 % of the bandwidth.)
    const bool wide = ((pc.w_bias | pc.w_nb1) & 15u) == 0u && xal;
    const uint n8 = wide ? pc.k / 8u : 0u;
    for (uint e = tid; e < n8; e += WG) {
        vec4 xv[NCOLS][2];
        for (uint c = 0u; c < NCOLS; ++c) xv[c][0] = ld_x4(xa[c] + 8u * e, true), xv[c][1] = ld_x4(xa[c] + 8u * e + 4u, true);
        uvec4 w8[ROWS];
        for (uint r = 0u; r < ROWS; ++r) w8[r] = wdata4[(wr[r] >> 4) + e];
        for (uint r = 0u; r < ROWS; ++r) {
            const vec4 a = vec4(unpackHalf2x16(w8[r].x), unpackHalf2x16(w8[r].y));
            const vec4 b = vec4(unpackHalf2x16(w8[r].z), unpackHalf2x16(w8[r].w));
            for (uint c = 0u; c < NCOLS; ++c)
                if (c < nc) acc[r][c] += dot(a, xv[c][0]) + dot(b, xv[c][1]);
        }
    }
    p0 = 4u * n8 + tid;
#endif
    const uint npairs = pc.k / 2u;
    for (uint p = p0; p <= npairs; p += WG) {
        // p == npairs is the odd tail element (k odd), taken by one thread at most.
        const bool tail = p == npairs;
        if (tail && (pc.k & 1u) == 0u) break;
        vec2 xv[NCOLS];
        for (uint c = 0u; c < NCOLS; ++c) {
            const uint xi = xa[c] + 2u * p;
            xv[c] = vec2(ld_x1(xi), tail ? 0.0 : ld_x1(xi + 1u));
        }
        for (uint r = 0u; r < ROWS; ++r) {
            const uint wa = wr[r] + 4u * p;
            const uint w2 = tail ? rd_u16(wa) : rd_u32(wa);
#if defined(TYPE_F16)
            const vec2 w = vec2(f16_bits_to_f32(w2 & 0xffffu), f16_bits_to_f32(w2 >> 16));
#else
            const vec2 w = vec2(uintBitsToFloat(w2 << 16), uintBitsToFloat(w2 & 0xffff0000u));
#endif
            for (uint c = 0u; c < NCOLS; ++c)
                if (c < nc) acc[r][c] += dot(w, xv[c]);
        }
    }
#elif defined(UNIT_PATH)
    // Every block starts 16-byte aligned when row 0 and the row stride are (Q4_K/Q5_K use it).
    // Q2_K (84-byte blocks) uses it as "every block starts 4-byte aligned".
#if defined(TYPE_Q2_K)
    const bool wal = ((pc.w_bias | pc.w_nb1) & 3u) == 0u;
#elif defined(TYPE_Q3_K)
    const bool wal = false; // 110-byte blocks: words at any alignment
#else
    const bool wal = ((pc.w_bias | pc.w_nb1) & 15u) == 0u && (BLOCK_BYTES & 15u) == 0u;
#endif
    const uint nunits = (pc.k / BLOCK_ELEMS) * UPB;
    for (uint u = tid; u < nunits; u += WG) {
        const uint blk = u / UPB, part = u % UPB;
        vec4 xv[NCOLS][8];
        vec2 sx[NCOLS];
        for (uint c = 0u; c < NCOLS; ++c) {
            sx[c] = vec2(0.0);
            for (uint q = 0u; q < 8u; ++q) xv[c][q] = vec4(0.0);
            if (c >= nc) continue;
            for (uint q = 0u; q < 8u; ++q) {
                xv[c][q] = ld_x4(xa[c] + blk * BLOCK_ELEMS + unit_xoff(part, q), xal);
            }
            sx[c] = vec2(dot(xv[c][0] + xv[c][1] + xv[c][2] + xv[c][3], vec4(1.0)), dot(xv[c][4] + xv[c][5] + xv[c][6] + xv[c][7], vec4(1.0)));
        }
        for (uint r = 0u; r < ROWS; ++r) unit_dot(wr[r] + blk * BLOCK_BYTES, part, xv, sx, nc, wal, acc[r]);
    }
#else
    const uint ngroups = (pc.k / BLOCK_ELEMS) * GROUPS;
    float v[16];
    for (uint gi = tid; gi < ngroups; gi += WG) {
        const uint blk = gi / GROUPS, g = gi % GROUPS;
        const uint e0 = blk * BLOCK_ELEMS + g * 16u;
        vec4 xv[NCOLS][4];
        for (uint c = 0u; c < NCOLS; ++c)
            for (uint q = 0u; q < 4u; ++q) xv[c][q] = ld_x4(xa[c] + e0 + 4u * q, xal);
        for (uint r = 0u; r < ROWS; ++r) {
            dequant16(wr[r] + blk * BLOCK_BYTES, g, v);
            const vec4 w0 = vec4(v[0], v[1], v[2], v[3]), w1 = vec4(v[4], v[5], v[6], v[7]);
            const vec4 w2 = vec4(v[8], v[9], v[10], v[11]), w3 = vec4(v[12], v[13], v[14], v[15]);
            for (uint c = 0u; c < NCOLS; ++c)
                if (c < nc) acc[r][c] += dot(w0, xv[c][0]) + dot(w1, xv[c][1]) + dot(w2, xv[c][2]) + dot(w3, xv[c][3]);
        }
    }
#endif

#ifdef USE_SUBGROUP
    for (uint r = 0u; r < ROWS; ++r)
        for (uint c = 0u; c < NCOLS; ++c) acc[r][c] = subgroupAdd(acc[r][c]);
#ifdef NORM
    ss = subgroupAdd(ss);
#endif
    if (subgroupElect()) {
        for (uint r = 0u; r < ROWS; ++r)
            for (uint c = 0u; c < NCOLS; ++c) red[r * NCOLS + c][gl_SubgroupID] = acc[r][c];
#ifdef NORM
        red[NV][gl_SubgroupID] = ss;
#endif
    }
    barrier();
    if (tid < NV) {
        const uint r = tid / NCOLS, c = tid % NCOLS;
        if (row0 + r < pc.m && c < nc) {
            float s = 0.0;
            for (uint i = 0u; i < gl_NumSubgroups; ++i) s += red[tid][i];
#ifdef NORM
            float sq = 0.0;
            for (uint i = 0u; i < gl_NumSubgroups; ++i) sq += red[NV][i];
            s *= inversesqrt(sq / float(pc.k) + pc.eps);
#endif
            ydata[(ROW_ADDR(y, pc.col0 + c0 + c) >> 2) + row0 + r] = floatBitsToUint(finish(s, row0 + r));
        }
    }
#else
    for (uint r = 0u; r < ROWS; ++r)
        for (uint c = 0u; c < NCOLS; ++c) red[r * NCOLS + c][tid] = acc[r][c];
#ifdef NORM
    red[NV][tid] = ss;
#endif
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s)
            for (uint v2 = 0u; v2 < NRED; ++v2) red[v2][tid] += red[v2][tid + s];
        barrier();
    }
    if (tid < NV) {
        const uint r = tid / NCOLS, c = tid % NCOLS;
        float s = red[tid][0];
#ifdef NORM
        s *= inversesqrt(red[NV][0] / float(pc.k) + pc.eps);
#endif
        if (row0 + r < pc.m && c < nc) ydata[(ROW_ADDR(y, pc.col0 + c0 + c) >> 2) + row0 + r] = floatBitsToUint(finish(s, row0 + r));
    }
#endif
}
