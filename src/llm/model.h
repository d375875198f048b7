// A llama-family model loaded from GGUF: hyperparameters, the architecture row, weights as
// zero-copy views into the mapped file, and the tokenizer. Every tensor's presence, shape and type
// is checked at load, so the forward pass can trust them.
#pragma once

#include "base/status.h"
#include "formats/gguf.h"
#include "llm/arch.h"
#include "llm/hparams.h"
#include "llm/tokenizer.h"
#include "tensor/tensor.h"

#include <string>
#include <vector>

namespace vkai::llm {

struct LayerWeights {
    Tensor attn_norm;         // (n_embd)
    Tensor wq, wk, wv;        // (n_embd, n_head*head_dim), (n_embd, n_head_kv*head_dim) x2
    Tensor bq, bk, bv;        // biases (qwen2) or data == nullptr
    Tensor q_norm, k_norm;    // (head_dim) (qwen3) or data == nullptr
    Tensor wo;                // (n_head*head_dim, n_embd)
    Tensor ffn_norm;          // (n_embd)
    Tensor ffn_gate, ffn_up;  // dense: (n_embd, n_ff)
    Tensor ffn_down;          // dense: (n_ff, n_embd)
    Tensor router;            // moe: (n_embd, n_expert)
    Tensor gate_exps, up_exps; // moe: (n_embd, n_ff_exp, n_expert)
    Tensor down_exps;         // moe: (n_ff_exp, n_embd, n_expert)
};

struct Weights {
    Tensor tok_embd;    // (n_embd, n_vocab)
    Tensor output_norm; // (n_embd)
    Tensor output;      // (n_embd, n_vocab); = tok_embd when the head is tied
    Tensor rope_freqs;  // (n_rot/2) divisors of the rope angles (llama 3.1+ scaling) or data == nullptr
    std::vector<LayerWeights> layers;
};

// Reads {arch}.* keys; checks ranges and consistency (n_head % n_head_kv, rope dims, ...).
Result<HParams> read_hparams(const gguf::File& f);

class Model {
public:
    static Result<Model> load(const std::string& path);

    const HParams& hp() const { return hp_; }
    const ArchInfo& arch() const { return *arch_; }
    const Weights& weights() const { return w_; }
    const Tokenizer& tokenizer() const { return tok_; }
    const gguf::File& gguf() const { return model_.gguf; }
    const std::string& path() const { return path_; }
    uint64_t weight_bytes() const; // bytes of all tensors in the file

private:
    std::string path_;
    gguf::Model model_;
    HParams hp_;
    const ArchInfo* arch_ = nullptr;
    Weights w_;
    Tokenizer tok_;
};

} // namespace vkai::llm
