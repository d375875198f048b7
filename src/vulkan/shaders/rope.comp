// Rotary embedding with a host-computed table of (cos, sin) * attn_factor per (token, pair), so
// the angles are exact (double on the host) without fp64 on the device. One workgroup per
// (head, token) row; y may alias x.
#version 450
#extension GL_GOOGLE_include_directive : enable
layout(local_size_x = 64) in;

layout(binding = 0) readonly buffer XB { uint xdata[]; };
layout(binding = 1) readonly buffer CB { float cs[]; };
layout(binding = 2) buffer YB { uint ydata[]; };

#include "lib/common.glsl"

layout(push_constant) uniform PC {
    uint head_dim;
    uint n_rot;
    uint n_heads;
    uint neox;
    uint nrows;
    uint row0;
    uint cs_off; // index of the table's first float in binding 1
    uint pad;
    TENSOR_PC(x);
    TENSOR_PC(y);
} pc;

void main() {
    const uint r = flat_group();
    if (r >= pc.nrows) return;
    const uint gr = pc.row0 + r;
    const uint t = gr / pc.n_heads;
    const uint xa = ROW_ADDR(x, gr) >> 2, ya = ROW_ADDR(y, gr) >> 2;
    const uint half_rot = pc.n_rot / 2u;
    for (uint i = gl_LocalInvocationID.x; i < half_rot; i += 64u) {
        const uint i0 = pc.neox != 0u ? i : 2u * i;
        const uint i1 = pc.neox != 0u ? i + half_rot : 2u * i + 1u;
        const float c = cs[pc.cs_off + 2u * (t * half_rot + i)], s = cs[pc.cs_off + 2u * (t * half_rot + i) + 1u];
        const float x0 = uintBitsToFloat(xdata[xa + i0]), x1 = uintBitsToFloat(xdata[xa + i1]);
        ydata[ya + i0] = floatBitsToUint(x0 * c - x1 * s);
        ydata[ya + i1] = floatBitsToUint(x0 * s + x1 * c);
    }
    for (uint d = pc.n_rot + gl_LocalInvocationID.x; d < pc.head_dim; d += 64u) ydata[ya + d] = xdata[xa + d];
}
