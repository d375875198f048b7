#include "llm/forward.h"

#include "base/check.h"
#include "cpu/cpu.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace vkai::llm {
namespace {

Tensor f32(std::vector<float>& v, int64_t ne0, int64_t ne1 = 1, int64_t ne2 = 1) {
    VKAI_ASSERT(uint64_t(ne0 * ne1 * ne2) <= v.size(), "activation buffer too small");
    return make_tensor(DType::F32, v.data(), ne0, ne1, ne2);
}

} // namespace

Context::Context(const Model& model, const ContextParams& params, KvCache kv)
    : model_(model), params_(params), kv_(std::move(kv)), pool_(params.threads) {}

Result<std::unique_ptr<Context>> Context::create(const Model& model, const ContextParams& p) {
    if (p.n_batch < 1 || p.n_batch > 65536) return fail(Code::invalid_argument, "batch size %lld out of range [1, 65536]", (long long)p.n_batch);
    VKAI_ASSIGN_OR_RETURN(KvCache kv, KvCache::create(model.hp(), p.n_ctx, p.kv_type));
    std::unique_ptr<Context> c(new Context(model, p, std::move(kv)));
    const HParams& h = model.hp();
    const size_t nb = size_t(std::min(p.n_batch, p.n_ctx));
    const size_t q_dim = size_t(h.n_head * h.head_dim), kv_dim = size_t(h.n_head_kv * h.head_dim);
    const size_t ff = size_t(std::max(h.n_ff, h.n_ff_exp));
    c->x_.resize(size_t(h.n_embd) * nb);
    c->h_.resize(size_t(std::max<int64_t>(h.n_embd, int64_t(q_dim))) * nb);
    c->q_.resize(q_dim * nb);
    c->k_.resize(kv_dim * nb);
    c->v_.resize(kv_dim * nb);
    c->attn_.resize(q_dim * nb);
    c->gate_.resize(ff * nb);
    c->up_.resize(ff * nb);
    c->mask_.resize(size_t(p.n_ctx) * nb);
    if (h.n_expert > 0) {
        c->router_.resize(size_t(h.n_expert) * nb);
        c->xe_.resize(size_t(h.n_embd) * nb);
        c->ye_.resize(size_t(h.n_embd) * nb);
    }
    return c;
}

void Context::ffn_dense(const LayerWeights& L, int64_t n) {
    const HParams& hp = model_.hp();
    Tensor h = f32(h_, hp.n_embd, n), g = f32(gate_, hp.n_ff, n), u = f32(up_, hp.n_ff, n);
    cpu::mul_mat(L.ffn_gate, h, g, pool_);
    cpu::mul_mat(L.ffn_up, h, u, pool_);
    cpu::silu(g, g, pool_);
    cpu::mul(g, u, g, pool_);
    cpu::mul_mat(L.ffn_down, g, h, pool_);
}

