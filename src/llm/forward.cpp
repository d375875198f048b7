#include "llm/forward.h"

#include "base/check.h"
#include "base/text.h"
#include "base/log.h"
#include "cpu/cpu_backend.h"
#include "plan/measure_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <numeric>

namespace vkai::llm {
namespace {

// Activation slots (each a backend buffer sized for n_batch tokens).
// MoE: ROUTER holds the router probabilities (n_expert, n) and, behind them, a copy of the input
// when the experts run on the CPU (one download fetches both); MOE_W the routing weights as rows
// for the device's experts; LOGITS (free during the layers) their outputs when n > 1.
enum Slot { X, H, Q, K, V, ATTN, GATE, UP, MASK, XSEL, LOGITS, ROUTER, XE, YE, MOE_W, N_SLOTS };

// Logits are computed for at most this many tokens at a time: a batch's worth for a large vocabulary
// (151936 x 512 floats = 297 MiB) would take device memory from the weights.
constexpr int64_t kHeadRows = 64;

// Expert e of a (k, m, n_expert) expert tensor as a 2-D weight.
Tensor expert_slice(const Tensor& w, int64_t e) {
    Tensor s = w;
    s.data = static_cast<uint8_t*>(w.data) + uint64_t(e) * w.nb[2];
    s.ne[2] = 1;
    return s;
}

} // namespace

Context::Context(const Model& model, const ContextParams& params) : model_(model), params_(params) {}

Context::~Context() { release(); }

// Frees every allocation of every backend (a lost device still accepts frees).
void Context::release() {
    for (auto& e : execs_)
        for (void*& p : e.act)
            if (p) e.be->free(p), p = nullptr;
    for (auto& [be, p] : uploaded_) be->free(p);
    uploaded_.clear();
    kv_ = KvCache(); // frees the K/V buffers
}

Tensor Context::Exec::t(int slot, int64_t ne0, int64_t ne1, int64_t ne2) const {
    VKAI_ASSERT(uint64_t(ne0 * ne1 * ne2) * 4 <= act_bytes[size_t(slot)], "activation slot %d too small", slot);
    return make_tensor(DType::F32, act[size_t(slot)], ne0, ne1, ne2);
}

int64_t Context::head_rows() const { return std::min<int64_t>(kHeadRows, std::min(params_.n_batch, params_.n_ctx)); }

size_t Context::mask_floats() const { return size_t(params_.n_ctx) * size_t(std::min(params_.n_batch, params_.n_ctx)); }

Result<std::unique_ptr<Context>> Context::create(const Model& model, const ContextParams& p) {
    if (p.n_batch < 1 || p.n_batch > 65536) return fail(Code::invalid_argument, "batch size %lld out of range [1, 65536]", (long long)p.n_batch);
    if (p.n_cpu_moe < 0) return fail(Code::invalid_argument, "n_cpu_moe %lld must be >= 0", (long long)p.n_cpu_moe);
    std::unique_ptr<Context> c(new Context(model, p));
    // The CPU backend: the caller's when it passed one, else our own.
    const bool gpu = p.backend && p.backend->name() != "cpu";
    Backend* cpu = p.backend && !gpu ? p.backend : nullptr;
    if (!cpu) {
        c->cpu_backend_ = std::make_unique<cpu::CpuBackend>(p.threads);
        cpu = c->cpu_backend_.get();
    }
    VKAI_TRY(c->init(cpu, gpu ? p.backend : nullptr));
    c->mask_host_.resize(c->mask_floats());
    return c;
}

Result<DryRun> Context::measure(const Model& model, const ContextParams& p) {
    if (p.n_batch < 1 || p.n_batch > 65536) return fail(Code::invalid_argument, "batch size %lld out of range [1, 65536]", (long long)p.n_batch);
    if (p.n_cpu_moe < 0) return fail(Code::invalid_argument, "n_cpu_moe %lld must be >= 0", (long long)p.n_cpu_moe);
    plan::MeasureBackend cpu("cpu", true), gpu("dry-run", false);
    DryRun r;
    {
        std::unique_ptr<Context> c(new Context(model, p));
        VKAI_TRY(c->init(&cpu, &gpu));
        r.gpu_weights = gpu.bytes("weights");
        r.gpu_kv = gpu.bytes("KV cache");
        r.gpu_act = gpu.bytes("activations");
        r.cpu_weights = cpu.bytes("weights");
        r.cpu_kv = cpu.bytes("KV cache");
        r.cpu_act = cpu.bytes("activations");
        r.host_mask = uint64_t(c->mask_floats()) * 4;
    }
    return r;
}

Result<Context::DecodeCount> Context::count_decode(const Model& model, const ContextParams& p) {
    if (p.n_cpu_moe < 0) return fail(Code::invalid_argument, "n_cpu_moe %lld must be >= 0", (long long)p.n_cpu_moe);
    plan::MeasureBackend cpu("cpu", true), gpu("dry-run", false);
    cpu.count_ops(false);
    gpu.count_ops(true);
    std::unique_ptr<Context> c(new Context(model, p));
    VKAI_TRY(c->init(&cpu, &gpu));
    c->mask_host_.resize(c->mask_floats());
    auto cpu_calls = [&] { return cpu.ops() + cpu.uploads() + cpu.downloads(); };
    const int64_t o0 = gpu.ops() + gpu.uploads(), c0 = cpu_calls(), d0 = gpu.downloads();
    Batch b;
    b.add(0, 0, 0, true);
    VKAI_TRY(c->decode(b));
    return DecodeCount{gpu.ops() + gpu.uploads() - o0, cpu_calls() - c0, gpu.downloads() - d0};
}

Status Context::init(Backend* cpu, Backend* gpu) {
    const HParams& h = model_.hp();
    execs_.clear();
    layer_exec_.clear();
    execs_.push_back({cpu, {}, {}});
    if (gpu) execs_.push_back({gpu, {}, {}});
    n_main_layers_ = !gpu ? 0 : (params_.n_gpu_layers < 0 ? h.n_layer : std::min<int64_t>(params_.n_gpu_layers, h.n_layer));
    std::vector<Backend*> layer_be;
    for (int64_t l = 0; l < h.n_layer; ++l) {
        layer_exec_.push_back(l < n_main_layers_ ? 1 : 0);
        layer_be.push_back(execs_[size_t(layer_exec_.back())].be);
    }
    head_exec_ = gpu && n_main_layers_ == h.n_layer ? 1 : 0;
    cpu_experts_.assign(size_t(h.n_layer), 0);
    if (h.n_expert > 0)
        for (int64_t l = 0; l < h.n_layer; ++l)
            cpu_experts_[size_t(l)] = layer_exec_[size_t(l)] != 0 && (params_.cpu_moe || l >= h.n_layer - params_.n_cpu_moe);
    VKAI_ASSIGN_OR_RETURN(kv_, KvCache::create(h, params_.n_ctx, params_.kv_type, layer_be));
    VKAI_TRY(place_weights());
    for (auto& e : execs_) VKAI_TRY(alloc_activations(e));
    cell_token_.assign(size_t(params_.n_ctx), -1);
    return {};
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
    floats[XSEL] = embd * uint64_t(head_rows());
    floats[LOGITS] = uint64_t(h.n_vocab) * uint64_t(head_rows());
    if (h.n_expert > 0) {
        const uint64_t k = uint64_t(h.n_expert_used);
        floats[ROUTER] = uint64_t(h.n_expert) * nb + embd * nb;
        floats[XE] = embd * nb;
        floats[YE] = embd * nb;
        floats[MOE_W] = uint64_t(h.n_ff_exp) * std::max(nb, k);
        floats[LOGITS] = std::max(floats[LOGITS], embd * k * nb);
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
                          &L.ffn_up, &L.ffn_down, &L.router, &L.gate_exps, &L.up_exps, &L.down_exps}) {
            const bool expert = t == &L.gate_exps || t == &L.up_exps || t == &L.down_exps;
            if (expert && cpu_experts_[l]) continue; // stays in the mapped file; ffn_moe runs it on the CPU
            VKAI_TRY(place(*t, be));
        }
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

// h: the normalized input (clobbered); the FFN's output is added to x.
namespace {

struct Projection {
    const Tensor* w;
    Tensor* y;
};
// y = w rms_norm(x, norm) for each projection: on a backend that fuses (f32 norm weights), the norm
// inside each of them (one dependent step less; each recomputes it), else once into h (h may be x).
void normed_projections(Backend& be, const Tensor& x, const Tensor& norm, float eps, Tensor& h, std::initializer_list<Projection> ps) {
    const int64_t n = x.nrows();
    bool fuse = norm.type == DType::F32;
    for (const Projection& p : ps) fuse = fuse && be.fuses_rms_norm_mul_mat(p.w->type, n);
    if (fuse) {
        for (const Projection& p : ps) be.rms_norm_mul_mat(*p.w, x, norm, eps, *p.y);
        return;
    }
    be.rms_norm(x, &norm, eps, h);
    for (const Projection& p : ps) be.mul_mat(*p.w, h, *p.y);
}

} // namespace

void Context::ffn_dense(Exec& e, const LayerWeights& L, Tensor& h, Tensor& x, int64_t n) {
    const HParams& hp = model_.hp();
    Backend& be = *e.be;
    Tensor g = e.t(GATE, hp.n_ff, n), u = e.t(UP, hp.n_ff, n);
    normed_projections(be, x, L.ffn_norm, hp.norm_eps, h, {{&L.ffn_gate, &g}, {&L.ffn_up, &u}});
    if (be.fuses_swiglu_mul_mat_add(L.ffn_down.type, n)) { // decode on a GPU: one step instead of two
        be.swiglu_mul_mat_add(L.ffn_down, g, u, x, x);
        return;
    }
    be.swiglu(g, u, g);
    if (be.fuses_mul_mat_add(L.ffn_down.type, n)) {
        be.mul_mat_add(L.ffn_down, g, x, x);
    } else {
        be.mul_mat(L.ffn_down, g, h);
        be.add(x, h, x);
    }
}

// Experts: route each token to its top-k experts (softmax over the router logits), then run each
// expert once on all the tokens routed to it, and add the weighted outputs to x. Routing is decided
// on the host (the probabilities are downloaded: the expert choice decides which weights the next
// ops read): one round trip per layer, which also fetches h when the experts run on the CPU.
Status Context::ffn_moe(Exec& ex, int64_t l, Tensor& h, Tensor& x, int64_t n) {
    const HParams& hp = model_.hp();
    const LayerWeights& L = w_.layers[size_t(l)];
    Backend& be = *ex.be;
    const int64_t ne = hp.n_expert, k = hp.n_expert_used, d = hp.n_embd;
    const bool cpu_experts = cpu_experts_[size_t(l)] != 0;
    Tensor r = ex.t(ROUTER, ne, n);
    be.mul_mat(L.router, h, r);
    be.softmax(r, nullptr, 1.0f, r);
    const size_t np = size_t(ne * n);
    moe_host_.resize(np + (cpu_experts ? size_t(d * n) : 0));
    if (cpu_experts) { // h right behind the probabilities: the same download brings it
        Tensor hc = make_tensor(DType::F32, static_cast<uint8_t*>(r.data) + np * 4, d, n);
        be.copy(h, hc);
    }
    VKAI_TRY(be.download(moe_host_.data(), r.data, moe_host_.size() * 4));

    std::vector<int32_t> chosen(size_t(n * k));
    std::vector<float> weight(size_t(n * k));
    std::vector<int32_t> order(static_cast<size_t>(ne));
    for (int64_t t = 0; t < n; ++t) {
        const float* p = moe_host_.data() + t * ne;
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
        float sum = 0;
        for (int64_t j = 0; j < k; ++j) sum += p[order[size_t(j)]];
        for (int64_t j = 0; j < k; ++j) {
            chosen[size_t(t * k + j)] = order[size_t(j)];
            weight[size_t(t * k + j)] = model_.arch().moe_norm_topk && sum > 0 ? p[order[size_t(j)]] / sum : p[order[size_t(j)]];
        }
    }
    if (be.uses_host_memory() || cpu_experts) return experts_on_host(ex, L, h, x, n, chosen, weight, cpu_experts ? moe_host_.data() + np : nullptr);
    return experts_on_device(ex, L, h, x, n, chosen, weight);
}

// The experts on the CPU (their weights in the mapped file), on h (on the CPU already, or h_host:
// the downloaded copy); out[token] += weight * expert output is summed on the host, uploaded into
// h and added to x on the layer's backend.
Status Context::experts_on_host(Exec& ex, const LayerWeights& L, Tensor& h, Tensor& x, int64_t n, const std::vector<int32_t>& chosen,
                                const std::vector<float>& weight, const float* h_host) {
    const HParams& hp = model_.hp();
    const int64_t ne = hp.n_expert, k = hp.n_expert_used, d = hp.n_embd, ff = hp.n_ff_exp;
    Exec& xx = execs_[0];
    Backend& eb = *xx.be;
    Tensor hx = h;
    if (h_host) {
        hx = xx.t(H, d, n);
        VKAI_TRY(eb.upload(hx.data, h_host, uint64_t(d * n) * 4)); // a copy on the CPU backend
    }
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
        Tensor xe = xx.t(XE, d, m), ye = xx.t(YE, d, m), g = xx.t(GATE, ff, m), u = xx.t(UP, ff, m);
        eb.get_rows(hx, toks.data(), m, xe);
        eb.mul_mat(expert_slice(L.gate_exps, e), xe, g);
        eb.mul_mat(expert_slice(L.up_exps, e), xe, u);
        eb.silu(g, g);
        eb.mul(g, u, g);
        eb.mul_mat(expert_slice(L.down_exps, e), g, ye);
        ye_host.resize(size_t(d * m));
        VKAI_TRY(eb.download(ye_host.data(), ye.data, ye_host.size() * 4));
        for (int64_t j = 0; j < m; ++j) {
            const float* y = ye_host.data() + j * d;
            float* o = out.data() + size_t(toks[size_t(j)]) * size_t(d);
            for (int64_t i = 0; i < d; ++i) o[i] += wts[size_t(j)] * y[i];
        }
    }
    VKAI_TRY(ex.be->upload(h.data, out.data(), out.size() * 4));
    ex.be->add(x, h, x);
    return {};
}

