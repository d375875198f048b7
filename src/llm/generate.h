// Text generation on one sequence of a Context: prompt processing in batches, then sample/decode
// until max tokens, end of generation or a stop string. Text is streamed through a callback.
#pragma once

#include "base/status.h"
#include "base/thread_pool.h"
#include "llm/forward.h"
#include "llm/sampler.h"

#include <string>
#include <string_view>
#include <vector>

namespace vkai::llm {

struct GenerateParams {
    int64_t max_tokens = 128; // < 0: until the context is full
    std::vector<std::string> stop; // generation ends before any of these strings
    SamplerParams sampling;
    int32_t seq = 0;
    bool ignore_eos = false;
    // When the GPU fails (device lost, out of device memory) the request continues on the CPU:
    // Context::fallback_to_cpu rebuilds the KV cache there, and the failed batch runs again.
    bool cpu_fallback = true;
};

struct GenerateResult {
    int64_t n_prompt = 0, n_generated = 0;
    double prompt_s = 0, generate_s = 0;
    std::string finish_reason; // "stop" (EOS/EOT or a stop string), "length" (max tokens or context full), "cancelled"
    uint64_t seed = 0;
    std::vector<int32_t> tokens; // generated ids
    std::string device;   // the main backend that finished the request: "vulkan0", "cpu"
    std::string fallback; // empty, or the device and error that moved this request to the CPU
};

// Appends the prompt to seq's cache from position pos0 (the cache must hold the earlier tokens).
// on_text returns false to cancel.
Result<GenerateResult> generate(Context& ctx, const std::vector<int32_t>& prompt, const GenerateParams& params,
                                FunctionRef<bool(std::string_view text)> on_text, int32_t pos0 = 0);

// Holds back text that could still become a stop string; emits the rest.
class StopMatcher {
public:
    explicit StopMatcher(const std::vector<std::string>& stops) : stops_(stops) {}
    // Returns the text that is safe to emit; sets stopped when a stop string was completed.
    std::string push(std::string_view piece, bool& stopped);
    std::string flush(); // remaining held text (at the end of generation)

private:
    const std::vector<std::string>& stops_;
    std::string held_;
};

} // namespace vkai::llm