// Experts: route each token to its top-k experts (softmax over the router logits), then run each
// expert once on all the tokens routed to it. h holds the normalized input and receives the output.
void Context::ffn_moe(const LayerWeights& L, int64_t n) {
    const HParams& hp = model_.hp();
    const int64_t ne = hp.n_expert, k = hp.n_expert_used, d = hp.n_embd, ff = hp.n_ff_exp;
    Tensor h = f32(h_, d, n), r = f32(router_, ne, n);
    cpu::mul_mat(L.router, h, r, pool_);
    cpu::softmax(r, nullptr, 1.0f, r, pool_);

    // Per token: chosen experts and weights.
    std::vector<int32_t> chosen(size_t(n * k));
    std::vector<float> weight(size_t(n * k));
    std::vector<int32_t> order(static_cast<size_t>(ne));
    for (int64_t t = 0; t < n; ++t) {
        const float* p = r.row<const float>(t);
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
        float sum = 0;
        for (int64_t j = 0; j < k; ++j) sum += p[order[size_t(j)]];
        for (int64_t j = 0; j < k; ++j) {
            chosen[size_t(t * k + j)] = order[size_t(j)];
            weight[size_t(t * k + j)] = model_.arch().moe_norm_topk && sum > 0 ? p[order[size_t(j)]] / sum : p[order[size_t(j)]];
        }
    }
    std::vector<float> out(size_t(d * n), 0.0f);
    std::vector<int32_t> toks;
    std::vector<float> wts;
    for (int64_t e = 0; e < ne; ++e) {
        toks.clear();
        wts.clear();
        for (int64_t i = 0; i < n * k; ++i)
            if (chosen[size_t(i)] == e) {
                toks.push_back(int32_t(i / k));
                wts.push_back(weight[size_t(i)]);
            }
        if (toks.empty()) continue;
        const int64_t m = int64_t(toks.size());
        Tensor xe = f32(xe_, d, m), ye = f32(ye_, d, m), g = f32(gate_, ff, m), u = f32(up_, ff, m);
        cpu::get_rows(h, toks.data(), m, xe, pool_);
        auto slice = [e](const Tensor& w) {
            Tensor s = w;
            s.data = static_cast<uint8_t*>(w.data) + uint64_t(e) * w.nb[2];
            s.ne[2] = 1;
            return s;
        };
        cpu::mul_mat(slice(L.gate_exps), xe, g, pool_);
        cpu::mul_mat(slice(L.up_exps), xe, u, pool_);
        cpu::silu(g, g, pool_);
        cpu::mul(g, u, g, pool_);
        cpu::mul_mat(slice(L.down_exps), g, ye, pool_);
        for (int64_t j = 0; j < m; ++j) {
            const float* y = ye.row<const float>(j);
            float* o = out.data() + size_t(toks[size_t(j)]) * size_t(d);
            for (int64_t i = 0; i < d; ++i) o[i] += wts[size_t(j)] * y[i];
        }
    }
    std::copy(out.begin(), out.end(), h_.begin());
}

