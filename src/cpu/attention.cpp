// cpu::set_rows and cpu::attention: KV-cache writes and a one-pass (online softmax) attention.
// With the AVX2 kernels, a blocked kernel (attention_avx2.cpp) threaded over (KV head, block of
// query rows); otherwise the portable loops, threaded over (token, KV head). Masked cells (-inf)
// are skipped, so a sequence only pays for the cells it can see.
#include "cpu/cpu.h"

#include "base/check.h"
#include "base/fp16.h"
#include "cpu/attention_kernels.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace vkai::cpu {
namespace {

float dot_row_portable(const float* q, const void* k, bool k_f16, int64_t n) {
    float s = 0;
    if (k_f16) {
        const uint16_t* kh = static_cast<const uint16_t*>(k);
        for (int64_t i = 0; i < n; ++i) s += q[i] * fp16_to_f32(kh[i]);
    } else {
        const float* kf = static_cast<const float*>(k);
        for (int64_t i = 0; i < n; ++i) s += q[i] * kf[i];
    }
    return s;
}

// acc = acc * a + v * b
void scale_add_portable(float* acc, float a, const void* v, bool v_f16, float b, int64_t n) {
    if (v_f16) {
        const uint16_t* vh = static_cast<const uint16_t*>(v);
        for (int64_t i = 0; i < n; ++i) acc[i] = acc[i] * a + fp16_to_f32(vh[i]) * b;
    } else {
        const float* vf = static_cast<const float*>(v);
        for (int64_t i = 0; i < n; ++i) acc[i] = acc[i] * a + vf[i] * b;
    }
}

AttentionKernels portable_kernels() { return {dot_row_portable, scale_add_portable}; }

AttentionKernels kernels() {
#if defined(VKAI_HAVE_AVX2_KERNELS) && !defined(VKAI_CPU_SCALAR_ONLY)
    if (simd_enabled()) return avx2_attention_kernels();
#endif
    return portable_kernels();
}

#if defined(VKAI_HAVE_AVX2_KERNELS) && !defined(VKAI_CPU_SCALAR_ONLY)
#define VKAI_ATTENTION_BLOCKED 1
// The rows of KV head hk are (token t, query head hk * group + g) for t < n_tok, g < group, in
// that order; a task is one KV head and up to attn_rows_per_call(n_cells) consecutive rows of it.
void attention_blocked(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, float scale, Tensor& out, ThreadPool& pool) {
    const int64_t hd = q.ne[0], n_head = q.ne[1], n_tok = q.ne[2];
    const int64_t n_head_kv = k.ne[1], n_cells = k.ne[2], group = n_head / n_head_kv;
    const int rb = attn_rows_per_call(n_cells);
    const int64_t rows = n_tok * group, blocks = (rows + rb - 1) / rb;
    const size_t per_thread = attn_scratch_floats(hd, n_cells);
    std::vector<float> scratch(size_t(pool.size()) * per_thread);
    pool.run(n_head_kv * blocks, [&](int64_t task, int thread) {
        const int64_t hk = task / blocks, r0 = (task % blocks) * rb;
        const int nr = int(std::min<int64_t>(rb, rows - r0));
        const float* qp[kAttnRowBlock];
        const float* mp[kAttnRowBlock];
        float* op[kAttnRowBlock];
        for (int i = 0; i < nr; ++i) {
            const int64_t t = (r0 + i) / group, h = hk * group + (r0 + i) % group;
            qp[i] = reinterpret_cast<const float*>(static_cast<const uint8_t*>(q.data) + h * q.nb[1] + t * q.nb[2]);
            op[i] = reinterpret_cast<float*>(static_cast<uint8_t*>(out.data) + h * out.nb[1] + t * out.nb[2]);
            mp[i] = mask.row<const float>(t);
        }
        AttnRowsArgs a;
        a.q = qp;
        a.mask = mp;
        a.out = op;
        a.nrows = nr;
        a.k = static_cast<const uint8_t*>(k.data) + hk * k.nb[1];
        a.v = static_cast<const uint8_t*>(v.data) + hk * v.nb[1];
        a.k_stride = k.nb[2];
        a.v_stride = v.nb[2];
        a.f16 = k.type == DType::F16;
        a.hd = hd;
        a.n_cells = n_cells;
        a.scale = scale;
        a.scratch = scratch.data() + size_t(thread) * per_thread;
        avx2_attention_rows(a);
    });
}
#endif

} // namespace

