// The interface every compute backend implements (CPU now, Vulkan next). The forward pass is
// written once against it. A backend owns memory in its own address space: alloc() returns a base
// pointer, and Tensor::data values of that backend's tensors point inside such allocations
// (for the CPU they are host pointers; for a GPU they are handles the backend resolves).
// Ops are recorded in call order; errors of recorded work surface at sync().
#pragma once

#include "base/status.h"
#include "ops/op.h"
#include "ops/params.h"
#include "tensor/tensor.h"

#include <cstdint>
#include <string>

namespace vkai {

struct MemoryInfo {
    uint64_t total = 0;  // bytes the backend can use at most
    uint64_t free = 0;   // bytes still available (budget minus what vkai holds)
    uint64_t in_use = 0; // bytes vkai holds on this backend
};

class Backend {
public:
    virtual ~Backend() = default;

    virtual const std::string& name() const = 0; // "cpu", "vulkan0"
    // Whether this backend runs `op` with `type` as its weight/table/source type.
    virtual bool supports(Op op, DType type) const = 0;
    // True when tensors in host memory (the mmap'd model) can be used directly without upload.
    virtual bool uses_host_memory() const = 0;

    virtual Result<void*> alloc(uint64_t bytes, const char* what) = 0;
    virtual void free(void* base) = 0;
    virtual Status upload(void* dst, const void* host, uint64_t bytes) = 0;
    // Waits for the recorded work before it, then copies.
    virtual Status download(void* host, const void* src, uint64_t bytes) = 0;
    // Waits for everything recorded so far. device_lost / out_of_memory are reported here.
    virtual Status sync() = 0;
    virtual MemoryInfo memory() const = 0;
    // GB/s (1e9 B/s) this backend reads from its own memory, measured now: the ceiling benchmarks
    // print beside their results. Allocates a large temporary buffer.
    virtual Result<double> read_bandwidth() = 0;

    // The op list (ops/op.h), with the semantics of ops/ref.h. Tensors live in this backend's memory;
    // ids and pos are host arrays (a GPU backend copies them at record time), and so is
    // RopeParams::freq_factors.
    virtual void get_rows(const Tensor& table, const int32_t* ids, int64_t n, Tensor& out) = 0;
    virtual void mul_mat(const Tensor& w, const Tensor& x, Tensor& y) = 0;
    virtual void rms_norm(const Tensor& x, const Tensor* w, float eps, Tensor& y) = 0;
    virtual void rope(const Tensor& x, const int32_t* pos, const RopeParams& p, Tensor& y) = 0;
    virtual void softmax(const Tensor& x, const Tensor* mask, float scale, Tensor& y) = 0;
    virtual void silu(const Tensor& x, Tensor& y) = 0;
    virtual void gelu(const Tensor& x, Tensor& y) = 0;
    virtual void add(const Tensor& a, const Tensor& b, Tensor& y) = 0;
    virtual void mul(const Tensor& a, const Tensor& b, Tensor& y) = 0;
    virtual void copy(const Tensor& src, Tensor& dst) = 0;
    virtual void set_rows(const Tensor& src, const int32_t* ids, Tensor& dst) = 0;
    virtual void attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, float scale, Tensor& out) = 0;
    // Ops added for whisper. Not pure: a backend without them keeps compiling, and callers check
    // has_whisper_ops() first; calling one the backend lacks is a programmer error (asserts).
    virtual void layer_norm(const Tensor& x, const Tensor* w, const Tensor* b, float eps, Tensor& y);
    virtual void gelu_erf(const Tensor& x, Tensor& y);
    virtual void im2col(const Tensor& x, int k, int stride, int pad, Tensor& out);
    // Whether the backend overrides the ops above (supports() of older backends predates them).
    virtual bool has_whisper_ops() const { return false; }

    // Fusions: fewer dispatches and fewer dependent steps per layer on a GPU. Each means the
    // composition written beside it.
    // y = silu(a) * b (SwiGLU); y may alias a. The default composes silu and mul.
    virtual void swiglu(const Tensor& a, const Tensor& b, Tensor& y) {
        silu(a, y);
        mul(y, b, y);
    }
    // y = w x + add (the residual add after a projection; add may alias y). Only where
    // fuses_mul_mat_add() says so; the caller composes mul_mat and add otherwise.
    virtual bool fuses_mul_mat_add(DType w, int64_t ncols) const {
        (void)w, (void)ncols;
        return false;
    }
    virtual void mul_mat_add(const Tensor& w, const Tensor& x, const Tensor& add, Tensor& y);
    // y = gelu_erf(w x + add) (whisper's fc1 with its bias, single f32 rows). Only where
    // fuses_mul_mat_add_gelu() says so; the caller composes mul_mat, add and gelu_erf otherwise.
    virtual bool fuses_mul_mat_add_gelu(DType w, int64_t ncols) const {
        (void)w, (void)ncols;
        return false;
    }
    virtual void mul_mat_add_gelu(const Tensor& w, const Tensor& x, const Tensor& add, Tensor& y);
    // y = w (silu(g) * u) + add: SwiGLU, the down projection and its residual add in one step
    // (add may alias y; g, u, add and y are single f32 rows). Only where
    // fuses_swiglu_mul_mat_add() says so; the caller composes swiglu and mul_mat_add otherwise.
    virtual bool fuses_swiglu_mul_mat_add(DType w, int64_t ncols) const {
        (void)w, (void)ncols;
        return false;
    }
    virtual void swiglu_mul_mat_add(const Tensor& w, const Tensor& g, const Tensor& u, const Tensor& add, Tensor& y);
    // y = w rms_norm(x, g, eps): the norm inside the projection it feeds (x, g and y single f32
    // rows; g the norm's weight). Only where fuses_rms_norm_mul_mat() says so; the caller composes
    // rms_norm and mul_mat otherwise.
    virtual bool fuses_rms_norm_mul_mat(DType w, int64_t ncols) const {
        (void)w, (void)ncols;
        return false;
    }
    virtual void rms_norm_mul_mat(const Tensor& w, const Tensor& x, const Tensor& g, float eps, Tensor& y);
    // y = w layer_norm(x, g, b, eps) + add, or gelu_erf of it (whisper's projections after a layer
    // norm, with their bias; x, g, b, add and y single f32 rows). Only where
    // fuses_layer_norm_mul_mat() says so; the caller composes layer_norm and the projection otherwise.
    virtual bool fuses_layer_norm_mul_mat(DType w, int64_t ncols) const {
        (void)w, (void)ncols;
        return false;
    }
    virtual void layer_norm_mul_mat_add(const Tensor& w, const Tensor& x, const Tensor& g, const Tensor& b, float eps, const Tensor& add, bool gelu,
                                        Tensor& y);
    // set_rows(rope(x), ids, dst): k rotated straight into the KV cache (x f32 (head_dim, n_heads,
    // n_tokens), unchanged; dst rows of head_dim * n_heads, f32 or f16; token t to row ids[t]).
    // Only where fuses_rope_set_rows() says so; the caller composes rope and set_rows otherwise.
    virtual bool fuses_rope_set_rows() const { return false; }
    virtual void rope_set_rows(const Tensor& x, const int32_t* pos, const RopeParams& p, const int32_t* ids, Tensor& dst);
};

} // namespace vkai
