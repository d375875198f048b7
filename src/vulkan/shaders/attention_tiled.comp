// attention (ops/ref.h) for many queries at once, head_dim <= 64 and a multiple of 4 (HD64: exactly
// 64, loops of fixed length, whisper's and many LLMs' size): one workgroup of 128 threads per
// (head, block of BQ = 32 queries) walks the KV cells in tiles of BK = 32 (flash-attention style:
// online softmax, nothing of size n_cells is stored). Per tile: the mask tile goes to shared memory;
// a cell that no query of the block sees is never read (its K/V may be NaN: zeros are stored
// instead) and a tile that nobody sees is skipped (causal prompts); K and V tiles are loaded once
// for 32 queries; each thread holds a 2 x 4 block of scores and a 2 x 8 block of the output.
// Shared memory 30 KB (Q/K rows padded to 68 floats so vec4 reads of 8 rows hit distinct banks).
// Per-thread state is in named registers and every short loop is unrolled (arrays indexed in
// loops could land in local memory).
// f32 math; 32-bit word loads, or 16-byte loads when f32 K/V rows are 16-byte aligned (uniform
// branch). KV_F16: f16 cache (4-byte aligned rows). The host uses attention.comp for few queries,
// other head sizes, or devices with less shared memory.
#version 450
#extension GL_GOOGLE_include_directive : enable
#extension GL_EXT_control_flow_attributes : enable
layout(local_size_x = 128) in;

layout(binding = 0) readonly buffer QB { uint qdata[]; };
layout(binding = 1) readonly buffer KB { uint kdata[]; };
layout(binding = 1) readonly buffer KB4 { uvec4 kdata4[]; }; // the same binding, for 16-byte loads
layout(binding = 2) readonly buffer VB { uint vdata[]; };
layout(binding = 2) readonly buffer VB4 { uvec4 vdata4[]; };
layout(binding = 3) readonly buffer MB { uint mdata[]; };
layout(binding = 4) buffer OB { uint odata[]; };

#include "lib/common.glsl"

#define D4 16u   // vec4 per row (the most: head_dim 64)
#define BQ 32u
#define BK 32u
#define KS4 17u  // padded K/Q row stride in vec4 (68 floats)
#define PS 33u   // padded score row stride

layout(push_constant) uniform PC {
    uint hd;
    uint n_head;
    uint n_head_kv;
    uint n_cells;
    float scale;
    uint q_bias, q_nb1, q_nb2; // rows (head, token)
    uint k_bias, k_nb1, k_nb2; // rows (kv head, cell)
    uint v_bias, v_nb1, v_nb2;
    uint m_bias, m_nb1;        // row token
    uint o_bias, o_nb1, o_nb2;
    uint n_tok;                // queries (the grid covers ceil(n_tok / BQ) blocks)
} pc;

shared vec4 Qs[BQ * KS4];
shared vec4 Ks[BK * KS4];
shared vec4 Vs[BK * D4];
shared float Ps[BQ * PS];  // mask, then probabilities
shared float Pm[BQ * 8u];  // partial row maxima (8 threads per row)
shared uint visp[4u * BK]; // per cell: seen by a query of rows w, w+4, ... (w = tid / 32)
shared uint seen[2];       // per tile parity: some cell of the tile is seen

// 16 bytes of K (or V) at byte address a: 4 f32, or (KV_F16) 4 f16 from 8 bytes.
vec4 ldk4(uint a, bool al16) {
#ifdef KV_F16
    return vec4(unpackHalf2x16(kdata[a >> 2]), unpackHalf2x16(kdata[(a >> 2) + 1u]));
#else
    if (al16) return uintBitsToFloat(kdata4[a >> 4]);
    const uint i = a >> 2;
    return uintBitsToFloat(uvec4(kdata[i], kdata[i + 1u], kdata[i + 2u], kdata[i + 3u]));
#endif
}
vec4 ldv4(uint a, bool al16) {
#ifdef KV_F16
    return vec4(unpackHalf2x16(vdata[a >> 2]), unpackHalf2x16(vdata[(a >> 2) + 1u]));
#else
    if (al16) return uintBitsToFloat(vdata4[a >> 4]);
    const uint i = a >> 2;
    return uintBitsToFloat(uvec4(vdata[i], vdata[i + 1u], vdata[i + 2u], vdata[i + 3u]));
#endif
}

