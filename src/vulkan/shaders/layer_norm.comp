// y = (x - mean) / sqrt(var + eps) (* w) (+ b), var biased, one 256-thread workgroup per row (the
// layout of rms_norm.comp). Each thread keeps up to CACHE elements of the row in registers (rows up
// to CACHE*WG = 4096 are read once), so mean and variance are two exact passes over registers
// (sum of (x - mean)^2, not E[x^2] - mean^2: no cancellation). Reductions by subgroupAdd + shared
// memory (USE_SUBGROUP) or a shared-memory tree (baseline). y may alias x.
#version 450
#extension GL_GOOGLE_include_directive : enable
#ifdef USE_SUBGROUP
#extension GL_KHR_shader_subgroup_arithmetic : enable
#extension GL_KHR_shader_subgroup_basic : enable
#endif
#define WG 256u
#define CACHE 16u
layout(local_size_x = 256) in;

layout(binding = 0) readonly buffer XB { uint xdata[]; };
layout(binding = 1) readonly buffer WB { uint wdata[]; };
layout(binding = 2) readonly buffer BB { uint bdata[]; };
layout(binding = 3) buffer YB { uint ydata[]; };

#include "lib/common.glsl"

layout(push_constant) uniform PC {
    uint n;
    uint nrows;
    uint row0;
    uint flags; // 1: w, 2: b
    float eps;
    uint w_bias;
    uint b_bias;
    uint pad;
    TENSOR_PC(x);
    TENSOR_PC(y);
} pc;

shared float red[WG];

// The sum of v over the workgroup; every thread gets it. Ends with a barrier so red can be reused.
float wg_sum(float v) {
    const uint tid = gl_LocalInvocationID.x;
#ifdef USE_SUBGROUP
    v = subgroupAdd(v);
    if (subgroupElect()) red[gl_SubgroupID] = v;
    barrier();
    float tot = 0.0;
    for (uint i = 0u; i < gl_NumSubgroups; ++i) tot += red[i];
#else
    red[tid] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s) red[tid] += red[tid + s];
        barrier();
    }
    const float tot = red[0];
#endif
    barrier();
    return tot;
}

void main() {
    const uint r = flat_group();
    if (r >= pc.nrows) return;
    const uint tid = gl_LocalInvocationID.x;
    const uint xa = ROW_ADDR(x, pc.row0 + r) >> 2, ya = ROW_ADDR(y, pc.row0 + r) >> 2;
    float v[CACHE];
    float s = 0.0;
    for (uint j = 0u; j < CACHE; ++j) {
        const uint i = tid + j * WG;
        v[j] = i < pc.n ? uintBitsToFloat(xdata[xa + min(i, pc.n - 1u)]) : 0.0;
        s += v[j];
    }
    for (uint i = tid + CACHE * WG; i < pc.n; i += WG) s += uintBitsToFloat(xdata[xa + i]);
    const float mean = wg_sum(s) / float(pc.n);
    float ss = 0.0;
    for (uint j = 0u; j < CACHE; ++j) {
        const float d = tid + j * WG < pc.n ? v[j] - mean : 0.0;
        ss += d * d;
    }
    for (uint i = tid + CACHE * WG; i < pc.n; i += WG) {
        const float d = uintBitsToFloat(xdata[xa + i]) - mean;
        ss += d * d;
    }
    const float inv = 1.0 / sqrt(wg_sum(ss) / float(pc.n) + pc.eps);
    const uint wa = pc.w_bias >> 2, ba = pc.b_bias >> 2;
    const bool hw = (pc.flags & 1u) != 0u, hb = (pc.flags & 2u) != 0u;
    for (uint j = 0u; j < CACHE; ++j) {
        const uint i = tid + j * WG;
        if (i >= pc.n) break;
        float t = (v[j] - mean) * inv;
        if (hw) t *= uintBitsToFloat(wdata[wa + i]);
        if (hb) t += uintBitsToFloat(bdata[ba + i]);
        ydata[ya + i] = floatBitsToUint(t);
    }
    // Rows past the register cache are read again (x is not written before this point: y may alias
    // x only element by element, and each element is read and written by the same thread).
    for (uint i = tid + CACHE * WG; i < pc.n; i += WG) {
        float t = (uintBitsToFloat(xdata[xa + i]) - mean) * inv;
        if (hw) t *= uintBitsToFloat(wdata[wa + i]);
        if (hb) t += uintBitsToFloat(bdata[ba + i]);
        ydata[ya + i] = floatBitsToUint(t);
    }
}
