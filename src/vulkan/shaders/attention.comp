// out = softmax(q k^T * scale + mask) v for one (head, token) per workgroup, in chunks of 64 KV
// cells with an online softmax (one pass over K and V). Cells whose mask is -inf are skipped
// entirely: their K/V memory may be uninitialized (NaN) and is never read. KV_F16: f16 cache
// (q.k reads K with 16-byte loads when the rows allow; unpackHalf2x16 is exact for normal values).
#version 450
#extension GL_GOOGLE_include_directive : enable
layout(local_size_x = 64) in;

layout(binding = 0) readonly buffer QB { uint qdata[]; };
layout(binding = 1) readonly buffer KB { uint kdata[]; };
layout(binding = 1) readonly buffer KB4 { uvec4 kdata4[]; }; // the same binding, for 16-byte loads
layout(binding = 2) readonly buffer VB { uint vdata[]; };
layout(binding = 3) readonly buffer MB { uint mdata[]; };
layout(binding = 4) buffer OB { uint odata[]; };

#include "lib/common.glsl"

#define MAX_HD 512u
#define PER_THREAD (MAX_HD / 64u)

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
shared float ps[64];

#ifdef KV_F16
float ldk(uint a) { return f16_bits_to_f32((kdata[a >> 2] >> ((a & 2u) * 8u)) & 0xffffu); }
float ldv(uint a) { return f16_bits_to_f32((vdata[a >> 2] >> ((a & 2u) * 8u)) & 0xffffu); }
#define KV_BYTES 2u
#else
float ldk(uint a) { return uintBitsToFloat(kdata[a >> 2]); }
float ldv(uint a) { return uintBitsToFloat(vdata[a >> 2]); }
#define KV_BYTES 4u
#endif

void main() {
    const uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y, tid = gl_LocalInvocationID.x;
    const uint hk = h / (pc.n_head / pc.n_head_kv);
    const uint qa = (pc.q_bias + h * pc.q_nb1 + t * pc.q_nb2) >> 2;
    for (uint i = tid; i < pc.hd; i += 64u) qs[i] = uintBitsToFloat(qdata[qa + i]);
    const uint ma = (pc.m_bias + t * pc.m_nb1) >> 2;
    const float NEG_INF = uintBitsToFloat(0xff800000u);
    // K rows start 16-byte aligned and hold whole 16-byte groups (uniform): vector loads in q.k.
    const bool k16 = ((pc.k_bias | pc.k_nb1 | pc.k_nb2) & 15u) == 0u && (pc.hd * KV_BYTES) % 16u == 0u;
    float m = NEG_INF, l = 0.0;
    float acc[PER_THREAD];
    for (uint j = 0u; j < PER_THREAD; ++j) acc[j] = 0.0;
    barrier();

    for (uint base = 0u; base < pc.n_cells; base += 64u) {
        const uint c = base + tid;
        float s = NEG_INF;
        if (c < pc.n_cells) {
            const float mv = uintBitsToFloat(mdata[ma + c]);
            if (!(isinf(mv) && mv < 0.0)) {
                const uint ka = pc.k_bias + hk * pc.k_nb1 + c * pc.k_nb2;
                float d = 0.0;
                if (k16) { // 16-byte loads: 8 f16 (or 4 f32) values each
#ifdef KV_F16
                    for (uint i = 0u; i < pc.hd; i += 8u) {
                        const uvec4 w = kdata4[(ka + 2u * i) >> 4];
                        d += dot(vec4(qs[i], qs[i + 1u], qs[i + 2u], qs[i + 3u]), vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y))) +
                             dot(vec4(qs[i + 4u], qs[i + 5u], qs[i + 6u], qs[i + 7u]), vec4(unpackHalf2x16(w.z), unpackHalf2x16(w.w)));
                    }
#else
                    for (uint i = 0u; i < pc.hd; i += 4u)
                        d += dot(vec4(qs[i], qs[i + 1u], qs[i + 2u], qs[i + 3u]), uintBitsToFloat(kdata4[(ka + 4u * i) >> 4]));
#endif
                } else {
                    for (uint i = 0u; i < pc.hd; ++i) d += qs[i] * ldk(ka + KV_BYTES * i);
                }
                s = d * pc.scale + mv;
            }
        }
        ps[tid] = s;
        barrier();
        float cmax = NEG_INF;
        for (uint i = 0u; i < 64u; ++i) cmax = max(cmax, ps[i]);
        const float mnew = max(m, cmax);
        if (!(isinf(mnew) && mnew < 0.0)) { // uniform: every thread saw the same scores
            const float corr = exp(m - mnew); // 0 while m is still -inf
            barrier();
            ps[tid] = (isinf(s) && s < 0.0) ? -1.0 : exp(s - mnew); // -1 marks a skipped cell
            barrier();
            float psum = 0.0;
            for (uint i = 0u; i < 64u; ++i) psum += max(ps[i], 0.0);
            l = l * corr + psum;
            for (uint j = 0u; j < PER_THREAD; ++j) {
                const uint d = tid + 64u * j;
                if (d >= pc.hd) break;
                float a = acc[j] * corr;
                for (uint i = 0u; i < 64u; ++i) {
                    const float p = ps[i];
                    if (p < 0.0) continue;
                    a += p * ldv(pc.v_bias + hk * pc.v_nb1 + (base + i) * pc.v_nb2 + KV_BYTES * d);
                }
                acc[j] = a;
            }
            m = mnew;
        }
        barrier();
    }
    const uint oa = (pc.o_bias + h * pc.o_nb1 + t * pc.o_nb2) >> 2;
    for (uint j = 0u; j < PER_THREAD; ++j) {
        const uint d = tid + 64u * j;
        if (d >= pc.hd) break;
        odata[oa + d] = floatBitsToUint(l > 0.0 ? acc[j] / l : 0.0);
    }
}