void main() {
    const uint h = gl_WorkGroupID.x, t0 = gl_WorkGroupID.y * BQ, tid = gl_LocalInvocationID.x;
    const uint hk = h / (pc.n_head / pc.n_head_kv);
    const uint tx = tid & 7u, ty = tid >> 3; // scores: rows 2 ty + i, columns tx + 8 j; output: rows 2 ty + i, vec4 columns tx, tx + 8
    const uint r0 = 2u * ty, r1 = r0 + 1u;
    const float NEG_INF = uintBitsToFloat(0xff800000u);
    const bool al16 = ((pc.k_bias | pc.k_nb1 | pc.k_nb2 | pc.v_bias | pc.v_nb1 | pc.v_nb2) & 15u) == 0u;
#ifdef HD64
    const uint hd4 = D4;
#else
    const uint hd4 = pc.hd >> 2;
#endif
#ifdef KV_F16
    const uint KVB = 2u;
#else
    const uint KVB = 4u;
#endif
    const uint kbase = pc.k_bias + hk * pc.k_nb1, vbase = pc.v_bias + hk * pc.v_nb1;

    // Q block, scaled; rows past the last query are zeros (their scores are masked below).
    [[unroll]] for (uint i = 0u; i < 4u; ++i) {
        const uint e = tid + 128u * i, r = e / D4, c4 = e % D4, t = t0 + r;
        vec4 q = vec4(0.0);
        if (t < pc.n_tok && c4 < hd4) {
            const uint a = (pc.q_bias + h * pc.q_nb1 + t * pc.q_nb2 + c4 * 16u) >> 2;
            q = uintBitsToFloat(uvec4(qdata[a], qdata[a + 1u], qdata[a + 2u], qdata[a + 3u])) * pc.scale;
        }
        Qs[r * KS4 + c4] = q;
    }
    if (tid < 2u) seen[tid] = 0u;

    float m0 = NEG_INF, m1 = NEG_INF, l0 = 0.0, l1 = 0.0;
    vec4 a00 = vec4(0.0), a01 = vec4(0.0), a10 = vec4(0.0), a11 = vec4(0.0); // rows r0/r1 x vec4 columns tx/tx+8
    uint tile = 0u;
    for (uint c0 = 0u; c0 < pc.n_cells; c0 += BK, ++tile) {
        barrier(); // the previous tile's readers of Ps, Ks, Vs, seen are done
        if (tid == 0u) seen[(tile + 1u) & 1u] = 0u; // the next tile's flag (last read before this barrier)
        // 1. Mask tile (-inf outside the queries and cells). Thread tid holds column c = tid % 32 of
        //    rows w, w+4, ... (w = tid / 32): it records whether any of them sees cell c.
        const uint c = tid & 31u, w = tid >> 5;
        uint any = 0u;
        [[unroll]] for (uint i = 0u; i < 8u; ++i) {
            const uint r = w + 4u * i, t = t0 + r;
            float mv = NEG_INF;
            if (t < pc.n_tok && c0 + c < pc.n_cells) mv = uintBitsToFloat(mdata[((pc.m_bias + t * pc.m_nb1) >> 2) + c0 + c]);
            Ps[r * PS + c] = mv;
            any |= mv == NEG_INF ? 0u : 1u;
        }
        visp[w * BK + c] = any;
        if (any != 0u) atomicOr(seen[tile & 1u], 1u);
        barrier();
        if (seen[tile & 1u] == 0u) continue; // uniform: no query of the block sees this tile
        // 2. K and V tiles; zeros for cells nobody sees (their memory is never read).
        [[unroll]] for (uint i = 0u; i < 4u; ++i) {
            const uint e = tid + 128u * i, cc = e / D4, c4 = e % D4;
            const bool vis = (visp[cc] | visp[BK + cc] | visp[2u * BK + cc] | visp[3u * BK + cc]) != 0u;
            vec4 kv = vec4(0.0), vv = vec4(0.0);
            if (vis && c4 < hd4) {
                kv = ldk4(kbase + (c0 + cc) * pc.k_nb2 + c4 * 4u * KVB, al16);
                vv = ldv4(vbase + (c0 + cc) * pc.v_nb2 + c4 * 4u * KVB, al16);
            }
            Ks[cc * KS4 + c4] = kv;
            Vs[cc * D4 + c4] = vv;
        }
        barrier();
        // 3. Scores of rows r0, r1 x columns tx + 8 j (registers), masked by a select (NaN-free).
        vec4 s0 = vec4(0.0), s1 = vec4(0.0);
        [[unroll]] for (uint d4 = 0u; d4 < hd4; ++d4) {
            const vec4 q0 = Qs[r0 * KS4 + d4], q1 = Qs[r1 * KS4 + d4];
            const vec4 k0 = Ks[tx * KS4 + d4], k1 = Ks[(tx + 8u) * KS4 + d4], k2 = Ks[(tx + 16u) * KS4 + d4], k3 = Ks[(tx + 24u) * KS4 + d4];
            s0 += vec4(dot(q0, k0), dot(q0, k1), dot(q0, k2), dot(q0, k3));
            s1 += vec4(dot(q1, k0), dot(q1, k1), dot(q1, k2), dot(q1, k3));
        }
        const vec4 mk0 = vec4(Ps[r0 * PS + tx], Ps[r0 * PS + tx + 8u], Ps[r0 * PS + tx + 16u], Ps[r0 * PS + tx + 24u]);
        const vec4 mk1 = vec4(Ps[r1 * PS + tx], Ps[r1 * PS + tx + 8u], Ps[r1 * PS + tx + 16u], Ps[r1 * PS + tx + 24u]);
        const bvec4 hid0 = equal(mk0, vec4(NEG_INF)), hid1 = equal(mk1, vec4(NEG_INF));
        s0 = mix(s0 + mk0, vec4(NEG_INF), hid0);
        s1 = mix(s1 + mk1, vec4(NEG_INF), hid1);
        Pm[r0 * 8u + tx] = max(max(s0.x, s0.y), max(s0.z, s0.w));
        Pm[r1 * 8u + tx] = max(max(s1.x, s1.y), max(s1.z, s1.w));
        barrier();
        // 4. Online softmax: new row maxima; probabilities of own entries into Ps; rescaled state.
        float mx0 = m0, mx1 = m1;
        [[unroll]] for (uint k = 0u; k < 8u; ++k) {
            mx0 = max(mx0, Pm[r0 * 8u + k]);
            mx1 = max(mx1, Pm[r1 * 8u + k]);
        }
        const bool none0 = mx0 == NEG_INF, none1 = mx1 == NEG_INF; // nothing seen yet by this query
        const vec4 p0 = mix(exp(s0 - vec4(none0 ? 0.0 : mx0)), vec4(0.0), bvec4(none0 || hid0.x, none0 || hid0.y, none0 || hid0.z, none0 || hid0.w));
        const vec4 p1 = mix(exp(s1 - vec4(none1 ? 0.0 : mx1)), vec4(0.0), bvec4(none1 || hid1.x, none1 || hid1.y, none1 || hid1.z, none1 || hid1.w));
        Ps[r0 * PS + tx] = p0.x, Ps[r0 * PS + tx + 8u] = p0.y, Ps[r0 * PS + tx + 16u] = p0.z, Ps[r0 * PS + tx + 24u] = p0.w;
        Ps[r1 * PS + tx] = p1.x, Ps[r1 * PS + tx + 8u] = p1.y, Ps[r1 * PS + tx + 16u] = p1.z, Ps[r1 * PS + tx + 24u] = p1.w;
        const float corr0 = none0 ? 1.0 : exp(m0 - mx0), corr1 = none1 ? 1.0 : exp(m1 - mx1); // exp(-inf) = 0
        l0 *= corr0, l1 *= corr1;
        a00 *= corr0, a01 *= corr0, a10 *= corr1, a11 *= corr1;
        m0 = mx0, m1 = mx1;
        barrier();
        // 5. Output += P V (row sums of P accumulate on the way).
        [[unroll]] for (uint cc = 0u; cc < BK; ++cc) {
            const float q0 = Ps[r0 * PS + cc], q1 = Ps[r1 * PS + cc];
            const vec4 v0 = Vs[cc * D4 + tx], v1 = Vs[cc * D4 + tx + 8u];
            a00 += q0 * v0, a01 += q0 * v1, a10 += q1 * v0, a11 += q1 * v1;
            l0 += q0, l1 += q1;
        }
    }
    const float inv0 = l0 > 0.0 ? 1.0 / l0 : 0.0, inv1 = l1 > 0.0 ? 1.0 / l1 : 0.0; // a query that sees nothing gets zeros
    [[unroll]] for (uint i = 0u; i < 2u; ++i) {
        const uint t = t0 + r0 + i;
        if (t >= pc.n_tok) continue;
        const uint oa = (pc.o_bias + h * pc.o_nb1 + t * pc.o_nb2) >> 2;
        const vec4 o0 = (i == 0u ? a00 : a10) * (i == 0u ? inv0 : inv1), o1 = (i == 0u ? a01 : a11) * (i == 0u ? inv0 : inv1);
        if (tx < hd4) {
            const uint a = oa + tx * 4u;
            odata[a] = floatBitsToUint(o0.x), odata[a + 1u] = floatBitsToUint(o0.y), odata[a + 2u] = floatBitsToUint(o0.z), odata[a + 3u] = floatBitsToUint(o0.w);
        }
        if (tx + 8u < hd4) {
            const uint a = oa + (tx + 8u) * 4u;
            odata[a] = floatBitsToUint(o1.x), odata[a + 1u] = floatBitsToUint(o1.y), odata[a + 2u] = floatBitsToUint(o1.z), odata[a + 3u] = floatBitsToUint(o1.w);
        }
    }
}
