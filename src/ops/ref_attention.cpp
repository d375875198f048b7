// Reference set_rows and attention: the specification of writing into and reading from a KV cache.
#include "ops/ref.h"

#include "base/check.h"
#include "base/fp16.h"

#include <cmath>
#include <vector>

namespace vkai::ref {
namespace {

float load(const Tensor& t, int64_t i0, int64_t i1, int64_t i2) {
    const uint8_t* p = static_cast<const uint8_t*>(t.data) + i1 * t.nb[1] + i2 * t.nb[2];
    if (t.type == DType::F16) return fp16_to_f32(reinterpret_cast<const uint16_t*>(p)[i0]);
    return reinterpret_cast<const float*>(p)[i0];
}

} // namespace

void set_rows(const Tensor& src, const int32_t* ids, Tensor& dst) {
    VKAI_ASSERT(src.type == DType::F32 && src.ne[0] == dst.ne[0], "set_rows: src must be f32 with dst's row length");
    VKAI_ASSERT(dst.type == DType::F32 || dst.type == DType::F16, "set_rows: dst must be f32 or f16");
    for (int64_t r = 0; r < src.ne[1]; ++r) {
        VKAI_ASSERT(ids[r] >= 0 && ids[r] < dst.ne[1], "set_rows: id %d out of range", ids[r]);
        const float* s = src.row<const float>(r);
        if (dst.type == DType::F32) {
            float* d = dst.row<float>(ids[r]);
            for (int64_t i = 0; i < src.ne[0]; ++i) d[i] = s[i];
        } else {
            uint16_t* d = dst.row<uint16_t>(ids[r]);
            for (int64_t i = 0; i < src.ne[0]; ++i) d[i] = f32_to_fp16(s[i]);
        }
    }
}

void attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, float scale, Tensor& out) {
    const int64_t hd = q.ne[0], n_head = q.ne[1], n_tok = q.ne[2];
    const int64_t n_head_kv = k.ne[1], n_cells = k.ne[2];
    VKAI_ASSERT(k.ne[0] == hd && v.ne[0] == hd && v.ne[1] == n_head_kv && v.ne[2] == n_cells, "attention: k/v shapes");
    VKAI_ASSERT(n_head_kv > 0 && n_head % n_head_kv == 0, "attention: n_head %lld not a multiple of n_head_kv %lld",
                (long long)n_head, (long long)n_head_kv);
    VKAI_ASSERT(mask.ne[0] == n_cells && mask.ne[1] == n_tok, "attention: mask must be (n_cells, n_tokens)");
    const int64_t group = n_head / n_head_kv;
    std::vector<double> s(static_cast<size_t>(n_cells));
    for (int64_t t = 0; t < n_tok; ++t) {
        const float* m = mask.row<const float>(t);
        for (int64_t h = 0; h < n_head; ++h) {
            const int64_t hk = h / group;
            double mx = -INFINITY;
            for (int64_t c = 0; c < n_cells; ++c) {
                if (m[c] == -INFINITY) {
                    s[size_t(c)] = -INFINITY;
                    continue;
                }
                double d = 0;
                for (int64_t i = 0; i < hd; ++i) d += double(load(q, i, h, t)) * load(k, i, hk, c);
                s[size_t(c)] = d * scale + m[c];
                mx = std::max(mx, s[size_t(c)]);
            }
            float* o = reinterpret_cast<float*>(static_cast<uint8_t*>(out.data) + h * out.nb[1] + t * out.nb[2]);
            if (mx == -INFINITY) {
                for (int64_t i = 0; i < hd; ++i) o[i] = 0.0f;
                continue;
            }
            double sum = 0;
            for (int64_t c = 0; c < n_cells; ++c) sum += s[size_t(c)] == -INFINITY ? 0.0 : std::exp(s[size_t(c)] - mx);
            for (int64_t i = 0; i < hd; ++i) {
                double acc = 0;
                for (int64_t c = 0; c < n_cells; ++c)
                    if (s[size_t(c)] != -INFINITY) acc += std::exp(s[size_t(c)] - mx) * load(v, i, hk, c);
                o[i] = float(acc / sum);
            }
        }
    }
}

} // namespace vkai::ref
