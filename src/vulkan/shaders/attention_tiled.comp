// attention (ops/ref.h) for many queries at once, head_dim <= 64 and a multiple of 4 (HD64: exactly
// 64, loops of fixed length, whisper's and many LLMs' size): one workgroup of 128 threads per
// (head, block of BQ = 32 queries) walks the KV cells in tiles of BK = 32 (flash-attention style:
// online softmax, nothing of size n_cells is stored). Per tile: the mask tile goes to shared memory;
// a cell that no query of the block sees is never read (its K/V may be NaN: zeros are stored
// instead) and a tile that nobody sees is skipped (causal prompts); K and V tiles are loaded once
// for 32 queries; each thread holds a 2 x 4 block of scores and a 2 x 8 block of the output.
// Shared memory 30 KB (Q/K rows padded to 68 floats so vec4 reads of 8 rows hit distinct banks).
// f32 math; 32-bit word loads, or 16-byte loads when f32 K/V rows are 16-byte aligned (uniform
// branch). KV_F16: f16 cache (4-byte aligned rows). The host uses attention.comp for few queries,
// other head sizes, or devices with less shared memory.
#version 450
#extension GL_GOOGLE_include_directive : enable
layout(local_size_x = 128) in;

layout(binding = 0) readonly buffer QB { uint qdata[]; };
layout(binding = 1) readonly buffer KB { uint kdata[]; };
layout(binding = 1) readonly buffer KB4 { uvec4 kdata4[]; }; // the same binding, for 16-byte loads
layout(binding = 2) readonly buffer VB { uint vdata[]; };
layout(binding = 2) readonly buffer VB4 { uvec4 vdata4[]; };
layout(binding = 3) readonly buffer MB { uint mdata[]; };
layout(binding = 4) buffer OB { uint odata[]; };

#include "lib/common.glsl"

#define D4 16u   // vec4 per row (the most: head_dim 64)
#define BQ 32u
#define BK 32u
#define KS4 17u  // padded K/Q row stride in vec4 (68 floats)
#define PS 33u   // padded score row stride

layout(push_constant) uniform PC {
    uint hd;
    uint n_head;
    uint n_head_kv;
    uint n_cells;
    float scale;
    uint q_bias, q_nb1, q_nb2; // rows (head, token)
    uint k_bias, k_nb1, k_nb2; // rows (kv head, cell)
    uint v_bias, v_nb1, v_nb2;
    uint m_bias, m_nb1;        // row token
    uint o_bias, o_nb1, o_nb2;
    uint n_tok;                // queries (the grid covers ceil(n_tok / BQ) blocks)
} pc;

shared vec4 Qs[BQ * KS4];
shared vec4 Ks[BK * KS4];
shared vec4 Vs[BK * D4];
shared float Ps[BQ * PS];  // mask, then probabilities
shared float Pm[BQ * 8u];  // partial row maxima (8 threads per row)
shared uint vis[BK];

// 16 bytes of K or V at byte address a: 4 f32, or (KV_F16) 4 f16 from 8 bytes.
vec4 ld4(uint which, uint a, bool al16) {
#ifdef KV_F16
    const uint w0 = which == 0u ? kdata[a >> 2] : vdata[a >> 2];
    const uint w1 = which == 0u ? kdata[(a >> 2) + 1u] : vdata[(a >> 2) + 1u];
    return vec4(unpackHalf2x16(w0), unpackHalf2x16(w1));
#else
    if (al16) return uintBitsToFloat(which == 0u ? kdata4[a >> 4] : vdata4[a >> 4]);
    const uint i = a >> 2;
    if (which == 0u) return uintBitsToFloat(uvec4(kdata[i], kdata[i + 1u], kdata[i + 2u], kdata[i + 3u]));
    return uintBitsToFloat(uvec4(vdata[i], vdata[i + 1u], vdata[i + 2u], vdata[i + 3u]));
#endif
}

