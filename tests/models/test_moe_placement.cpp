// MoE expert placement on a real Vulkan device (lavapipe in CI), golden qwen3moe (2 layers, 8
// experts, 2 per token): every placement -- all experts on the GPU, the last layer's on the CPU,
// all on the CPU, half the layers on the GPU with and without their experts -- gives the
// transformers greedy tokens and the CPU run's, reading the prompt in batches of 8 (the device
// experts' slot path) and generating one token at a time (the fused path); one decode step costs
// one round trip per GPU layer whatever its experts' placement, plus one for the logits; and the
// device bytes the forward pass holds never exceed what the dry run (the plan) measured, through
// load, prompt and generation. Skips without a Vulkan device.
#include "llm/forward.h"
#include "llm/generate.h"
#include "llm/model.h"
#include "support/llm_golden.h"

#ifdef VKAI_HAVE_VULKAN
#include "vulkan/vk_fault.h"
#include "vulkan/vulkan_backend.h"
#endif

#include <gtest/gtest.h>

#include <map>

using namespace vkai;

#ifdef VKAI_HAVE_VULKAN
namespace {

const char* kModel = "tests/models/golden/qwen3moe.gguf";

struct Placement {
    int64_t ngl, n_cpu_moe, gpu_expert_layers; // the last: what the Context must report
};
// N = 2 layers
const Placement kPlacements[] = {{-1, 0, 2}, {-1, 1, 1}, {-1, 2, 0}, {1, 0, 1}, {1, 2, 0}};

Backend* shared_backend() {
    static Result<std::unique_ptr<Backend>> be = vk::create_vulkan_backend();
    return be.ok() ? be->get() : nullptr;
}

std::unique_ptr<llm::Context> context(const llm::Model& m, Backend* be, const Placement& p) {
    llm::ContextParams cp;
    cp.n_ctx = 128;
    cp.n_batch = 8;
    cp.backend = be;
    cp.n_gpu_layers = p.ngl;
    cp.n_cpu_moe = p.n_cpu_moe;
    auto c = llm::Context::create(m, cp);
    EXPECT_TRUE(c.ok()) << c.status().message();
    return c.ok() ? std::move(*c) : nullptr;
}

std::vector<int32_t> greedy(llm::Context& ctx, const std::vector<int32_t>& prompt, int64_t n) {
    llm::GenerateParams gp;
    gp.max_tokens = n;
    gp.sampling.temperature = 0;
    gp.ignore_eos = true;
    auto r = llm::generate(ctx, prompt, gp, [](std::string_view) { return true; });
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r->tokens : std::vector<int32_t>{};
}

std::string name(const Placement& p) { return "ngl " + std::to_string(p.ngl) + " n_cpu_moe " + std::to_string(p.n_cpu_moe); }

TEST(MoePlacement, SameGreedyTokensForEveryPlacement) {
    Backend* be = shared_backend();
    if (!be) GTEST_SKIP() << "no Vulkan device";
    auto model = llm::Model::load(kModel);
    ASSERT_TRUE(model.ok()) << model.status().message();
    const test::LlmGolden g = test::read_llm_golden("tests/models/golden/qwen3moe.json");
    auto cpu = context(*model, nullptr, {0, 0, 0});
    ASSERT_TRUE(cpu);
    const std::vector<int32_t> ref = greedy(*cpu, g.prompt, int64_t(g.greedy.size()));
    EXPECT_EQ(ref, g.greedy) << "the CPU run and transformers disagree";
    for (const Placement& p : kPlacements) {
        auto ctx = context(*model, be, p);
        ASSERT_TRUE(ctx) << name(p);
        EXPECT_EQ(ctx->n_gpu_expert_layers(), p.gpu_expert_layers) << name(p);
        EXPECT_EQ(greedy(*ctx, g.prompt, int64_t(g.greedy.size())), ref) << name(p);
    }
}

// One decode step of one token: routing needs the probabilities on the host once per GPU layer
// (for CPU experts the same download brings their input), the logits (or the residual stream at a
// GPU -> CPU boundary) once more. Counted as real vkQueueSubmit calls.
TEST(MoePlacement, OneRoundTripPerGpuLayer) {
    Backend* be = shared_backend();
    if (!be) GTEST_SKIP() << "no Vulkan device";
    auto model = llm::Model::load(kModel);
    ASSERT_TRUE(model.ok()) << model.status().message();
    const int64_t N = model->hp().n_layer;
    for (const Placement& p : kPlacements) {
        auto ctx = context(*model, be, p);
        ASSERT_TRUE(ctx);
        llm::Batch b;
        for (int32_t i = 0; i < 5; ++i) b.add(10 + i, i, 0, i == 4);
        ASSERT_TRUE(ctx->decode(b).ok());
        b.clear();
        b.add(42, 5, 0, true);
        const uint64_t s0 = vk::fault_count(vk::FaultKind::lost);
        ASSERT_TRUE(ctx->decode(b).ok());
        const int64_t gpu_layers = p.ngl < 0 ? N : p.ngl;
        EXPECT_EQ(int64_t(vk::fault_count(vk::FaultKind::lost) - s0), gpu_layers + 1) << name(p);
    }
}

// Forwards every call to a real backend and keeps the high-water mark of what was allocated
// through it: the forward pass's own device memory.
class Tracking final : public Backend {
public:
    explicit Tracking(Backend& b) : b_(b) {}
    uint64_t live() const { return live_; }
    uint64_t peak() const { return peak_; }

