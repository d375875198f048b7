// Recording of rope (with a host-computed cos/sin table) and attention over the KV cache.
#include "vulkan/vulkan_backend_impl.h"

#include "base/check.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace vkai::vk {

struct AttnPC {
    uint32_t hd, n_head, n_head_kv, n_cells;
    float scale;
    uint32_t q_bias, q_nb1, q_nb2;
    uint32_t k_bias, k_nb1, k_nb2;
    uint32_t v_bias, v_nb1, v_nb2;
    uint32_t m_bias, m_nb1;
    uint32_t o_bias, o_nb1, o_nb2;
};

namespace {

struct RopePC {
    uint32_t head_dim, n_rot, n_heads, neox, nrows, row0, cs_off, ids_off;
    TensorPC x, y;
};


// attention_wide.comp's SPLIT variant: the same operands plus the split and its scratch.
struct AttnSplitPC {
    AttnPC a;
    uint32_t split_cells, n_split, s_bias, c_bias;
};
// Split cells for decode over long caches: from kSplitMinCells cells, at most kSplitMaxTokens
// queries, kSplitCells cells per workgroup (the SPLIT variant's chunk). Scratch: kSplitSlots
// slots of per-(token, head) counts (zero between uses, taken in turn so concurrent calls differ),
// then a ring of partial results.
constexpr int64_t kDecodeTokens = 8; // "few queries": decode, whisper's windows, short drafts
constexpr int64_t kSplitMinCells = 512, kSplitMaxTokens = kDecodeTokens, kSplitCells = 256;
constexpr uint64_t kSplitSlots = 64, kSplitSlotCounts = 512, kSplitCountBytes = kSplitSlots * kSplitSlotCounts * 4;
constexpr uint64_t kSplitScratchBytes = 1ull << 20;

// attention_tiled.comp: the same operands plus the query count (its grid is rounded up to blocks).
struct AttnTiledPC {
    AttnPC a;
    uint32_t n_tok;
};
constexpr int64_t kTiledMaxHd = 64, kTiledBq = 32;
constexpr int64_t kTiledMinTokens = 8;        // fewer queries: one workgroup per (head, query) is as fast
constexpr uint32_t kTiledSharedBytes = 30976; // attention_tiled.comp's shared arrays

// attention_wide.comp for few queries at any length, for more from this many cells on.
constexpr int64_t kWideMinCells = 256;

// VKAI_VK_ATTN_TILED=0 / VKAI_VK_ATTN_WIDE=0 keep those cases on attention.comp (to compare on a GPU).
bool tiled_attention_off() {
    static const bool off = env_off("VKAI_VK_ATTN_TILED");
    return off;
}
bool wide_attention_off() {
    static const bool off = env_off("VKAI_VK_ATTN_WIDE");
    return off;
}
bool split_attention_off() { // VKAI_VK_ATTN_SPLIT=0: one workgroup per (head, token) as before
    static const bool off = env_off("VKAI_VK_ATTN_SPLIT");
    return off;
}
// VKAI_VK_ATTN_WIDE_MIN=<cells> moves the wide kernel's threshold (to compare on a GPU).
int64_t wide_min_cells() {
    static const int64_t n = [] {
        const char* e = std::getenv("VKAI_VK_ATTN_WIDE_MIN");
        return e && *e ? std::max<int64_t>(1, std::strtoll(e, nullptr, 10)) : kWideMinCells;
    }();
    return n;
}

bool same_params(const RopeParams& a, const RopeParams& b) {
    return a.n_rot == b.n_rot && a.mode == b.mode && a.freq_base == b.freq_base && a.freq_scale == b.freq_scale && a.attn_factor == b.attn_factor;
}

} // namespace

void VulkanBackendImpl::attn_pipeline_specs(std::vector<PipelineSpec>& specs) const {
    specs.push_back({"rope", 3, sizeof(RopePC)});
    specs.push_back({"rope_store_f32", 4, sizeof(RopePC)});
    specs.push_back({"rope_store_f16", 4, sizeof(RopePC)});
    specs.push_back({"attention_f32", 5, sizeof(AttnPC)});
    specs.push_back({"attention_f16", 5, sizeof(AttnPC)});
    const std::string sg = use_subgroup_ops() ? "_sg" : "";
    specs.push_back({"attention_wide_f32" + sg, 5, sizeof(AttnPC)});
    specs.push_back({"attention_wide_f16" + sg, 5, sizeof(AttnPC)});
    specs.push_back({"attention_split_f32" + sg, 7, sizeof(AttnSplitPC)});
    specs.push_back({"attention_split_f16" + sg, 7, sizeof(AttnSplitPC)});
    if (dev_->info().max_shared_bytes >= kTiledSharedBytes) {
        for (const char* v : {"attention_tiled_f32", "attention_tiled_f16", "attention_tiled_hd64_f32", "attention_tiled_hd64_f16"})
            specs.push_back({v, 5, sizeof(AttnTiledPC)});
    }
}

