// Fast CPU kernels: the same ops and signatures as ops/ref.h, threaded over a ThreadPool.
// SIMD paths (AVX2 + FMA + F16C, and AVX-VNNI / AVX512-VNNI for the int8 matmul) are compiled in
// separate files and chosen at run time; VKAI_CPU_SCALAR=1 (or the `scalar` build preset) forces the
// portable path.
#pragma once

#include "base/thread_pool.h"
#include "ops/params.h"
#include "tensor/tensor.h"

namespace vkai::cpu {

struct Features {
    bool avx2 = false, fma = false, f16c = false, avx512f = false, avx512vnni = false;
    bool avx512vl = false, avx512bw = false, avxvnni = false;
};
const Features& features();  // detected once
// The kernel families, each a superset of the one before: the VNNI levels run the int8 matmul with
// vpdpbusd (matmul_vnni*.cpp) and everything else with the AVX2 kernels.
enum class SimdLevel { scalar, avx2, avxvnni, avx512vnni };
SimdLevel simd_level();       // the best level built in, present, and allowed (see below)
bool simd_enabled();          // simd_level() >= avx2: AVX2+FMA+F16C present, built in, not disabled
const char* simd_name();      // "scalar", "avx2", "avxvnni" or "avx512vnni": for logs and benchmarks
bool supports_mul_mat(DType w_type);
// VKAI_CPU_SCALAR=1 forces the portable path, VKAI_CPU_VNNI=0 the AVX2 kernels without VNNI.
// Tests and benchmarks run several paths in one process: force_scalar(true) makes simd_enabled()
// false until reset; limit_simd(level) caps simd_level() (SimdLevel::avx512vnni: no cap).
void force_scalar(bool on);
void limit_simd(SimdLevel max);

void get_rows(const Tensor& table, const int32_t* ids, int64_t n, Tensor& out, ThreadPool& pool);
void mul_mat(const Tensor& w, const Tensor& x, Tensor& y, ThreadPool& pool);
void rms_norm(const Tensor& x, const Tensor* w, float eps, Tensor& y, ThreadPool& pool);
void rope(const Tensor& x, const int32_t* pos, const RopeParams& p, Tensor& y, ThreadPool& pool);
void softmax(const Tensor& x, const Tensor* mask, float scale, Tensor& y, ThreadPool& pool);
void silu(const Tensor& x, Tensor& y, ThreadPool& pool);
void gelu(const Tensor& x, Tensor& y, ThreadPool& pool);
void add(const Tensor& a, const Tensor& b, Tensor& y, ThreadPool& pool);
void mul(const Tensor& a, const Tensor& b, Tensor& y, ThreadPool& pool);
void copy(const Tensor& src, Tensor& dst, ThreadPool& pool);
void set_rows(const Tensor& src, const int32_t* ids, Tensor& dst, ThreadPool& pool);
void attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, float scale, Tensor& out, ThreadPool& pool);
void layer_norm(const Tensor& x, const Tensor* w, const Tensor* b, float eps, Tensor& y, ThreadPool& pool);
void gelu_erf(const Tensor& x, Tensor& y, ThreadPool& pool);
void im2col(const Tensor& x, int k, int stride, int pad, Tensor& out, ThreadPool& pool);

} // namespace vkai::cpu