// The experts on the layer's device: nothing of theirs comes back to the host. Each expert's
// up projection (ff, m) is scaled by its tokens' routing weights (silu(g) * (u w) = w (silu(g) u),
// and the down projection is linear: this weights the expert's output); the weights go up as rows
// of ff copies. One token: SwiGLU, the down projection and the add into x are one fused call. More: expert outputs land in their slot
// j * n + t of ys (the LOGITS slot, free during the layers) and the k slots of every token are
// added to x (every slot is written: a token's k experts are distinct).
Status Context::experts_on_device(Exec& ex, const LayerWeights& L, const Tensor& h, Tensor& x, int64_t n, const std::vector<int32_t>& chosen,
                                  const std::vector<float>& weight) {
    const HParams& hp = model_.hp();
    Backend& be = *ex.be;
    const int64_t ne = hp.n_expert, k = hp.n_expert_used, d = hp.n_embd, ff = hp.n_ff_exp, nk = n * k;
    const bool chain = n == 1 && be.fuses_mul_mat_add(L.down_exps.type, 1);
    const bool glu = n == 1 && be.fuses_swiglu_mul_mat_add(L.down_exps.type, 1); // SwiGLU, down and add in one call
    // (token, slot, weight) grouped by expert, in expert order: start[e] .. start[e + 1]
    std::vector<int64_t> start(size_t(ne + 1), 0);
    for (int64_t i = 0; i < nk; ++i) ++start[size_t(chosen[size_t(i)] + 1)];
    for (int64_t e = 0; e < ne; ++e) start[size_t(e + 1)] += start[size_t(e)];
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    std::vector<int32_t> toks(static_cast<size_t>(nk)), slots(static_cast<size_t>(nk));
    moe_w_.resize(size_t(nk * ff));
    for (int64_t i = 0; i < nk; ++i) {
        const int64_t at = fill[size_t(chosen[size_t(i)])]++, t = i / k, j = i % k;
        toks[size_t(at)] = int32_t(t);
        slots[size_t(at)] = int32_t(j * n + t);
        std::fill_n(moe_w_.data() + at * ff, ff, weight[size_t(i)]);
    }
    // All weight rows in one upload when they fit the slot (always for one token), else per expert.
    const bool one_upload = uint64_t(nk * ff) * 4 <= ex.act_bytes[MOE_W];
    if (one_upload) VKAI_TRY(be.upload(ex.act[MOE_W], moe_w_.data(), uint64_t(nk * ff) * 4));
    Tensor ys = ex.t(LOGITS, d, nk);
    for (int64_t e = 0; e < ne; ++e) {
        const int64_t a = start[size_t(e)], m = start[size_t(e + 1)] - a;
        if (m == 0) continue;
        Tensor xe = h;
        if (n > 1) {
            xe = ex.t(XE, d, m);
            be.get_rows(h, toks.data() + a, m, xe);
        }
        Tensor g = ex.t(GATE, ff, m), u = ex.t(UP, ff, m);
        be.mul_mat(expert_slice(L.gate_exps, e), xe, g);
        be.mul_mat(expert_slice(L.up_exps, e), xe, u);
        Tensor w = ex.t(MOE_W, ff, m);
        if (one_upload) w.data = static_cast<uint8_t*>(ex.act[MOE_W]) + uint64_t(a * ff) * 4;
        else VKAI_TRY(be.upload(w.data, moe_w_.data() + a * ff, uint64_t(m * ff) * 4));
        be.mul(u, w, u); // silu(g) * (u * w) = w * (silu(g) * u)
        if (glu) {
            be.swiglu_mul_mat_add(expert_slice(L.down_exps, e), g, u, x, x);
            continue;
        }
        be.swiglu(g, u, g);
        if (chain) {
            be.mul_mat_add(expert_slice(L.down_exps, e), g, x, x);
        } else {
            Tensor ye = ex.t(YE, d, m);
            be.mul_mat(expert_slice(L.down_exps, e), g, ye);
            be.set_rows(ye, slots.data() + a, ys);
        }
    }
    if (!chain && !glu)
        for (int64_t j = 0; j < k; ++j) {
            Tensor yj = make_tensor(DType::F32, static_cast<uint8_t*>(ys.data) + uint64_t(j * n * d) * 4, d, n);
            be.add(x, yj, x);
        }
    return {};
}

