#include "llm/arch.h"

namespace vkai::llm {
namespace {

// Mistral and Mixtral-free Llama variants use "llama" in GGUF; their differences are hyperparameters.
constexpr ArchInfo kArchs[] = {
    // name         rope              qk_norm moe    norm_topk fused_qkv fused_gate_up
    {"llama", RopeMode::normal, false, false, false, false, false},
    {"qwen2", RopeMode::neox, false, false, false, false, false},
    {"qwen3", RopeMode::neox, true, false, false, false, false},
    {"qwen3moe", RopeMode::neox, true, true, true, false, false},
    {"phi3", RopeMode::neox, false, false, false, true, true},
};

} // namespace

const ArchInfo* find_arch(std::string_view name) {
    for (const auto& a : kArchs)
        if (name == a.name) return &a;
    return nullptr;
}

const char* supported_arch_names() { return "llama (Llama 2/3, Mistral), qwen2, qwen3, qwen3moe, phi3"; }

} // namespace vkai::llm
