// y = softmax(x * scale + mask) per row; rows that are all -inf give zeros. One workgroup per row.
#version 450
#extension GL_GOOGLE_include_directive : enable
layout(local_size_x = 64) in;

layout(binding = 0) readonly buffer XB { uint xdata[]; };
layout(binding = 1) readonly buffer MB { uint mdata[]; };
layout(binding = 2) buffer YB { uint ydata[]; };

#include "lib/common.glsl"

layout(push_constant) uniform PC {
    uint n;
    uint nrows;
    uint row0;
    uint has_mask;
    float scale;
    uint mask_rows;
    TENSOR_PC(x);
    TENSOR_PC(y);
    TENSOR_PC(m);
} pc;

shared float red[64];

float value(uint xa, uint ma, uint i) {
    float v = uintBitsToFloat(xdata[xa + i]) * pc.scale;
    if (pc.has_mask != 0u) v += uintBitsToFloat(mdata[ma + i]);
    return v;
}

void main() {
    const uint r = flat_group();
    if (r >= pc.nrows) return;
    const uint tid = gl_LocalInvocationID.x;
    const uint xa = ROW_ADDR(x, pc.row0 + r) >> 2, ya = ROW_ADDR(y, pc.row0 + r) >> 2;
    const uint ma = pc.has_mask != 0u ? ROW_ADDR(m, (pc.row0 + r) % pc.mask_rows) >> 2 : 0u;
    float mx = uintBitsToFloat(0xff800000u);
    for (uint i = tid; i < pc.n; i += 64u) mx = max(mx, value(xa, ma, i));
    red[tid] = mx;
    barrier();
    for (uint s = 32u; s > 0u; s >>= 1) {
        if (tid < s) red[tid] = max(red[tid], red[tid + s]);
        barrier();
    }
    mx = red[0];
    barrier();
    if (isinf(mx) && mx < 0.0) {
        for (uint i = tid; i < pc.n; i += 64u) ydata[ya + i] = 0u;
        return;
    }
    float sum = 0.0;
    for (uint i = tid; i < pc.n; i += 64u) sum += exp(value(xa, ma, i) - mx);
    red[tid] = sum;
    barrier();
    for (uint s = 32u; s > 0u; s >>= 1) {
        if (tid < s) red[tid] += red[tid + s];
        barrier();
    }
    const float inv = 1.0 / red[0];
    for (uint i = tid; i < pc.n; i += 64u) ydata[ya + i] = floatBitsToUint(exp(value(xa, ma, i) - mx) * inv);
}
