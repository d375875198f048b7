// CPU feature detection (once, via CPUID) and the run-time choice between the SIMD kernels and
// the portable path: VKAI_CPU_SCALAR=1, force_scalar() or a VKAI_CPU_SCALAR_ONLY build disable SIMD;
// VKAI_CPU_VNNI=0 or limit_simd() keep the AVX2 matmul on a VNNI CPU.
#include "cpu/cpu.h"

#include "tensor/quant.h"

#include <algorithm>
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
    f.avx512vl = __builtin_cpu_supports("avx512vl");
    f.avx512bw = __builtin_cpu_supports("avx512bw");
    f.avxvnni = __builtin_cpu_supports("avxvnni");
#endif
    return f;
}

[[maybe_unused]] bool env_flag(const char* name, bool dflt) { // unused in scalar-only builds
    const char* v = std::getenv(name);
    if (!v || !*v) return dflt;
    return std::strcmp(v, "0") != 0;
}

std::atomic<bool> g_force_scalar{false};
std::atomic<int> g_limit{int(SimdLevel::avx512vnni)};

// What this binary and this CPU can run, with the environment's overrides.
SimdLevel usable_level() {
#if defined(VKAI_CPU_SCALAR_ONLY) || !defined(VKAI_HAVE_AVX2_KERNELS)
    return SimdLevel::scalar;
#else
    const Features& f = features();
    if (!(f.avx2 && f.fma && f.f16c) || env_flag("VKAI_CPU_SCALAR", false)) return SimdLevel::scalar;
#if defined(VKAI_HAVE_VNNI_KERNELS)
    if (env_flag("VKAI_CPU_VNNI", true)) {
        if (f.avx512f && f.avx512vl && f.avx512bw && f.avx512vnni) return SimdLevel::avx512vnni;
        if (f.avxvnni) return SimdLevel::avxvnni;
    }
#endif
    return SimdLevel::avx2;
#endif
}

} // namespace

const Features& features() {
    static const Features f = detect();
    return f;
}

SimdLevel simd_level() {
    static const SimdLevel usable = usable_level();
    if (g_force_scalar.load(std::memory_order_relaxed)) return SimdLevel::scalar;
    return SimdLevel(std::min(int(usable), g_limit.load(std::memory_order_relaxed)));
}

bool simd_enabled() { return simd_level() >= SimdLevel::avx2; }

const char* simd_name() {
    switch (simd_level()) {
    case SimdLevel::avx512vnni: return "avx512vnni";
    case SimdLevel::avxvnni: return "avxvnni";
    case SimdLevel::avx2: return "avx2";
    default: return "scalar";
    }
}

void force_scalar(bool on) { g_force_scalar.store(on, std::memory_order_relaxed); }

void limit_simd(SimdLevel max) { g_limit.store(int(max), std::memory_order_relaxed); }

// The portable path dequantizes weight rows, so every type with a dequantizer multiplies.
bool supports_mul_mat(DType w_type) { return can_dequantize(w_type); }

} // namespace vkai::cpu
