#include "llm/model.h"

#include "base/log.h"
#include "base/text.h"
#include "tensor/quant.h"

#include <algorithm>
#include <optional>

namespace vkai::llm {
namespace {

Result<int64_t> get_dim(const gguf::File& f, const std::string& key, int64_t lo, int64_t hi, std::optional<int64_t> fallback = {}) {
    auto v = f.get_uint(key);
    if (!v.ok()) {
        if (v.status().code() == Code::not_found && fallback) return *fallback;
        return v.status();
    }
    if (int64_t(*v) < lo || int64_t(*v) > hi || *v > uint64_t(INT64_MAX))
        return fail(Code::corrupt, "%s = %llu is out of the valid range [%lld, %lld]", key.c_str(), (unsigned long long)*v, (long long)lo, (long long)hi);
    return int64_t(*v);
}

Result<float> get_f(const gguf::File& f, const std::string& key, float lo, float hi, float fallback) {
    auto v = f.get_float(key);
    if (!v.ok()) {
        if (v.status().code() == Code::not_found) return fallback;
        return v.status();
    }
    if (!(*v >= lo && *v <= hi)) return fail(Code::corrupt, "%s = %g is out of the valid range [%g, %g]", key.c_str(), *v, lo, hi);
    return float(*v);
}

// Looks up a tensor, checks its shape exactly and that vkai can compute with its type.
class TensorGetter {
public:
    explicit TensorGetter(const gguf::File& f) : f_(f) {}

