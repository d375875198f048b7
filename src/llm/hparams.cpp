#include "llm/hparams.h"

#include "llm/arch.h"

namespace vkai::llm {

std::vector<TensorSpec> tensor_specs(const HParams& hp) {
    std::vector<TensorSpec> t;
    const int64_t q_dim = hp.n_head * hp.head_dim, kv_dim = hp.n_head_kv * hp.head_dim;
    const ArchInfo* arch = find_arch(hp.arch);
    const bool fused = arch && arch->fused_qkv; // phi3 fuses both QKV and gate/up
    t.push_back({"token_embd.weight", {hp.n_embd, hp.n_vocab}, TensorRole::embedding, -1});
    for (int64_t l = 0; l < hp.n_layer; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        const int li = int(l);
        t.push_back({p + "attn_norm.weight", {hp.n_embd}, TensorRole::norm, li});
        if (fused) {
            t.push_back({p + "attn_qkv.weight", {hp.n_embd, q_dim + 2 * kv_dim}, TensorRole::attn_q, li});
        } else {
            t.push_back({p + "attn_q.weight", {hp.n_embd, q_dim}, TensorRole::attn_q, li});
            t.push_back({p + "attn_k.weight", {hp.n_embd, kv_dim}, TensorRole::attn_k, li});
            t.push_back({p + "attn_v.weight", {hp.n_embd, kv_dim}, TensorRole::attn_v, li});
        }
        if (hp.qkv_bias) {
            t.push_back({p + "attn_q.bias", {q_dim}, TensorRole::bias, li});
            t.push_back({p + "attn_k.bias", {kv_dim}, TensorRole::bias, li});
            t.push_back({p + "attn_v.bias", {kv_dim}, TensorRole::bias, li});
        }
        if (hp.qk_norm) {
            t.push_back({p + "attn_q_norm.weight", {hp.head_dim}, TensorRole::norm, li});
            t.push_back({p + "attn_k_norm.weight", {hp.head_dim}, TensorRole::norm, li});
        }
        t.push_back({p + "attn_output.weight", {q_dim, hp.n_embd}, TensorRole::attn_out, li});
        t.push_back({p + "ffn_norm.weight", {hp.n_embd}, TensorRole::norm, li});
        if (hp.n_expert > 0) {
            t.push_back({p + "ffn_gate_inp.weight", {hp.n_embd, hp.n_expert}, TensorRole::ffn_router, li});
            t.push_back({p + "ffn_gate_exps.weight", {hp.n_embd, hp.n_ff_exp, hp.n_expert}, TensorRole::ffn_gate_exps, li});
            t.push_back({p + "ffn_up_exps.weight", {hp.n_embd, hp.n_ff_exp, hp.n_expert}, TensorRole::ffn_up_exps, li});
            t.push_back({p + "ffn_down_exps.weight", {hp.n_ff_exp, hp.n_embd, hp.n_expert}, TensorRole::ffn_down_exps, li});
        } else if (fused) {
            t.push_back({p + "ffn_up.weight", {hp.n_embd, 2 * hp.n_ff}, TensorRole::ffn_up, li});
            t.push_back({p + "ffn_down.weight", {hp.n_ff, hp.n_embd}, TensorRole::ffn_down, li});
        } else {
            t.push_back({p + "ffn_gate.weight", {hp.n_embd, hp.n_ff}, TensorRole::ffn_gate, li});
            t.push_back({p + "ffn_up.weight", {hp.n_embd, hp.n_ff}, TensorRole::ffn_up, li});
            t.push_back({p + "ffn_down.weight", {hp.n_ff, hp.n_embd}, TensorRole::ffn_down, li});
        }
    }
    t.push_back({"output_norm.weight", {hp.n_embd}, TensorRole::norm, -1});
    if (!hp.tied_embeddings) t.push_back({"output.weight", {hp.n_embd, hp.n_vocab}, TensorRole::output, -1});
    return t;
}

} // namespace vkai::llm
