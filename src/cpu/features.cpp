// CPU feature detection (once, via CPUID) and the run-time choice between the SIMD kernels and
// the portable path: VKAI_CPU_SCALAR=1, force_scalar() or a VKAI_CPU_SCALAR_ONLY build disable SIMD.
#include "cpu/cpu.h"

#include "tensor/quant.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace vkai::cpu {
namespace {

Features detect() {
    Features f;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    f.avx2 = __builtin_cpu_supports("avx2");
    f.fma = __builtin_cpu_supports("fma");
    f.avx512f = __builtin_cpu_supports("avx512f");
    f.avx512vnni = __builtin_cpu_supports("avx512vnni");
    f.f16c = __builtin_cpu_supports("f16c");
#endif
    return f;
}

bool env_scalar() {
    const char* v = std::getenv("VKAI_CPU_SCALAR");
    return v && *v && std::strcmp(v, "0") != 0;
}

std::atomic<bool> g_force_scalar{false};

} // namespace

const Features& features() {
    static const Features f = detect();
    return f;
}

bool simd_enabled() {
#if defined(VKAI_CPU_SCALAR_ONLY) || !defined(VKAI_HAVE_AVX2_KERNELS)
    constexpr bool built = false;
#else
    constexpr bool built = true;
#endif
    static const bool usable = [] {
        const Features& f = features();
        return built && f.avx2 && f.fma && f.f16c && !env_scalar();
    }();
    return usable && !g_force_scalar.load(std::memory_order_relaxed);
}

const char* simd_name() { return simd_enabled() ? "avx2" : "scalar"; }

void force_scalar(bool on) { g_force_scalar.store(on, std::memory_order_relaxed); }

// The portable path dequantizes weight rows, so every type with a dequantizer multiplies.
bool supports_mul_mat(DType w_type) { return can_dequantize(w_type); }

} // namespace vkai::cpu