// The (cos, sin) table of n_tok positions into rope_host_: q and k of every layer share positions
// and parameters, so it is computed once (host, double precision) per pass.
void VulkanBackendImpl::rope_table(const int32_t* pos, int64_t n_tok, const RopeParams& rp) {
    const int half = rp.n_rot / 2;
    const uint64_t table_bytes = uint64_t(n_tok) * uint64_t(half) * 8;
    const bool same = rope_host_.size() == table_bytes / 4 && same_params(rope_p_, rp) &&
                      std::equal(pos, pos + n_tok, rope_pos_.begin(), rope_pos_.end()) &&
                      (rp.freq_factors ? rope_ff_.size() == size_t(half) && std::equal(rope_ff_.begin(), rope_ff_.end(), rp.freq_factors)
                                       : rope_ff_.empty());
    if (same) return;
    rope_host_.resize(size_t(table_bytes / 4));
    std::vector<double> freq(static_cast<size_t>(half));
    for (int i = 0; i < half; ++i) freq[size_t(i)] = std::pow(double(rp.freq_base), -2.0 * i / rp.n_rot);
    for (int64_t t = 0; t < n_tok; ++t)
        for (int i = 0; i < half; ++i) {
            double theta = double(pos[t]) * double(rp.freq_scale) * freq[size_t(i)];
            if (rp.freq_factors) theta /= double(rp.freq_factors[i]);
            rope_host_[size_t((t * half + i) * 2)] = float(std::cos(theta) * double(rp.attn_factor));
            rope_host_[size_t((t * half + i) * 2 + 1)] = float(std::sin(theta) * double(rp.attn_factor));
        }
    rope_p_ = rp;
    rope_pos_.assign(pos, pos + n_tok);
    if (rp.freq_factors) rope_ff_.assign(rp.freq_factors, rp.freq_factors + half);
    else rope_ff_.clear();
    rope_submit_ = UINT64_MAX;
}

// The table's binding in the ring, (re)staged when the ring does not hold it (a new submission, or
// a flush mid-loop). reserve: the dispatches the caller records with it, which must not flush.
bool VulkanBackendImpl::rope_table_binding(uint32_t reserve, Binding& b) {
    const uint64_t table_bytes = uint64_t(rope_host_.size()) * 4;
    if (Status st = rec_->reserve(reserve); !st.ok()) return set_error(st), false;
    if (rope_submit_ != rec_->ring_generation()) {
        Result<RingSlice> s = rec_->ring_alloc(table_bytes, align_);
        if (!s.ok()) return set_error(s.status()), false;
        std::memcpy(s->host, rope_host_.data(), table_bytes);
        rope_slice_ = *s;
        rope_submit_ = rec_->ring_generation();
    }
    b = bind_ring(rope_slice_, table_bytes);
    return true;
}

void VulkanBackendImpl::rope(const Tensor& x, const int32_t* pos, const RopeParams& rp, Tensor& y) {
    const int64_t head_dim = x.ne[0], n_heads = x.ne[1], n_tok = x.ne[2];
    VKAI_ASSERT(x.type == DType::F32 && y.type == DType::F32 && x.ne == y.ne && x.ne[3] == 1, "rope: f32 (head_dim, n_heads, n_tokens)");
    VKAI_ASSERT(rp.n_rot > 0 && rp.n_rot % 2 == 0 && rp.n_rot <= head_dim, "rope: n_rot %d", rp.n_rot);
    if (!err_.ok() || n_tok == 0) return;
    const Pipeline* p = pipeline("rope", 3, sizeof(RopePC));
    if (!p) return;
    rope_table(pos, n_tok, rp);
    const int64_t nrows = x.nrows(), per = rows_per_chunk({&x, &y}, nrows);
    for (int64_t r0 = 0; r0 < nrows; r0 += per) {
        const int64_t r1 = std::min(nrows, r0 + per);
        Binding b[3];
        RopePC pc{};
        uint64_t lo, hi;
        row_span(x, r0, r1, lo, hi);
        if (!rope_table_binding(2, b[1])) return;
        bool ok = bind(x, lo, hi, b[0], &pc.x.bias);
        row_span(y, r0, r1, lo, hi);
        ok = ok && bind(y, lo, hi, b[2], &pc.y.bias);
        if (!ok) return set_error(fail(Code::unsupported, "rope: a row does not fit one storage-buffer binding"));
        pc.x = tpc(x, pc.x.bias);
        pc.y = tpc(y, pc.y.bias);
        pc.head_dim = uint32_t(head_dim);
        pc.n_rot = uint32_t(rp.n_rot);
        pc.n_heads = uint32_t(n_heads);
        pc.neox = rp.mode == RopeMode::neox ? 1 : 0;
        pc.nrows = uint32_t(r1 - r0);
        pc.row0 = uint32_t(r0);
        pc.cs_off = 0;
        dispatch(p, b, &pc, uint64_t(r1 - r0), 1, "rope");
    }
}

