// A Backend that only measures: alloc() hands out distinct fake addresses and records the bytes
// asked for under their tag ("weights", "KV cache", "activations"); upload/download/sync do nothing.
// Context::measure creates a real Context on two of these (one standing in for the CPU, one for the
// GPU), so the planner learns the bytes the forward pass really allocates without touching memory.
// It runs no op: an op call is a caller bug and aborts with a message, unless counting is on
// (Context::count_decode): then each op call, upload and download is only counted.
#pragma once

#include "ops/backend.h"

#include <cstdint>
#include <map>
#include <string>

namespace vkai::plan {

class MeasureBackend final : public Backend {
public:
    // name: the name the Context sees ("cpu" makes it the CPU side); host: uses_host_memory().
    MeasureBackend(std::string name, bool host) : name_(std::move(name)), host_(host) {}

    uint64_t bytes(const std::string& tag) const; // live bytes under a tag
    uint64_t total() const { return live_; }      // live bytes under every tag
    uint64_t peak() const { return peak_; }

    // Counting mode: op calls are counted instead of aborting; `fuses` answers the fuses_*
    // queries for one column as the Vulkan backend does.
    void count_ops(bool fuses) { counting_ = true, fuses_ = fuses; }
    int64_t ops() const { return ops_; }
    int64_t uploads() const { return uploads_; }
    int64_t downloads() const { return downloads_; }

    const std::string& name() const override { return name_; }
    bool supports(Op, DType) const override { return true; }
    bool uses_host_memory() const override { return host_; }
    Result<void*> alloc(uint64_t bytes, const char* what) override;
    void free(void* base) override;
    Status upload(void*, const void*, uint64_t) override { return ++uploads_, Status(); }
    Status download(void*, const void*, uint64_t) override { return ++downloads_, Status(); }
    Status sync() override { return {}; }
    MemoryInfo memory() const override { return {UINT64_MAX, UINT64_MAX, live_}; }
    Result<double> read_bandwidth() override { return fail(Code::unsupported, "the measuring backend reads no memory"); }

    void get_rows(const Tensor&, const int32_t*, int64_t, Tensor&) override { op("get_rows"); }
    void mul_mat(const Tensor&, const Tensor&, Tensor&) override { op("mul_mat"); }
    void rms_norm(const Tensor&, const Tensor*, float, Tensor&) override { op("rms_norm"); }
    void rope(const Tensor&, const int32_t*, const RopeParams&, Tensor&) override { op("rope"); }
    void softmax(const Tensor&, const Tensor*, float, Tensor&) override { op("softmax"); }
    void silu(const Tensor&, Tensor&) override { op("silu"); }
    void gelu(const Tensor&, Tensor&) override { op("gelu"); }
    void add(const Tensor&, const Tensor&, Tensor&) override { op("add"); }
    void mul(const Tensor&, const Tensor&, Tensor&) override { op("mul"); }
    void copy(const Tensor&, Tensor&) override { op("copy"); }
    void set_rows(const Tensor&, const int32_t*, Tensor&) override { op("set_rows"); }
    void attention(const Tensor&, const Tensor&, const Tensor&, const Tensor&, float, Tensor&) override { op("attention"); }
    void swiglu(const Tensor&, const Tensor&, Tensor&) override { op("swiglu"); }
    bool fuses_mul_mat_add(DType, int64_t ncols) const override { return fuses_ && ncols == 1; }
    void mul_mat_add(const Tensor&, const Tensor&, const Tensor&, Tensor&) override { op("mul_mat_add"); }
    bool fuses_swiglu_mul_mat_add(DType, int64_t ncols) const override { return fuses_ && ncols == 1; }
    void swiglu_mul_mat_add(const Tensor&, const Tensor&, const Tensor&, const Tensor&, Tensor&) override { op("swiglu_mul_mat_add"); }
    bool fuses_rms_norm_mul_mat(DType, int64_t ncols) const override { return fuses_ && ncols == 1; }
    void rms_norm_mul_mat(const Tensor&, const Tensor&, const Tensor&, float, Tensor&) override { op("rms_norm_mul_mat"); }
    bool fuses_rope_set_rows() const override { return fuses_; }
    void rope_set_rows(const Tensor&, const int32_t*, const RopeParams&, const int32_t*, Tensor&) override { op("rope_set_rows"); }

private:
    void op(const char* name) {
        if (!counting_) no_op(name);
        ++ops_;
    }
    [[noreturn]] static void no_op(const char* op);
    struct A {
        uint64_t bytes;
        std::string tag;
    };
    std::string name_;
    bool host_;
    std::map<uint64_t, A> allocs_;
    std::map<std::string, uint64_t> by_tag_;
    uint64_t next_ = 0x1000, live_ = 0, peak_ = 0;
    bool counting_ = false, fuses_ = false;
    int64_t ops_ = 0, uploads_ = 0, downloads_ = 0;
};

} // namespace vkai::plan
