#include "tensor/tensor.h"

#include "base/check.h"

namespace vkai {

Tensor make_tensor(DType type, void* data, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3) {
    Tensor t;
    t.type = type;
    t.data = data;
    t.ne = {ne0, ne1, ne2, ne3};
    const DTypeInfo& info = dtype_info(type);
    VKAI_ASSERT(ne0 >= 0 && ne0 % info.block == 0, "ne0=%lld is not a multiple of %s block %u", (long long)ne0, info.name, info.block);
    t.nb[0] = info.block_bytes;
    t.nb[1] = uint64_t(ne0 / info.block) * info.block_bytes;
    t.nb[2] = t.nb[1] * uint64_t(ne1);
    t.nb[3] = t.nb[2] * uint64_t(ne2);
    return t;
}

bool Tensor::contiguous() const {
    const DTypeInfo& info = dtype_info(type);
    return nb[0] == info.block_bytes && nb[1] == uint64_t(ne[0] / info.block) * info.block_bytes &&
           nb[2] == nb[1] * uint64_t(ne[1]) && nb[3] == nb[2] * uint64_t(ne[2]);
}

uint64_t tensor_bytes(const Tensor& t) { return t.nb[3] * uint64_t(t.ne[3]); }

} // namespace vkai
