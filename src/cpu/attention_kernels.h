// The two inner loops of cpu::attention, portable or AVX2 (attention_avx2.cpp).
#pragma once

#include <cstdint>

namespace vkai::cpu {

struct AttentionKernels {
    float (*dot)(const float* q, const void* k, bool k_f16, int64_t n);
    void (*scale_add)(float* acc, float a, const void* v, bool v_f16, float b, int64_t n); // acc = acc*a + v*b
};

AttentionKernels avx2_attention_kernels();

} // namespace vkai::cpu