// set_rows(rope(x), ids, dst) in one dispatch (rope.comp STORE): x (head_dim, n_heads, n_tok), dst
// rows of head_dim * n_heads; the whole destination in one binding, as set_rows.
void VulkanBackendImpl::rope_set_rows(const Tensor& x, const int32_t* pos, const RopeParams& rp, const int32_t* ids, Tensor& dst) {
    const int64_t head_dim = x.ne[0], n_heads = x.ne[1], n_tok = x.ne[2];
    VKAI_ASSERT(x.type == DType::F32 && x.ne[3] == 1 && (dst.type == DType::F32 || dst.type == DType::F16) && dst.ne[0] == head_dim * n_heads,
                "rope_set_rows: f32 (head_dim, n_heads, n_tokens) into rows of head_dim * n_heads");
    VKAI_ASSERT(rp.n_rot > 0 && rp.n_rot % 2 == 0 && rp.n_rot <= head_dim && head_dim % 2 == 0, "rope_set_rows: n_rot %d, head_dim %lld", rp.n_rot,
                (long long)head_dim);
    for (int64_t t = 0; t < n_tok; ++t)
        VKAI_ASSERT(ids[t] >= 0 && ids[t] < dst.nrows(), "rope_set_rows: id %d out of [0, %lld)", ids[t], (long long)dst.nrows());
    if (!err_.ok() || n_tok == 0) return;
    const Pipeline* p = pipeline(dst.type == DType::F16 ? "rope_store_f16" : "rope_store_f32", 4, sizeof(RopePC));
    if (!p) return;
    rope_table(pos, n_tok, rp);
    Tensor d2 = dst; // 2-D: rows are cells
    d2.ne[1] = dst.nrows();
    d2.ne[2] = d2.ne[3] = 1;
    uint64_t dlo, dhi;
    row_span(d2, 0, d2.ne[1], dlo, dhi);
    // Whole tokens per dispatch (a token's heads share its id).
    const int64_t per_tok = std::max<int64_t>(1, rows_per_chunk({&x}, x.nrows()) / n_heads);
    for (int64_t t0 = 0; t0 < n_tok; t0 += per_tok) {
        const int64_t t1 = std::min(n_tok, t0 + per_tok);
        Binding b[4];
        RopePC pc{};
        uint64_t lo, hi;
        row_span(x, t0 * n_heads, t1 * n_heads, lo, hi);
        // The table, then the ids; should the ids' slice flush the ring, the table is staged again.
        RingSlice ids_slice;
        for (;;) {
            if (!rope_table_binding(2, b[1])) return;
            const uint64_t gen = rec_->ring_generation();
            Result<RingSlice> s = rec_->ring_alloc(uint64_t(t1 - t0) * 4, align_);
            if (!s.ok()) return set_error(s.status());
            if (rec_->ring_generation() == gen) {
                ids_slice = *s;
                break;
            }
        }
        std::memcpy(ids_slice.host, ids + t0, size_t(t1 - t0) * 4);
        bool ok = bind(x, lo, hi, b[0], &pc.x.bias);
        b[2] = bind_ring(ids_slice, uint64_t(t1 - t0) * 4);
        ok = ok && bind(d2, dlo, dhi, b[3], &pc.y.bias);
        if (!ok) return set_error(fail(Code::unsupported, "rope_set_rows: an operand does not fit one storage-buffer binding"));
        pc.x = tpc(x, pc.x.bias);
        pc.y = tpc(d2, pc.y.bias);
        pc.head_dim = uint32_t(head_dim);
        pc.n_rot = uint32_t(rp.n_rot);
        pc.n_heads = uint32_t(n_heads);
        pc.neox = rp.mode == RopeMode::neox ? 1 : 0;
        pc.nrows = uint32_t((t1 - t0) * n_heads);
        pc.row0 = uint32_t(t0 * n_heads);
        pc.cs_off = 0;
        pc.ids_off = uint32_t(-t0); // ids[ids_off + t] for the absolute token t: the slice starts at t0 (mod 2^32)
        dispatch(p, b, &pc, uint64_t(t1 - t0) * uint64_t(n_heads), 1, "rope");
    }
}