    Result<Tensor> get(const std::string& name, std::vector<int64_t> shape, bool required = true) const {
        const gguf::TensorInfo* t = f_.find_tensor(name);
        if (!t) {
            if (!required) return Tensor{};
            return fail(Code::not_found, "tensor '%s' is missing; the file is incomplete or not a supported %.*s model", name.c_str(),
                        int(f_.architecture().size()), f_.architecture().data());
        }
        std::string want, got;
        bool ok = true; // ne decides; a trailing 1 may or may not be counted in n_dims
        for (size_t d = 0; d < 4; ++d) {
            int64_t w = d < shape.size() ? shape[d] : 1;
            if (t->ne[d] != w) ok = false;
        }
        if (!ok) {
            for (size_t d = 0; d < shape.size(); ++d) want += strf("%s%lld", d ? ", " : "", (long long)shape[d]);
            for (int d = 0; d < std::max(t->n_dims, 1); ++d) got += strf("%s%lld", d ? ", " : "", (long long)t->ne[d]);
            return fail(Code::corrupt, "tensor '%s' has shape [%s], expected [%s] from the model's hyperparameters", name.c_str(), got.c_str(), want.c_str());
        }
        if (!can_dequantize(t->type))
            return fail(Code::unsupported, "tensor '%s' has type %s, which vkai cannot compute with yet", name.c_str(), dtype_name(t->type));
        if (shape.size() == 1 && t->type != DType::F32)
            return fail(Code::unsupported, "tensor '%s' (a norm or bias) has type %s; expected F32", name.c_str(), dtype_name(t->type));
        return make_tensor(t->type, const_cast<uint8_t*>(t->data), shape[0], shape.size() > 1 ? shape[1] : 1, shape.size() > 2 ? shape[2] : 1);
    }

private:
    const gguf::File& f_;
};

// Rows [r0, r0 + rows) of a matrix: a view of a fused weight (no copy; rows are contiguous).
Tensor row_slice(const Tensor& t, int64_t r0, int64_t rows) {
    Tensor s = t;
    s.data = static_cast<uint8_t*>(t.data) + uint64_t(r0) * t.nb[1];
    s.ne[1] = rows;
    s.nb[2] = s.nb[1] * uint64_t(rows);
    s.nb[3] = s.nb[2];
    return s;
}

} // namespace

Result<HParams> read_hparams(const gguf::File& f) {
    HParams hp;
    hp.arch = std::string(f.architecture());
    if (hp.arch.empty()) return fail(Code::corrupt, "general.architecture is missing; not a model file?");
    const ArchInfo* arch = find_arch(hp.arch);
    if (!arch) return fail(Code::unsupported, "architecture '%s' is not supported; vkai runs: %s", hp.arch.c_str(), supported_arch_names());
    const std::string a = hp.arch + ".";
    VKAI_ASSIGN_OR_RETURN(hp.n_embd, get_dim(f, a + "embedding_length", 1, 1 << 16));
    VKAI_ASSIGN_OR_RETURN(hp.n_layer, get_dim(f, a + "block_count", 1, 512));
    VKAI_ASSIGN_OR_RETURN(hp.n_head, get_dim(f, a + "attention.head_count", 1, 1024));
    if (f.find(a + "attention.head_count_kv") && f.find(a + "attention.head_count_kv")->type == gguf::ValueType::array)
        return fail(Code::unsupported, "%sattention.head_count_kv varies per layer; vkai does not support that yet", a.c_str());
    VKAI_ASSIGN_OR_RETURN(hp.n_head_kv, get_dim(f, a + "attention.head_count_kv", 1, 1024, hp.n_head));
    if (hp.n_head % hp.n_head_kv != 0)
        return fail(Code::corrupt, "attention.head_count %lld is not a multiple of head_count_kv %lld", (long long)hp.n_head, (long long)hp.n_head_kv);
    const int64_t default_hd = hp.n_embd / hp.n_head;
    VKAI_ASSIGN_OR_RETURN(hp.head_dim, get_dim(f, a + "attention.key_length", 1, 4096, default_hd));
    VKAI_ASSIGN_OR_RETURN(int64_t vdim, get_dim(f, a + "attention.value_length", 1, 4096, hp.head_dim));
    if (vdim != hp.head_dim)
        return fail(Code::unsupported, "attention.value_length %lld differs from key_length %lld; not supported", (long long)vdim, (long long)hp.head_dim);
    if (hp.head_dim % 2) return fail(Code::corrupt, "head dimension %lld is odd; rope needs pairs", (long long)hp.head_dim);
    VKAI_ASSIGN_OR_RETURN(hp.n_rot, get_dim(f, a + "rope.dimension_count", 2, hp.head_dim, hp.head_dim));
    if (hp.n_rot % 2) return fail(Code::corrupt, "rope.dimension_count %lld is odd", (long long)hp.n_rot);
    VKAI_ASSIGN_OR_RETURN(hp.n_ctx_train, get_dim(f, a + "context_length", 1, int64_t(1) << 24, 4096));
    VKAI_ASSIGN_OR_RETURN(hp.norm_eps, get_f(f, a + "attention.layer_norm_rms_epsilon", 0.0f, 1.0f, 1e-5f));
    VKAI_ASSIGN_OR_RETURN(hp.rope_freq_base, get_f(f, a + "rope.freq_base", 1.0f, 1e12f, 10000.0f));
    const std::string scaling = f.get_string_or(a + "rope.scaling.type", "none");
    if (scaling == "linear") {
        VKAI_ASSIGN_OR_RETURN(float factor, get_f(f, a + "rope.scaling.factor", 1e-3f, 1e6f, 1.0f));
        hp.rope_freq_scale = 1.0f / factor;
    } else if (scaling != "none" && scaling != "") {
        return fail(Code::unsupported, "rope scaling '%s' is not supported yet (only linear)", scaling.c_str());
    }
    if (arch->moe) {
        VKAI_ASSIGN_OR_RETURN(hp.n_expert, get_dim(f, a + "expert_count", 1, 4096));
        VKAI_ASSIGN_OR_RETURN(hp.n_expert_used, get_dim(f, a + "expert_used_count", 1, hp.n_expert));
        VKAI_ASSIGN_OR_RETURN(hp.n_ff_exp, get_dim(f, a + "expert_feed_forward_length", 1, 1 << 20));
        VKAI_ASSIGN_OR_RETURN(hp.n_ff, get_dim(f, a + "feed_forward_length", 0, 1 << 20, 0));
    } else {
        VKAI_ASSIGN_OR_RETURN(hp.n_ff, get_dim(f, a + "feed_forward_length", 1, 1 << 20));
    }
    hp.qk_norm = arch->qk_norm;
    VKAI_ASSIGN_OR_RETURN(hp.n_swa, get_dim(f, a + "attention.sliding_window", 0, int64_t(1) << 24, 0));
    // n_vocab comes from the embedding tensor (vocab_size is optional in files).
    const gguf::TensorInfo* emb = f.find_tensor("token_embd.weight");
    if (!emb) return fail(Code::not_found, "tensor 'token_embd.weight' is missing");
    hp.n_vocab = emb->ne[1];
    if (hp.n_vocab < 1) return fail(Code::corrupt, "token_embd.weight has no rows");
    hp.tied_embeddings = f.find_tensor("output.weight") == nullptr;
    hp.qkv_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;
    if (arch->fused_qkv && f.find_tensor("blk.0.attn_qkv.bias"))
        return fail(Code::unsupported, "%s: a fused QKV bias is not supported yet", hp.arch.c_str());
    return hp;
}

Result<Model> Model::load(const std::string& path) {
    Model m;
    m.path_ = path;
    VKAI_ASSIGN_OR_RETURN(m.model_, gguf::open(path));
    const gguf::File& f = m.model_.gguf;
    auto hp = read_hparams(f);
    if (!hp.ok()) return Status(hp.status()).with_context(path);
    m.hp_ = *hp;
    m.arch_ = find_arch(m.hp_.arch);
    const HParams& h = m.hp_;

    auto tok = Tokenizer::load(f);
    if (!tok.ok()) return Status(tok.status()).with_context(path);
    m.tok_ = std::move(tok).value();
    if (m.tok_.n_vocab() > h.n_vocab)
        return fail(Code::corrupt, "%s: tokenizer has %d tokens but token_embd.weight only %lld rows", path.c_str(), m.tok_.n_vocab(), (long long)h.n_vocab);

    TensorGetter g(f);
    const int64_t q_dim = h.n_head * h.head_dim, kv_dim = h.n_head_kv * h.head_dim;
    auto load_all = [&]() -> Status {
        VKAI_ASSIGN_OR_RETURN(m.w_.tok_embd, g.get("token_embd.weight", {h.n_embd, h.n_vocab}));
        VKAI_ASSIGN_OR_RETURN(m.w_.output_norm, g.get("output_norm.weight", {h.n_embd}));
        VKAI_ASSIGN_OR_RETURN(m.w_.rope_freqs, g.get("rope_freqs.weight", {h.n_rot / 2}, false));
        if (h.tied_embeddings) {
            m.w_.output = m.w_.tok_embd;
        } else {
            VKAI_ASSIGN_OR_RETURN(m.w_.output, g.get("output.weight", {h.n_embd, h.n_vocab}));
        }
        m.w_.layers.resize(size_t(h.n_layer));
        for (int64_t l = 0; l < h.n_layer; ++l) {
            LayerWeights& L = m.w_.layers[size_t(l)];
            const std::string p = strf("blk.%lld.", (long long)l);
            VKAI_ASSIGN_OR_RETURN(L.attn_norm, g.get(p + "attn_norm.weight", {h.n_embd}));
            if (m.arch_->fused_qkv) {
                VKAI_ASSIGN_OR_RETURN(Tensor qkv, g.get(p + "attn_qkv.weight", {h.n_embd, q_dim + 2 * kv_dim}));
                L.wq = row_slice(qkv, 0, q_dim);
                L.wk = row_slice(qkv, q_dim, kv_dim);
                L.wv = row_slice(qkv, q_dim + kv_dim, kv_dim);
            } else {
                VKAI_ASSIGN_OR_RETURN(L.wq, g.get(p + "attn_q.weight", {h.n_embd, q_dim}));
                VKAI_ASSIGN_OR_RETURN(L.wk, g.get(p + "attn_k.weight", {h.n_embd, kv_dim}));
                VKAI_ASSIGN_OR_RETURN(L.wv, g.get(p + "attn_v.weight", {h.n_embd, kv_dim}));
            }
            VKAI_ASSIGN_OR_RETURN(L.bq, g.get(p + "attn_q.bias", {q_dim}, h.qkv_bias));
            VKAI_ASSIGN_OR_RETURN(L.bk, g.get(p + "attn_k.bias", {kv_dim}, h.qkv_bias));
            VKAI_ASSIGN_OR_RETURN(L.bv, g.get(p + "attn_v.bias", {kv_dim}, h.qkv_bias));
            VKAI_ASSIGN_OR_RETURN(L.q_norm, g.get(p + "attn_q_norm.weight", {h.head_dim}, h.qk_norm));
            VKAI_ASSIGN_OR_RETURN(L.k_norm, g.get(p + "attn_k_norm.weight", {h.head_dim}, h.qk_norm));
            VKAI_ASSIGN_OR_RETURN(L.wo, g.get(p + "attn_output.weight", {q_dim, h.n_embd}));
            VKAI_ASSIGN_OR_RETURN(L.ffn_norm, g.get(p + "ffn_norm.weight", {h.n_embd}));
            if (h.n_expert > 0) {
                VKAI_ASSIGN_OR_RETURN(L.router, g.get(p + "ffn_gate_inp.weight", {h.n_embd, h.n_expert}));
                VKAI_ASSIGN_OR_RETURN(L.gate_exps, g.get(p + "ffn_gate_exps.weight", {h.n_embd, h.n_ff_exp, h.n_expert}));
                VKAI_ASSIGN_OR_RETURN(L.up_exps, g.get(p + "ffn_up_exps.weight", {h.n_embd, h.n_ff_exp, h.n_expert}));
                VKAI_ASSIGN_OR_RETURN(L.down_exps, g.get(p + "ffn_down_exps.weight", {h.n_ff_exp, h.n_embd, h.n_expert}));
            } else if (m.arch_->fused_gate_up) {
                VKAI_ASSIGN_OR_RETURN(Tensor gu, g.get(p + "ffn_up.weight", {h.n_embd, 2 * h.n_ff}));
                L.ffn_gate = row_slice(gu, 0, h.n_ff);
                L.ffn_up = row_slice(gu, h.n_ff, h.n_ff);
                VKAI_ASSIGN_OR_RETURN(L.ffn_down, g.get(p + "ffn_down.weight", {h.n_ff, h.n_embd}));
            } else {
                VKAI_ASSIGN_OR_RETURN(L.ffn_gate, g.get(p + "ffn_gate.weight", {h.n_embd, h.n_ff}));
                VKAI_ASSIGN_OR_RETURN(L.ffn_up, g.get(p + "ffn_up.weight", {h.n_embd, h.n_ff}));
                VKAI_ASSIGN_OR_RETURN(L.ffn_down, g.get(p + "ffn_down.weight", {h.n_ff, h.n_embd}));
            }
        }
        return {};
    };
    Status st = load_all();
    if (!st.ok()) return st.with_context(path);
    return m;
}

uint64_t Model::weight_bytes() const {
    uint64_t n = 0;
    for (const auto& t : model_.gguf.tensors) n += t.bytes;
    return n;
}

} // namespace vkai::llm
