#include "tensor/dtype.h"

#include "base/check.h"
#include "tensor/quant_blocks.h"

#include <cctype>

namespace vkai {
namespace {

// Sizes of the block structs come from quant_blocks.h (one declaration of every layout).
// Types vkai can parse but not yet compute with still need their sizes for file parsing.
constexpr DTypeInfo kTable[] = {
    {DType::F32, "F32", 1, 4, false},
    {DType::F16, "F16", 1, 2, false},
    {DType::Q4_0, "Q4_0", QK4_0, sizeof(block_q4_0), true},
    {DType::Q4_1, "Q4_1", QK4_1, sizeof(block_q4_1), true},
    {DType::Q5_0, "Q5_0", QK5_0, sizeof(block_q5_0), true},
    {DType::Q5_1, "Q5_1", QK5_1, sizeof(block_q5_1), true},
    {DType::Q8_0, "Q8_0", QK8_0, sizeof(block_q8_0), true},
    {DType::Q8_1, "Q8_1", QK8_1, sizeof(block_q8_1), true},
    {DType::Q2_K, "Q2_K", QK_K, sizeof(block_q2_K), true},
    {DType::Q3_K, "Q3_K", QK_K, sizeof(block_q3_K), true},
    {DType::Q4_K, "Q4_K", QK_K, sizeof(block_q4_K), true},
    {DType::Q5_K, "Q5_K", QK_K, sizeof(block_q5_K), true},
    {DType::Q6_K, "Q6_K", QK_K, sizeof(block_q6_K), true},
    {DType::Q8_K, "Q8_K", QK_K, sizeof(block_q8_K), true},
    {DType::IQ2_XXS, "IQ2_XXS", QK_K, 66, true},
    {DType::IQ2_XS, "IQ2_XS", QK_K, 74, true},
    {DType::IQ3_XXS, "IQ3_XXS", QK_K, 98, true},
    {DType::IQ1_S, "IQ1_S", QK_K, 50, true},
    {DType::IQ4_NL, "IQ4_NL", QK4_NL, sizeof(block_iq4_nl), true},
    {DType::IQ3_S, "IQ3_S", QK_K, 110, true},
    {DType::IQ2_S, "IQ2_S", QK_K, 82, true},
    {DType::IQ4_XS, "IQ4_XS", QK_K, sizeof(block_iq4_xs), true},
    {DType::I8, "I8", 1, 1, false},
    {DType::I16, "I16", 1, 2, false},
    {DType::I32, "I32", 1, 4, false},
    {DType::I64, "I64", 1, 8, false},
    {DType::F64, "F64", 1, 8, false},
    {DType::IQ1_M, "IQ1_M", QK_K, 56, true},
    {DType::BF16, "BF16", 1, 2, false},
    {DType::TQ1_0, "TQ1_0", QK_K, sizeof(block_tq1_0), true},
    {DType::TQ2_0, "TQ2_0", QK_K, sizeof(block_tq2_0), true},
    {DType::MXFP4, "MXFP4", 32, 17, true},
};

} // namespace

const DTypeInfo* dtype_info(uint32_t id) {
    for (const auto& row : kTable)
        if (uint32_t(row.type) == id) return &row;
    return nullptr;
}

const DTypeInfo& dtype_info(DType t) {
    const DTypeInfo* info = dtype_info(uint32_t(t));
    VKAI_ASSERT(info, "dtype id %u not in the table", uint32_t(t));
    return *info;
}

std::optional<DType> dtype_from_name(std::string_view name) {
    for (const auto& row : kTable) {
        std::string_view n = row.name;
        if (n.size() != name.size()) continue;
        bool eq = true;
        for (size_t i = 0; i < n.size() && eq; ++i) eq = std::toupper((unsigned char)name[i]) == n[i];
        if (eq) return row.type;
    }
    return std::nullopt;
}

std::optional<uint64_t> row_bytes(DType t, uint64_t n) {
    const DTypeInfo& info = dtype_info(t);
    if (n % info.block != 0) return std::nullopt;
    uint64_t blocks = n / info.block;
    if (blocks > UINT64_MAX / info.block_bytes) return std::nullopt;
    return blocks * info.block_bytes;
}

} // namespace vkai
