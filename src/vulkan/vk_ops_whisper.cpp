// Recording of the ops whisper added: layer_norm (shaders/layer_norm.comp), gelu_erf (unary.comp,
// OP_GELU_ERF, through row_op) and im2col (im2col.comp). Long tensors are split by rows into
// dispatches whose operands each fit one storage-buffer binding, as in vk_ops.cpp.
#include "vulkan/vulkan_backend_impl.h"

#include "base/check.h"

#include <algorithm>

namespace vkai::vk {
namespace {

struct LayerNormPC {
    uint32_t n, nrows, row0, flags;
    float eps;
    uint32_t w_bias, b_bias, pad;
    TensorPC x, y;
};

struct Im2colPC {
    uint32_t c, k, stride, pad, t, nrows, row0, x_nb1, x_bias;
    TensorPC o;
};

} // namespace

void VulkanBackendImpl::whisper_pipeline_specs(std::vector<PipelineSpec>& specs) const {
    specs.push_back({use_subgroup_ops() ? "layer_norm_sg" : "layer_norm", 4, sizeof(LayerNormPC)});
    specs.push_back({"im2col", 2, sizeof(Im2colPC)});
}

void VulkanBackendImpl::layer_norm(const Tensor& x, const Tensor* w, const Tensor* b, float eps, Tensor& y) {
    VKAI_ASSERT(x.type == DType::F32 && y.type == DType::F32 && x.ne == y.ne, "layer_norm: f32 tensors of one shape");
    for (const Tensor* p : {w, b})
        VKAI_ASSERT(!p || (p->type == DType::F32 && p->ne[0] == x.ne[0]), "layer_norm: w/b must be f32 of the row length");
    if (!err_.ok()) return;
    const Pipeline* p = pipeline(use_subgroup_ops() ? "layer_norm_sg" : "layer_norm", 4, sizeof(LayerNormPC));
    if (!p) return;
    const int64_t nrows = x.nrows(), per = rows_per_chunk({&x, &y}, nrows);
    for (int64_t r0 = 0; r0 < nrows; r0 += per) {
        const int64_t r1 = std::min(nrows, r0 + per);
        Binding bd[4];
        LayerNormPC pc{};
        uint64_t lo, hi;
        row_span(x, r0, r1, lo, hi);
        bool ok = bind(x, lo, hi, bd[0], &pc.x.bias);
        // An absent w or b binds x again (never read: flags say so).
        if (w) ok = ok && bind(*w, 0, uint64_t(w->ne[0]) * 4, bd[1], &pc.w_bias);
        else bd[1] = bd[0];
        if (b) ok = ok && bind(*b, 0, uint64_t(b->ne[0]) * 4, bd[2], &pc.b_bias);
        else bd[2] = bd[0];
        row_span(y, r0, r1, lo, hi);
        ok = ok && bind(y, lo, hi, bd[3], &pc.y.bias);
        if (!ok) return set_error(fail(Code::unsupported, "layer_norm: a row does not fit one storage-buffer binding"));
        pc.x = tpc(x, pc.x.bias);
        pc.y = tpc(y, pc.y.bias);
        pc.n = uint32_t(x.ne[0]);
        pc.nrows = uint32_t(r1 - r0);
        pc.row0 = uint32_t(r0);
        pc.flags = (w ? 1u : 0u) | (b ? 2u : 0u);
        pc.eps = eps;
        dispatch(p, bd, &pc, uint64_t(r1 - r0), 1, "layer_norm");
    }
}

void VulkanBackendImpl::gelu_erf(const Tensor& x, Tensor& y) {
    VKAI_ASSERT(x.type == DType::F32 && y.type == DType::F32 && x.ne == y.ne, "gelu_erf: f32 tensors of one shape");
    row_op("gelu_erf", "gelu_erf", x, y, nullptr, 0, nullptr, true);
}

void VulkanBackendImpl::im2col(const Tensor& x, int k, int stride, int pad, Tensor& out) {
    VKAI_ASSERT(x.type == DType::F32 && out.type == DType::F32 && x.nb[0] == 4 && out.nb[0] == 4, "im2col: f32 tensors with contiguous rows");
    VKAI_ASSERT(k >= 1 && stride >= 1 && pad >= 0 && x.ne[2] == 1 && x.ne[3] == 1, "im2col: bad k/stride/pad or x not 2-D");
    const int64_t c = x.ne[0], t = x.ne[1], t_out = (t + 2 * pad - k) / stride + 1;
    VKAI_ASSERT(out.ne[0] == c * k && out.ne[1] == t_out && out.ne[2] == 1 && out.ne[3] == 1, "im2col: out is (%lld, %lld), want (%lld, %lld)",
                (long long)out.ne[0], (long long)out.ne[1], (long long)(c * k), (long long)t_out);
    VKAI_ASSERT(x.nb[1] <= 0xFFFFFFFFull, "im2col: x row stride beyond 4 GiB");
    if (!err_.ok() || t_out <= 0 || c == 0) return;
    const Pipeline* p = pipeline("im2col", 2, sizeof(Im2colPC));
    if (!p) return;
    // x rows that output rows [j0, j1) read, clipped to [0, t).
    auto x_rows = [&](int64_t j0, int64_t j1, int64_t& s0, int64_t& s1) {
        s0 = std::clamp<int64_t>(j0 * stride - pad, 0, std::max<int64_t>(t - 1, 0));
        s1 = std::clamp<int64_t>((j1 - 1) * stride + k - pad, s0 + 1, std::max<int64_t>(t, 1));
    };
    // Output rows per dispatch: both windows fit one binding, and the thread index fits 32 bits.
    int64_t per = std::min<int64_t>(rows_per_chunk({&out}, t_out), std::max<int64_t>(1, (int64_t(1) << 31) / (c * k)));
    while (per > 1 && t > 0) {
        uint64_t lo, hi; // the most x rows a chunk of `per` output rows reads
        row_span(x, 0, std::min<int64_t>(t, (per - 1) * stride + k), lo, hi);
        if (hi - lo + 2 * align_ <= max_binding_) break;
        per = (per + 1) / 2;
    }
    for (int64_t j0 = 0; j0 < t_out; j0 += per) {
        const int64_t j1 = std::min(t_out, j0 + per);
        Binding bd[2];
        Im2colPC pc{};
        uint64_t lo, hi;
        bool ok = true;
        if (t > 0) {
            int64_t s0, s1;
            x_rows(j0, j1, s0, s1);
            row_span(x, s0, s1, lo, hi);
            ok = bind(x, lo, hi, bd[0], &pc.x_bias);
        }
        row_span(out, j0, j1, lo, hi);
        ok = ok && bind(out, lo, hi, bd[1], &pc.o.bias);
        if (t == 0) bd[0] = bd[1]; // every column is padding: x is never read
        if (!ok) return set_error(fail(Code::unsupported, "im2col: an operand does not fit one storage-buffer binding"));
        pc.o = tpc(out, pc.o.bias);
        pc.c = uint32_t(c);
        pc.k = uint32_t(k);
        pc.stride = uint32_t(stride);
        pc.pad = uint32_t(pad);
        pc.t = uint32_t(t);
        pc.nrows = uint32_t(j1 - j0);
        pc.row0 = uint32_t(j0);
        pc.x_nb1 = uint32_t(x.nb[1]);
        dispatch(p, bd, &pc, (uint64_t(c * k) * uint64_t(j1 - j0) + 63) / 64, 1, "im2col");
    }
}

} // namespace vkai::vk