    const std::string& name() const override { return b_.name(); }
    bool supports(Op op, DType t) const override { return b_.supports(op, t); }
    bool uses_host_memory() const override { return b_.uses_host_memory(); }
    Result<void*> alloc(uint64_t bytes, const char* what) override {
        auto r = b_.alloc(bytes, what);
        if (r.ok()) {
            sizes_[*r] = bytes;
            live_ += bytes;
            peak_ = std::max(peak_, live_);
        }
        return r;
    }
    void free(void* p) override {
        auto it = sizes_.find(p);
        if (it != sizes_.end()) live_ -= it->second, sizes_.erase(it);
        b_.free(p);
    }
    Status upload(void* d, const void* h, uint64_t n) override { return b_.upload(d, h, n); }
    Status download(void* h, const void* s, uint64_t n) override { return b_.download(h, s, n); }
    Status sync() override { return b_.sync(); }
    MemoryInfo memory() const override { return b_.memory(); }
    Result<double> read_bandwidth() override { return b_.read_bandwidth(); }
    void get_rows(const Tensor& t, const int32_t* ids, int64_t n, Tensor& o) override { b_.get_rows(t, ids, n, o); }
    void mul_mat(const Tensor& w, const Tensor& x, Tensor& y) override { b_.mul_mat(w, x, y); }
    void rms_norm(const Tensor& x, const Tensor* w, float eps, Tensor& y) override { b_.rms_norm(x, w, eps, y); }
    void rope(const Tensor& x, const int32_t* pos, const RopeParams& p, Tensor& y) override { b_.rope(x, pos, p, y); }
    void softmax(const Tensor& x, const Tensor* m, float s, Tensor& y) override { b_.softmax(x, m, s, y); }
    void silu(const Tensor& x, Tensor& y) override { b_.silu(x, y); }
    void gelu(const Tensor& x, Tensor& y) override { b_.gelu(x, y); }
    void add(const Tensor& a, const Tensor& b, Tensor& y) override { b_.add(a, b, y); }
    void mul(const Tensor& a, const Tensor& b, Tensor& y) override { b_.mul(a, b, y); }
    void copy(const Tensor& s, Tensor& d) override { b_.copy(s, d); }
    void set_rows(const Tensor& s, const int32_t* ids, Tensor& d) override { b_.set_rows(s, ids, d); }
    void attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& m, float s, Tensor& o) override { b_.attention(q, k, v, m, s, o); }
    void swiglu(const Tensor& a, const Tensor& b, Tensor& y) override { b_.swiglu(a, b, y); }
    bool fuses_mul_mat_add(DType w, int64_t n) const override { return b_.fuses_mul_mat_add(w, n); }
    void mul_mat_add(const Tensor& w, const Tensor& x, const Tensor& a, Tensor& y) override { b_.mul_mat_add(w, x, a, y); }
    bool fuses_swiglu_mul_mat_add(DType w, int64_t n) const override { return b_.fuses_swiglu_mul_mat_add(w, n); }
    void swiglu_mul_mat_add(const Tensor& w, const Tensor& g, const Tensor& u, const Tensor& a, Tensor& y) override {
        b_.swiglu_mul_mat_add(w, g, u, a, y);
    }

private:
    Backend& b_;
    std::map<void*, uint64_t> sizes_;
    uint64_t live_ = 0, peak_ = 0;
};

TEST(MoePlacement, DeviceMemoryNeverExceedsTheDryRun) {
    Backend* be = shared_backend();
    if (!be) GTEST_SKIP() << "no Vulkan device";
    auto model = llm::Model::load(kModel);
    ASSERT_TRUE(model.ok()) << model.status().message();
    const test::LlmGolden g = test::read_llm_golden("tests/models/golden/qwen3moe.json");
    for (const Placement& p : kPlacements) {
        llm::ContextParams cp;
        cp.n_ctx = 128;
        cp.n_batch = 8;
        cp.n_gpu_layers = p.ngl;
        cp.n_cpu_moe = p.n_cpu_moe;
        auto dr = llm::Context::measure(*model, cp);
        ASSERT_TRUE(dr.ok()) << dr.status().message();
        Tracking t(*be);
        {
            auto ctx = context(*model, &t, p);
            ASSERT_TRUE(ctx);
            EXPECT_EQ(t.live(), dr->gpu_total()) << name(p);
            greedy(*ctx, g.prompt, 12);
            EXPECT_EQ(t.peak(), dr->gpu_total()) << name(p) << ": the forward pass allocated on the device after load";
        }
        EXPECT_EQ(t.live(), 0u) << name(p);
    }
}

} // namespace
#else
TEST(MoePlacement, Skipped) { GTEST_SKIP() << "built without the Vulkan backend (VKAI_VULKAN=OFF)"; }
#endif
