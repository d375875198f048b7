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
    for (auto& e : execs_)
        for (void* p : e.act)
            if (p) e.be->free(p);
    for (auto& [be, p] : uploaded_) be->free(p);
}

Tensor Context::Exec::t(int slot, int64_t ne0, int64_t ne1, int64_t ne2) const {
    VKAI_ASSERT(uint64_t(ne0 * ne1 * ne2) * 4 <= act_bytes[size_t(slot)], "activation slot %d too small", slot);
    return make_tensor(DType::F32, act[size_t(slot)], ne0, ne1, ne2);
}

Result<std::unique_ptr<Context>> Context::create(const Model& model, const ContextParams& p) {
    if (p.n_batch < 1 || p.n_batch > 65536) return fail(Code::invalid_argument, "batch size %lld out of range [1, 65536]", (long long)p.n_batch);
    std::unique_ptr<Context> c(new Context(model, p));
    const HParams& h = model.hp();
    // The CPU backend: the caller's when it passed one, else our own.
    const bool gpu = p.backend && p.backend->name() != "cpu";
    Backend* cpu = p.backend && !gpu ? p.backend : nullptr;
    if (!cpu) {
        c->cpu_backend_ = std::make_unique<cpu::CpuBackend>(p.threads);
        cpu = c->cpu_backend_.get();
    }
    c->execs_.push_back({cpu, {}, {}});
    if (gpu) c->execs_.push_back({p.backend, {}, {}});
    c->n_main_layers_ = !gpu ? 0 : (p.n_gpu_layers < 0 ? h.n_layer : std::min<int64_t>(p.n_gpu_layers, h.n_layer));
    std::vector<Backend*> layer_be;
    for (int64_t l = 0; l < h.n_layer; ++l) {
        c->layer_exec_.push_back(l < c->n_main_layers_ ? 1 : 0);
        layer_be.push_back(c->execs_[size_t(c->layer_exec_.back())].be);
    }
    c->head_exec_ = gpu && c->n_main_layers_ == h.n_layer ? 1 : 0;
    VKAI_ASSIGN_OR_RETURN(c->kv_, KvCache::create(h, p.n_ctx, p.kv_type, layer_be));
    VKAI_TRY(c->place_weights());
    for (auto& e : c->execs_) VKAI_TRY(c->alloc_activations(e));
    c->mask_host_.resize(size_t(p.n_ctx) * size_t(std::min(p.n_batch, p.n_ctx)));
    return c;
}

Status Context::alloc_activations(Exec& e) {
    const HParams& h = model_.hp();
    const uint64_t nb = uint64_t(std::min(params_.n_batch, params_.n_ctx));
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
    floats[MASK] = uint64_t(params_.n_ctx) * nb;
    floats[XSEL] = embd * nb;
    floats[LOGITS] = uint64_t(h.n_vocab) * nb;
    if (h.n_expert > 0) {
        floats[ROUTER] = uint64_t(h.n_expert) * nb;
        floats[XE] = embd * nb;
        floats[YE] = embd * nb;
        floats[MOE_OUT] = embd * nb;
    }
    e.act.assign(N_SLOTS, nullptr);
    e.act_bytes.assign(N_SLOTS, 0);
    for (int s = 0; s < N_SLOTS; ++s) {
        if (!floats[s]) continue;
        VKAI_ASSIGN_OR_RETURN(e.act[size_t(s)], e.be->alloc(floats[s] * 4, "activations"));
        e.act_bytes[size_t(s)] = floats[s] * 4;
    }
    return {};
}

// A tensor stays in the mapped file when its backend computes on host memory; otherwise it is
// uploaded once and the backend's copy is used.
Status Context::place(Tensor& t, Backend& be) {
    if (!t.data || be.uses_host_memory()) return {};
    const uint64_t bytes = tensor_bytes(t);
    VKAI_ASSIGN_OR_RETURN(void* dst, be.alloc(bytes, "weights"));
    uploaded_.push_back({&be, dst});
    VKAI_TRY(be.upload(dst, t.data, bytes));
    t.data = dst;
    return {};
}

Status Context::place_weights() {
    w_ = model_.weights();
    Backend& head = *execs_[size_t(head_exec_)].be;
    // tok_embd stays on the CPU (one row per token is read); the head gets its own copy if tied.
    w_.output = model_.weights().output;
    VKAI_TRY(place(w_.output, head));
    VKAI_TRY(place(w_.output_norm, head));
    for (size_t l = 0; l < w_.layers.size(); ++l) {
        Backend& be = *execs_[size_t(layer_exec_[l])].be;
        LayerWeights& L = w_.layers[l];
        for (Tensor* t : {&L.attn_norm, &L.wq, &L.wk, &L.wv, &L.bq, &L.bk, &L.bv, &L.q_norm, &L.k_norm, &L.wo, &L.ffn_norm, &L.ffn_gate,
                          &L.ffn_up, &L.ffn_down, &L.router, &L.gate_exps, &L.up_exps, &L.down_exps})
            VKAI_TRY(place(*t, be));
    }
    for (auto& e : execs_) VKAI_TRY(e.be->sync());
    return {};
}

