// attention (ops/ref.h) for a few queries over many cells (decode: whisper's cross-attention over
// 1500 encoder positions, long LLM contexts): one 256-thread workgroup per (head, token), chunks of
// CH = 1024 cells with an online softmax. Per chunk every thread scores 4 cells (q.k from shared q),
// the chunk maximum and sum are workgroup reductions (subgroupMax/Add + shared memory with
// USE_SUBGROUP, a shared-memory tree otherwise), and p.V is split over 4 groups of 64 threads (group
// g takes cells g, g+4, ...; thread lane holds columns lane, lane+64, ...), summed at the end.
// So 1500 cells take 2 chunks where attention.comp walks 24 chunks of 64 with 64 threads.
// Cells whose mask is -inf never reach a score or an output (their K/V, which may be NaN, are loaded
// at most and dropped by a select). KV_F16: f16 cache.
#version 450
#extension GL_GOOGLE_include_directive : enable
#extension GL_EXT_control_flow_attributes : enable
#ifdef USE_SUBGROUP
#extension GL_KHR_shader_subgroup_arithmetic : enable
#extension GL_KHR_shader_subgroup_basic : enable
#endif
layout(local_size_x = 256) in;

layout(binding = 0) readonly buffer QB { uint qdata[]; };
layout(binding = 1) readonly buffer KB { uint kdata[]; };
layout(binding = 1) readonly buffer KB4 { uvec4 kdata4[]; }; // the same binding, for 16-byte loads
layout(binding = 2) readonly buffer VB { uint vdata[]; };
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
#ifdef SPLIT
// Split cells (flash-decoding for few queries over long caches, vk_ops_attn.cpp): workgroup z takes
// cells [z * split_cells, (z + 1) * split_cells) of its (head, token) and writes its running max m,
// sum l and unnormalized output to binding 5; the workgroup that finishes last (an atomic count per
// (token, head) in binding 6) combines the splits into out. One dispatch, so concurrent attentions
// (whisper's windows decoded in lockstep) stay one dependent step. A 1500-cell cross-attention of
// 20 heads runs as 120 workgroups instead of 20.
#define CH 256u
#else
#define CH 1024u
#endif
#define PER (CH / WG)    // cells scored per thread per chunk
#define PV 8u            // cells per p.V step of a thread
#define MAX_HD 512u
#define COLS (MAX_HD / 64u) // output columns per thread at most

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

shared float qs[MAX_HD];
#ifdef SPLIT
shared bool last_split;
#endif
shared float ps[CH];
shared float red[WG];
shared float outs[4u * MAX_HD]; // per-group partial outputs

#ifdef KV_F16
float ldk(uint a) { return f16_bits_to_f32((kdata[a >> 2] >> ((a & 2u) * 8u)) & 0xffffu); }
float ldv(uint a) { return f16_bits_to_f32((vdata[a >> 2] >> ((a & 2u) * 8u)) & 0xffffu); }
#define KV_BYTES 2u
#else
float ldk(uint a) { return uintBitsToFloat(kdata[a >> 2]); }
float ldv(uint a) { return uintBitsToFloat(vdata[a >> 2]); }
#define KV_BYTES 4u
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
    const uint lane = tid & 63u, g = tid >> 6;
    const uint hk = h / (pc.n_head / pc.n_head_kv);
    const uint qa = (pc.q_bias + h * pc.q_nb1 + t * pc.q_nb2) >> 2;
    for (uint i = tid; i < pc.hd; i += WG) qs[i] = uintBitsToFloat(qdata[qa + i]);
    const uint ma = (pc.m_bias + t * pc.m_nb1) >> 2;
    const float NEG_INF = uintBitsToFloat(0xff800000u);
    const bool k16 = ((pc.k_bias | pc.k_nb1 | pc.k_nb2) & 15u) == 0u && (pc.hd * KV_BYTES) % 16u == 0u;
    const uint kbase = pc.k_bias + hk * pc.k_nb1, vbase = pc.v_bias + hk * pc.v_nb1;
    float m = NEG_INF, l = 0.0;
    float acc[COLS]; // constant indices only (unrolled loops): registers, not local memory
    [[unroll]] for (uint j = 0u; j < COLS; ++j) acc[j] = 0.0;
    barrier();

#ifdef SPLIT
    const uint z = gl_WorkGroupID.z, c_lo = z * pc.split_cells, n_end = min(pc.n_cells, c_lo + pc.split_cells);
#else
    const uint c_lo = 0u, n_end = pc.n_cells;
