// Run-time fallback on a real Vulkan device (lavapipe in CI) with injected faults (vk_fault.h):
// device loss in the middle of generation -> the request finishes on the CPU with the same greedy
// tokens as a CPU-only run; an allocation failure at load -> a clear out_of_memory and a smaller
// placement that loads and gives the same tokens; MoE experts on the CPU (cpu_moe) -> the
// transformers greedy tokens. Skips without a Vulkan device.
#include "llm/forward.h"
#include "llm/generate.h"
#include "llm/model.h"
#include "support/llm_golden.h"

#ifdef VKAI_HAVE_VULKAN
#include "vulkan/vk_fault.h"
#include "vulkan/vulkan_backend.h"
#endif

#include <gtest/gtest.h>

using namespace vkai;

#ifdef VKAI_HAVE_VULKAN
namespace {

struct Case {
    std::string name, path;
    int64_t ngl; // layers on the GPU (-1 = all)
};

std::vector<int32_t> prompt_of(const llm::Model& m, const std::string& path) {
    if (path.find("golden/") != std::string::npos) return test::read_llm_golden(path.substr(0, path.size() - 5) + ".json").prompt;
    return m.tokenizer().encode("Once upon a time there was", true, true);
}

llm::GenerateResult greedy(llm::Context& ctx, const std::vector<int32_t>& prompt, int64_t n = 20) {
    llm::GenerateParams gp;
    gp.max_tokens = n;
    gp.sampling.temperature = 0;
    gp.ignore_eos = true;
    auto r = llm::generate(ctx, prompt, gp, [](std::string_view) { return true; });
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : llm::GenerateResult{};
}

std::unique_ptr<llm::Context> context(const llm::Model& m, Backend* be, int64_t ngl, bool cpu_moe = false) {
    llm::ContextParams cp;
    cp.n_ctx = 128;
    cp.n_batch = 8; // several prompt batches: the fault can land between them
    cp.backend = be;
    cp.n_gpu_layers = ngl;
    cp.cpu_moe = cpu_moe;
    auto c = llm::Context::create(m, cp);
    EXPECT_TRUE(c.ok()) << c.status().message();
    return c.ok() ? std::move(*c) : nullptr;
}

// One backend for every test that does not lose it (creating one compiles the pipelines: seconds
// on lavapipe).
Backend* shared_backend() {
    static Result<std::unique_ptr<Backend>> be = vk::create_vulkan_backend();
    return be.ok() ? be->get() : nullptr;
}

class Fallback : public ::testing::TestWithParam<Case> {};

TEST_P(Fallback, DeviceLostMidGenerationFinishesOnCpu) {
    const Case& c = GetParam();
    Backend* shared = shared_backend();
    if (!shared) GTEST_SKIP() << "no Vulkan device";
    auto model = llm::Model::load(c.path);
    ASSERT_TRUE(model.ok()) << model.status().message();
    const std::vector<int32_t> prompt = prompt_of(*model, c.path);

    auto cpu_ctx = context(*model, nullptr, 0);
    ASSERT_TRUE(cpu_ctx);
    const llm::GenerateResult ref = greedy(*cpu_ctx, prompt);
    EXPECT_EQ(ref.device, "cpu");
    EXPECT_TRUE(ref.fallback.empty());

    // Count the submits of one whole request on the GPU, then lose the device half way through
    // the generated tokens of the same request on a fresh backend.
    uint64_t prompt_submits = 0, total = 0;
    {
        auto ctx = context(*model, shared, c.ngl);
        ASSERT_TRUE(ctx);
        const uint64_t s0 = vk::fault_count(vk::FaultKind::lost);
        const llm::GenerateResult gpu_run = greedy(*ctx, prompt);
        total = vk::fault_count(vk::FaultKind::lost) - s0;
        EXPECT_EQ(gpu_run.tokens, ref.tokens) << "GPU and CPU disagree before any fault";
        EXPECT_EQ(gpu_run.device, shared->name());
        // the prompt alone
        auto ctx2 = context(*model, shared, c.ngl);
        const uint64_t s1 = vk::fault_count(vk::FaultKind::lost);
        llm::GenerateParams gp;
        gp.max_tokens = 1;
        gp.sampling.temperature = 0;
        ASSERT_TRUE(llm::generate(*ctx2, prompt, gp, [](std::string_view) { return true; }).ok());
        prompt_submits = vk::fault_count(vk::FaultKind::lost) - s1;
    }
    ASSERT_GT(total, prompt_submits + 2);

    auto be = vk::create_vulkan_backend();
    ASSERT_TRUE(be.ok());
    auto ctx = context(*model, be->get(), c.ngl);
    ASSERT_TRUE(ctx);
    vk::fault_arm(vk::FaultKind::lost, prompt_submits + (total - prompt_submits) / 2);
    const llm::GenerateResult got = greedy(*ctx, prompt);
    vk::fault_arm(vk::FaultKind::lost, 0);
    EXPECT_EQ(got.tokens, ref.tokens);
    EXPECT_EQ(got.device, "cpu");
    EXPECT_NE(got.fallback.find("DEVICE_LOST"), std::string::npos) << got.fallback;
    EXPECT_EQ(ctx->n_gpu_layers(), 0);
    // The context stays usable on the CPU for the next request.
    ctx->kv().clear();
    EXPECT_EQ(greedy(*ctx, prompt).tokens, ref.tokens);
}

TEST_P(Fallback, AllocationFailureAtLoadThenSmallerPlacement) {
    const Case& c = GetParam();
    Backend* be = shared_backend();
    if (!be) GTEST_SKIP() << "no Vulkan device";
    auto model = llm::Model::load(c.path);
    ASSERT_TRUE(model.ok()) << model.status().message();
    const std::vector<int32_t> prompt = prompt_of(*model, c.path);
    auto cpu_ctx = context(*model, nullptr, 0);
    const llm::GenerateResult ref = greedy(*cpu_ctx, prompt);

    llm::ContextParams cp;
    cp.n_ctx = 128;
    cp.n_batch = 8;
    cp.backend = be;
    cp.n_gpu_layers = c.ngl;
    vk::fault_arm(vk::FaultKind::alloc, 1);
    auto failed = llm::Context::create(*model, cp);
    vk::fault_arm(vk::FaultKind::alloc, 0);
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.status().code(), Code::out_of_memory) << failed.status().message();
    // Nothing leaked on the device, and a smaller placement loads on the same backend.
    EXPECT_EQ(be->memory().in_use, 0u);
    cp.n_gpu_layers = (c.ngl < 0 ? model->hp().n_layer : c.ngl) - 1;
    auto ctx = llm::Context::create(*model, cp);
    ASSERT_TRUE(ctx.ok()) << ctx.status().message();
    const llm::GenerateResult got = greedy(**ctx, prompt);
    EXPECT_EQ(got.tokens, ref.tokens);
    EXPECT_EQ(got.device, be->name());
    EXPECT_TRUE(got.fallback.empty());
}

