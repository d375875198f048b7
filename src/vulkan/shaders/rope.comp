// Rotary embedding with a host-computed table of (cos, sin) * attn_factor per (token, pair), so
// the angles are exact (double on the host) without fp64 on the device. One workgroup per
// (head, token) row; y may alias x. STORE (rope_set_rows: k into the KV cache): y is the cache, a
// token's heads go to its row ids[token] (f32, or f16 with DST_F16), so the rope and the cache
// write are one step.
#version 450
#extension GL_GOOGLE_include_directive : enable
layout(local_size_x = 64) in;

layout(binding = 0) readonly buffer XB { uint xdata[]; };
layout(binding = 1) readonly buffer CB { float cs[]; };
#ifdef STORE
layout(binding = 2) readonly buffer IB { int ids[]; };
layout(binding = 3) buffer YB { uint ydata[]; };
#else
layout(binding = 2) buffer YB { uint ydata[]; };
#endif

#include "lib/common.glsl"

layout(push_constant) uniform PC {
    uint head_dim;
    uint n_rot;
    uint n_heads;
    uint neox;
    uint nrows;
    uint row0;
    uint cs_off; // index of the table's first float in binding 1
    uint ids_off; // STORE: index of the first id in binding 2
    TENSOR_PC(x);
    TENSOR_PC(y);
} pc;

#ifdef STORE
// Element e of row (head, token t) after the rotation; x at word address xa.
float rotated(uint xa, uint t, uint e) {
    const uint half_rot = pc.n_rot / 2u;
    if (e >= pc.n_rot) return uintBitsToFloat(xdata[xa + e]);
    const uint i = pc.neox != 0u ? e % half_rot : e / 2u;
    const bool second = pc.neox != 0u ? e >= half_rot : (e & 1u) != 0u;
    const uint e0 = pc.neox != 0u ? i : 2u * i, e1 = pc.neox != 0u ? i + half_rot : 2u * i + 1u;
    const float c = cs[pc.cs_off + 2u * (t * half_rot + i)], s = cs[pc.cs_off + 2u * (t * half_rot + i) + 1u];
    const float x0 = uintBitsToFloat(xdata[xa + e0]), x1 = uintBitsToFloat(xdata[xa + e1]);
    return second ? x0 * s + x1 * c : x0 * c - x1 * s;
}

void main() {
    const uint r = flat_group();
    if (r >= pc.nrows) return;
    const uint gr = pc.row0 + r;
    const uint t = gr / pc.n_heads, hh = gr % pc.n_heads;
    const uint xa = ROW_ADDR(x, gr) >> 2;
#ifdef DST_F16
    // head_dim even (the host checks): the head starts 4-byte aligned, whole words
    const uint da = (ROW_ADDR(y, uint(ids[pc.ids_off + t])) + hh * pc.head_dim * 2u) >> 2;
    for (uint p = gl_LocalInvocationID.x; p < pc.head_dim / 2u; p += 64u)
        ydata[da + p] = f32_to_f16_bits(rotated(xa, t, 2u * p)) | (f32_to_f16_bits(rotated(xa, t, 2u * p + 1u)) << 16);
#else
    const uint da = (ROW_ADDR(y, uint(ids[pc.ids_off + t])) >> 2) + hh * pc.head_dim;
    for (uint e = gl_LocalInvocationID.x; e < pc.head_dim; e += 64u) ydata[da + e] = floatBitsToUint(rotated(xa, t, e));
#endif
}
#else
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
#endif
