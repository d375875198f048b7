// Elementwise y = f(x) over f32 rows: OP_SILU, OP_GELU (tanh approximation) or OP_GELU_ERF (exact
// gelu, whisper). y may alias x.
#version 450
#extension GL_GOOGLE_include_directive : enable
layout(local_size_x = 64) in;

layout(binding = 0) readonly buffer XB { uint xdata[]; };
layout(binding = 1) buffer YB { uint ydata[]; };

#include "lib/common.glsl"

layout(push_constant) uniform PC {
    uint ne0;
    uint nrows;
    uint row0;
    uint pad;
    TENSOR_PC(x);
    TENSOR_PC(y);
} pc;

void main() {
    const uint idx = flat_group() * 64u + gl_LocalInvocationID.x;
    if (idx >= pc.ne0 * pc.nrows) return;
    const uint r = pc.row0 + idx / pc.ne0, i = idx % pc.ne0;
    const float v = uintBitsToFloat(xdata[(ROW_ADDR(x, r) >> 2) + i]);
#if defined(OP_SILU)
    const float o = v / (1.0 + exp(-v));
#elif defined(OP_GELU_ERF)
    const float o = gelu_erf(v); // lib/common.glsl
#else
    // 0.5 v (1 + tanh(k (v + 0.044715 v^3))), tanh written via exp so large |u| saturates cleanly.
    const float u = 0.7978845608028654 * (v + 0.044715 * v * v * v);
    const float t = 1.0 - 2.0 / (exp(2.0 * u) + 1.0);
    const float o = 0.5 * v * (1.0 + t);
#endif
    ydata[(ROW_ADDR(y, r) >> 2) + i] = floatBitsToUint(o);
}
