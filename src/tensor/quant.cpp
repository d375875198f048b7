// Dispatch of the scalar reference conversions by type, and the plain float types.
// One row per type in kRows; the per-type code lives in quant_legacy/quant_k/quant_iq.cpp.
#include "tensor/quant.h"

#include "base/check.h"
#include "base/fp16.h"
#include "tensor/quant_blocks.h"
#include "tensor/quant_internal.h"

#include <cstring>

namespace vkai {
namespace {

void dequantize_f32(const void* src, float* dst, int64_t n) { std::memcpy(dst, src, size_t(n) * 4); }
void quantize_f32(const float* src, void* dst, int64_t n) { std::memcpy(dst, src, size_t(n) * 4); }

void dequantize_f16(const void* src, float* dst, int64_t n) {
    const auto* h = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(h[i]);
}
void quantize_f16(const float* src, void* dst, int64_t n) {
    auto* h = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) h[i] = f32_to_fp16(src[i]);
}

void dequantize_bf16(const void* src, float* dst, int64_t n) {
    const auto* h = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(h[i]);
}
void quantize_bf16(const float* src, void* dst, int64_t n) {
    auto* h = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) h[i] = f32_to_bf16(src[i]);
}

using DequantFn = void (*)(const void*, float*, int64_t);
using QuantFn = void (*)(const float*, void*, int64_t);

struct Row {
    DType type;
    DequantFn dequantize;
    QuantFn quantize;
};

constexpr Row kRows[] = {
    {DType::F32, dequantize_f32, quantize_f32},
    {DType::F16, dequantize_f16, quantize_f16},
    {DType::BF16, dequantize_bf16, quantize_bf16},
    {DType::Q4_0, qi::dequantize_q4_0, qi::quantize_q4_0},
    {DType::Q4_1, qi::dequantize_q4_1, qi::quantize_q4_1},
    {DType::Q5_0, qi::dequantize_q5_0, qi::quantize_q5_0},
    {DType::Q5_1, qi::dequantize_q5_1, qi::quantize_q5_1},
    {DType::Q8_0, qi::dequantize_q8_0, qi::quantize_q8_0},
    {DType::Q8_1, qi::dequantize_q8_1, qi::quantize_q8_1},
    {DType::Q2_K, qi::dequantize_q2_K, qi::quantize_q2_K},
    {DType::Q3_K, qi::dequantize_q3_K, qi::quantize_q3_K},
    {DType::Q4_K, qi::dequantize_q4_K, qi::quantize_q4_K},
    {DType::Q5_K, qi::dequantize_q5_K, qi::quantize_q5_K},
    {DType::Q6_K, qi::dequantize_q6_K, qi::quantize_q6_K},
    {DType::Q8_K, qi::dequantize_q8_K, qi::quantize_q8_K},
    {DType::IQ4_NL, qi::dequantize_iq4_nl, qi::quantize_iq4_nl},
    {DType::IQ4_XS, qi::dequantize_iq4_xs, qi::quantize_iq4_xs},
    {DType::TQ1_0, qi::dequantize_tq1_0, qi::quantize_tq1_0},
    {DType::TQ2_0, qi::dequantize_tq2_0, qi::quantize_tq2_0},
};

const Row* find_row(DType t) {
    for (const Row& r : kRows)
        if (r.type == t) return &r;
    return nullptr;
}

} // namespace

bool can_dequantize(DType t) {
    const Row* r = find_row(t);
    return r && r->dequantize;
}

bool can_quantize(DType t) {
    const Row* r = find_row(t);
    return r && r->quantize;
}

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
    const Row* r = find_row(t);
    VKAI_ASSERT(r && r->dequantize, "dequantize_row: no reference decoder for %s", dtype_name(t));
    VKAI_ASSERT(n >= 0 && n % dtype_info(t).block == 0, "dequantize_row: %s row of %lld elements", dtype_name(t),
                (long long)n);
    r->dequantize(src, dst, n);
}

void quantize_row(DType t, const float* src, void* dst, int64_t n) {
    const Row* r = find_row(t);
    VKAI_ASSERT(r && r->quantize, "quantize_row: no reference encoder for %s", dtype_name(t));
    VKAI_ASSERT(n >= 0 && n % dtype_info(t).block == 0, "quantize_row: %s row of %lld elements", dtype_name(t),
                (long long)n);
    r->quantize(src, dst, n);
}

std::vector<size_t> block_f16_fields(DType t) {
    switch (t) {
    case DType::Q4_0: return {offsetof(block_q4_0, d)};
    case DType::Q4_1: return {offsetof(block_q4_1, d), offsetof(block_q4_1, m)};
    case DType::Q5_0: return {offsetof(block_q5_0, d)};
    case DType::Q5_1: return {offsetof(block_q5_1, d), offsetof(block_q5_1, m)};
    case DType::Q8_0: return {offsetof(block_q8_0, d)};
    case DType::Q2_K: return {offsetof(block_q2_K, d), offsetof(block_q2_K, dmin)};
    case DType::Q3_K: return {offsetof(block_q3_K, d)};
    case DType::Q4_K: return {offsetof(block_q4_K, d), offsetof(block_q4_K, dmin)};
    case DType::Q5_K: return {offsetof(block_q5_K, d), offsetof(block_q5_K, dmin)};
    case DType::Q6_K: return {offsetof(block_q6_K, d)};
    case DType::IQ4_NL: return {offsetof(block_iq4_nl, d)};
    case DType::IQ4_XS: return {offsetof(block_iq4_xs, d)};
    default: return {};
    }
}

} // namespace vkai
