// attention (ops/ref.h) for a few queries over many cells (decode: whisper's cross-attention over
// 1500 encoder positions, LLM contexts): one 256-thread workgroup per (head, token), chunks of
// CH = 256 cells (one per thread) with an online softmax. q.k: items (cell, 16-byte slice of the
// K row), R per thread with their loads in flight together, partial dots summed per cell through
// shared memory; the chunk maximum and sum are workgroup reductions (subgroupMax/Add + shared
// memory with USE_SUBGROUP, a shared-memory tree otherwise); p.V: groups of hd / SL threads, each
// thread one 16-byte slice of V rows, PV cells in flight, the groups summed at the end.
// K/V rows must be 16-byte aligned with a size a multiple of 16 bytes (vk_ops_attn.cpp sends
// other layouts to attention.comp). Cells whose mask is -inf never reach a score or an output
// (their K/V, which may be NaN, are loaded at most and dropped by a select). KV_F16: f16 cache.
#version 450
#extension GL_GOOGLE_include_directive : enable
#extension GL_EXT_control_flow_attributes : enable
#ifdef USE_SUBGROUP
#extension GL_KHR_shader_subgroup_arithmetic : enable
#extension GL_KHR_shader_subgroup_basic : enable
#endif
layout(local_size_x = 256) in;

layout(binding = 0) readonly buffer QB { uint qdata[]; };
layout(binding = 1) readonly buffer KB4 { uvec4 kdata4[]; };
layout(binding = 2) readonly buffer VB4 { uvec4 vdata4[]; };
layout(binding = 3) readonly buffer MB { uint mdata[]; };
layout(binding = 4) buffer OB { uint odata[]; };
#ifdef SPLIT
// The splits' partial results and, per (token, head), the count of splits done (zero between uses):
// coherent, as other workgroups read them (the last split of a (head, token) merges).
layout(binding = 5) coherent buffer SB { uint sdata[]; };
layout(binding = 6) coherent buffer CB { uint cdata[]; };
#endif

#include "lib/common.glsl"

#define WG 256u
// Cells per chunk: one per thread (its score, its p), and the SPLIT variant's cells per workgroup.
#define CH 256u
#define MAX_HD 512u
// K and V are read in slices of 16 bytes (SL elements, one 16-byte load) so that every load of a
// step is issued before the first is used (a loop over the head dimension, one load per step,
// waited hd / SL times in a row: ~25 us per decode attention on the H100 for 128 cells).
#ifdef KV_F16
#define SL 8u
#else
#define SL 4u
#endif
#define R 8u // (cell, slice) items of q.k per thread per round, loads in flight together
#define PV 8u // V slices in flight per thread per step of p.V

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
#ifdef SPLIT
    uint split_cells, n_split;
    uint s_bias, c_bias; // byte biases of this call's partials (binding 5) and counts (binding 6)
#endif
} pc;

shared vec4 qs4[MAX_HD / 4u];
#ifdef SPLIT
shared bool last_split;
#endif
shared float ps[CH];
shared float red[WG];
// q.k partial dots of one round (WG * R items), then the p.V partial outputs of the cell groups
// (groups * hd <= WG * SL <= 2048 floats).
shared float scratch[WG * R];

// Column d of the output: the sum over the G cell groups' partials in scratch.
float group_sum(uint d, uint G) {
    float s = 0.0;
    for (uint i = 0u; i < G; ++i) s += scratch[i * pc.hd + d];
    return s;
}
#ifdef KV_F16
// 8 f16 of a 16-byte slice as two vec4
void ld_slice(uvec4 w, out vec4 a, out vec4 b) { a = vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y)), b = vec4(unpackHalf2x16(w.z), unpackHalf2x16(w.w)); }
#endif

// Workgroup-wide max (is_max) or sum of v; every thread gets it. Ends with a barrier (red reusable).
float wg_reduce(float v, bool is_max) {
    const uint tid = gl_LocalInvocationID.x;
#ifdef USE_SUBGROUP
    v = is_max ? subgroupMax(v) : subgroupAdd(v);
    if (subgroupElect()) red[gl_SubgroupID] = v;
    barrier();
    float r = red[0];
    for (uint i = 1u; i < gl_NumSubgroups; ++i) r = is_max ? max(r, red[i]) : r + red[i];
#else
    red[tid] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s) red[tid] = is_max ? max(red[tid], red[tid + s]) : red[tid] + red[tid + s];
        barrier();
    }
    const float r = red[0];
