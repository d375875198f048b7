#include "llm/forward.h"

#include "base/check.h"
#include "base/text.h"
#include "cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

namespace vkai::llm {
namespace {

// Activation slots (each a backend buffer sized for n_batch tokens).
enum Slot { X, H, Q, K, V, ATTN, GATE, UP, MASK, XSEL, LOGITS, ROUTER, XE, YE, MOE_OUT, N_SLOTS };

} // namespace

Context::Context(const Model& model, const ContextParams& params) : model_(model), params_(params) {}

Context::~Context() {
    if (!backend_) return;
    for (void* p : act_)
        if (p) backend_->free(p);
    for (void* p : uploaded_) backend_->free(p);
}

Result<std::unique_ptr<Context>> Context::create(const Model& model, const ContextParams& p) {
    if (p.n_batch < 1 || p.n_batch > 65536) return fail(Code::invalid_argument, "batch size %lld out of range [1, 65536]", (long long)p.n_batch);
    std::unique_ptr<Context> c(new Context(model, p));
    if (p.backend) {
        c->backend_ = p.backend;
    } else {
        c->owned_backend_ = std::make_unique<cpu::CpuBackend>(p.threads);
        c->backend_ = c->owned_backend_.get();
    }
    Backend& be = *c->backend_;
    VKAI_ASSIGN_OR_RETURN(c->kv_, KvCache::create(model.hp(), p.n_ctx, p.kv_type, be));
    VKAI_TRY(c->place_weights());

    const HParams& h = model.hp();
    const uint64_t nb = uint64_t(std::min(p.n_batch, p.n_ctx));
    const uint64_t q_dim = uint64_t(h.n_head * h.head_dim), kv_dim = uint64_t(h.n_head_kv * h.head_dim), embd = uint64_t(h.n_embd);
    const uint64_t ff = uint64_t(std::max(h.n_ff, h.n_ff_exp));
    uint64_t floats[N_SLOTS] = {};
    floats[X] = embd * nb;
    floats[H] = std::max(embd, q_dim) * nb;
    floats[Q] = q_dim * nb;
    floats[K] = kv_dim * nb;
    floats[V] = kv_dim * nb;
    floats[ATTN] = q_dim * nb;
    floats[GATE] = ff * nb;
    floats[UP] = ff * nb;
    floats[MASK] = uint64_t(p.n_ctx) * nb;
    floats[XSEL] = embd * nb;
    floats[LOGITS] = uint64_t(h.n_vocab) * nb;
    if (h.n_expert > 0) {
        floats[ROUTER] = uint64_t(h.n_expert) * nb;
        floats[XE] = embd * nb;
        floats[YE] = embd * nb;
        floats[MOE_OUT] = embd * nb;
    }
    c->act_.assign(N_SLOTS, nullptr);
    c->act_bytes_.assign(N_SLOTS, 0);
    for (int s = 0; s < N_SLOTS; ++s) {
        if (!floats[s]) continue;
        VKAI_ASSIGN_OR_RETURN(c->act_[size_t(s)], be.alloc(floats[s] * 4, "activations"));
        c->act_bytes_[size_t(s)] = floats[s] * 4;
    }
    c->mask_host_.resize(size_t(floats[MASK]));
    return c;
}

// Weights stay in the mapped file when the backend computes on host memory; otherwise each tensor
// is uploaded once and the backend's copy is used.
Status Context::place_weights() {
    w_ = model_.weights();
    Backend& be = *backend_;
    if (be.uses_host_memory()) return {};
    auto place = [&](Tensor& t) -> Status {
        if (!t.data) return {};
        const uint64_t bytes = tensor_bytes(t);
        VKAI_ASSIGN_OR_RETURN(void* dst, be.alloc(bytes, "weights"));
        uploaded_.push_back(dst);
        VKAI_TRY(be.upload(dst, t.data, bytes));
        t.data = dst;
        return {};
    };
    const bool tied = model_.hp().tied_embeddings;
    VKAI_TRY(place(w_.tok_embd));
    VKAI_TRY(place(w_.output_norm));
    VKAI_TRY(place(w_.rope_freqs));
    if (tied) w_.output = w_.tok_embd;
    else VKAI_TRY(place(w_.output));
    for (auto& L : w_.layers)
        for (Tensor* t : {&L.attn_norm, &L.wq, &L.wk, &L.wv, &L.bq, &L.bk, &L.bv, &L.q_norm, &L.k_norm, &L.wo, &L.ffn_norm, &L.ffn_gate,
                          &L.ffn_up, &L.ffn_down, &L.router, &L.gate_exps, &L.up_exps, &L.down_exps})
            VKAI_TRY(place(*t));
    return be.sync();
}

Tensor Context::act(int slot, int64_t ne0, int64_t ne1, int64_t ne2) {
    VKAI_ASSERT(uint64_t(ne0 * ne1 * ne2) * 4 <= act_bytes_[size_t(slot)], "activation slot %d too small", slot);
    return make_tensor(DType::F32, act_[size_t(slot)], ne0, ne1, ne2);
}

void Context::ffn_dense(const LayerWeights& L, Tensor& h, int64_t n) {
    const HParams& hp = model_.hp();
    Backend& be = *backend_;
    Tensor g = act(GATE, hp.n_ff, n), u = act(UP, hp.n_ff, n);
    be.mul_mat(L.ffn_gate, h, g);
    be.mul_mat(L.ffn_up, h, u);
    be.silu(g, g);
    be.mul(g, u, g);
    be.mul_mat(L.ffn_down, g, h);
}

// Experts: route each token to its top-k experts (softmax over the router logits), then run each
// expert once on all the tokens routed to it. h holds the normalized input and receives the output.
// Routing is decided on the host (the router logits are downloaded), as the expert choice decides
// which weights the next ops read.
Status Context::ffn_moe(const LayerWeights& L, Tensor& h, int64_t n) {
    const HParams& hp = model_.hp();
    Backend& be = *backend_;
    const int64_t ne = hp.n_expert, k = hp.n_expert_used, d = hp.n_embd, ff = hp.n_ff_exp;
    Tensor r = act(ROUTER, ne, n);
    be.mul_mat(L.router, h, r);
    be.softmax(r, nullptr, 1.0f, r);
    std::vector<float> probs(size_t(ne * n));
    VKAI_TRY(be.download(probs.data(), r.data, probs.size() * 4));

    std::vector<int32_t> chosen(size_t(n * k));
    std::vector<float> weight(size_t(n * k));
    std::vector<int32_t> order(static_cast<size_t>(ne));
    for (int64_t t = 0; t < n; ++t) {
        const float* p = probs.data() + t * ne;
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
        float sum = 0;
        for (int64_t j = 0; j < k; ++j) sum += p[order[size_t(j)]];
        for (int64_t j = 0; j < k; ++j) {
            chosen[size_t(t * k + j)] = order[size_t(j)];
            weight[size_t(t * k + j)] = model_.arch().moe_norm_topk && sum > 0 ? p[order[size_t(j)]] / sum : p[order[size_t(j)]];
        }
    }
    // out[token] += weight * expert output, summed on the host (k small experts per token).
    std::vector<float> out(size_t(d * n), 0.0f), ye_host;
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
        Tensor xe = act(XE, d, m), ye = act(YE, d, m), g = act(GATE, ff, m), u = act(UP, ff, m);
        be.get_rows(h, toks.data(), m, xe);
        auto slice = [e](const Tensor& w) {
            Tensor s = w;
            s.data = static_cast<uint8_t*>(w.data) + uint64_t(e) * w.nb[2];
            s.ne[2] = 1;
            return s;
        };
        be.mul_mat(slice(L.gate_exps), xe, g);
        be.mul_mat(slice(L.up_exps), xe, u);
        be.silu(g, g);
        be.mul(g, u, g);
        be.mul_mat(slice(L.down_exps), g, ye);
        ye_host.resize(size_t(d * m));
        VKAI_TRY(be.download(ye_host.data(), ye.data, ye_host.size() * 4));
        for (int64_t j = 0; j < m; ++j) {
            const float* y = ye_host.data() + j * d;
            float* o = out.data() + size_t(toks[size_t(j)]) * size_t(d);
            for (int64_t i = 0; i < d; ++i) o[i] += wts[size_t(j)] * y[i];
        }
    }
    return be.upload(h.data, out.data(), out.size() * 4);
}

