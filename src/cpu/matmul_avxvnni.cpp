// The VNNI kernels (matmul_vnni_impl.h) with AVX-VNNI (VEX-encoded vpdpbusd: Alder Lake and later,
// Zen 5). Built with -mavxvnni; called only when the CPU has it.
#define VKAI_VNNI_DPBUSD(acc, a, b) _mm256_dpbusd_avx_epi32(acc, a, b)
#define VKAI_VNNI_KERNEL kernel_avxvnni
#include "cpu/matmul_vnni_impl.h"