#endif
    barrier();
    return r;
}

void main() {
    const uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y, tid = gl_LocalInvocationID.x;
    const uint hk = h / (pc.n_head / pc.n_head_kv);
    const uint qa = (pc.q_bias + h * pc.q_nb1 + t * pc.q_nb2) >> 2;
    for (uint i = tid; i < pc.hd / 4u; i += WG)
        qs4[i] = vec4(uintBitsToFloat(qdata[qa + 4u * i]), uintBitsToFloat(qdata[qa + 4u * i + 1u]), uintBitsToFloat(qdata[qa + 4u * i + 2u]),
                      uintBitsToFloat(qdata[qa + 4u * i + 3u]));
    const uint ma = (pc.m_bias + t * pc.m_nb1) >> 2;
    const float NEG_INF = uintBitsToFloat(0xff800000u);
    // Slices per row; q.k rounds of whole cells; p.V: cell groups of S threads, thread (g, sl)
    // accumulates output columns sl * SL .. + SL over cells g, g + G, ...
    const uint S = pc.hd / SL, cells_round = (WG * R) / S, items_round = cells_round * S;
    const uint G = WG / S, g = tid / S, sl = tid % S;
    const uint kbase = (pc.k_bias + hk * pc.k_nb1) >> 4, vbase = (pc.v_bias + hk * pc.v_nb1) >> 4;
    const uint kst = pc.k_nb2 >> 4, vst = pc.v_nb2 >> 4; // 16-byte units
    float m = NEG_INF, l = 0.0;
    vec4 acc0 = vec4(0.0), acc1 = vec4(0.0); // columns sl * SL .. (acc1: f16's second half)
    barrier();

#ifdef SPLIT
    const uint z = gl_WorkGroupID.z, c_lo = z * pc.split_cells, n_end = min(pc.n_cells, c_lo + pc.split_cells);
#else
    const uint c_lo = 0u, n_end = pc.n_cells;
#endif
    for (uint base = c_lo; base < n_end; base += CH) {
        const uint n_here = min(CH, n_end - base);
        // q.k: round r takes cells [r0, r0 + cells_round) of the chunk, item i = (cell, slice)
        // with the slices of a cell on consecutive threads. Cells past the chunk are scored at a
        // clamped address and dropped; a masked cell's K (maybe NaN) is dropped by a select below.
        float dd = 0.0;
        for (uint r0 = 0u; r0 < n_here; r0 += cells_round) {
            uvec4 w[R];
            [[unroll]] for (uint i = 0u; i < R; ++i) {
                const uint it = min(tid + WG * i, items_round - 1u);
                const uint c = base + min(r0 + it / S, n_here - 1u);
                w[i] = kdata4[kbase + c * kst + it % S];
            }
            [[unroll]] for (uint i = 0u; i < R; ++i) {
                const uint it = tid + WG * i;
                if (it >= items_round) break;
                const uint j = it % S;
#ifdef KV_F16
                vec4 a, b;
                ld_slice(w[i], a, b);
                scratch[it] = dot(qs4[2u * j], a) + dot(qs4[2u * j + 1u], b);
#else
                scratch[it] = dot(qs4[j], uintBitsToFloat(w[i]));
#endif
            }
            barrier();
            if (tid >= r0 && tid < r0 + cells_round) {
                const uint o = (tid - r0) * S;
                for (uint j = 0u; j < S; ++j) dd += scratch[o + j];
            }
            barrier();
        }
        const uint c = base + tid;
        const float mv = uintBitsToFloat(mdata[ma + min(c, n_end - 1u)]);
        const bool live = tid < n_here && !(isinf(mv) && mv < 0.0);
        const float s = live ? dd * pc.scale + mv : NEG_INF;
        const float mnew = max(m, wg_reduce(s, true));
        if (isinf(mnew) && mnew < 0.0) continue; // uniform: nothing seen yet
        const float corr = exp(m - mnew); // 0 while m is -inf
        const float p = live ? exp(s - mnew) : 0.0;
        ps[tid] = p;
        l = l * corr + wg_reduce(p, false); // its barriers also publish ps
        acc0 *= corr, acc1 *= corr;
        // p.V, PV cells of the group per step with their V loads issued together (cells clamped to
        // the chunk; p == 0, masked cells whose V may be NaN included, adds nothing: a select).
        if (g < G) {
            for (uint c0 = g; c0 < n_here; c0 += G * PV) {
                uvec4 w[PV];
                float pp[PV];
                [[unroll]] for (uint i = 0u; i < PV; ++i) {
                    const uint cc = c0 + G * i;
                    pp[i] = cc < n_here ? ps[cc] : 0.0;
                    w[i] = vdata4[vbase + (base + min(cc, n_here - 1u)) * vst + sl];
                }
                [[unroll]] for (uint i = 0u; i < PV; ++i) {
#ifdef KV_F16
                    vec4 a, b;
                    ld_slice(w[i], a, b);
                    acc0 += pp[i] != 0.0 ? pp[i] * a : vec4(0.0);
                    acc1 += pp[i] != 0.0 ? pp[i] * b : vec4(0.0);
#else
                    acc0 += pp[i] != 0.0 ? pp[i] * uintBitsToFloat(w[i]) : vec4(0.0);
#endif
                }
            }
        }
        m = mnew;
        barrier(); // ps is rewritten by the next chunk
    }
    // The groups' partial outputs, summed per column below: [group][hd].
    if (g < G) {
        const uint o = g * pc.hd + sl * SL;
        scratch[o] = acc0.x, scratch[o + 1u] = acc0.y, scratch[o + 2u] = acc0.z, scratch[o + 3u] = acc0.w;
#ifdef KV_F16
        scratch[o + 4u] = acc1.x, scratch[o + 5u] = acc1.y, scratch[o + 6u] = acc1.z, scratch[o + 7u] = acc1.w;
#endif
    }
    barrier();
#ifdef SPLIT
    // [m, l, o[0 .. hd)] per (token, head, split); m = -inf and l = 0 when no cell of the split is seen.
    const uint stride = pc.hd + 2u, base = (pc.s_bias >> 2) + (t * pc.n_head + h) * pc.n_split * stride;
    const uint sa = base + z * stride;
    if (tid == 0u) sdata[sa] = floatBitsToUint(m), sdata[sa + 1u] = floatBitsToUint(l);
    for (uint d = tid; d < pc.hd; d += WG) sdata[sa + 2u + d] = floatBitsToUint(group_sum(d, G));
    // Publish the partial, then count it; the last split's workgroup sees every other one's.
    memoryBarrierBuffer();
    barrier();
    const uint ca = (pc.c_bias >> 2) + t * pc.n_head + h;
    if (tid == 0u) last_split = atomicAdd(cdata[ca], 1u) == pc.n_split - 1u;
    barrier();
    if (!last_split) return;
    memoryBarrierBuffer();
    // out = sum_i w_i o_i / sum_i w_i l_i, w_i = exp(m_i - max m); a split that saw no cell (m = -inf)
    // weighs 0; a row that saw none at all is 0, as below.
    float mx = NEG_INF;
    for (uint i = 0u; i < pc.n_split; ++i) mx = max(mx, uintBitsToFloat(sdata[base + i * stride]));
    const bool none = isinf(mx) && mx < 0.0;
    float lt = 0.0;
    for (uint i = 0u; i < pc.n_split; ++i) {
        const float mi = uintBitsToFloat(sdata[base + i * stride]);
        if (!none && !(isinf(mi) && mi < 0.0)) lt += exp(mi - mx) * uintBitsToFloat(sdata[base + i * stride + 1u]);
    }
    const uint oa = (pc.o_bias + h * pc.o_nb1 + t * pc.o_nb2) >> 2;
    for (uint d = tid; d < pc.hd; d += WG) {
        float o = 0.0;
        for (uint i = 0u; i < pc.n_split; ++i) {
            const float mi = uintBitsToFloat(sdata[base + i * stride]);
            if (!none && !(isinf(mi) && mi < 0.0)) o += exp(mi - mx) * uintBitsToFloat(sdata[base + i * stride + 2u + d]);
        }
        odata[oa + d] = floatBitsToUint(lt > 0.0 ? o / lt : 0.0);
    }
    if (tid == 0u) cdata[ca] = 0u; // ready for the next use of these counts
#else
    const uint oa = (pc.o_bias + h * pc.o_nb1 + t * pc.o_nb2) >> 2;
    for (uint d = tid; d < pc.hd; d += WG) {
        const float o = group_sum(d, G);
        odata[oa + d] = floatBitsToUint(l > 0.0 ? o / l : 0.0);
    }
#endif
}
