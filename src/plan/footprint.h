// A model's memory footprint: exact weight bytes per layer and per component from the GGUF tensor
// table, KV bytes per cell and layer (the KvCache layout), and compute-buffer bytes MEASURED by a
// dry run of Context creation (llm::Context::measure) at each context size the plan may choose.
#pragma once

#include "base/status.h"
#include "formats/gguf.h"

#include <cstdint>
#include <string>
#include <vector>

namespace vkai::plan {

struct LayerBytes {
    uint64_t attn = 0;    // attn_norm, q/k/v/o (+ biases, q/k norms)
    uint64_t ffn = 0;     // ffn_norm, dense gate/up/down, the MoE router
    uint64_t experts = 0; // ffn_{gate,up,down}_exps: may stay on the CPU (cpu_moe)
    uint64_t total() const { return attn + ffn + experts; }
};

// Backend calls of one decode step of one token per layer, by where its parts run (llm::DecodeOps:
// the forward pass's own count, checked against a counting dry run).
struct LayerOps {
    int64_t attn = 0, ffn = 0;  // attention block, dense FFN or MoE router
    int64_t experts = 0;        // the chosen experts on the layer's device
    int64_t experts_cpu = 0;    // the chosen experts on the CPU for a GPU layer (CPU side)
    int64_t cpu_experts_gpu_side = 0; // what a GPU layer with CPU experts adds on the GPU
    int64_t head = 0;
};

// Activation bytes of one Context at a context size, as its dry run allocated them.
struct ComputeBytes {
    int64_t n_ctx = 0;
    uint64_t gpu = 0; // on the GPU backend (allocated whenever a GPU takes any layer)
    uint64_t cpu = 0; // on the CPU backend (always allocated)
};

struct Footprint {
    std::string arch;
    int64_t n_layer = 0;
    int64_t n_expert = 0, n_expert_used = 0; // 0: dense
    std::vector<LayerBytes> layers;
    uint64_t embedding = 0; // token_embd: always read on the CPU (one row per token)
    uint64_t head = 0;      // output (or its tied copy of token_embd) + output_norm: on the GPU when every layer is
    bool tied = false;      // no output.weight: the head uploads a copy of token_embd
    uint64_t other = 0;     // tensors read from the mapped file on the host (rope_freqs, ...)
    uint64_t kv_cell_layer = 0; // K + V bytes of one cell in one layer
    std::string kv_type = "f16";
    std::vector<ComputeBytes> compute; // measured, one per context size the plan may choose
    LayerOps ops_gpu, ops_cpu;         // per layer on the GPU / on the CPU (cost model; 0 = not priced)

    uint64_t weights() const; // every tensor byte (the head counted once, as in the file)
    const ComputeBytes* compute_at(int64_t n_ctx) const;
};

// Per-layer and per-component bytes from the tensor table. kv_dim = n_head_kv * head_dim;
// kv_elem_bytes = 2 (f16) or 4 (f32). Errors: corrupt for a block index >= n_layer.
Result<Footprint> footprint_from_gguf(const gguf::File& f, int64_t n_layer, int64_t kv_dim, int kv_elem_bytes, int64_t n_expert,
                                      int64_t n_expert_used);

} // namespace vkai::plan