int64_t Context::n_gpu_expert_layers() const {
    if (model_.hp().n_expert == 0) return 0;
    int64_t c = 0;
    for (size_t l = 0; l < layer_exec_.size(); ++l) c += layer_exec_[l] != 0 && !cpu_experts_[l];
    return c;
}

DecodeOps decode_ops(const Model& m, bool gpu) {
    const HParams& hp = m.hp();
    const LayerWeights& L = m.weights().layers.front();
    DecodeOps o;
    // rms_norm, q, k, v, (3 bias adds), (q/k norms), 2 ropes, 2 cache writes, attention, output
    // projection (+ residual add), ffn norm. On the GPU for one token the residual add is inside
    // the projection, and each norm inside the projections it feeds (the ffn norm only for a dense
    // FFN); on the GPU k's rope and cache write are one op.
    o.attn = (gpu ? 0 : 1) + 3 + (L.bq.data ? 3 : 0) + (L.q_norm.data ? 2 : 0) + (gpu ? 3 : 4) + 1 + (gpu ? 1 : 2) +
             (gpu && hp.n_expert == 0 ? 0 : 1);
    o.head = gpu ? 2 : 4; // row selection, output norm (in the head on a GPU), head (+ the logits' download: a GPU's is a round trip)
    if (hp.n_expert == 0) {
        o.ffn = gpu ? 3 : 5; // gate, up, swiglu, down, add (on the GPU: swiglu, down and add in one)
        return o;
    }
    const int64_t k = hp.n_expert_used;
    o.ffn = gpu ? 2 : 3;                        // router, softmax (+ the probabilities' download, see head)
    o.experts_cpu = 7 * k + 1;                  // per expert: gather, gate, up, silu, mul, down, download; + h's copy
    o.experts = gpu ? 4 * k + 1 : 7 * k + 2;    // gate, up, weight, swiglu+down+add; one weights upload | + upload, add
    o.cpu_experts_gpu_side = gpu ? 3 : 0;       // copy of h, upload of the sum, add
    return o;
}