void set_rows(const Tensor& src, const int32_t* ids, Tensor& dst, ThreadPool& pool) {
    VKAI_ASSERT(src.type == DType::F32 && src.ne[0] == dst.ne[0], "set_rows: src must be f32 with dst's row length");
    VKAI_ASSERT(dst.type == DType::F32 || dst.type == DType::F16, "set_rows: dst must be f32 or f16");
    const int64_t n = src.ne[0];
    pool.parallel_for(src.ne[1], std::max<int64_t>(1, 4096 / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e, int) {
        for (int64_t r = b; r < e; ++r) {
            VKAI_ASSERT(ids[r] >= 0 && ids[r] < dst.ne[1], "set_rows: id %d out of range", ids[r]);
            const float* s = src.row<const float>(r);
            if (dst.type == DType::F32) {
                float* d = dst.row<float>(ids[r]);
                for (int64_t i = 0; i < n; ++i) d[i] = s[i];
            } else {
                uint16_t* d = dst.row<uint16_t>(ids[r]);
                for (int64_t i = 0; i < n; ++i) d[i] = f32_to_fp16(s[i]);
            }
        }
    });
}

void attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, float scale, Tensor& out, ThreadPool& pool) {
    const int64_t hd = q.ne[0], n_head = q.ne[1], n_tok = q.ne[2];
    const int64_t n_head_kv = k.ne[1], n_cells = k.ne[2];
    VKAI_ASSERT(q.type == DType::F32 && out.type == DType::F32 && mask.type == DType::F32, "attention: q, out, mask must be f32");
    VKAI_ASSERT(k.type == v.type && (k.type == DType::F16 || k.type == DType::F32), "attention: k and v must both be f16 or f32");
    VKAI_ASSERT(k.ne[0] == hd && v.ne[0] == hd && v.ne[1] == n_head_kv && v.ne[2] == n_cells, "attention: k/v shapes");
    VKAI_ASSERT(n_head_kv > 0 && n_head % n_head_kv == 0, "attention: n_head %lld not a multiple of n_head_kv %lld",
                (long long)n_head, (long long)n_head_kv);
    VKAI_ASSERT(mask.ne[0] == n_cells && mask.ne[1] == n_tok, "attention: mask must be (n_cells, n_tokens)");
    VKAI_ASSERT(q.nb[0] == sizeof(float) && out.nb[0] == sizeof(float) && k.nb[0] == dtype_info(k.type).block_bytes &&
                    v.nb[0] == k.nb[0] && mask.nb[0] == sizeof(float),
                "attention: rows of q, k, v, out and mask must be contiguous");
#ifdef VKAI_ATTENTION_BLOCKED
    if (simd_enabled()) return attention_blocked(q, k, v, mask, scale, out, pool);
#endif
    const int64_t group = n_head / n_head_kv;
    const bool f16 = k.type == DType::F16;
    const AttentionKernels kern = kernels();

    // Each task is one (token, kv head) pair, so the query heads of a GQA group share the
    // K/V rows while they are in cache.
    std::vector<float> scratch(size_t(pool.size()) * size_t(hd * group + group * 2));
    pool.run(n_tok * n_head_kv, [&](int64_t task, int thread) {
        const int64_t t = task / n_head_kv, hk = task % n_head_kv;
        const float* m = mask.row<const float>(t);
        float* acc = scratch.data() + size_t(thread) * size_t(hd * group + group * 2);
        float* mx = acc + hd * group;
        float* sum = mx + group;
        for (int64_t g = 0; g < group; ++g) {
            mx[g] = -INFINITY;
            sum[g] = 0;
        }
        for (int64_t i = 0; i < hd * group; ++i) acc[i] = 0;
        for (int64_t c = 0; c < n_cells; ++c) {
            if (m[c] == -INFINITY) continue;
            const uint8_t* krow = static_cast<const uint8_t*>(k.data) + hk * k.nb[1] + c * k.nb[2];
            const uint8_t* vrow = static_cast<const uint8_t*>(v.data) + hk * v.nb[1] + c * v.nb[2];
            for (int64_t g = 0; g < group; ++g) {
                const int64_t h = hk * group + g;
                const float* qh = reinterpret_cast<const float*>(static_cast<const uint8_t*>(q.data) + h * q.nb[1] + t * q.nb[2]);
                const float s = kern.dot(qh, krow, f16, hd) * scale + m[c];
                // Online softmax: rescale what was accumulated when the running max grows.
                if (s > mx[g]) {
                    const float a = mx[g] == -INFINITY ? 0.0f : std::exp(mx[g] - s);
                    sum[g] = sum[g] * a + 1.0f;
                    kern.scale_add(acc + g * hd, a, vrow, f16, 1.0f, hd);
                    mx[g] = s;
                } else {
                    const float p = std::exp(s - mx[g]);
                    sum[g] += p;
                    kern.scale_add(acc + g * hd, 1.0f, vrow, f16, p, hd);
                }
            }
        }
        for (int64_t g = 0; g < group; ++g) {
            const int64_t h = hk * group + g;
            float* o = reinterpret_cast<float*>(static_cast<uint8_t*>(out.data) + h * out.nb[1] + t * out.nb[2]);
            const float inv = sum[g] > 0 ? 1.0f / sum[g] : 0.0f;
            for (int64_t i = 0; i < hd; ++i) o[i] = acc[g * hd + i] * inv;
        }
    });
}

} // namespace vkai::cpu
