// out[j] = dequantized table row ids[j], one workgroup per output row.
#version 450
#extension GL_GOOGLE_include_directive : enable
layout(local_size_x = 64) in;

layout(binding = 0) readonly buffer WB { uint wdata[]; };
layout(binding = 1) readonly buffer IB { int ids[]; };
layout(binding = 2) writeonly buffer OB { uint odata[]; };

#include "lib/common.glsl"
#include "lib/quant.glsl"

layout(push_constant) uniform PC {
    uint ne0;
    uint n;       // output rows in this dispatch
    uint ids_off; // index of this dispatch's first id in binding 1
    uint out_row0;
    TENSOR_PC(t);
    TENSOR_PC(o);
} pc;

void main() {
    const uint j = flat_group();
    if (j >= pc.n) return;
    const uint src = ROW_ADDR(t, uint(ids[pc.ids_off + j]));
    const uint dst = ROW_ADDR(o, pc.out_row0 + j) >> 2;
#ifdef PLAIN_TYPE
    for (uint i = gl_LocalInvocationID.x; i < pc.ne0; i += 64u) odata[dst + i] = floatBitsToUint(load_plain(src, i));
#else
    float v[16];
    const uint ngroups = (pc.ne0 / BLOCK_ELEMS) * GROUPS;
    for (uint gi = gl_LocalInvocationID.x; gi < ngroups; gi += 64u) {
        const uint blk = gi / GROUPS, g = gi % GROUPS;
        dequant16(src + blk * BLOCK_BYTES, g, v);
        const uint e0 = blk * BLOCK_ELEMS + g * 16u;
        for (uint e = 0u; e < 16u; ++e) odata[dst + e0 + e] = floatBitsToUint(v[e]);
    }
#endif
}
