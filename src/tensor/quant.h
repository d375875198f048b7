// Scalar reference conversion between floats and every tensor type: the specification that the
// fast CPU kernels and the GPU shaders are tested against. Dequantization is bit-exact with the
// ecosystem's reference (tests/unit/test_quant_golden.cpp checks ../shared/data/quant/quant-golden.gguf).
#pragma once

#include "tensor/dtype.h"

#include <cstdint>

namespace vkai {

bool can_dequantize(DType t); // F32, F16, BF16, Q*_0/1, Q8_0, K-quants, IQ4_NL, IQ4_XS, ...
bool can_quantize(DType t);

// n must be a multiple of the block size of t (asserted).
void dequantize_row(DType t, const void* src, float* dst, int64_t n);
void quantize_row(DType t, const float* src, void* dst, int64_t n);

} // namespace vkai
