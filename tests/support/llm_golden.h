// The HF-transformers LLM goldens (tests/models/golden/<arch>.json, made by scripts/make_llm_goldens.py).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vkai::test {

struct LlmGolden {
    std::vector<int32_t> prompt, greedy;     // prompt ids; 16 greedy continuation ids
    std::vector<std::vector<float>> logits;  // per prompt position, n_vocab each
};

LlmGolden read_llm_golden(const std::string& path);

} // namespace vkai::test
