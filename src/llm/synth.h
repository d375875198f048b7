// Random-weight GGUF models with the exact tensor names, shapes and metadata of real models and a
// real tokenizer copied from a vocab GGUF. Throughput does not depend on weight values, so these
// stand in for multi-GB downloads in benchmarks and tests.
#pragma once

#include "base/status.h"
#include "llm/hparams.h"
#include "tensor/dtype.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace vkai::llm {

// A quantization recipe: one type for everything (Q8_0, F16, ...) or an ecosystem mix (Q4_K_M).
struct TypeMix {
    std::string name;
    DType base = DType::F16;
    DType more_bits = DType::F16; // attn_v / ffn_down in the layers that get more bits (K_M mixes)
    DType output = DType::F16;    // output.weight
    bool k_m = false;
    uint32_t file_type = 1; // GGUF general.file_type (the ecosystem's ftype numbering)
};
Result<TypeMix> parse_type_mix(std::string_view name);

// The type a tensor gets under a mix. Rows whose length is not a multiple of the type's block
// (qwen2.5-0.5b: 896) fall back to a 32-element block type of similar size, as real files do.
DType tensor_type(const TypeMix& mix, const TensorSpec& spec, const HParams& hp);

struct SynthOptions {
    HParams hp;             // n_vocab 0 = the vocab file's size
    std::string name;       // general.name
    std::string type;       // "Q4_K_M", "Q8_0", "F16", ...
    std::string vocab_path; // GGUF with tokenizer.ggml.* keys
    uint64_t seed = 1;
    int threads = 0; // 0 = all cores
};

struct SynthReport {
    uint64_t n_params = 0;
    uint64_t tensor_bytes = 0;
    int64_t n_vocab = 0;
    int64_t vocab_padding = 0; // unused tokens appended so the embedding has the model's real shape
};

Result<SynthReport> synth_model(const SynthOptions& opt, const std::string& out_path);

} // namespace vkai::llm
