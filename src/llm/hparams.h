// Hyperparameters of a llama-family model and the GGUF tensor layout they imply.
// An architecture is a row of data (flags), not a copied forward pass; see arch notes in
// docs/architecture.md. Used by `vkai synth` now and by the model loader (issue 4).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vkai::llm {

struct HParams {
    std::string arch = "llama"; // GGUF general.architecture: llama, qwen2, qwen3
    int64_t n_vocab = 0;
    int64_t n_embd = 0;
    int64_t n_layer = 0;
    int64_t n_head = 0;
    int64_t n_head_kv = 0;
    int64_t head_dim = 0; // may differ from n_embd / n_head (qwen3-4b: 2560 / 32 = 80, head_dim 128)
    int64_t n_ff = 0;
    int64_t n_ctx_train = 0;
    float rope_freq_base = 10000.0f;
    float norm_eps = 1e-5f;
    bool tied_embeddings = false; // no output.weight: the head reuses token_embd
    bool qkv_bias = false;        // qwen2
    bool qk_norm = false;         // qwen3: rms_norm on q and k per head
    // Mixture of experts (qwen3moe): n_expert experts of n_ff_exp, n_expert_used chosen per token.
    int64_t n_expert = 0;
    int64_t n_expert_used = 0;
    int64_t n_ff_exp = 0;
    // RoPE details read from the file (defaults: all head dims rotated, no scaling).
    int64_t n_rot = 0;           // rotated dims per head; 0 = head_dim
    float rope_freq_scale = 1.0f; // 1 / linear scaling factor
    int64_t n_swa = 0;            // sliding-window attention: a token sees the last n_swa positions; 0 = all
};

enum class TensorRole { embedding, output, norm, bias, attn_q, attn_k, attn_v, attn_out, ffn_gate, ffn_up, ffn_down, ffn_router,
                        ffn_gate_exps, ffn_up_exps, ffn_down_exps };

struct TensorSpec {
    std::string name;       // GGUF name: "blk.3.attn_q.weight"
    std::vector<int64_t> ne; // ggml order: {in, out} for matrices
    TensorRole role;
    int layer; // -1 for global tensors
};

// Every tensor a model with these hyperparameters has, in the order converters write them.
std::vector<TensorSpec> tensor_specs(const HParams& hp);

} // namespace vkai::llm
