// The VulkanBackend class (internal): state shared by vulkan_backend.cpp (memory, transfers,
// sync) and the op recording files vk_ops.cpp / vk_ops_attn.cpp / vk_ops_whisper.cpp.
#pragma once

#include "vulkan/vk_commands.h"
#include "vulkan/vulkan_backend.h"

namespace vkai::vk {

struct AttnPC; // attention's push constants (vk_ops_attn.cpp)

// Whether the environment variable is set and starts with '0' (the VKAI_VK_* switches that turn a
// kernel choice off, to compare on a GPU).
bool env_off(const char* name);

// The six words a shader reads per tensor operand (TENSOR_PC in shaders/lib/common.glsl).
struct TensorPC {
    uint32_t bias, nb1, nb2, nb3, ne1, ne2;
};

class VulkanBackendImpl final : public Backend {
public:
    VulkanBackendImpl(std::unique_ptr<Device> dev, const VulkanOptions& opt);
    ~VulkanBackendImpl() override;
    Status init();

    const std::string& name() const override { return name_; }
    bool supports(Op op, DType type) const override;
    bool uses_host_memory() const override { return false; }
    Result<void*> alloc(uint64_t bytes, const char* what) override;
    void free(void* base) override;
    Status upload(void* dst, const void* host, uint64_t bytes) override;
    Status download(void* host, const void* src, uint64_t bytes) override;
    Status sync() override;
    MemoryInfo memory() const override;
    Result<double> read_bandwidth() override; // vk_bandwidth.cpp

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
    void swiglu(const Tensor& a, const Tensor& b, Tensor& y) override;
    bool fuses_mul_mat_add(DType w, int64_t ncols) const override;
    void mul_mat_add(const Tensor& w, const Tensor& x, const Tensor& add, Tensor& y) override;
    bool fuses_swiglu_mul_mat_add(DType w, int64_t ncols) const override { return fuses_mul_mat_add(w, ncols); }
    void swiglu_mul_mat_add(const Tensor& w, const Tensor& g, const Tensor& u, const Tensor& add, Tensor& y) override;
    bool fuses_mul_mat_add_gelu(DType w, int64_t ncols) const override;
    void mul_mat_add_gelu(const Tensor& w, const Tensor& x, const Tensor& add, Tensor& y) override;
    bool fuses_rms_norm_mul_mat(DType w, int64_t ncols) const override;
    bool fuses_rope_set_rows() const override;
    void rope_set_rows(const Tensor& x, const int32_t* pos, const RopeParams& p, const int32_t* ids, Tensor& dst) override;
    void rms_norm_mul_mat(const Tensor& w, const Tensor& x, const Tensor& g, float eps, Tensor& y) override;
    bool fuses_layer_norm_mul_mat(DType w, int64_t ncols) const override;
    void layer_norm_mul_mat_add(const Tensor& w, const Tensor& x, const Tensor& g, const Tensor& b, float eps, const Tensor& add, bool gelu,
                                Tensor& y) override;
    // whisper's ops (vk_ops_whisper.cpp)
    void layer_norm(const Tensor& x, const Tensor* w, const Tensor* b, float eps, Tensor& y) override;
    void gelu_erf(const Tensor& x, Tensor& y) override;
    void im2col(const Tensor& x, int k, int stride, int pad, Tensor& out) override;
    bool has_whisper_ops() const override { return true; }

