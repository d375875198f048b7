// Fast CPU kernels: the same ops and signatures as ops/ref.h, threaded over a ThreadPool.
// SIMD paths (AVX2 + FMA + F16C) are compiled in separate files and chosen at run time;
// VKAI_CPU_SCALAR=1 (or the `scalar` build preset) forces the portable path.
#pragma once

#include "base/thread_pool.h"
#include "ops/params.h"
#include "tensor/tensor.h"

namespace vkai::cpu {

struct Features {
    bool avx2 = false, fma = false, f16c = false, avx512f = false, avx512vnni = false;
};
const Features& features();  // detected once
bool simd_enabled();          // AVX2+FMA+F16C present, built in, and not disabled by VKAI_CPU_SCALAR
const char* simd_name();      // "avx2" or "scalar": for logs and benchmarks
bool supports_mul_mat(DType w_type);
// Tests run both paths in one process: force_scalar(true) makes simd_enabled() false until reset.
void force_scalar(bool on);

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
