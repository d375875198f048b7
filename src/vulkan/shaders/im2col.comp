// Columns of a 1-D convolution (ops/ref.h im2col): x (c, t) f32, channels innermost; out (k*c, t_out)
// with out[j][ci*k + kk] = x[j*stride + kk - pad][ci], 0 outside [0, t). One thread per output
// element of rows row0 .. row0 + nrows - 1 (the recorder splits long tensors by output rows and
// binds the x rows those need; addresses use absolute row numbers, the bias absorbs the window).
#version 450
#extension GL_GOOGLE_include_directive : enable
layout(local_size_x = 64) in;

layout(binding = 0) readonly buffer XB { uint xdata[]; };
layout(binding = 1) writeonly buffer OB { uint odata[]; };

#include "lib/common.glsl"

layout(push_constant) uniform PC {
    uint c;      // channels
    uint k;      // kernel width
    uint stride;
    uint pad;
    uint t;      // x rows (time steps)
    uint nrows;  // output rows in this dispatch
    uint row0;   // first output row
    uint x_nb1;  // x row stride in bytes
    uint x_bias;
    TENSOR_PC(o);
} pc;

void main() {
    const uint ck = pc.c * pc.k;
    const uint idx = flat_group() * 64u + gl_LocalInvocationID.x;
    if (idx >= ck * pc.nrows) return;
    const uint j = pc.row0 + idx / ck, e = idx % ck;
    const uint ci = e / pc.k, kk = e % pc.k;
    const int src = int(j * pc.stride + kk) - int(pc.pad);
    float v = 0.0;
    if (src >= 0 && uint(src) < pc.t) v = uintBitsToFloat(xdata[((uint(src) * pc.x_nb1 + pc.x_bias) >> 2) + ci]);
    odata[(ROW_ADDR(o, j) >> 2) + e] = floatBitsToUint(v);
}
