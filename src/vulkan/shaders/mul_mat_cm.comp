// y = W x for many columns on tensor cores (VK_NV_cooperative_matrix, fast path only): each
// 256-thread workgroup computes a 128-row x 128-column tile of y. Per step of BK = 32 k, the weights
// are dequantized once into shared memory as f16 (rows x k) and x is converted to f16 (columns x k);
// each of the 8 subgroups (32 lanes) multiplies a 32 x 64 part with 16x16 (A) by 16x8 (B) f16
// fragments into f32 accumulators. Results go through a small per-subgroup scratch so partial
// tiles and any y stride are stored with bounds checks.
// Every fixed loop is unrolled: the accumulators and the 16-value groups are then indexed by
// constants and live in registers. Without it the H100's compiler kept them in 320-384 bytes of
// local memory per thread and the kernel ran 1.7x (Q4_K) to 4.6x (F16) slower (docs/perf.md).
// PREFETCH (variant cmp, VKAI_VK_CM=cmp) loads the next step's weights and x into registers before
// the current step's multiplies: faster on some shapes, slower on others (more registers).
// Needs: shaderFloat16, VK_NV_cooperative_matrix with the 16x8x16 f16 -> f32 subgroup shape,
// subgroup size 32 (the host checks all three before creating these pipelines).
#version 450
#extension GL_GOOGLE_include_directive : enable
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require

#extension GL_EXT_control_flow_attributes : require
#define UNROLL [[unroll]] // also unrolls lib/quant.glsl's loops

#define BM 128u
#define BN 128u
#define BK 32u  // one 16-k group of A and one of B per thread and step (256 threads)
#define LDS (BK + 8u) // f16 elements per row of the shared tiles: + 8 spreads rows over the banks
layout(local_size_x = 256) in;

layout(binding = 0) readonly buffer WB { uint wdata[]; };
layout(binding = 0) readonly buffer WB4 { uvec4 wdata4[]; }; // the same binding, for 16-byte loads
layout(binding = 1) readonly buffer XB { uint xdata[]; };
layout(binding = 1) readonly buffer XB4 { vec4 xdata4[]; };
layout(binding = 2) buffer YB { float ydata[]; };

#include "lib/common.glsl"
#include "lib/quant.glsl"

layout(push_constant) uniform PC {
    uint k, m, n, col0, w_bias, w_nb1;
    TENSOR_PC(x);
    TENSOR_PC(y);
} pc;

// The tiles as 8 halves per uvec4: a thread stores its 16 values in two 16-byte stores; the
// fragment loads count elements and strides in uvec4 units.
shared uvec4 As[BM * LDS / 8u]; // [row][kk / 8]
shared uvec4 Bs[BN * LDS / 8u]; // [col][kk / 8]
shared float Cs[8u * 128u];     // per subgroup: one 16x8 f32 fragment, column-major
#define TILE_OFF(e) ((e) / 8u)

uvec4 pack8(float a, float b, float c, float d, float e, float f, float g, float h) {
    return uvec4(packHalf2x16(vec2(a, b)), packHalf2x16(vec2(c, d)), packHalf2x16(vec2(e, f)), packHalf2x16(vec2(g, h)));
}

// One 16-k group of weight row `wr` from element e (a multiple of 16; block types: e < k).
void load_w16(uint wr, uint e, out float v[16]) {
#ifdef PLAIN_TYPE
#ifdef TYPE_F16
    if (e + 16u <= pc.k && ((wr + 2u * e) & 15u) == 0u) { // two 16-byte loads
        UNROLL for (uint q = 0u; q < 2u; ++q) {
            const uvec4 t = wdata4[(wr + 2u * e) / 16u + q];
            const vec2 a = unpackHalf2x16(t.x), b = unpackHalf2x16(t.y), c = unpackHalf2x16(t.z), d = unpackHalf2x16(t.w);
            v[8u * q] = a.x, v[8u * q + 1u] = a.y, v[8u * q + 2u] = b.x, v[8u * q + 3u] = b.y;
            v[8u * q + 4u] = c.x, v[8u * q + 5u] = c.y, v[8u * q + 6u] = d.x, v[8u * q + 7u] = d.y;
        }
        return;
    }
#endif
    UNROLL for (uint j = 0u; j < 16u; ++j) v[j] = e + j < pc.k ? load_plain(wr, e + j) : 0.0;
#else
    dequant16(wr + (e / BLOCK_ELEMS) * BLOCK_BYTES, (e % BLOCK_ELEMS) / 16u, v);
#endif
}