Status Context::decode(const Batch& b) {
    bool claimed = false;
    Status st = decode_impl(b, claimed);
    // After the cells were claimed only the backends fail; from the GPU side that is a device
    // fault. Release the batch's cells so a fallback resumes from the state before it.
    if (!st.ok() && claimed && execs_.size() > 1 && (st.code() == Code::device_lost || st.code() == Code::out_of_memory)) {
        gpu_failed_ = true;
        for (int64_t i = 0; i < b.size(); ++i) kv_.remove(b.seq[size_t(i)], b.pos[size_t(i)], b.pos[size_t(i)] + 1);
    }
    return st;
}

Status Context::fallback_to_cpu(const Status& why) {
    if (execs_.size() < 2) return fail(Code::internal, "fallback_to_cpu: the context already runs on the CPU");
    struct Cell {
        int32_t seq, pos, tok;
    };
    std::vector<Cell> cells;
    for (int64_t c = 0; c < kv_.n_cells(); ++c)
        if (kv_.cell_pos(c) >= 0) cells.push_back({kv_.cell_seq(c), kv_.cell_pos(c), cell_token_[size_t(c)]});
    std::sort(cells.begin(), cells.end(), [](const Cell& a, const Cell& b) { return a.seq != b.seq ? a.seq < b.seq : a.pos < b.pos; });
    const std::string from = execs_[1].be->name();
    Backend* cpu = execs_[0].be;
    release();
    params_.backend = nullptr;
    params_.n_gpu_layers = 0;
    params_.cpu_moe = false;
    params_.n_cpu_moe = 0;
    VKAI_TRY(init(cpu, nullptr));
    gpu_failed_ = false;
    fallback_reason_ = from + ": " + why.message();
    VKAI_LOG_WARN("%s failed (%s): continuing on the cpu; rebuilding the KV cache from %zu tokens", from.c_str(), why.message().c_str(),
                  cells.size());
    Batch b;
    for (size_t i = 0; i < cells.size(); i += size_t(params_.n_batch)) {
        b.clear();
        for (size_t j = i; j < std::min(cells.size(), i + size_t(params_.n_batch)); ++j) b.add(cells[j].tok, cells[j].pos, cells[j].seq, false);
        VKAI_TRY(decode(b));
    }
    return {};
}