void VulkanBackendImpl::attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, float scale, Tensor& out) {
    const int64_t hd = q.ne[0], n_head = q.ne[1], n_tok = q.ne[2];
    const int64_t n_head_kv = k.ne[1], n_cells = k.ne[2];
    VKAI_ASSERT(q.type == DType::F32 && out.type == DType::F32 && mask.type == DType::F32, "attention: q, mask and out are f32");
    VKAI_ASSERT(k.type == v.type && (k.type == DType::F32 || k.type == DType::F16), "attention: k/v must both be f32 or f16");
    VKAI_ASSERT(k.ne[0] == hd && v.ne[0] == hd && v.ne[1] == n_head_kv && v.ne[2] == n_cells, "attention: k/v shapes");
    VKAI_ASSERT(n_head_kv > 0 && n_head % n_head_kv == 0, "attention: n_head %lld not a multiple of n_head_kv %lld", (long long)n_head,
                (long long)n_head_kv);
    VKAI_ASSERT(mask.ne[0] == n_cells && mask.ne[1] == n_tok && out.ne == q.ne, "attention: mask/out shapes");
    if (!err_.ok() || n_tok == 0 || n_head == 0) return;
    if (hd > 512) return set_error(fail(Code::unsupported, "attention: head_dim %lld > 512 is not implemented on Vulkan", (long long)hd));
    if (n_tok > 65535 || n_head > 65535) return set_error(fail(Code::unsupported, "attention: too many tokens or heads for one dispatch"));
    Binding b[5];
    AttnPC pc{};
    auto whole = [&](const Tensor& t, Binding& bd, uint32_t* bias) {
        uint64_t lo, hi;
        row_span(t, 0, t.nrows(), lo, hi);
        return bind(t, lo, hi, bd, bias);
    };
    bool ok = whole(q, b[0], &pc.q_bias) && whole(k, b[1], &pc.k_bias) && whole(v, b[2], &pc.v_bias) && whole(mask, b[3], &pc.m_bias) &&
              whole(out, b[4], &pc.o_bias);
    if (!ok) return set_error(fail(Code::unsupported, "attention: an operand (KV cache of one layer?) exceeds one storage-buffer binding"));
    pc.hd = uint32_t(hd);
    pc.n_head = uint32_t(n_head);
    pc.n_head_kv = uint32_t(n_head_kv);
    pc.n_cells = uint32_t(n_cells);
    pc.scale = scale;
    pc.q_nb1 = uint32_t(q.nb[1]), pc.q_nb2 = uint32_t(q.nb[2]);
    pc.k_nb1 = uint32_t(k.nb[1]), pc.k_nb2 = uint32_t(k.nb[2]);
    pc.v_nb1 = uint32_t(v.nb[1]), pc.v_nb2 = uint32_t(v.nb[2]);
    pc.m_nb1 = uint32_t(mask.nb[1]);
    pc.o_nb1 = uint32_t(out.nb[1]), pc.o_nb2 = uint32_t(out.nb[2]);
    // Many queries (whisper's encoder, prompts) of a head size <= 64 and a multiple of 4: blocks of 32
    // queries share each K/V tile (a variant with fixed loops for 64). Its loads need 4-byte aligned
    // f16 rows (f32 rows always are).
    const bool aligned = ((pc.k_bias | pc.k_nb1 | pc.k_nb2 | pc.v_bias | pc.v_nb1 | pc.v_nb2) & 3u) == 0u;
    const bool tiled = hd <= kTiledMaxHd && hd % 4 == 0 && n_tok >= kTiledMinTokens && aligned && dev_->info().max_shared_bytes >= kTiledSharedBytes &&
                       !tiled_attention_off();
    const std::string tiled_name = std::string(hd == 64 ? "attention_tiled_hd64_" : "attention_tiled_") + (k.type == DType::F16 ? "f16" : "f32");
    // Few queries (decode), or many over many cells: 256 threads per (head, token), K/V read in
    // 16-byte slices (rows 16-byte aligned, whole slices; other layouts take attention.comp).
    const uint32_t kv_bytes = k.type == DType::F16 ? 2 : 4;
    const bool vec16 = ((pc.k_bias | pc.k_nb1 | pc.k_nb2 | pc.v_bias | pc.v_nb1 | pc.v_nb2) & 15u) == 0u && (uint64_t(hd) * kv_bytes) % 16 == 0;
    const bool wide = !tiled && vec16 && (n_tok <= kDecodeTokens || n_cells >= wide_min_cells()) && !wide_attention_off();
    const std::string kv = k.type == DType::F16 ? "f16" : "f32";
    const Pipeline* p = tiled  ? pipeline(tiled_name, 5, sizeof(AttnTiledPC))
                        : wide ? pipeline("attention_wide_" + kv + (use_subgroup_ops() ? "_sg" : ""), 5, sizeof(AttnPC))
                               : pipeline("attention_" + kv, 5, sizeof(AttnPC));
    if (!p || !err_.ok()) return;
    rec_->add_flops(attention_flops(q, k)); // the submit budget's estimate (vk_commands.h)
    if (tiled) {
        const AttnTiledPC tp{pc, uint32_t(n_tok)};
        set_error(rec_->dispatch(*p, b, &tp, uint32_t(n_head), uint32_t((n_tok + kTiledBq - 1) / kTiledBq), 1, "attention"));
        return;
    }
    if (wide && n_tok <= kSplitMaxTokens && n_cells >= kSplitMinCells && !split_attention_off() && attention_split(pc, b, n_tok, k.type)) return;
    set_error(rec_->dispatch(*p, b, &pc, uint32_t(n_head), uint32_t(n_tok), 1, "attention"));
}

