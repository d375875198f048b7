// attention (ops/ref.h) for a few queries over many cells (decode: whisper's cross-attention over
// 1500 encoder positions, long LLM contexts): one 256-thread workgroup per (head, token), chunks of
// CH = 1024 cells with an online softmax. Per chunk every thread scores 4 cells (q.k from shared q),
// the chunk maximum and sum are workgroup reductions (subgroupMax/Add + shared memory with
// USE_SUBGROUP, a shared-memory tree otherwise), and p.V is split over 4 groups of 64 threads (group
// g takes cells g, g+4, ...; thread lane holds columns lane, lane+64, ...), summed at the end.
// So 1500 cells take 2 chunks where attention.comp walks 24 chunks of 64 with 64 threads.
// Cells whose mask is -inf are never read (K/V may be NaN there). KV_F16: f16 cache.
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

#include "lib/common.glsl"

#define WG 256u
#define CH 1024u
#define PER (CH / WG)    // cells scored per thread per chunk
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
} pc;

shared float qs[MAX_HD];
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

    for (uint base = 0u; base < pc.n_cells; base += CH) {
        float s[PER];
        float cmax = NEG_INF;
        [[unroll]] for (uint i = 0u; i < PER; ++i) {
            const uint c = base + tid + WG * i;
            s[i] = NEG_INF;
            if (c >= pc.n_cells) continue;
            const float mv = uintBitsToFloat(mdata[ma + c]);
            if (isinf(mv) && mv < 0.0) continue; // never read
            const uint ka = kbase + c * pc.k_nb2;
            float d = 0.0;
            if (k16) {
#ifdef KV_F16
                for (uint e = 0u; e < pc.hd; e += 8u) {
                    const uvec4 w = kdata4[(ka + 2u * e) >> 4];
                    d += dot(vec4(qs[e], qs[e + 1u], qs[e + 2u], qs[e + 3u]), vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y))) +
                         dot(vec4(qs[e + 4u], qs[e + 5u], qs[e + 6u], qs[e + 7u]), vec4(unpackHalf2x16(w.z), unpackHalf2x16(w.w)));
                }
#else
                for (uint e = 0u; e < pc.hd; e += 4u)
                    d += dot(vec4(qs[e], qs[e + 1u], qs[e + 2u], qs[e + 3u]), uintBitsToFloat(kdata4[(ka + 4u * e) >> 4]));
#endif
            } else {
                for (uint e = 0u; e < pc.hd; ++e) d += qs[e] * ldk(ka + KV_BYTES * e);
            }
            s[i] = d * pc.scale + mv;
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
        const uint n_here = min(CH, pc.n_cells - base);
        for (uint c = g; c < n_here; c += 4u) {
            const float p = ps[c];
            if (p == 0.0) continue; // masked (its V may be NaN) or negligible: adds nothing
            const uint va = vbase + (base + c) * pc.v_nb2;
            [[unroll]] for (uint j = 0u; j < COLS; ++j) {
                const uint d = lane + 64u * j;
                if (d < pc.hd) acc[j] += p * ldv(va + KV_BYTES * d);
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
    const uint oa = (pc.o_bias + h * pc.o_nb1 + t * pc.o_nb2) >> 2;
    for (uint d = tid; d < pc.hd; d += WG) {
        const float o = outs[d] + outs[MAX_HD + d] + outs[2u * MAX_HD + d] + outs[3u * MAX_HD + d];
        odata[oa + d] = floatBitsToUint(l > 0.0 ? o / l : 0.0);
    }
}
