// The float-weight GEMM built for AVX2 + FMA + F16C (gemm_float_impl.h).
#include "cpu/gemm_float_impl.h"

namespace vkai::cpu::avx2 {

void gemm_float_avx2(const Tensor& w, const float* const* xcols, float* const* ycols, int64_t n, ThreadPool& pool) {
    gemm_float_impl(w, xcols, ycols, n, pool);
}

} // namespace vkai::cpu::avx2
