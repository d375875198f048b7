// Tensor: a non-owning view (data pointer, type, shape, strides). Shapes are ggml-ordered:
// ne[0] is the innermost (contiguous) dimension, so a weight matrix (rows=out, cols=in) has
// ne = {in, out}. Strides nb are in bytes; for quantized types nb[0] is the block size in bytes
// and rows are contiguous blocks.
#pragma once

#include "tensor/dtype.h"

#include <array>
#include <cstdint>

namespace vkai {

constexpr int kMaxDims = 4;

struct Tensor {
    DType type = DType::F32;
    void* data = nullptr;
    std::array<int64_t, kMaxDims> ne{1, 1, 1, 1};
    std::array<uint64_t, kMaxDims> nb{0, 0, 0, 0};

    int64_t nelements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
    int64_t nrows() const { return ne[1] * ne[2] * ne[3]; }
    uint64_t row_size() const { return nb[1]; }
    bool contiguous() const;
    template <class T = void>
    T* row(int64_t i1, int64_t i2 = 0, int64_t i3 = 0) const {
        return reinterpret_cast<T*>(static_cast<uint8_t*>(data) + i1 * nb[1] + i2 * nb[2] + i3 * nb[3]);
    }
};

// A contiguous view over data with the given shape (unused trailing dims are 1).
// ne[0] must be a multiple of the block size (asserted: shapes come from validated files or code).
Tensor make_tensor(DType type, void* data, int64_t ne0, int64_t ne1 = 1, int64_t ne2 = 1, int64_t ne3 = 1);
uint64_t tensor_bytes(const Tensor& t); // bytes spanned by a contiguous tensor

} // namespace vkai
