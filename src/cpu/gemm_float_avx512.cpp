// The float-weight GEMM built for AVX-512F (gemm_float_impl.h); mul_mat calls it only where the CPU
// runs the AVX512-VNNI kernels (features.cpp), which implies AVX-512F.
#include "cpu/gemm_float_impl.h"

namespace vkai::cpu::avx2 {

void gemm_float_avx512(const Tensor& w, const float* const* xcols, float* const* ycols, int64_t n, ThreadPool& pool) {
    gemm_float_impl(w, xcols, ycols, n, pool);
}

} // namespace vkai::cpu::avx2