Status Context::decode(const Batch& b) {
    const HParams& hp = model_.hp();
    const Weights& W = w_;
    Backend& be = *backend_;
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
    Tensor x = act(X, hp.n_embd, n), h = act(H, hp.n_embd, n);
    Tensor q = act(Q, q_dim, n), k = act(K, kv_dim, n), v = act(V, kv_dim, n), attn = act(ATTN, q_dim, n);
    Tensor q3 = act(Q, hp.head_dim, hp.n_head, n), k3 = act(K, hp.head_dim, hp.n_head_kv, n);
    Tensor attn3 = act(ATTN, hp.head_dim, hp.n_head, n);

    // Mask: a token sees the cells of its own sequence at positions up to its own.
    Tensor mask = act(MASK, n_cells, n);
    for (int64_t t = 0; t < n; ++t) {
        float* m = mask_host_.data() + t * n_cells;
        for (int64_t c = 0; c < n_cells; ++c) {
            const bool vis = kv_.cell_pos(c) >= 0 && kv_.cell_seq(c) == b.seq[size_t(t)] && kv_.cell_pos(c) <= b.pos[size_t(t)];
            m[c] = vis ? 0.0f : -INFINITY;
        }
    }
    VKAI_TRY(be.upload(mask.data, mask_host_.data(), uint64_t(n * n_cells) * 4));

    RopeParams rope;
    rope.n_rot = int(hp.n_rot);
    rope.mode = model_.arch().rope;
    rope.freq_base = hp.rope_freq_base;
    rope.freq_scale = hp.rope_freq_scale;
    // freq_factors is a host pointer in RopeParams: read it from the model's mapped file.
    rope.freq_factors = static_cast<const float*>(model_.weights().rope_freqs.data);
    const float scale = 1.0f / std::sqrt(float(hp.head_dim));

    be.get_rows(W.tok_embd, b.token.data(), n, x);
    for (int64_t l = 0; l < hp.n_layer; ++l) {
        const LayerWeights& L = W.layers[size_t(l)];
        be.rms_norm(x, &L.attn_norm, hp.norm_eps, h);
        be.mul_mat(L.wq, h, q);
        be.mul_mat(L.wk, h, k);
        be.mul_mat(L.wv, h, v);
        if (L.bq.data) {
            be.add(q, L.bq, q);
            be.add(k, L.bk, k);
            be.add(v, L.bv, v);
        }
        if (L.q_norm.data) {
            Tensor qh = act(Q, hp.head_dim, hp.n_head * n), kh = act(K, hp.head_dim, hp.n_head_kv * n);
            be.rms_norm(qh, &L.q_norm, hp.norm_eps, qh);
            be.rms_norm(kh, &L.k_norm, hp.norm_eps, kh);
        }
        be.rope(q3, b.pos.data(), rope, q3);
        be.rope(k3, b.pos.data(), rope, k3);

        Tensor kc = kv_.k(l), vc = kv_.v(l);
        Tensor kc2 = make_tensor(kc.type, kc.data, kv_dim, n_cells), vc2 = make_tensor(vc.type, vc.data, kv_dim, n_cells);
        be.set_rows(k, cells.data(), kc2);
        be.set_rows(v, cells.data(), vc2);
        be.attention(q3, kc, vc, mask, scale, attn3);

        be.mul_mat(L.wo, attn, h);
        be.add(x, h, x);
        be.rms_norm(x, &L.ffn_norm, hp.norm_eps, h);
        if (hp.n_expert > 0) VKAI_TRY(ffn_moe(L, h, n));
        else ffn_dense(L, h, n);
        be.add(x, h, x);
    }

    // Logits only for the tokens that want them (usually the last one of each sequence).
    std::vector<int32_t> rows;
    for (int64_t i = 0; i < n; ++i)
        if (b.want_logits[size_t(i)]) rows.push_back(int32_t(i));
    n_logits_ = int64_t(rows.size());
    if (rows.empty()) return be.sync();
    const int64_t no = n_logits_;
    Tensor xs = act(XSEL, hp.n_embd, no), lg = act(LOGITS, hp.n_vocab, no);
    be.get_rows(x, rows.data(), no, xs);
    be.rms_norm(xs, &W.output_norm, hp.norm_eps, xs);
    be.mul_mat(W.output, xs, lg);
    logits_.resize(size_t(hp.n_vocab * no));
    VKAI_TRY(be.download(logits_.data(), lg.data, logits_.size() * 4));
    return be.sync();
}

} // namespace vkai::llm