// The wide kernel over splits of kSplitCells cells, partials into a slice of the scratch ring,
// merged by each (head, token)'s last split. False (nothing recorded) when the scratch cannot be
// had or the call is too large for it: the caller then takes one workgroup per (head, token).
bool VulkanBackendImpl::attention_split(const AttnPC& pc, const Binding* b, int64_t n_tok, DType kv) {
    const uint32_t n_split = uint32_t((int64_t(pc.n_cells) + kSplitCells - 1) / kSplitCells);
    const uint64_t bytes = uint64_t(n_tok) * pc.n_head * n_split * (pc.hd + 2) * 4, counts = uint64_t(n_tok) * pc.n_head;
    if (bytes > kSplitScratchBytes || counts > kSplitSlotCounts) return false;
    if (!split_scratch_) {
        Result<void*> r = alloc(kSplitCountBytes + kSplitScratchBytes, "attention scratch");
        if (!r.ok()) return false;
        const std::vector<uint32_t> zeros(kSplitCountBytes / 4, 0);
        if (!upload(*r, zeros.data(), kSplitCountBytes).ok()) {
            free(*r);
            return false;
        }
        split_scratch_ = *r;
    }
    // Reuse from the start of the ring, and of the count slots, is ordered by the hazard tracker.
    if (split_used_ + bytes > kSplitScratchBytes) split_used_ = 0;
    const std::string kvn = kv == DType::F16 ? "f16" : "f32", sg = use_subgroup_ops() ? "_sg" : "";
    const Pipeline* ps = pipeline("attention_split_" + kvn + sg, 7, sizeof(AttnSplitPC));
    if (!ps) return true; // the error is set
    uint8_t* base = static_cast<uint8_t*>(split_scratch_);
    Tensor partial = make_tensor(DType::F32, base + kSplitCountBytes + split_used_, int64_t(bytes / 4));
    Tensor count = make_tensor(DType::F32, base + split_slot_ * kSplitSlotCounts * 4, int64_t(counts));
    split_used_ += (bytes + 255) / 256 * 256;
    split_slot_ = (split_slot_ + 1) % kSplitSlots;
    Binding bs[7] = {b[0], b[1], b[2], b[3], b[4], {}, {}};
    AttnSplitPC sp{pc, uint32_t(kSplitCells), n_split, 0, 0};
    if (!bind(partial, 0, bytes, bs[5], &sp.s_bias) || !bind(count, 0, counts * 4, bs[6], &sp.c_bias)) return false;
    set_error(rec_->dispatch(*ps, bs, &sp, pc.n_head, uint32_t(n_tok), n_split, "attention"));
    return true;
}

} // namespace vkai::vk
