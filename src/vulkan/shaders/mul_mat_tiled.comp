// y = W x for many columns (prompt processing) in f32 on any Vulkan 1.1 device (the Polaris
// baseline): each 256-thread workgroup computes a TM-row x TN-column tile of y. Per step of TK k,
// threads 0..127 dequantize the weights (128 groups of 16: every weight read once per tile) and
// threads 128..255 load x, both into shared memory transposed to [kk][row] / [kk][col]; then every
// thread accumulates an RM x RN block in registers from vec4 reads of the two tiles.
//   default: 64 x 64 tiles, TK 32, 4 x 4 per thread (few columns, small devices)
//   TILE_L:  128 x 128 tiles, TK 16, 8 x 8 per thread (twice the FMAs per shared-memory read)
// Both use 16 KiB of shared memory (the spec's minimum).
#version 450
#extension GL_GOOGLE_include_directive : enable

#ifdef TILE_L
#define TM 128u
#define TN 128u
#define TK 16u
#else
#define TM 64u
#define TN 64u
#define TK 32u
#endif
#define RM (TM / 16u) // rows per thread: RM / 4 vec4 groups, 64 rows apart
#define RN (TN / 16u)
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

shared vec4 ws[TK * TM / 4u]; // [kk][row / 4]
shared vec4 xs[TK * TN / 4u]; // [kk][col / 4]

void main() {
    const uint r0 = flat_group() * TM;
    if (r0 >= pc.m) return;
    const uint c0 = gl_WorkGroupID.z * TN;
    const uint tid = gl_LocalInvocationID.x;
    const uint tr = tid % 16u, tc = tid / 16u;
    vec4 acc[RM / 4u][RN];
    for (uint g = 0u; g < RM / 4u; ++g)
        for (uint j = 0u; j < RN; ++j) acc[g][j] = vec4(0.0);

    // Loader roles: 128 weight groups of 16 k (row, part) and 128 x runs of 16 k (col, part).
    const bool wload = tid < 128u;
    const uint li = wload ? tid : tid - 128u;
    const uint lrow = li % TM, lpart = li / TM;
    const uint wr = pc.w_bias + min(r0 + lrow, pc.m - 1u) * pc.w_nb1;
    const uint lcol = li % TN, xpart = li / TN;
    const uint xa = ROW_ADDR(x, pc.col0 + c0 + min(lcol, pc.n - c0 - 1u)) >> 2;

    for (uint k0 = 0u; k0 < pc.k; k0 += TK) {
        barrier();
        if (wload) {
            const uint e = k0 + lpart * 16u;
#ifdef PLAIN_TYPE
            for (uint j = 0u; j < 16u; ++j) ws[((lpart * 16u + j) * TM + lrow) / 4u][lrow % 4u] = e + j < pc.k ? load_plain(wr, e + j) : 0.0;
#else
            float v[16];
            dequant16(wr + (e / BLOCK_ELEMS) * BLOCK_BYTES, (e % BLOCK_ELEMS) / 16u, v);
            for (uint j = 0u; j < 16u; ++j) ws[((lpart * 16u + j) * TM + lrow) / 4u][lrow % 4u] = v[j];
#endif
        } else {
            const uint e = k0 + xpart * 16u;
            for (uint j = 0u; j < 16u; ++j)
                xs[((xpart * 16u + j) * TN + lcol) / 4u][lcol % 4u] = e + j < pc.k ? uintBitsToFloat(xdata[xa + e + j]) : 0.0;
        }
        barrier();
        for (uint kk = 0u; kk < TK; ++kk) {
            vec4 a[RM / 4u], b[RN / 4u];
            for (uint g = 0u; g < RM / 4u; ++g) a[g] = ws[(kk * TM) / 4u + g * 16u + tr];
            for (uint g = 0u; g < RN / 4u; ++g) b[g] = xs[(kk * TN) / 4u + g * 16u + tc];
            for (uint g = 0u; g < RM / 4u; ++g)
                for (uint j = 0u; j < RN; ++j) acc[g][j] += a[g] * b[j / 4u][j % 4u];
        }
    }
    // acc[g][j] holds rows g*64 + tr*4 + (0..3) of column (j / 4) * 64 + tc * 4 + j % 4.
    for (uint j = 0u; j < RN; ++j) {
        const uint c = c0 + (j / 4u) * 64u + tc * 4u + j % 4u;
        if (c >= pc.n) continue;
        const uint ya = ROW_ADDR(y, pc.col0 + c) >> 2;
        for (uint g = 0u; g < RM / 4u; ++g)
            for (uint i = 0u; i < 4u; ++i) {
                const uint r = r0 + g * 64u + tr * 4u + i;
                if (r < pc.m) ydata[ya + r] = floatBitsToUint(acc[g][j][i]);
            }
    }
}