// One 16-k group of x column at word address xa from element e.
void load_x16(uint xa, uint e, out float v[16]) {
    if (e + 16u <= pc.k && ((xa + e) & 3u) == 0u) { // 4 16-byte loads
        UNROLL for (uint q = 0u; q < 4u; ++q) {
            const vec4 t = xdata4[(xa + e) / 4u + q];
            v[4u * q] = t.x, v[4u * q + 1u] = t.y, v[4u * q + 2u] = t.z, v[4u * q + 3u] = t.w;
        }
    } else {
        UNROLL for (uint j = 0u; j < 16u; ++j) v[j] = e + j < pc.k ? uintBitsToFloat(xdata[xa + e + j]) : 0.0;
    }
}

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
    UNROLL for (uint i = 0u; i < 2u; ++i)
        UNROLL for (uint j = 0u; j < 8u; ++j) acc[i][j] = FragC(0.0);

    // Loaders: thread -> (weight row arow, 16-k group apart) and (x column bcol, group bpart).
    const uint arow = tid % BM, apart = tid / BM;
    const uint wr = pc.w_bias + min(r0 + arow, pc.m - 1u) * pc.w_nb1;
    const uint bcol = tid / 2u, bpart = tid % 2u;
    const uint xa = ROW_ADDR(x, pc.col0 + c0 + min(bcol, pc.n - c0 - 1u)) >> 2;
    // Block types: k is a multiple of the block size (>= 32 = BK), so every group lies inside k.
    float av[16], bv[16];
#ifdef PREFETCH
    load_w16(wr, apart * 16u, av);
    load_x16(xa, bpart * 16u, bv);
#endif

    for (uint k0 = 0u; k0 < pc.k; k0 += BK) {
#ifndef PREFETCH
        load_w16(wr, k0 + apart * 16u, av);
        load_x16(xa, k0 + bpart * 16u, bv);
#endif
        barrier();
        As[(arow * LDS + apart * 16u) / 8u] = pack8(av[0], av[1], av[2], av[3], av[4], av[5], av[6], av[7]);
        As[(arow * LDS + apart * 16u) / 8u + 1u] = pack8(av[8], av[9], av[10], av[11], av[12], av[13], av[14], av[15]);
        Bs[(bcol * LDS + bpart * 16u) / 8u] = pack8(bv[0], bv[1], bv[2], bv[3], bv[4], bv[5], bv[6], bv[7]);
        Bs[(bcol * LDS + bpart * 16u) / 8u + 1u] = pack8(bv[8], bv[9], bv[10], bv[11], bv[12], bv[13], bv[14], bv[15]);
        barrier();
#ifdef PREFETCH
        // The next step's groups (after the last step: this step's again, loaded and never stored).
        const uint kn = k0 + BK < pc.k ? k0 + BK : k0;
        load_w16(wr, kn + apart * 16u, av);
        load_x16(xa, kn + bpart * 16u, bv);
#endif
        UNROLL for (uint kk = 0u; kk < BK; kk += 16u) {
            FragA a0, a1;
            coopMatLoadNV(a0, As, TILE_OFF((wm * 32u) * LDS + kk), TILE_OFF(LDS), false);
            coopMatLoadNV(a1, As, TILE_OFF((wm * 32u + 16u) * LDS + kk), TILE_OFF(LDS), false);
            UNROLL for (uint j = 0u; j < 8u; ++j) {
                FragB b;
                coopMatLoadNV(b, Bs, TILE_OFF((wn * 64u + j * 8u) * LDS + kk), TILE_OFF(LDS), true); // (kk, col) at col*LDS + kk
                acc[0][j] = coopMatMulAddNV(a0, b, acc[0][j]);
                acc[1][j] = coopMatMulAddNV(a1, b, acc[1][j]);
            }
        }
    }

    // Store: fragment -> scratch (column-major 16x8) -> 4 values per lane with bounds checks.
    UNROLL for (uint i = 0u; i < 2u; ++i) {
        UNROLL for (uint j = 0u; j < 8u; ++j) {
            coopMatStoreNV(acc[i][j], Cs, sg * 128u, 16u, true);
            subgroupMemoryBarrierShared();
            subgroupBarrier();
            UNROLL for (uint q = 0u; q < 4u; ++q) {
                const uint idx = lane * 4u + q;
                const uint r = r0 + wm * 32u + i * 16u + idx % 16u;
                const uint c = c0 + wn * 64u + j * 8u + idx / 16u;
                if (r < pc.m && c < pc.n) ydata[(ROW_ADDR(y, pc.col0 + c) >> 2) + r] = Cs[sg * 128u + idx];
            }
            subgroupBarrier();
        }
    }
}