Status Context::decode(const Batch& b) {
    const HParams& hp = model_.hp();
    const Weights& W = model_.weights();
    const int64_t n = b.size();
    if (n == 0) return fail(Code::invalid_argument, "decode: empty batch");
    if (n > params_.n_batch || n > kv_.n_cells())
        return fail(Code::invalid_argument, "decode: batch of %lld tokens exceeds the batch size %lld", (long long)n, (long long)params_.n_batch);
    for (int64_t i = 0; i < n; ++i) {
        if (b.token[size_t(i)] < 0 || b.token[size_t(i)] >= hp.n_vocab)
            return fail(Code::invalid_argument, "decode: token id %d at batch index %lld is outside the vocabulary [0, %lld)", b.token[size_t(i)], (long long)i, (long long)hp.n_vocab);
        if (b.pos[size_t(i)] < 0 || b.seq[size_t(i)] < 0)
            return fail(Code::invalid_argument, "decode: negative position or sequence id at batch index %lld", (long long)i);
    }
    VKAI_ASSIGN_OR_RETURN(std::vector<int32_t> cells, kv_.claim(b.pos.data(), b.seq.data(), n));

    const int64_t q_dim = hp.n_head * hp.head_dim, kv_dim = hp.n_head_kv * hp.head_dim, n_cells = kv_.n_cells();
    Tensor x = f32(x_, hp.n_embd, n), h = f32(h_, hp.n_embd, n);
    Tensor q = f32(q_, q_dim, n), k = f32(k_, kv_dim, n), v = f32(v_, kv_dim, n), attn = f32(attn_, q_dim, n);
    Tensor q3 = f32(q_, hp.head_dim, hp.n_head, n), k3 = f32(k_, hp.head_dim, hp.n_head_kv, n);
    Tensor attn3 = f32(attn_, hp.head_dim, hp.n_head, n);

    // Mask: a token sees the cells of its own sequence at positions up to its own.
    Tensor mask = f32(mask_, n_cells, n);
    for (int64_t t = 0; t < n; ++t) {
        float* m = mask.row<float>(t);
        for (int64_t c = 0; c < n_cells; ++c) {
            const bool vis = kv_.cell_pos(c) >= 0 && kv_.cell_seq(c) == b.seq[size_t(t)] && kv_.cell_pos(c) <= b.pos[size_t(t)];
            m[c] = vis ? 0.0f : -INFINITY;
        }
    }

    RopeParams rope;
    rope.n_rot = int(hp.n_rot);
    rope.mode = model_.arch().rope;
    rope.freq_base = hp.rope_freq_base;
    rope.freq_scale = hp.rope_freq_scale;
    rope.freq_factors = static_cast<const float*>(W.rope_freqs.data);
    const float scale = 1.0f / std::sqrt(float(hp.head_dim));

    cpu::get_rows(W.tok_embd, b.token.data(), n, x, pool_);
    for (int64_t l = 0; l < hp.n_layer; ++l) {
        const LayerWeights& L = W.layers[size_t(l)];
        cpu::rms_norm(x, &L.attn_norm, hp.norm_eps, h, pool_);
        cpu::mul_mat(L.wq, h, q, pool_);
        cpu::mul_mat(L.wk, h, k, pool_);
        cpu::mul_mat(L.wv, h, v, pool_);
        if (L.bq.data) {
            cpu::add(q, L.bq, q, pool_);
            cpu::add(k, L.bk, k, pool_);
            cpu::add(v, L.bv, v, pool_);
        }
        if (L.q_norm.data) {
            Tensor qh = f32(q_, hp.head_dim, hp.n_head * n), kh = f32(k_, hp.head_dim, hp.n_head_kv * n);
            cpu::rms_norm(qh, &L.q_norm, hp.norm_eps, qh, pool_);
            cpu::rms_norm(kh, &L.k_norm, hp.norm_eps, kh, pool_);
        }
        cpu::rope(q3, b.pos.data(), rope, q3, pool_);
        cpu::rope(k3, b.pos.data(), rope, k3, pool_);

        Tensor kc = kv_.k(l), vc = kv_.v(l);
        Tensor kc2 = make_tensor(kc.type, kc.data, kv_dim, n_cells), vc2 = make_tensor(vc.type, vc.data, kv_dim, n_cells);
        cpu::set_rows(k, cells.data(), kc2, pool_);
        cpu::set_rows(v, cells.data(), vc2, pool_);
        cpu::attention(q3, kc, vc, mask, scale, attn3, pool_);

        cpu::mul_mat(L.wo, attn, h, pool_);
        cpu::add(x, h, x, pool_);
        cpu::rms_norm(x, &L.ffn_norm, hp.norm_eps, h, pool_);
        if (hp.n_expert > 0) ffn_moe(L, n);
        else ffn_dense(L, n);
        cpu::add(x, h, x, pool_);
    }

    // Logits only for the tokens that want them (usually the last one of each sequence).
    std::vector<int32_t> rows;
    for (int64_t i = 0; i < n; ++i)
        if (b.want_logits[size_t(i)]) rows.push_back(int32_t(i));
    n_logits_ = int64_t(rows.size());
    if (rows.empty()) return {};
    const int64_t no = n_logits_;
    std::vector<float> xsel(size_t(hp.n_embd * no));
    Tensor xs = make_tensor(DType::F32, xsel.data(), hp.n_embd, no);
    cpu::get_rows(x, rows.data(), no, xs, pool_);
    cpu::rms_norm(xs, &W.output_norm, hp.norm_eps, xs, pool_);
    logits_.resize(size_t(hp.n_vocab * no));
    Tensor lg = make_tensor(DType::F32, logits_.data(), hp.n_vocab, no);
    cpu::mul_mat(W.output, xs, lg, pool_);
    return {};
}

} // namespace vkai::llm
