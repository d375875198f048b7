// The architecture table: one row of data per GGUF general.architecture. The forward pass is one
// layer loop that branches on these flags; a new llama-family model is a new row, not new code.
#pragma once

#include "ops/params.h"

#include <string_view>

namespace vkai::llm {

struct ArchInfo {
    const char* name;     // GGUF general.architecture
    RopeMode rope;        // pairing of rotated dims
    bool qk_norm;         // per-head rms_norm of q and k before rope (qwen3)
    bool moe;             // expert FFN (ffn_*_exps) instead of a dense FFN
    bool moe_norm_topk;   // renormalize the chosen experts' weights to sum to 1
    bool fused_qkv;       // one attn_qkv.weight: rows [q | k | v] (phi3)
    bool fused_gate_up;   // one ffn_up.weight: rows [gate | up] (phi3)
    // QKV biases, a tied output head and sliding-window attention are detected from the file.
};

const ArchInfo* find_arch(std::string_view name);
const char* supported_arch_names(); // "llama, qwen2, ..." for error messages

} // namespace vkai::llm