// Copies the residual stream x (n tokens) from one backend to another at a layer boundary.
Status Context::move_x(const Exec& from, const Exec& to, int64_t n) {
    const uint64_t bytes = uint64_t(model_.hp().n_embd * n) * 4;
    void* src = from.act[X];
    void* dst = to.act[X];
    if (from.be->uses_host_memory()) return to.be->upload(dst, src, bytes);
    if (to.be->uses_host_memory()) return from.be->download(dst, src, bytes);
    x_host_.resize(size_t(bytes / 4));
    VKAI_TRY(from.be->download(x_host_.data(), src, bytes));
    return to.be->upload(dst, x_host_.data(), bytes);
}

void Context::ffn_dense(Exec& e, const LayerWeights& L, Tensor& h, int64_t n) {
    const HParams& hp = model_.hp();
    Backend& be = *e.be;
    Tensor g = e.t(GATE, hp.n_ff, n), u = e.t(UP, hp.n_ff, n);
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
Status Context::ffn_moe(Exec& ex, const LayerWeights& L, Tensor& h, int64_t n) {
    const HParams& hp = model_.hp();
    Backend& be = *ex.be;
    const int64_t ne = hp.n_expert, k = hp.n_expert_used, d = hp.n_embd, ff = hp.n_ff_exp;
    Tensor r = ex.t(ROUTER, ne, n);
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
        Tensor xe = ex.t(XE, d, m), ye = ex.t(YE, d, m), g = ex.t(GATE, ff, m), u = ex.t(UP, ff, m);
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

    // Mask: a token sees the cells of its own sequence at positions up to its own (and, with a
    // sliding window, only the last n_swa of them).
    for (int64_t t = 0; t < n; ++t) {
        float* m = mask_host_.data() + t * n_cells;
        for (int64_t c = 0; c < n_cells; ++c) {
            const int32_t cp = kv_.cell_pos(c), tp = b.pos[size_t(t)];
            const bool vis = cp >= 0 && kv_.cell_seq(c) == b.seq[size_t(t)] && cp <= tp && (hp.n_swa <= 0 || tp - cp < hp.n_swa);
            m[c] = vis ? 0.0f : -INFINITY;
        }
    }
    for (auto& e : execs_) VKAI_TRY(e.be->upload(e.act[MASK], mask_host_.data(), uint64_t(n * n_cells) * 4));

    RopeParams rope;
    rope.n_rot = int(hp.n_rot);
    rope.mode = model_.arch().rope;
    rope.freq_base = hp.rope_freq_base;
    rope.freq_scale = hp.rope_freq_scale;
    // freq_factors is a host pointer in RopeParams: read it from the model's mapped file.
    rope.freq_factors = static_cast<const float*>(model_.weights().rope_freqs.data);
    const float scale = 1.0f / std::sqrt(float(hp.head_dim));

    // The embedding lookup runs on the CPU; x then moves to whichever backend runs layer 0.
    int cur = 0;
    {
        Tensor x0 = execs_[0].t(X, hp.n_embd, n);
        execs_[0].be->get_rows(W.tok_embd, b.token.data(), n, x0);
    }
    for (int64_t l = 0; l < hp.n_layer; ++l) {
        const int ei = layer_exec_[size_t(l)];
        if (ei != cur) {
            VKAI_TRY(move_x(execs_[size_t(cur)], execs_[size_t(ei)], n));
            cur = ei;
        }
        Exec& e = execs_[size_t(ei)];
        Backend& be = *e.be;
        const LayerWeights& L = W.layers[size_t(l)];
        Tensor x = e.t(X, hp.n_embd, n), h = e.t(H, hp.n_embd, n);
        Tensor q = e.t(Q, q_dim, n), k = e.t(K, kv_dim, n), v = e.t(V, kv_dim, n), attn = e.t(ATTN, q_dim, n);
        Tensor q3 = e.t(Q, hp.head_dim, hp.n_head, n), k3 = e.t(K, hp.head_dim, hp.n_head_kv, n);
        Tensor attn3 = e.t(ATTN, hp.head_dim, hp.n_head, n), mask = e.t(MASK, n_cells, n);

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
            Tensor qh = e.t(Q, hp.head_dim, hp.n_head * n), kh = e.t(K, hp.head_dim, hp.n_head_kv * n);
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
        if (hp.n_expert > 0) VKAI_TRY(ffn_moe(e, L, h, n));
        else ffn_dense(e, L, h, n);
        be.add(x, h, x);
    }
    if (head_exec_ != cur) {
        VKAI_TRY(move_x(execs_[size_t(cur)], execs_[size_t(head_exec_)], n));
        cur = head_exec_;
    }

    // Logits only for the tokens that want them (usually the last one of each sequence).
    Exec& e = execs_[size_t(cur)];
    Backend& be = *e.be;
    std::vector<int32_t> rows;
    for (int64_t i = 0; i < n; ++i)
        if (b.want_logits[size_t(i)]) rows.push_back(int32_t(i));
    n_logits_ = int64_t(rows.size());
    Status st;
    if (!rows.empty()) {
        const int64_t no = n_logits_;
        Tensor x = e.t(X, hp.n_embd, n), xs = e.t(XSEL, hp.n_embd, no), lg = e.t(LOGITS, hp.n_vocab, no);
        be.get_rows(x, rows.data(), no, xs);
        be.rms_norm(xs, &W.output_norm, hp.norm_eps, xs);
        be.mul_mat(W.output, xs, lg);
        logits_.resize(size_t(hp.n_vocab * no));
        st = be.download(logits_.data(), lg.data, logits_.size() * 4);
    }
    for (auto& ex : execs_) {
        Status s2 = ex.be->sync();
        if (st.ok() && !s2.ok()) st = s2;
    }
    return st;
}

} // namespace vkai::llm
