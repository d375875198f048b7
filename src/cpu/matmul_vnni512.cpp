// The VNNI kernels (matmul_vnni_impl.h) with AVX512-VNNI on 256-bit vectors (EVEX: 32 registers).
// Built with -mavx512f -mavx512vl -mavx512bw -mavx512vnni; called only when the CPU has them.
#define VKAI_VNNI_DPBUSD(acc, a, b) _mm256_dpbusd_epi32(acc, a, b)
#define VKAI_VNNI_KERNEL kernel_vnni512
#include "cpu/matmul_vnni_impl.h"
