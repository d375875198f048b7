#include "llm/presets.h"

namespace vkai::llm {
namespace {

// Values from the models' published configs (config.json of each HF repository).
HParams make(const char* arch, int64_t vocab, int64_t embd, int64_t layers, int64_t heads, int64_t kv_heads, int64_t head_dim,
             int64_t ff, int64_t ctx, float rope_base, float eps, bool tied, bool qkv_bias, bool qk_norm, int64_t swa = 0) {
    HParams h;
    h.arch = arch;
    h.n_vocab = vocab;
    h.n_embd = embd;
    h.n_layer = layers;
    h.n_head = heads;
    h.n_head_kv = kv_heads;
    h.head_dim = head_dim;
    h.n_ff = ff;
    h.n_ctx_train = ctx;
    h.rope_freq_base = rope_base;
    h.norm_eps = eps;
    h.tied_embeddings = tied;
    h.qkv_bias = qkv_bias;
    h.qk_norm = qk_norm;
    h.n_swa = swa;
    return h;
}

HParams moe(HParams h, int64_t n_expert, int64_t n_used, int64_t ff_exp) {
    h.n_expert = n_expert;
    h.n_expert_used = n_used;
    h.n_ff_exp = ff_exp;
    return h;
}

const Preset kPresets[] = {
    {"tiny", "llama, 2 layers, dim 256 (the shapes of ../shared/data/llm/synthetic-llama-e256)",
     make("llama", 0, 256, 2, 4, 2, 64, 768, 2048, 10000.0f, 1e-5f, false, false, false)},
    {"mistral-7b", "Mistral 7B v0.2/v0.3 class (llama arch, GQA 32/8, 32k context)",
     make("llama", 32000, 4096, 32, 32, 8, 128, 14336, 32768, 1000000.0f, 1e-5f, false, false, false)},
    {"llama3-8b", "Llama 3 8B (128k vocab, GQA 32/8)",
     make("llama", 128256, 4096, 32, 32, 8, 128, 14336, 8192, 500000.0f, 1e-5f, false, false, false)},
    {"qwen3-4b", "Qwen3 4B (QK-norm, head_dim 128 != n_embd/n_head, tied embeddings)",
     make("qwen3", 151936, 2560, 36, 32, 8, 128, 9728, 40960, 1000000.0f, 1e-6f, true, false, true)},
    {"qwen2.5-0.5b", "Qwen2.5 0.5B (QKV bias, tied embeddings, n_embd 896 not a multiple of 256)",
     make("qwen2", 151936, 896, 24, 14, 2, 64, 4864, 32768, 1000000.0f, 1e-6f, true, true, false)},
    {"phi3-mini", "Phi-3 mini 4k (fused QKV and gate/up, head_dim 96, sliding window 2047)",
     make("phi3", 32064, 3072, 32, 32, 32, 96, 8192, 4096, 10000.0f, 1e-5f, false, false, false, 2047)},
    {"mistral-nemo-12b", "Mistral NeMo 12B (131k vocab, head_dim 128 != 5120/32, GQA 32/8, 40 layers)",
     make("llama", 131072, 5120, 40, 32, 8, 128, 14336, 131072, 1000000.0f, 1e-5f, false, false, false)},
    {"qwen3-30b-a3b", "Qwen3 30B-A3B MoE (128 experts of 768, 8 per token, QK-norm, 48 layers)",
     moe(make("qwen3moe", 151936, 2048, 48, 32, 4, 128, 6144, 40960, 1000000.0f, 1e-6f, false, false, true), 128, 8, 768)},
};

} // namespace

std::span<const Preset> presets() { return kPresets; }

const Preset* find_preset(std::string_view name) {
    for (const auto& p : kPresets)
        if (name == p.name) return &p;
    return nullptr;
}

} // namespace vkai::llm
