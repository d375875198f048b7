// Scalar reference conversion between floats and every tensor type: the specification that the
// fast CPU kernels and the GPU shaders are tested against. Dequantization is bit-exact with the
// ecosystem's reference (tests/unit/test_quant_golden.cpp checks ../shared/data/quant/quant-golden.gguf).
#pragma once

#include "tensor/dtype.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vkai {

// Both directions: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K..Q6_K, Q8_K, IQ4_NL,
// IQ4_XS, TQ1_0, TQ2_0. Not supported: the grid-codebook IQ types (IQ1_*, IQ2_*, IQ3_*) and
// MXFP4 (no golden vectors yet).
bool can_dequantize(DType t);
bool can_quantize(DType t);

// n must be a multiple of the block size of t (asserted). Rows are independent blocks: a row
// may be split at any block boundary with identical results.
void dequantize_row(DType t, const void* src, float* dst, int64_t n);

// F16/BF16 convert with IEEE round-to-nearest-even (overflow gives inf, like the reference).
// Block types search their scales by least squares to minimize the squared error of the round
// trip (about 30-110 ns per element); deterministic. Values beyond what a block's fp16 scales
// can express are clipped, so finite input never decodes to inf/NaN; non-finite input gives
// unspecified but well-defined blocks.
void quantize_row(DType t, const float* src, void* dst, int64_t n);

// Byte offsets of the f16 fields (scales, mins) inside one block of t; empty for plain types.
// Tests and benchmarks fill random blocks and set sane values there so weights stay finite.
std::vector<size_t> block_f16_fields(DType t);

} // namespace vkai
