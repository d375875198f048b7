// The batched forward pass. One decode() evaluates a batch of tokens that may belong to several
// sequences (position + sequence id per token) against the shared KV cache; prompt processing,
// generation and the server's continuous batching all use it. Decode of one token is the
// batch-of-one case. Every op goes through a Backend (ops/backend.h).
#pragma once

#include "base/status.h"
#include "llm/kv_cache.h"
#include "llm/model.h"
#include "ops/backend.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace vkai::llm {

struct Batch {
    std::vector<int32_t> token, pos, seq;
    std::vector<uint8_t> want_logits; // 1: compute logits for this token

    void add(int32_t tok, int32_t p, int32_t s, bool logits) {
        token.push_back(tok);
        pos.push_back(p);
        seq.push_back(s);
        want_logits.push_back(logits ? 1 : 0);
    }
    void clear() { token.clear(), pos.clear(), seq.clear(), want_logits.clear(); }
    int64_t size() const { return int64_t(token.size()); }
};

struct ContextParams {
    int64_t n_ctx = 4096;   // KV cells shared by all sequences
    int64_t n_batch = 512;  // most tokens one decode() takes; longer prompts are split by the caller
    DType kv_type = DType::F16;
    int threads = 0;            // CPU threads when the context makes its own CPU backend (0 = all cores)
    Backend* backend = nullptr; // where everything runs; null = a CPU backend owned by the context
};

class Context {
public:
    static Result<std::unique_ptr<Context>> create(const Model& model, const ContextParams& params);
    ~Context();

    // Evaluates the batch; afterwards logits(i) holds the logits of the i-th token that wanted them.
    // Errors: invalid_argument for bad tokens/positions/size, out_of_memory when the cache is full,
    // and whatever the backend reports (device_lost, out_of_memory).
    Status decode(const Batch& batch);

    const float* logits(int64_t i) const { return logits_.data() + size_t(i) * size_t(model_.hp().n_vocab); }
    int64_t n_logits() const { return n_logits_; }

    const Model& model() const { return model_; }
    KvCache& kv() { return kv_; }
    Backend& backend() { return *backend_; }
    const ContextParams& params() const { return params_; }

private:
    Context(const Model& model, const ContextParams& params);
    Status place_weights();
    Tensor act(int slot, int64_t ne0, int64_t ne1 = 1, int64_t ne2 = 1);
    void ffn_dense(const LayerWeights& L, Tensor& h, int64_t n);
    Status ffn_moe(const LayerWeights& L, Tensor& h, int64_t n);

    const Model& model_;
    ContextParams params_;
    std::unique_ptr<Backend> owned_backend_;
    Backend* backend_ = nullptr;
    KvCache kv_;
    Weights w_;                   // the model's weights as the backend sees them
    std::vector<void*> uploaded_; // backend allocations holding uploaded weights
    // Activation buffers on the backend, one per slot, each sized for n_batch tokens.
    std::vector<void*> act_;
    std::vector<uint64_t> act_bytes_;
    std::vector<float> mask_host_, logits_;
    int64_t n_logits_ = 0;
};

} // namespace vkai::llm
