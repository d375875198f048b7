// y = W x for many columns on tensor cores (VK_NV_cooperative_matrix, fast path only): each
// 256-thread workgroup computes a 128-row x 128-column tile of y. Per step of BK k, the weights
// are dequantized once into shared memory as f16 (rows x k) and x is converted to f16 (columns x k);
// each of the 8 subgroups (32 lanes) multiplies a 32 x 64 part with 16x16 (A) by 16x8 (B) f16
// fragments into f32 accumulators. Results go through a small per-subgroup scratch so partial
// tiles and any y stride are stored with bounds checks.
// Needs: shaderFloat16, VK_NV_cooperative_matrix with the 16x8x16 f16 -> f32 subgroup shape,
// subgroup size 32 (the host checks all three before creating these pipelines).
#version 450
#extension GL_GOOGLE_include_directive : enable
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require

#define BM 128u
#define BN 128u
#ifndef BK
#define BK 32u // 64 also works (41 KiB of shared memory) but measured no faster
#endif
#define LDS (BK + 8u) // f16 elements per row of the shared tiles: + 8 spreads rows over the banks
layout(local_size_x = 256) in;

layout(binding = 0) readonly buffer WB { uint wdata[]; };
layout(binding = 1) readonly buffer XB { uint xdata[]; };
layout(binding = 1) readonly buffer XB4 { vec4 xdata4[]; }; // the same binding, for 16-byte loads
layout(binding = 2) buffer YB { float ydata[]; };

#include "lib/common.glsl"
#include "lib/quant.glsl"

layout(push_constant) uniform PC {
    uint k, m, n, col0, w_bias, w_nb1;
    TENSOR_PC(x);
    TENSOR_PC(y);
} pc;

#ifdef PACKED
// The tiles as 8 halves per uvec4: a thread stores its 16 values in two 16-byte stores (instead of
// 16 two-byte ones); the fragment loads then count elements and strides in uvec4 units.
shared uvec4 As[BM * LDS / 8u]; // [row][kk / 8]
shared uvec4 Bs[BN * LDS / 8u]; // [col][kk / 8]
#define TILE_OFF(e) ((e) / 8u)
uvec4 pack8(float a, float b, float c, float d, float e, float f, float g, float h) {
    return uvec4(packHalf2x16(vec2(a, b)), packHalf2x16(vec2(c, d)), packHalf2x16(vec2(e, f)), packHalf2x16(vec2(g, h)));
}
void store16(bool is_a, uint at, float v[16]) { // at: f16 index, a multiple of 16
    const uvec4 p0 = pack8(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
    const uvec4 p1 = pack8(v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]);
    if (is_a) {
        As[at / 8u] = p0;
        As[at / 8u + 1u] = p1;
    } else {
        Bs[at / 8u] = p0;
        Bs[at / 8u + 1u] = p1;
    }
}
#else
shared float16_t As[BM * LDS]; // [row][kk]
shared float16_t Bs[BN * LDS]; // [col][kk]
#define TILE_OFF(e) (e)
void store16(bool is_a, uint at, float v[16]) {
    for (uint j = 0u; j < 16u; ++j) {
        if (is_a) As[at + j] = float16_t(v[j]);
        else Bs[at + j] = float16_t(v[j]);
    }
}
#endif
shared float Cs[8u * 128u];    // per subgroup: one 16x8 f32 fragment, column-major

#define FragA fcoopmatNV<16, gl_ScopeSubgroup, 16, 16>
#define FragB fcoopmatNV<16, gl_ScopeSubgroup, 16, 8>
#define FragC fcoopmatNV<32, gl_ScopeSubgroup, 16, 8>