#endif
    for (uint base = c_lo; base < n_end; base += CH) {
        // Scores of the thread's PER cells, interleaved (the e loop outside, the cells inside) so
        // PER K loads are in flight at once. A cell past the end or masked is scored at a clamped
        // address and then discarded by select (its K may be NaN: never added, only replaced).
        float s[PER], dd[PER];
        uint ka[PER];
        bool live[PER];
        float cmax = NEG_INF;
        [[unroll]] for (uint i = 0u; i < PER; ++i) {
            const uint c = base + tid + WG * i;
            const uint cc = min(c, n_end - 1u);
            const float mv = uintBitsToFloat(mdata[ma + cc]);
            live[i] = c < n_end && !(isinf(mv) && mv < 0.0);
            s[i] = mv;
            ka[i] = kbase + cc * pc.k_nb2;
            dd[i] = 0.0;
        }
        if (k16) {
#ifdef KV_F16
            for (uint e = 0u; e < pc.hd; e += 8u) {
                const vec4 q0 = vec4(qs[e], qs[e + 1u], qs[e + 2u], qs[e + 3u]), q1 = vec4(qs[e + 4u], qs[e + 5u], qs[e + 6u], qs[e + 7u]);
                uvec4 w[PER];
                [[unroll]] for (uint i = 0u; i < PER; ++i) w[i] = kdata4[(ka[i] + 2u * e) >> 4];
                [[unroll]] for (uint i = 0u; i < PER; ++i)
                    dd[i] += dot(q0, vec4(unpackHalf2x16(w[i].x), unpackHalf2x16(w[i].y))) + dot(q1, vec4(unpackHalf2x16(w[i].z), unpackHalf2x16(w[i].w)));
            }
#else
            for (uint e = 0u; e < pc.hd; e += 4u) {
                const vec4 q0 = vec4(qs[e], qs[e + 1u], qs[e + 2u], qs[e + 3u]);
                vec4 w[PER];
                [[unroll]] for (uint i = 0u; i < PER; ++i) w[i] = uintBitsToFloat(kdata4[(ka[i] + 4u * e) >> 4]);
                [[unroll]] for (uint i = 0u; i < PER; ++i) dd[i] += dot(q0, w[i]);
            }
#endif
        } else {
            for (uint e = 0u; e < pc.hd; ++e) {
                const float qe = qs[e];
                [[unroll]] for (uint i = 0u; i < PER; ++i) dd[i] += qe * ldk(ka[i] + KV_BYTES * e);
            }
        }
        [[unroll]] for (uint i = 0u; i < PER; ++i) {
            s[i] = live[i] ? dd[i] * pc.scale + s[i] : NEG_INF;
            cmax = max(cmax, s[i]);
        }
        const float mnew = max(m, wg_reduce(cmax, true));
        if (isinf(mnew) && mnew < 0.0) continue; // uniform: nothing seen yet
        const float corr = exp(m - mnew); // 0 while m is -inf
        float psum = 0.0;
        [[unroll]] for (uint i = 0u; i < PER; ++i) {
            const float p = (isinf(s[i]) && s[i] < 0.0) ? 0.0 : exp(s[i] - mnew);
            ps[tid + WG * i] = p;
            psum += p;
        }
        l = l * corr + wg_reduce(psum, false); // its barriers also publish ps
        [[unroll]] for (uint j = 0u; j < COLS; ++j) acc[j] *= corr;
        // p.V, PV cells per step with their V loads issued together (cells clamped to the chunk;
        // p == 0, masked cells whose V may be NaN included, adds nothing: a select, not a product).
        const uint n_here = min(CH, n_end - base);
        for (uint c0 = g; c0 < n_here; c0 += 4u * PV) {
            float p[PV];
            uint va[PV];
            [[unroll]] for (uint i = 0u; i < PV; ++i) {
                const uint c = c0 + 4u * i;
                p[i] = c < n_here ? ps[c] : 0.0;
                va[i] = vbase + (base + min(c, n_here - 1u)) * pc.v_nb2;
            }
            [[unroll]] for (uint j = 0u; j < COLS; ++j) {
                const uint d = lane + 64u * j;
                if (d >= pc.hd) continue;
                float v[PV];
                [[unroll]] for (uint i = 0u; i < PV; ++i) v[i] = ldv(va[i] + KV_BYTES * d);
                [[unroll]] for (uint i = 0u; i < PV; ++i) acc[j] += p[i] != 0.0 ? p[i] * v[i] : 0.0;
            }
        }
        m = mnew;
        barrier(); // ps is rewritten by the next chunk
    }
    [[unroll]] for (uint j = 0u; j < COLS; ++j) {
        const uint d = lane + 64u * j;
        if (d < pc.hd) outs[g * MAX_HD + d] = acc[j];
    }
    barrier();
#ifdef SPLIT
    // [m, l, o[0 .. hd)] per (token, head, split); m = -inf and l = 0 when no cell of the split is seen.
    const uint stride = pc.hd + 2u, base = (pc.s_bias >> 2) + (t * pc.n_head + h) * pc.n_split * stride;
    const uint sa = base + z * stride;
    if (tid == 0u) sdata[sa] = floatBitsToUint(m), sdata[sa + 1u] = floatBitsToUint(l);
    for (uint d = tid; d < pc.hd; d += WG) sdata[sa + 2u + d] = floatBitsToUint(outs[d] + outs[MAX_HD + d] + outs[2u * MAX_HD + d] + outs[3u * MAX_HD + d]);
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
        const float o = outs[d] + outs[MAX_HD + d] + outs[2u * MAX_HD + d] + outs[3u * MAX_HD + d];
        odata[oa + d] = floatBitsToUint(l > 0.0 ? o / l : 0.0);
    }
#endif
}
