// The CPU as a Backend: host memory, ops run at once on a thread pool (sync() has nothing to wait for).
#pragma once

#include "base/thread_pool.h"
#include "ops/backend.h"

#include <memory>

namespace vkai::cpu {

class CpuBackend final : public Backend {
public:
    explicit CpuBackend(int threads); // 0 = all cores

    ThreadPool& pool() { return pool_; }

    const std::string& name() const override { return name_; }
    bool supports(Op op, DType type) const override;
    bool uses_host_memory() const override { return true; }
    Result<void*> alloc(uint64_t bytes, const char* what) override;
    void free(void* base) override;
    Status upload(void* dst, const void* host, uint64_t bytes) override;
    Status download(void* host, const void* src, uint64_t bytes) override;
    Status sync() override { return {}; }
    MemoryInfo memory() const override;
    Result<double> read_bandwidth() override;

    void get_rows(const Tensor& table, const int32_t* ids, int64_t n, Tensor& out) override;
    void mul_mat(const Tensor& w, const Tensor& x, Tensor& y) override;
    void rms_norm(const Tensor& x, const Tensor* w, float eps, Tensor& y) override;
    void rope(const Tensor& x, const int32_t* pos, const RopeParams& p, Tensor& y) override;
    void softmax(const Tensor& x, const Tensor* mask, float scale, Tensor& y) override;
    void silu(const Tensor& x, Tensor& y) override;
    void gelu(const Tensor& x, Tensor& y) override;
    void add(const Tensor& a, const Tensor& b, Tensor& y) override;
    void mul(const Tensor& a, const Tensor& b, Tensor& y) override;
    void copy(const Tensor& src, Tensor& dst) override;
    void set_rows(const Tensor& src, const int32_t* ids, Tensor& dst) override;
    void attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, float scale, Tensor& out) override;
    void layer_norm(const Tensor& x, const Tensor* w, const Tensor* b, float eps, Tensor& y) override;
    void gelu_erf(const Tensor& x, Tensor& y) override;
    void im2col(const Tensor& x, int k, int stride, int pad, Tensor& out) override;
    bool has_whisper_ops() const override { return true; }

private:
    std::string name_ = "cpu";
    ThreadPool pool_;
    uint64_t in_use_ = 0;
};

} // namespace vkai::cpu
