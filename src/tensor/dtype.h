// Tensor element types. Values are the ggml type ids that GGUF files store on disk, so a
// file's type field casts directly (after is_known_dtype()). One row per type in dtype.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace vkai {

enum class DType : uint32_t {
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3,
    Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
    Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
    IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
    I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
    TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

struct DTypeInfo {
    DType type;
    const char* name;   // as ggml and llama.cpp print it: "Q4_K", "F16"
    uint32_t block;     // elements per block (1 for plain types)
    uint32_t block_bytes; // bytes per block
    bool quantized;
};

// Row of the table for a type id from a file, or nullptr when vkai does not know the id.
const DTypeInfo* dtype_info(uint32_t id);
const DTypeInfo& dtype_info(DType t);
inline bool is_known_dtype(uint32_t id) { return dtype_info(id) != nullptr; }
inline const char* dtype_name(DType t) { return dtype_info(t).name; }
std::optional<DType> dtype_from_name(std::string_view name); // case-insensitive: "q4_k", "F16"

// Bytes of a row of n elements, or nullopt when n is not a multiple of the block size
// or the product overflows. Never trusts n: callers pass counts read from files.
std::optional<uint64_t> row_bytes(DType t, uint64_t n);

} // namespace vkai