void main() {
    const uint r0 = flat_group() * BM;
    if (r0 >= pc.m) return;
    const uint c0 = gl_WorkGroupID.z * BN;
    const uint tid = gl_LocalInvocationID.x;
    const uint sg = gl_SubgroupID, lane = gl_SubgroupInvocationID;
    const uint wm = sg % 4u, wn = sg / 4u; // this subgroup's part: rows wm*32.., columns wn*64..

    FragC acc[2][8];
    for (uint i = 0u; i < 2u; ++i)
        for (uint j = 0u; j < 8u; ++j) acc[i][j] = FragC(0.0);

    // Loaders: thread -> (weight row, 16-k groups apart, apart + 2, ..) and (x column, likewise).
    const uint arow = tid % BM, apart = tid / BM;
    const uint wr = pc.w_bias + min(r0 + arow, pc.m - 1u) * pc.w_nb1;
    const uint bcol = tid / 2u, bpart = tid % 2u;
    const uint xa = ROW_ADDR(x, pc.col0 + c0 + min(bcol, pc.n - c0 - 1u)) >> 2;

    for (uint k0 = 0u; k0 < pc.k; k0 += BK) {
        barrier();
        for (uint g = apart; g < BK / 16u; g += 2u) {
            const uint e = k0 + g * 16u;
            float v[16];
#ifdef PLAIN_TYPE
            for (uint j = 0u; j < 16u; ++j) v[j] = e + j < pc.k ? load_plain(wr, e + j) : 0.0;
#else
            // k is a multiple of the block size (>= 32), not always of BK: groups past k are zeros.
            if (e < pc.k) dequant16(wr + (e / BLOCK_ELEMS) * BLOCK_BYTES, (e % BLOCK_ELEMS) / 16u, v);
            else
                for (uint j = 0u; j < 16u; ++j) v[j] = 0.0;
#endif
            store16(true, arow * LDS + g * 16u, v);
        }
        for (uint g = bpart; g < BK / 16u; g += 2u) {
            const uint ex = k0 + g * 16u;
            float v[16];
            if (ex + 16u <= pc.k && ((xa + ex) & 3u) == 0u) { // 4 16-byte loads
                for (uint q = 0u; q < 4u; ++q) {
                    const vec4 t = xdata4[(xa + ex) / 4u + q];
                    v[4u * q] = t.x, v[4u * q + 1u] = t.y, v[4u * q + 2u] = t.z, v[4u * q + 3u] = t.w;
                }
            } else {
                for (uint j = 0u; j < 16u; ++j) v[j] = ex + j < pc.k ? uintBitsToFloat(xdata[xa + ex + j]) : 0.0;
            }
            store16(false, bcol * LDS + g * 16u, v);
        }
        barrier();
        for (uint kk = 0u; kk < BK; kk += 16u) {
            FragA a0, a1;
            coopMatLoadNV(a0, As, TILE_OFF((wm * 32u) * LDS + kk), TILE_OFF(LDS), false);
            coopMatLoadNV(a1, As, TILE_OFF((wm * 32u + 16u) * LDS + kk), TILE_OFF(LDS), false);
            for (uint j = 0u; j < 8u; ++j) {
                FragB b;
                coopMatLoadNV(b, Bs, TILE_OFF((wn * 64u + j * 8u) * LDS + kk), TILE_OFF(LDS), true); // (kk, col) at col*LDS + kk
                acc[0][j] = coopMatMulAddNV(a0, b, acc[0][j]);
                acc[1][j] = coopMatMulAddNV(a1, b, acc[1][j]);
            }
        }
    }

    // Store: fragment -> scratch (column-major 16x8) -> 4 values per lane with bounds checks.
    for (uint i = 0u; i < 2u; ++i) {
        for (uint j = 0u; j < 8u; ++j) {
            coopMatStoreNV(acc[i][j], Cs, sg * 128u, 16u, true);
            subgroupMemoryBarrierShared();
            subgroupBarrier();
            for (uint q = 0u; q < 4u; ++q) {
                const uint idx = lane * 4u + q;
                const uint r = r0 + wm * 32u + i * 16u + idx % 16u;
                const uint c = c0 + wn * 64u + j * 8u + idx / 16u;
                if (r < pc.m && c < pc.n) ydata[(ROW_ADDR(y, pc.col0 + c) >> 2) + r] = Cs[sg * 128u + idx];
            }
            subgroupBarrier();
        }
    }
}
