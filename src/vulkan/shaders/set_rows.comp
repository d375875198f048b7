// dst row ids[r] = src row r (f32 -> f32, or f32 -> f16 with DST_F16), one workgroup per row.
#version 450
#extension GL_GOOGLE_include_directive : enable
layout(local_size_x = 64) in;

layout(binding = 0) readonly buffer SB { uint sdata[]; };
layout(binding = 1) readonly buffer IB { int ids[]; };
layout(binding = 2) buffer DB { uint ddata[]; };

#include "lib/common.glsl"

layout(push_constant) uniform PC {
    uint ne0;
    uint nrows;
    uint ids_off;
    uint row0;
    TENSOR_PC(s);
    TENSOR_PC(d);
} pc;

void main() {
    const uint r = flat_group();
    if (r >= pc.nrows) return;
    const uint src = ROW_ADDR(s, pc.row0 + r) >> 2;
    const uint dst = ROW_ADDR(d, uint(ids[pc.ids_off + r]));
    const uint tid = gl_LocalInvocationID.x;
#ifdef DST_F16
    if ((dst & 3u) == 0u && (pc.ne0 & 1u) == 0u) { // whole words: two halves per store
        for (uint p = tid; p < pc.ne0 / 2u; p += 64u) {
            uint lo = f32_to_f16_bits(uintBitsToFloat(sdata[src + 2u * p]));
            uint hi = f32_to_f16_bits(uintBitsToFloat(sdata[src + 2u * p + 1u]));
            ddata[(dst >> 2) + p] = lo | (hi << 16);
        }
    } else {
        for (uint i = tid; i < pc.ne0; i += 64u) {
            uint a = dst + 2u * i;
            uint sh = (a & 2u) * 8u;
            atomicAnd(ddata[a >> 2], ~(0xffffu << sh));
            atomicOr(ddata[a >> 2], f32_to_f16_bits(uintBitsToFloat(sdata[src + i])) << sh);
        }
    }
#else
    for (uint i = tid; i < pc.ne0; i += 64u) ddata[(dst >> 2) + i] = sdata[src + i];
#endif
}