Status Context::decode_impl(const Batch& b, bool& claimed) {
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
    claimed = true;
    for (int64_t i = 0; i < n; ++i) cell_token_[size_t(cells[size_t(i)])] = b.token[size_t(i)];

    const int64_t q_dim = hp.n_head * hp.head_dim, kv_dim = hp.n_head_kv * hp.head_dim, n_cells = kv_.n_cells();
    // Attention reads only the cells up to the last one in use: a fresh 4096-cell context costs
    // what its tokens cost, not a pass over every masked cell.
    const int64_t n_kv = kv_.used_end();

    // Mask: a token sees the cells of its own sequence at positions up to its own (and, with a
    // sliding window, only the last n_swa of them).
    for (int64_t t = 0; t < n; ++t) {
        float* m = mask_host_.data() + t * n_kv;
        for (int64_t c = 0; c < n_kv; ++c) {
            const int32_t cp = kv_.cell_pos(c), tp = b.pos[size_t(t)];
            const bool vis = cp >= 0 && kv_.cell_seq(c) == b.seq[size_t(t)] && cp <= tp && (hp.n_swa <= 0 || tp - cp < hp.n_swa);
            m[c] = vis ? 0.0f : -INFINITY;
        }
    }
    for (auto& e : execs_) VKAI_TRY(e.be->upload(e.act[MASK], mask_host_.data(), uint64_t(n * n_kv) * 4));

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
        Tensor attn3 = e.t(ATTN, hp.head_dim, hp.n_head, n), mask = e.t(MASK, n_kv, n);

        normed_projections(be, x, L.attn_norm, hp.norm_eps, h, {{&L.wq, &q}, {&L.wk, &k}, {&L.wv, &v}});
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
        Tensor kc = kv_.k(l), vc = kv_.v(l);
        Tensor kc2 = make_tensor(kc.type, kc.data, kv_dim, n_cells), vc2 = make_tensor(vc.type, vc.data, kv_dim, n_cells);
        be.rope(q3, b.pos.data(), rope, q3);
        if (be.fuses_rope_set_rows()) { // k rotated straight into the cache: one dependent step less
            be.rope_set_rows(k3, b.pos.data(), rope, cells.data(), kc2);
        } else {
            be.rope(k3, b.pos.data(), rope, k3);
            be.set_rows(k, cells.data(), kc2);
        }
        be.set_rows(v, cells.data(), vc2);
        kc.ne[2] = vc.ne[2] = n_kv; // the cells in use (views: same strides)
        be.attention(q3, kc, vc, mask, scale, attn3);

        // Decode on a backend that fuses: the residual add goes into the projection that feeds it
        // (here and in ffn_dense): one dependent step less each.
        if (be.fuses_mul_mat_add(L.wo.type, n)) {
            be.mul_mat_add(L.wo, attn, x, x);
        } else {
            be.mul_mat(L.wo, attn, h);
            be.add(x, h, x);
        }
        if (hp.n_expert > 0) {
            be.rms_norm(x, &L.ffn_norm, hp.norm_eps, h);
            VKAI_TRY(ffn_moe(e, l, h, x, n));
        } else {
            ffn_dense(e, L, h, x, n);
        }
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
        // kHeadRows rows at a time: the logits buffer holds that many, not a whole batch's
        const int64_t no = n_logits_, hr = head_rows();
        logits_.resize(size_t(hp.n_vocab * no));
        Tensor x = e.t(X, hp.n_embd, n);
        for (int64_t r0 = 0; r0 < no && st.ok(); r0 += hr) {
            const int64_t c = std::min(hr, no - r0);
            Tensor xs = e.t(XSEL, hp.n_embd, c), lg = e.t(LOGITS, hp.n_vocab, c);
            be.get_rows(x, rows.data() + r0, c, xs);
            normed_projections(be, xs, W.output_norm, hp.norm_eps, xs, {{&W.output, &lg}});
            st = be.download(logits_.data() + r0 * hp.n_vocab, lg.data, uint64_t(c * hp.n_vocab) * 4);
        }
    }
    for (auto& ex : execs_) {
        Status s2 = ex.be->sync();
        if (st.ok() && !s2.ok()) st = s2;
    }
    return st;
}

} // namespace vkai::llm
