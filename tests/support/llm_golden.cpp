#include "llm_golden.h"

#include <fstream>
#include <nlohmann/json.hpp>

namespace vkai::test {

LlmGolden read_llm_golden(const std::string& path) {
    std::ifstream f(path);
    nlohmann::json j = nlohmann::json::parse(f);
    return LlmGolden{j["prompt"].get<std::vector<int32_t>>(), j["greedy"].get<std::vector<int32_t>>(),
                     j["logits"].get<std::vector<std::vector<float>>>()};
}

} // namespace vkai::test
