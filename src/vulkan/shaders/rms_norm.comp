// y = x / sqrt(mean(x^2) + eps) (* w), one workgroup per row, shared-memory reduction.
#version 450
#extension GL_GOOGLE_include_directive : enable
layout(local_size_x = 64) in;

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

shared float red[64];

void main() {
    const uint r = flat_group();
    if (r >= pc.nrows) return;
    const uint tid = gl_LocalInvocationID.x;
    const uint xa = ROW_ADDR(x, pc.row0 + r) >> 2, ya = ROW_ADDR(y, pc.row0 + r) >> 2;
    float ss = 0.0;
    for (uint i = tid; i < pc.n; i += 64u) {
        float v = uintBitsToFloat(xdata[xa + i]);
        ss += v * v;
    }
    red[tid] = ss;
    barrier();
    for (uint s = 32u; s > 0u; s >>= 1) {
        if (tid < s) red[tid] += red[tid + s];
        barrier();
    }
    const float inv = 1.0 / sqrt(red[0] / float(pc.n) + pc.eps);
    const uint wa = pc.w_bias >> 2;
    for (uint i = tid; i < pc.n; i += 64u) {
        float v = uintBitsToFloat(xdata[xa + i]) * inv;
        if (pc.has_w != 0u) v *= uintBitsToFloat(wdata[wa + i]);
        ydata[ya + i] = floatBitsToUint(v);
    }
}