    const Device& device() const { return *dev_; }
    bool mul_mat_rounds_to_f16(int64_t ncols) const; // vk_ops.cpp
    uint64_t max_binding() const { return max_binding_; }
    bool use_subgroup_ops() const { return dev_->enabled().subgroup_arith; }

private:
    Status prepare_pipelines();                                      // vk_ops.cpp
    void attn_pipeline_specs(std::vector<PipelineSpec>& specs) const; // vk_ops_attn.cpp
    void whisper_pipeline_specs(std::vector<PipelineSpec>& specs) const; // vk_ops_whisper.cpp
    // Recording helpers (vk_ops.cpp).
    Loc locate(const Tensor& t, const char* what) const;
    // A binding of bytes [lo, hi) after t.data (lo may be 0 and hi the span); sets *bias to the
    // byte offset of t.data inside the binding modulo 2^32 (plus `extra`). False when too large.
    bool bind(const Tensor& t, uint64_t lo, uint64_t hi, Binding& b, uint32_t* bias, uint64_t extra = 0);
    Binding bind_ring(const RingSlice& s, uint64_t bytes) const;
    TensorPC tpc(const Tensor& t, uint32_t bias) const;
    // Row range [r0, r1) of t as byte offsets from t.data.
    void row_span(const Tensor& t, int64_t r0, int64_t r1, uint64_t& lo, uint64_t& hi) const;
    // Rows per dispatch so that every listed tensor's row range fits one binding.
    int64_t rows_per_chunk(std::initializer_list<const Tensor*> ts, int64_t nrows) const;
    const Pipeline* pipeline(const std::string& name, uint32_t bindings, uint32_t push_bytes);
    void dispatch(const Pipeline* p, const Binding* b, const void* push, uint64_t groups, uint32_t gz, const char* kind);
    void set_error(Status st);
    void row_op(const char* shader, const char* kind, const Tensor& x, const Tensor& y, const void* extra, size_t extra_bytes,
                const Tensor* third, bool elementwise);
    void binary(const char* shader, const Tensor& a, const Tensor& b, Tensor& y);
    // mul_mat_add (add), mul_mat_add_gelu (add, gelu), swiglu_mul_mat_add (u, add),
    // rms_norm_mul_mat (u = the norm's weight, norm, eps) and layer_norm_mul_mat_add (u, ln_b = the
    // norm's weight and bias, add, gelu, eps): the single-column kernel with a fusion.
    struct VecFusion {
        const Tensor* u = nullptr;
        const Tensor* ln_b = nullptr;
        const Tensor* add = nullptr;
        bool gelu = false, norm = false;
        float eps = 0;
    };
    void mul_mat_vec_fused(const Tensor& w, const Tensor& x, const VecFusion& f, Tensor& y);
    // attention over splits of the cells, merged (vk_ops_attn.cpp); false when it records nothing.
    bool attention_split(const AttnPC& pc, const Binding* b, int64_t n_tok, DType kv);
    // rope's (cos, sin) table for these positions into rope_host_, and its binding in the ring.
    void rope_table(const int32_t* pos, int64_t n_tok, const RopeParams& rp);
    bool rope_table_binding(uint32_t reserve, Binding& b);

    std::unique_ptr<Device> dev_;
    VulkanOptions opt_;
    std::string name_;
    std::unique_ptr<DeviceMemory> mem_;
    std::unique_ptr<Pipelines> pipes_;
    std::unique_ptr<Recorder> rec_;
    Status err_; // the first error of recorded work: returned by the next sync()/download()
    std::vector<void*> deferred_free_;
    uint64_t max_binding_ = 0, align_ = 4;
    bool has_tiled_ = true;
    bool has_cm_ = false; // mul_mat_cm (cooperative matrices) for many columns
    std::string cm_name_;  // its pipeline prefix: mul_mat_cm_ or a variant (VKAI_VK_CM, vk_ops.cpp)
    // rope: the (cos, sin) table of the last call, reused while the ring still holds it
    std::vector<int32_t> rope_pos_;
    RopeParams rope_p_;
    std::vector<float> rope_ff_, rope_host_;
    RingSlice rope_slice_;
    uint64_t rope_submit_ = UINT64_MAX; // ring generation that holds rope_host_ at rope_slice_
    // attention_split: count slots and a ring of partial results, device memory allocated on first use
    void* split_scratch_ = nullptr;
    uint64_t split_used_ = 0, split_slot_ = 0;
};

} // namespace vkai::vk
