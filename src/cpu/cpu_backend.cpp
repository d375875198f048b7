#include "cpu/cpu_backend.h"

#include "base/text.h"
#include "cpu/cpu.h"
#include "cpu/membw.h"
#include "tensor/quant.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace vkai::cpu {

CpuBackend::CpuBackend(int threads) : pool_(threads) {}

bool CpuBackend::supports(Op op, DType type) const {
    switch (op) {
    case Op::mul_mat: return supports_mul_mat(type);
    case Op::get_rows: return can_dequantize(type);
    case Op::copy: return can_dequantize(type) || can_quantize(type);
    case Op::set_rows:
    case Op::attention: return type == DType::F32 || type == DType::F16;
    default: return type == DType::F32;
    }
}

Result<void*> CpuBackend::alloc(uint64_t bytes, const char* what) {
    // 64-byte aligned for the SIMD kernels; at least one cache line so zero-byte requests work.
    const uint64_t size = (std::max<uint64_t>(bytes, 1) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, size);
    if (!p) return fail(Code::out_of_memory, "cannot allocate %s of host memory for %s", format_bytes(bytes).c_str(), what);
    in_use_ += size;
    return p;
}

void CpuBackend::free(void* base) { std::free(base); }

Status CpuBackend::upload(void* dst, const void* host, uint64_t bytes) {
    if (dst != host) std::memcpy(dst, host, bytes);
    return {};
}

Status CpuBackend::download(void* host, const void* src, uint64_t bytes) {
    if (host != src) std::memcpy(host, src, bytes);
    return {};
}

MemoryInfo CpuBackend::memory() const {
    MemoryInfo m;
    const long pages = sysconf(_SC_PHYS_PAGES), avail = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    m.total = pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 0;
    m.free = avail > 0 && page > 0 ? uint64_t(avail) * uint64_t(page) : 0;
    m.in_use = in_use_;
    return m;
}

Result<double> CpuBackend::read_bandwidth() { return measure_read_bandwidth(pool_); }

void CpuBackend::get_rows(const Tensor& table, const int32_t* ids, int64_t n, Tensor& out) { cpu::get_rows(table, ids, n, out, pool_); }
void CpuBackend::mul_mat(const Tensor& w, const Tensor& x, Tensor& y) { cpu::mul_mat(w, x, y, pool_); }
void CpuBackend::rms_norm(const Tensor& x, const Tensor* w, float eps, Tensor& y) { cpu::rms_norm(x, w, eps, y, pool_); }
void CpuBackend::rope(const Tensor& x, const int32_t* pos, const RopeParams& p, Tensor& y) { cpu::rope(x, pos, p, y, pool_); }
void CpuBackend::softmax(const Tensor& x, const Tensor* mask, float scale, Tensor& y) { cpu::softmax(x, mask, scale, y, pool_); }
void CpuBackend::silu(const Tensor& x, Tensor& y) { cpu::silu(x, y, pool_); }
void CpuBackend::gelu(const Tensor& x, Tensor& y) { cpu::gelu(x, y, pool_); }
void CpuBackend::add(const Tensor& a, const Tensor& b, Tensor& y) { cpu::add(a, b, y, pool_); }
void CpuBackend::mul(const Tensor& a, const Tensor& b, Tensor& y) { cpu::mul(a, b, y, pool_); }
void CpuBackend::copy(const Tensor& src, Tensor& dst) { cpu::copy(src, dst, pool_); }
void CpuBackend::set_rows(const Tensor& src, const int32_t* ids, Tensor& dst) { cpu::set_rows(src, ids, dst, pool_); }
void CpuBackend::attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, float scale, Tensor& out) {
    cpu::attention(q, k, v, mask, scale, out, pool_);
}
void CpuBackend::layer_norm(const Tensor& x, const Tensor* w, const Tensor* b, float eps, Tensor& y) { cpu::layer_norm(x, w, b, eps, y, pool_); }
void CpuBackend::gelu_erf(const Tensor& x, Tensor& y) { cpu::gelu_erf(x, y, pool_); }
void CpuBackend::im2col(const Tensor& x, int k, int stride, int pad, Tensor& out) { cpu::im2col(x, k, stride, pad, out, pool_); }

} // namespace vkai::cpu
