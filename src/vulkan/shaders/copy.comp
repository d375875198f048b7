// dst = src converted: any dequantizable src type to f32 (DST_F32), f16 (DST_F16) or bf16 (DST_BF16).
// Half-word stores merge into their 32-bit word with atomics, so rows at any 2-byte alignment work.
#version 450
#extension GL_GOOGLE_include_directive : enable
layout(local_size_x = 64) in;

layout(binding = 0) readonly buffer WB { uint wdata[]; };
layout(binding = 1) buffer DB { uint ddata[]; };

#include "lib/common.glsl"
#include "lib/quant.glsl"

layout(push_constant) uniform PC {
    uint ne0;
    uint nrows;
    uint row0;
    uint pad;
    TENSOR_PC(s);
    TENSOR_PC(d);
} pc;

void store(uint rowaddr, uint i, float f) {
#if defined(DST_F32)
    ddata[(rowaddr >> 2) + i] = floatBitsToUint(f);
#else
#if defined(DST_F16)
    uint h = f32_to_f16_bits(f);
#else
    uint h = f32_to_bf16_bits(f);
#endif
    uint a = rowaddr + 2u * i;
    uint sh = (a & 2u) * 8u;
    atomicAnd(ddata[a >> 2], ~(0xffffu << sh));
    atomicOr(ddata[a >> 2], h << sh);
#endif
}

void main() {
    const uint r = flat_group();
    if (r >= pc.nrows) return;
    const uint src = ROW_ADDR(s, pc.row0 + r);
    const uint dst = ROW_ADDR(d, pc.row0 + r);
#ifdef PLAIN_TYPE
    for (uint i = gl_LocalInvocationID.x; i < pc.ne0; i += 64u) store(dst, i, load_plain(src, i));
#else
    float v[16];
    const uint ngroups = (pc.ne0 / BLOCK_ELEMS) * GROUPS;
    for (uint gi = gl_LocalInvocationID.x; gi < ngroups; gi += 64u) {
        const uint blk = gi / GROUPS, g = gi % GROUPS;
        dequant16(src + blk * BLOCK_BYTES, g, v);
        const uint e0 = blk * BLOCK_ELEMS + g * 16u;
        for (uint e = 0u; e < 16u; ++e) store(dst, e0 + e, v[e]);
    }
#endif
}
