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
#include <string>
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
    int threads = 0;            // CPU threads of the CPU backend the context makes (0 = all cores)
    Backend* backend = nullptr; // the main backend (a GPU); null = everything on the CPU
    // Layers [0, n_gpu_layers) run on `backend`, the rest on the CPU; < 0 = all layers. The token
    // embedding is looked up on the CPU; the output head runs on `backend` only when every layer does.
    int64_t n_gpu_layers = -1;
    // MoE: the experts' weights of GPU layers stay in the mapped file and their FFN runs on the CPU
    // (routing is decided on the host anyway); the router and attention stay on the GPU.
    // cpu_moe: every GPU layer's experts; n_cpu_moe: those of the last n_cpu_moe layers of the
    // model (layers [n_layer - n_cpu_moe, n_layer)), so the GPU keeps the experts of the first ones.
    bool cpu_moe = false;
    int64_t n_cpu_moe = 0;
};

// Backend calls and host round trips of one decode step of one token, per layer, by where the
// layer and its experts run: what the planner's cost model prices (plan::Footprint::ops). The
// forward pass issues exactly these (tests/unit/test_plan_model.cpp counts them in a dry run).
struct DecodeOps {
    int64_t attn = 0;        // attention block incl. both norms (on the layer's device)
    int64_t ffn = 0;         // dense FFN, or the MoE router (on the layer's device)
    int64_t experts = 0;     // the chosen experts of one token on the layer's device
    int64_t experts_cpu = 0; // the same experts on the CPU for a GPU layer (CPU backend calls)
    int64_t cpu_experts_gpu_side = 0; // a GPU layer whose experts run on the CPU: what it adds on the GPU
    int64_t head = 0;        // row selection, output norm, head
};
// gpu: counted as the GPU backend issues them (fused projection + residual add for one token).
DecodeOps decode_ops(const Model& model, bool gpu);

// The bytes a Context allocates, measured by a dry run (Context::measure): per side and tag.
struct DryRun {
    uint64_t gpu_weights = 0, gpu_kv = 0, gpu_act = 0; // the GPU side ("weights", "KV cache", "activations")
    uint64_t cpu_weights = 0, cpu_kv = 0, cpu_act = 0; // the CPU side (weights stay mapped: 0)
    uint64_t host_mask = 0;                            // the attention mask the Context keeps on the host
    uint64_t gpu_total() const { return gpu_weights + gpu_kv + gpu_act; }
};

class Context {
public:
    static Result<std::unique_ptr<Context>> create(const Model& model, const ContextParams& params);
    // Dry run: creates this Context on measuring backends (no memory touched, nothing uploaded) with
    // a GPU present for params.n_gpu_layers layers; params.backend is ignored.
    static Result<DryRun> measure(const Model& model, const ContextParams& params);
    // Dry run of one decode step of one token on counting backends (a GPU that fuses like Vulkan):
    // backend calls per side (ops, uploads, downloads; the GPU side's uploads count, its downloads
    // are gpu_downloads: each one a round trip to the host).
    struct DecodeCount {
        int64_t gpu_ops = 0, cpu_ops = 0, gpu_downloads = 0;
    };
    static Result<DecodeCount> count_decode(const Model& model, const ContextParams& params);
    ~Context();

    // Evaluates the batch; afterwards logits(i) holds the logits of the i-th token that wanted them.
    // Errors: invalid_argument for bad tokens/positions/size, out_of_memory when the cache is full,
    // and whatever the backend reports (device_lost, out_of_memory).
    Status decode(const Batch& batch);

    const float* logits(int64_t i) const { return logits_.data() + size_t(i) * size_t(model_.hp().n_vocab); }
    int64_t n_logits() const { return n_logits_; }

    const Model& model() const { return model_; }
    KvCache& kv() { return kv_; }
    Backend& backend() { return *execs_.back().be; } // the main backend (the CPU when there is no GPU)
    int64_t n_gpu_layers() const { return n_main_layers_; }
    // GPU layers whose experts' weights are on the GPU (the first ones); 0 for a dense model.
    int64_t n_gpu_expert_layers() const;
    const ContextParams& params() const { return params_; }

    // Run-time fallback. After decode() failed with device_lost / out_of_memory from the GPU,
    // gpu_failed() is true and the batch's cells are released (the cache is as before the batch).
    // fallback_to_cpu() then moves this Context onto the CPU in place: GPU memory is released, the
    // KV cache is rebuilt on the CPU by decoding every token it held again (same positions and
    // sequences), and decode() works as before. fallback_reason() names the device and its error.
    bool gpu_failed() const { return gpu_failed_; }
    Status fallback_to_cpu(const Status& why);
    const std::string& fallback_reason() const { return fallback_reason_; }

private:
    // A backend in use and its activation buffers (one per slot, each sized for n_batch tokens).
    struct Exec {
        Backend* be = nullptr;
        std::vector<void*> act;
        std::vector<uint64_t> act_bytes;
        Tensor t(int slot, int64_t ne0, int64_t ne1 = 1, int64_t ne2 = 1) const;
    };

    Context(const Model& model, const ContextParams& params);
    // Places KV, weights and activations; gpu null = CPU only.
    Status init(Backend* cpu, Backend* gpu);
    void release();
    Status decode_impl(const Batch& batch, bool& claimed);
    size_t mask_floats() const;
    int64_t head_rows() const; // rows of the logits buffer
    Status alloc_activations(Exec& e);
    Status place(Tensor& t, Backend& be);
    Status place_weights();
    Status move_x(const Exec& from, const Exec& to, int64_t n);
    void ffn_dense(Exec& e, const LayerWeights& L, Tensor& h, Tensor& x, int64_t n);
    // MoE FFN of layer l: routes on the host, runs the experts (on the device or the CPU) and adds
    // their output to x. h: the normalized input (clobbered).
    Status ffn_moe(Exec& e, int64_t l, Tensor& h, Tensor& x, int64_t n);
    Status experts_on_device(Exec& e, const LayerWeights& L, const Tensor& h, Tensor& x, int64_t n, const std::vector<int32_t>& chosen,
                             const std::vector<float>& weight);
    Status experts_on_host(Exec& e, const LayerWeights& L, Tensor& h, Tensor& x, int64_t n, const std::vector<int32_t>& chosen,
                           const std::vector<float>& weight, const float* h_host);

    const Model& model_;
    ContextParams params_;
    std::unique_ptr<Backend> cpu_backend_; // ours when the caller passed no CPU backend
    std::vector<Exec> execs_;              // [0] = CPU; [1] = the main backend when it is not the CPU
    std::vector<int> layer_exec_;          // per layer: index into execs_
    std::vector<uint8_t> cpu_experts_;     // per layer: a GPU layer whose experts run on the CPU
    int head_exec_ = 0;                    // where the output norm and head run
    int64_t n_main_layers_ = 0;
    KvCache kv_;
    Weights w_;                                            // the weights as each layer's backend sees them
    std::vector<std::pair<Backend*, void*>> uploaded_;     // backend allocations holding uploaded weights
    std::vector<float> mask_host_, logits_, x_host_, moe_host_, moe_w_;
    int64_t n_logits_ = 0;
    std::vector<int32_t> cell_token_; // per KV cell: the token it holds (for the CPU rebuild)
    bool gpu_failed_ = false;
    std::string fallback_reason_;
};

} // namespace vkai::llm
