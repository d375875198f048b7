// y = a (+|*) b over f32 rows, b broadcast: row r uses b row r % b_rows. OP_ADD, OP_MUL, or
// OP_SWIGLU: y = silu(a) * b (the same silu as unary.comp).
#version 450
#extension GL_GOOGLE_include_directive : enable
layout(local_size_x = 64) in;

layout(binding = 0) readonly buffer AB { uint adata[]; };
layout(binding = 1) readonly buffer BB { uint bdata[]; };
layout(binding = 2) buffer YB { uint ydata[]; };

#include "lib/common.glsl"

layout(push_constant) uniform PC {
    uint ne0;
    uint nrows;
    uint row0;
    uint b_rows;
    TENSOR_PC(a);
    TENSOR_PC(b);
    TENSOR_PC(y);
} pc;

void main() {
    const uint idx = flat_group() * 64u + gl_LocalInvocationID.x;
    if (idx >= pc.ne0 * pc.nrows) return;
    const uint r = pc.row0 + idx / pc.ne0, i = idx % pc.ne0;
    const float av = uintBitsToFloat(adata[(ROW_ADDR(a, r) >> 2) + i]);
    const float bv = uintBitsToFloat(bdata[(ROW_ADDR(b, r % pc.b_rows) >> 2) + i]);
#if defined(OP_ADD)
    const float o = av + bv;
#elif defined(OP_SWIGLU)
    const float o = av / (1.0 + exp(-av)) * bv;
#else
    const float o = av * bv;
#endif
    ydata[(ROW_ADDR(y, r) >> 2) + i] = floatBitsToUint(o);
}
