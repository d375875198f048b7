// Parameters of ops that have them, shared by every backend.
#pragma once

#include <cstdint>

namespace vkai {

enum class RopeMode : uint8_t {
    normal, // pairs (x[2i], x[2i+1]): llama-family GGUFs (weights are permuted at conversion)
    neox,   // pairs (x[i], x[i + n_rot/2]): qwen2/3, phi3, gemma, gpt-neox
};

struct RopeParams {
    int n_rot = 0; // rotated dims per head (<= head_dim, even); the rest pass through
    RopeMode mode = RopeMode::normal;
    float freq_base = 10000.0f;
    float freq_scale = 1.0f;              // linear position interpolation: pos * freq_scale
    const float* freq_factors = nullptr;  // n_rot/2 divisors of theta (llama3 rope scaling), or null
    float attn_factor = 1.0f;             // multiplies cos/sin (YaRN magnitude scaling)
};

} // namespace vkai
