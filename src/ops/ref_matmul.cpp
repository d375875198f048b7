// ref::mul_mat: the specification of the matrix product. Each weight row is dequantized exactly
// (dequantize_row) and dotted with each column of x in double, so only the f32 rounding of y remains.
#include "ops/ref.h"

#include "base/check.h"
#include "tensor/quant.h"

#include <vector>

namespace vkai::ref {

// w: (k, m) any dequantizable type, 2-D; x: (k, n...) f32 whose dims 1..3 are all columns;
// y: (m, n...) f32 with the same column dims as x.
void mul_mat(const Tensor& w, const Tensor& x, Tensor& y) {
    const int64_t k = w.ne[0], m = w.ne[1];
    VKAI_ASSERT(can_dequantize(w.type), "mul_mat: weight type %s does not dequantize", dtype_name(w.type));
    VKAI_ASSERT(w.ne[2] == 1 && w.ne[3] == 1, "mul_mat: weights must be 2-D");
    VKAI_ASSERT(x.type == DType::F32 && y.type == DType::F32, "mul_mat: x and y must be f32");
    VKAI_ASSERT(x.ne[0] == k && x.nb[0] == sizeof(float), "mul_mat: x.ne[0]=%lld, want k=%lld contiguous",
                (long long)x.ne[0], (long long)k);
    VKAI_ASSERT(y.ne[0] == m && y.nb[0] == sizeof(float), "mul_mat: y.ne[0]=%lld, want m=%lld contiguous",
                (long long)y.ne[0], (long long)m);
    VKAI_ASSERT(x.ne[1] == y.ne[1] && x.ne[2] == y.ne[2] && x.ne[3] == y.ne[3], "mul_mat: x and y column dims differ");

    std::vector<float> wrow(static_cast<size_t>(k));
    for (int64_t i = 0; i < m; ++i) {
        dequantize_row(w.type, w.row(i), wrow.data(), k);
        for (int64_t i3 = 0; i3 < x.ne[3]; ++i3)
            for (int64_t i2 = 0; i2 < x.ne[2]; ++i2)
                for (int64_t i1 = 0; i1 < x.ne[1]; ++i1) {
                    const float* xc = x.row<float>(i1, i2, i3);
                    double acc = 0;
                    for (int64_t l = 0; l < k; ++l) acc += double(wrow[l]) * double(xc[l]);
                    y.row<float>(i1, i2, i3)[i] = float(acc);
                }
    }
}

} // namespace vkai::ref
