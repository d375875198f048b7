// y = W x for many columns (prompt processing): each workgroup computes a 64-row x 64-column tile
// of y. Per step of 32 k, weights are dequantized once into shared memory (so a weight is read
// once per 64 columns instead of once per 4) and every thread accumulates a 4x4 block in f32.
// Needs nothing beyond Vulkan 1.1 (the Polaris baseline).
#version 450
#extension GL_GOOGLE_include_directive : enable

#define TM 64u
#define TN 64u
#define TK 32u
layout(local_size_x = 256) in;

layout(binding = 0) readonly buffer WB { uint wdata[]; };
layout(binding = 1) readonly buffer XB { uint xdata[]; };
layout(binding = 2) buffer YB { uint ydata[]; };

#include "lib/common.glsl"
#include "lib/quant.glsl"

layout(push_constant) uniform PC {
    uint k, m, n, col0, w_bias, w_nb1;
    TENSOR_PC(x);
    TENSOR_PC(y);
} pc;

shared float ws[TK * TM]; // [kk][row]
shared float xs[TK * TN]; // [kk][col]

void main() {
    const uint tile = flat_group();
    const uint r0 = tile * TM;
    if (r0 >= pc.m) return;
    const uint c0 = gl_WorkGroupID.z * TN;
    const uint tid = gl_LocalInvocationID.x;
    const uint tr = tid % 16u, tc = tid / 16u;
    float acc[4][4];
    for (uint i = 0u; i < 4u; ++i)
        for (uint j = 0u; j < 4u; ++j) acc[i][j] = 0.0;

    // Each thread loads the x column (tid / 4) of the tile, 8 consecutive k (threads 4 apart).
    const uint lc = tid / 4u, lk = (tid % 4u) * 8u;
    const uint xa = ROW_ADDR(x, pc.col0 + c0 + min(lc, pc.n - c0 - 1u)) >> 2;

    for (uint k0 = 0u; k0 < pc.k; k0 += TK) {
        barrier();
#ifdef PLAIN_TYPE
        for (uint idx = tid; idx < TM * TK; idx += 256u) {
            const uint row = idx / TK, kk = idx % TK;
            const uint e = k0 + kk;
            const uint wr = pc.w_bias + min(r0 + row, pc.m - 1u) * pc.w_nb1;
            ws[kk * TM + row] = e < pc.k ? load_plain(wr, e) : 0.0;
        }
#else
        float v[16];
        for (uint idx = tid; idx < TM * (TK / 16u); idx += 256u) {
            const uint row = idx / (TK / 16u), part = idx % (TK / 16u);
            const uint e = k0 + part * 16u;
            const uint wr = pc.w_bias + min(r0 + row, pc.m - 1u) * pc.w_nb1;
            dequant16(wr + (e / BLOCK_ELEMS) * BLOCK_BYTES, (e % BLOCK_ELEMS) / 16u, v);
            for (uint j = 0u; j < 16u; ++j) ws[(part * 16u + j) * TM + row] = v[j];
        }
#endif
        for (uint j = 0u; j < 8u; ++j) {
            const uint e = k0 + lk + j;
            xs[(lk + j) * TN + lc] = e < pc.k ? uintBitsToFloat(xdata[xa + e]) : 0.0;
        }
        barrier();
        for (uint kk = 0u; kk < TK; ++kk) {
            float a[4], b[4];
            for (uint i = 0u; i < 4u; ++i) a[i] = ws[kk * TM + tr + 16u * i];
            for (uint j = 0u; j < 4u; ++j) b[j] = xs[kk * TN + tc + 16u * j];
            for (uint i = 0u; i < 4u; ++i)
                for (uint j = 0u; j < 4u; ++j) acc[i][j] += a[i] * b[j];
        }
    }
    for (uint j = 0u; j < 4u; ++j) {
        const uint c = c0 + tc + 16u * j;
        if (c >= pc.n) break;
        const uint ya = ROW_ADDR(y, pc.col0 + c) >> 2;
        for (uint i = 0u; i < 4u; ++i) {
            const uint r = r0 + tr + 16u * i;
            if (r < pc.m) ydata[ya + r] = floatBitsToUint(acc[i][j]);
        }
    }
}
