// The batched forward pass. One decode() evaluates a batch of tokens that may belong to several
// sequences (position + sequence id per token) against the shared KV cache; prompt processing,
// generation and the server's continuous batching all use it. Decode of one token is the
// batch-of-one case.
#pragma once

#include "base/status.h"
#include "base/thread_pool.h"
#include "llm/kv_cache.h"
#include "llm/model.h"

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
    int threads = 0;        // 0 = all cores
};

class Context {
public:
    static Result<std::unique_ptr<Context>> create(const Model& model, const ContextParams& params);

    // Evaluates the batch; afterwards logits(i) holds the logits of the i-th token that wanted them.
    // Errors: invalid_argument for bad tokens/positions/size, out_of_memory when the cache is full.
    Status decode(const Batch& batch);

    const float* logits(int64_t i) const { return logits_.data() + size_t(i) * size_t(model_.hp().n_vocab); }
    int64_t n_logits() const { return n_logits_; }

    const Model& model() const { return model_; }
    KvCache& kv() { return kv_; }
    ThreadPool& pool() { return pool_; }
    const ContextParams& params() const { return params_; }

private:
    Context(const Model& model, const ContextParams& params, KvCache kv);
    void ffn_dense(const LayerWeights& L, int64_t n);
    void ffn_moe(const LayerWeights& L, int64_t n);

    const Model& model_;
    ContextParams params_;
    KvCache kv_;
    ThreadPool pool_;
    // Activations, sized for n_batch tokens (f32).
    std::vector<float> x_, h_, q_, k_, v_, attn_, gate_, up_, mask_, logits_;
    // MoE scratch
    std::vector<float> router_, xe_, ye_;
    int64_t n_logits_ = 0;
};

} // namespace vkai::llm
