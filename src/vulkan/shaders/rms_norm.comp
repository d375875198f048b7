// y = x / sqrt(mean(x^2) + eps) (* w), one 256-thread workgroup per row. Each thread loads up to
// CACHE elements of the row (coalesced: element tid + j*WG) with independent loads, keeps them in
// registers for the scaling pass (rows up to CACHE*WG = 4096 elements are read once), and the sum
// of squares is reduced with subgroupAdd + shared memory (USE_SUBGROUP) or a shared-memory tree.
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
layout(binding = 2) buffer YB { uint ydata[]; };

#include "lib/common.glsl"

layout(push_constant) uniform PC {
    uint n;
    uint nrows;
    uint row0;
    uint has_w;
    float eps;
    uint w_bias;
    TENSOR_PC(x);
    TENSOR_PC(y);
} pc;

shared float red[WG];

void main() {
    const uint r = flat_group();
    if (r >= pc.nrows) return;
    const uint tid = gl_LocalInvocationID.x;
    const uint xa = ROW_ADDR(x, pc.row0 + r) >> 2, ya = ROW_ADDR(y, pc.row0 + r) >> 2;
    float v[CACHE];
    float ss = 0.0;
    for (uint j = 0u; j < CACHE; ++j) {
        const uint i = tid + j * WG;
        v[j] = i < pc.n ? uintBitsToFloat(xdata[xa + min(i, pc.n - 1u)]) : 0.0;
        ss += v[j] * v[j];
    }
    for (uint i = tid + CACHE * WG; i < pc.n; i += WG) {
        const float t = uintBitsToFloat(xdata[xa + i]);
        ss += t * t;
    }
#ifdef USE_SUBGROUP
    ss = subgroupAdd(ss);
    if (subgroupElect()) red[gl_SubgroupID] = ss;
    barrier();
    float tot = 0.0;
    for (uint i = 0u; i < gl_NumSubgroups; ++i) tot += red[i];
#else
    red[tid] = ss;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s) red[tid] += red[tid + s];
        barrier();
    }
    const float tot = red[0];
#endif
    const float inv = 1.0 / sqrt(tot / float(pc.n) + pc.eps);
    const uint wa = pc.w_bias >> 2;
    const bool hw = pc.has_w != 0u;
    for (uint j = 0u; j < CACHE; ++j) {
        const uint i = tid + j * WG;
        if (i < pc.n) ydata[ya + i] = floatBitsToUint(v[j] * inv * (hw ? uintBitsToFloat(wdata[wa + i]) : 1.0));
    }
    for (uint i = tid + CACHE * WG; i < pc.n; i += WG) {
        float t = uintBitsToFloat(xdata[xa + i]) * inv;
        if (hw) t *= uintBitsToFloat(wdata[wa + i]);
        ydata[ya + i] = floatBitsToUint(t);
    }
}
