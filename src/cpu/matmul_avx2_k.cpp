// The K-quant dot kernels (matmul_k_impl.h) built for AVX2.
#include "cpu/matmul_k_impl.h"

namespace vkai::cpu::avx2 {

bool kernel_k(DType t, Kernel* k) { return k_kernel(t, k); }

} // namespace vkai::cpu::avx2
