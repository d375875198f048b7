// y = W x for up to NCOLS columns per workgroup: one weight row per workgroup, threads stride over
// the row's 16-element groups, f32 accumulation, reduced in shared memory (baseline) or with
// subgroupAdd (USE_SUBGROUP). Weights are read as 32-bit words and dequantized in registers.
#version 450
#extension GL_GOOGLE_include_directive : enable
#ifdef USE_SUBGROUP
#extension GL_KHR_shader_subgroup_arithmetic : enable
#extension GL_KHR_shader_subgroup_basic : enable
#endif

#define WG 64u
#define NCOLS 4u
layout(local_size_x = 64) in;

layout(binding = 0) readonly buffer WB { uint wdata[]; };
layout(binding = 1) readonly buffer XB { uint xdata[]; };
layout(binding = 2) buffer YB { uint ydata[]; };

#include "lib/common.glsl"
#include "lib/quant.glsl"

layout(push_constant) uniform PC {
    uint k;      // elements per weight row
    uint m;      // weight rows in this dispatch
    uint n;      // columns in this dispatch
    uint col0;   // global index of this dispatch's first column (for the column decomposition)
    uint w_bias; // byte address of row 0 in binding 0
    uint w_nb1;  // bytes per weight row
    TENSOR_PC(x);
    TENSOR_PC(y); // y_bias includes this dispatch's first row
} pc;

shared float red[NCOLS][WG];

void main() {
    const uint row = flat_group();
    if (row >= pc.m) return;
    const uint tid = gl_LocalInvocationID.x;
    const uint c0 = gl_WorkGroupID.z * NCOLS;
    const uint nc = min(NCOLS, pc.n - c0);
    uint xa[NCOLS];
    for (uint c = 0u; c < NCOLS; ++c) xa[c] = ROW_ADDR(x, pc.col0 + c0 + min(c, nc - 1u)) >> 2;
    float acc[NCOLS];
    for (uint c = 0u; c < NCOLS; ++c) acc[c] = 0.0;
    const uint wrow = pc.w_bias + row * pc.w_nb1;
#ifdef PLAIN_TYPE
    for (uint i = tid; i < pc.k; i += WG) {
        float w = load_plain(wrow, i);
        for (uint c = 0u; c < NCOLS; ++c) acc[c] += w * uintBitsToFloat(xdata[xa[c] + i]);
    }
#else
    const uint ngroups = (pc.k / BLOCK_ELEMS) * GROUPS;
    float v[16];
    for (uint gi = tid; gi < ngroups; gi += WG) {
        const uint blk = gi / GROUPS, g = gi % GROUPS;
        dequant16(wrow + blk * BLOCK_BYTES, g, v);
        const uint e0 = blk * BLOCK_ELEMS + g * 16u;
        for (uint c = 0u; c < NCOLS; ++c) {
            if (c >= nc) break;
            float s = 0.0;
            for (uint j = 0u; j < 16u; ++j) s += v[j] * uintBitsToFloat(xdata[xa[c] + e0 + j]);
            acc[c] += s;
        }
    }
#endif

#ifdef USE_SUBGROUP
    for (uint c = 0u; c < NCOLS; ++c) acc[c] = subgroupAdd(acc[c]);
    if (subgroupElect())
        for (uint c = 0u; c < NCOLS; ++c) red[c][gl_SubgroupID] = acc[c];
    barrier();
    if (tid == 0u) {
        for (uint c = 0u; c < nc; ++c) {
            float s = 0.0;
            for (uint i = 0u; i < gl_NumSubgroups; ++i) s += red[c][i];
            ydata[(ROW_ADDR(y, pc.col0 + c0 + c) >> 2) + row] = floatBitsToUint(s);
        }
    }
#else
    for (uint c = 0u; c < NCOLS; ++c) red[c][tid] = acc[c];
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s)
            for (uint c = 0u; c < NCOLS; ++c) red[c][tid] += red[c][tid + s];
        barrier();
    }
    if (tid == 0u)
        for (uint c = 0u; c < nc; ++c) ydata[(ROW_ADDR(y, pc.col0 + c0 + c) >> 2) + row] = floatBitsToUint(red[c][0]);
#endif
}
