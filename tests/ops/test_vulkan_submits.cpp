// The recorder's submit budget (src/vulkan/vk_commands.h) on a real Vulkan device (lavapipe in CI):
// with a tiny budget (VKAI_VK_SUBMIT_MS) a long prompt is split into many submits and the logits
// are bit-identical to a run with the budget off. The dispatch-count rule is off in
// both (VKAI_VK_SUBMIT_EVERY=0), so only the budget and the downloads end submits. Plus the cost
// helpers' arithmetic. Skips without a Vulkan device.
#include "llm/forward.h"
#include "llm/model.h"

#ifdef VKAI_HAVE_VULKAN
#include "vulkan/vk_commands.h"
#include "vulkan/vk_fault.h"
#include "vulkan/vulkan_backend.h"
#endif

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace vkai;

#ifdef VKAI_HAVE_VULKAN
namespace {

// The recorder reads both variables when a backend is created.
std::unique_ptr<Backend> backend_with_budget(const char* ms) {
    setenv("VKAI_VK_SUBMIT_EVERY", "0", 1);
    setenv("VKAI_VK_SUBMIT_MS", ms, 1);
    auto be = vk::create_vulkan_backend();
    unsetenv("VKAI_VK_SUBMIT_EVERY");
    unsetenv("VKAI_VK_SUBMIT_MS");
    return be.ok() ? std::move(*be) : nullptr;
}

struct Pass {
    std::vector<float> logits; // every prompt position
    uint64_t prompt_submits = 0, step_submits = 0;
};

Pass run(const llm::Model& m, Backend& be, int64_t n_prompt) {
    llm::ContextParams cp;
    cp.n_ctx = 256;
    cp.n_batch = 128;
    cp.backend = &be;
    auto ctx = llm::Context::create(m, cp);
    EXPECT_TRUE(ctx.ok()) << ctx.status().message();
    Pass r;
    if (!ctx.ok()) return r;
    const int64_t nv = m.hp().n_vocab;
    llm::Batch b;
    for (int64_t i = 0; i < n_prompt; ++i) b.add(int32_t((i * 7919 + 13) % nv), int32_t(i), 0, true);
    uint64_t s0 = vk::fault_count(vk::FaultKind::lost);
    EXPECT_TRUE((*ctx)->decode(b).ok());
    r.prompt_submits = vk::fault_count(vk::FaultKind::lost) - s0;
    r.logits.assign((*ctx)->logits(0), (*ctx)->logits(0) + n_prompt * nv);
    b.clear();
    b.add(5, int32_t(n_prompt), 0, true);
    s0 = vk::fault_count(vk::FaultKind::lost);
    EXPECT_TRUE((*ctx)->decode(b).ok());
    r.step_submits = vk::fault_count(vk::FaultKind::lost) - s0;
    return r;
}

TEST(SubmitBudget, LongPromptSplitIntoSubmitsSameLogits) {
    auto off = backend_with_budget("0"), tiny = backend_with_budget("0.5");
    if (!off || !tiny) GTEST_SKIP() << "no Vulkan device";
    auto m = llm::Model::load("tests/models/golden/llama.gguf");
    ASSERT_TRUE(m.ok()) << m.status().message();
    const Pass a = run(*m, *off, 96), b = run(*m, *tiny, 96);
    std::fprintf(stderr, "submits with a 0.5 ms budget: prompt of 96 %llu, one token %llu\n", (unsigned long long)b.prompt_submits,
                 (unsigned long long)b.step_submits);
    // budget off: one submit per download of logits (the head runs on 64 tokens at a time: 2)
    EXPECT_EQ(a.prompt_submits, 2u);
    EXPECT_EQ(a.step_submits, 1u);
    EXPECT_GE(b.prompt_submits, 4u);
    EXPECT_GE(b.step_submits, 2u);
    ASSERT_EQ(a.logits.size(), b.logits.size());
    EXPECT_EQ(std::memcmp(a.logits.data(), b.logits.data(), a.logits.size() * 4), 0) << "split submits changed the results";
}

TEST(SubmitBudget, CostHelpers) {
    float dummy = 0;
    const Tensor w = make_tensor(DType::F32, &dummy, 4096, 11008), x = make_tensor(DType::F32, &dummy, 4096, 512);
    EXPECT_DOUBLE_EQ(vk::mul_mat_flops(w, x), 2.0 * 4096 * 11008 * 512);
    const Tensor q = make_tensor(DType::F32, &dummy, 128, 32, 512), k = make_tensor(DType::F16, &dummy, 128, 8, 4096);
    EXPECT_DOUBLE_EQ(vk::attention_flops(q, k), 4.0 * 128 * 32 * 512 * 4096);
    // 512 prompt tokens of a 7B (~7 TFLOP) at an RX 580's assumed rate: several 0.25 s submits
    vk::WorkRates r = vk::initial_work_rates("discrete");
    EXPECT_GT(r.estimate(7e12, 4e9), 4 * 0.25);
    // calibration: a submit that took twice its estimate doubles the estimate of its kind (in two
    // halving steps); short submits say nothing
    const double before = r.estimate(1e12, 0);
    r.calibrate(1e12 / r.flop_rate, 0, 0, 1e-3);
    EXPECT_DOUBLE_EQ(r.estimate(1e12, 0), before);
    for (int i = 0; i < 40; ++i) r.calibrate(1e12 / r.flop_rate, 0, 0, 2 * 1e12 / r.flop_rate);
    EXPECT_NEAR(r.flop_scale, 2.0, 1e-6);
    EXPECT_DOUBLE_EQ(r.byte_scale, 1.0);
}

} // namespace
#else
TEST(SubmitBudget, Skipped) { GTEST_SKIP() << "built without the Vulkan backend (VKAI_VULKAN=OFF)"; }
#endif