// stories260K split (the residual stream crosses to the CPU, the head runs there) and the MoE golden
// fully on the GPU (head on the GPU, routing downloads). Each loss case needs a fresh backend.
INSTANTIATE_TEST_SUITE_P(Models, Fallback,
                         ::testing::Values(Case{"stories_split", "models/stories260K.gguf", 2},
                                           Case{"qwen3moe_all", "tests/models/golden/qwen3moe.gguf", -1}),
                         [](const auto& i) { return i.param.name; });

// Experts on the CPU, attention and routers on the GPU: the transformers greedy tokens.
TEST(FallbackCpuMoe, MatchesTransformers) {
    Backend* be = shared_backend();
    if (!be) GTEST_SKIP() << "no Vulkan device";
    const std::string path = "tests/models/golden/qwen3moe.gguf";
    auto model = llm::Model::load(path);
    ASSERT_TRUE(model.ok()) << model.status().message();
    const test::LlmGolden g = test::read_llm_golden("tests/models/golden/qwen3moe.json");
    for (int64_t ngl : {int64_t(-1), int64_t(1)}) {
        auto ctx = context(*model, be, ngl, true);
        ASSERT_TRUE(ctx);
        const llm::GenerateResult got = greedy(*ctx, g.prompt, int64_t(g.greedy.size()));
        EXPECT_EQ(got.tokens, g.greedy) << "ngl " << ngl;
    }
}

// --vram: the allocator refuses blocks past the cap with out_of_memory, and frees make room again.
TEST(VramCap, AllocatorRefusesPastTheCap) {
    vk::VulkanOptions o;
    o.max_device_bytes = 512ull << 20;
    auto be = vk::create_vulkan_backend(o);
    if (!be.ok()) GTEST_SKIP() << "no Vulkan device: " << be.status().message();
    auto a = (*be)->alloc(200ull << 20, "a"), b = (*be)->alloc(200ull << 20, "b");
    ASSERT_TRUE(a.ok() && b.ok());
    auto c = (*be)->alloc(200ull << 20, "c"); // a third 256 MiB block would pass 512 MiB
    EXPECT_EQ(c.status().code(), Code::out_of_memory);
    EXPECT_NE(c.status().message().find("--vram"), std::string::npos) << c.status().message();
    (*be)->free(*a);
    auto d = (*be)->alloc(200ull << 20, "d");
    EXPECT_TRUE(d.ok());
    (*be)->free(*b);
    if (d.ok()) (*be)->free(*d);
}

TEST(FaultSpec, Parse) {
    uint64_t a = 0, l = 0;
    EXPECT_TRUE(vk::fault_parse("alloc:3", a, l));
    EXPECT_EQ(a, 3u);
    EXPECT_EQ(l, 0u);
    EXPECT_TRUE(vk::fault_parse("lost:40,alloc:2", a, l));
    EXPECT_EQ(a, 2u);
    EXPECT_EQ(l, 40u);
    for (const char* bad : {"", "alloc", "alloc:", "alloc:0", "alloc:x", "lost:1,", "boom:1", "alloc:1x"}) EXPECT_FALSE(vk::fault_parse(bad, a, l)) << bad;
}

} // namespace
#else
TEST(Fallback, Skipped) { GTEST_SKIP() << "built without the Vulkan backend (VKAI_VULKAN=OFF)"; }
#endif