void main() {
    const uint h = gl_WorkGroupID.x, t0 = gl_WorkGroupID.y * BQ, tid = gl_LocalInvocationID.x;
    const uint hk = h / (pc.n_head / pc.n_head_kv);
    const uint tx = tid & 7u, ty = tid >> 3; // scores: rows 2 ty + i, columns tx + 8 j; output: rows 2 ty + i, vec4 columns tx + 8 jj
    const float NEG_INF = uintBitsToFloat(0xff800000u);
    const bool al16 = ((pc.k_bias | pc.k_nb1 | pc.k_nb2 | pc.v_bias | pc.v_nb1 | pc.v_nb2) & 15u) == 0u;
#ifdef HD64
    const uint hd4 = D4;
#else
    const uint hd4 = pc.hd >> 2;
#endif
#ifdef KV_F16
    const uint KVB = 2u;
#else
    const uint KVB = 4u;
#endif

    // Q block, scaled; rows past the last query are zeros (their scores are masked below).
    for (uint e = tid; e < BQ * D4; e += 128u) {
        const uint r = e / D4, c4 = e % D4, t = t0 + r;
        vec4 q = vec4(0.0);
        if (t < pc.n_tok && c4 < hd4) {
            const uint a = (pc.q_bias + h * pc.q_nb1 + t * pc.q_nb2 + c4 * 16u) >> 2;
            q = uintBitsToFloat(uvec4(qdata[a], qdata[a + 1u], qdata[a + 2u], qdata[a + 3u])) * pc.scale;
        }
        Qs[r * KS4 + c4] = q;
    }

    float m[2] = float[2](NEG_INF, NEG_INF), l[2] = float[2](0.0, 0.0);
    vec4 acc[2][2] = vec4[2][2](vec4[2](vec4(0.0), vec4(0.0)), vec4[2](vec4(0.0), vec4(0.0)));

    for (uint c0 = 0u; c0 < pc.n_cells; c0 += BK) {
        barrier(); // the previous tile's readers of Ps, Ks, Vs are done
        // 1. Mask tile; -inf outside the queries and cells.
        for (uint e = tid; e < BQ * BK; e += 128u) {
            const uint r = e / BK, c = e % BK, t = t0 + r;
            float mv = NEG_INF;
            if (t < pc.n_tok && c0 + c < pc.n_cells) mv = uintBitsToFloat(mdata[((pc.m_bias + t * pc.m_nb1) >> 2) + c0 + c]);
            Ps[r * PS + c] = mv;
        }
        barrier();
        // 2. Cells that some query of the block sees.
        if (tid < BK) {
            uint any = 0u;
            for (uint r = 0u; r < BQ; ++r) any |= (Ps[r * PS + tid] == NEG_INF) ? 0u : 1u;
            vis[tid] = any;
        }
        barrier();
        uint tile_any = 0u;
        for (uint c = 0u; c < BK; ++c) tile_any |= vis[c];
        if (tile_any == 0u) continue; // uniform: nobody sees this tile (barrier at the loop top)
        // 3. K and V tiles (zeros for unseen cells: their memory is never read).
        for (uint e = tid; e < BK * D4; e += 128u) {
            const uint c = e / D4, c4 = e % D4;
            vec4 kv = vec4(0.0), vv = vec4(0.0);
            if (vis[c] != 0u && c4 < hd4) {
                kv = ld4(0u, pc.k_bias + hk * pc.k_nb1 + (c0 + c) * pc.k_nb2 + c4 * 4u * KVB, al16);
                vv = ld4(1u, pc.v_bias + hk * pc.v_nb1 + (c0 + c) * pc.v_nb2 + c4 * 4u * KVB, al16);
            }
            Ks[c * KS4 + c4] = kv;
            Vs[c * D4 + c4] = vv;
        }
        barrier();
        // 4. Scores (registers), masked; partial row maxima.
        float s[2][4];
        for (uint i = 0u; i < 2u; ++i)
            for (uint j = 0u; j < 4u; ++j) s[i][j] = 0.0;
        for (uint d4 = 0u; d4 < hd4; ++d4) {
            const vec4 q0 = Qs[(2u * ty) * KS4 + d4], q1 = Qs[(2u * ty + 1u) * KS4 + d4];
            for (uint j = 0u; j < 4u; ++j) {
                const vec4 k = Ks[(tx + 8u * j) * KS4 + d4];
                s[0][j] += dot(q0, k);
                s[1][j] += dot(q1, k);
            }
        }
        for (uint i = 0u; i < 2u; ++i) {
            float mx = NEG_INF;
            for (uint j = 0u; j < 4u; ++j) {
                const float mv = Ps[(2u * ty + i) * PS + tx + 8u * j];
                s[i][j] = mv == NEG_INF ? NEG_INF : s[i][j] + mv; // a select: NaN-free for unseen cells
                mx = max(mx, s[i][j]);
            }
            Pm[(2u * ty + i) * 8u + tx] = mx;
        }
        barrier();
        // 5. Online softmax: new row maxima, probabilities into Ps (own entries), rescaled state.
        for (uint i = 0u; i < 2u; ++i) {
            const uint r = 2u * ty + i;
            float mx = m[i];
            for (uint k = 0u; k < 8u; ++k) mx = max(mx, Pm[r * 8u + k]);
            const bool none = mx == NEG_INF; // nothing seen yet by this query
            const float corr = none ? 1.0 : exp(m[i] - mx); // exp(-inf) = 0 while m was -inf
            for (uint j = 0u; j < 4u; ++j) Ps[r * PS + tx + 8u * j] = (none || s[i][j] == NEG_INF) ? 0.0 : exp(s[i][j] - mx);
            l[i] *= corr;
            acc[i][0] *= corr;
            acc[i][1] *= corr;
            m[i] = mx;
        }
        barrier();
        // 6. Output += P V.
        for (uint c = 0u; c < BK; ++c) {
            const float p0 = Ps[(2u * ty) * PS + c], p1 = Ps[(2u * ty + 1u) * PS + c];
            const vec4 v0 = Vs[c * D4 + tx], v1 = Vs[c * D4 + tx + 8u];
            acc[0][0] += p0 * v0;
            acc[0][1] += p0 * v1;
            acc[1][0] += p1 * v0;
            acc[1][1] += p1 * v1;
            l[0] += p0;
            l[1] += p1;
        }
    }
    for (uint i = 0u; i < 2u; ++i) {
        const uint t = t0 + 2u * ty + i;
        if (t >= pc.n_tok) continue;
        const float inv = l[i] > 0.0 ? 1.0 / l[i] : 0.0; // a query that sees nothing gets zeros
        const uint oa = (pc.o_bias + h * pc.o_nb1 + t * pc.o_nb2) >> 2;
        for (uint jj = 0u; jj < 2u; ++jj) {
            if (tx + 8u * jj >= hd4) break;
            const vec4 o = acc[i][jj] * inv;
            const uint a = oa + (tx + 8u * jj) * 4u;
            odata[a] = floatBitsToUint(o.x);
            odata[a + 1u] = floatBitsToUint(o.y);
            odata[a + 2u] = floatBitsToUint(o.z);
            odata[a + 3u] = floatBitsToUint(o.w);
        }
    }
}
