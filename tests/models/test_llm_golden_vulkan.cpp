// The forward pass on the Vulkan backend against the HF transformers goldens (tests/models/golden):
// logits NMSE < 1e-5 at every prompt position and the greedy tokens identical, in the normal and
// the forced-baseline path, for one prompt batch and for several. Skips without a Vulkan device.
#include "llm/forward.h"
#include "llm/model.h"
#include "support/llm_golden.h"
#include "support/test_data.h"

#ifdef VKAI_HAVE_VULKAN
#include "vulkan/vulkan_backend.h"
#endif

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

using namespace vkai;

#ifdef VKAI_HAVE_VULKAN
namespace {

using Golden = test::LlmGolden;
Golden read_golden(const std::string& path) { return test::read_llm_golden(path); }

class LlmGoldenVulkan : public ::testing::TestWithParam<std::tuple<std::string, bool>> {};

TEST_P(LlmGoldenVulkan, MatchesTransformers) {
    const auto& [arch, baseline] = GetParam();
    vk::VulkanOptions o;
    o.baseline = baseline;
    Result<std::unique_ptr<Backend>> be = vk::create_vulkan_backend(o);
    if (!be.ok()) GTEST_SKIP() << "no Vulkan device: " << be.status().message();
    const std::string base = "tests/models/golden/" + arch;
    const Golden g = read_golden(base + ".json");
    auto model = llm::Model::load(base + ".gguf");
    ASSERT_TRUE(model.ok()) << model.status().message();
    const int64_t nv = model->hp().n_vocab;
    // All layers on Vulkan, then partial offload (-ngl 1 of 2: the residual stream crosses to the
    // CPU after layer 0 and the head runs on the CPU), then none; one and several batches each.
    const std::pair<int64_t, int64_t> configs[] = {{64, -1}, {5, -1}, {64, 1}, {5, 1}, {64, 0}};
    for (const auto& [nb, ngl] : configs) {
        llm::ContextParams cp;
        cp.n_ctx = 64;
        cp.n_batch = nb;
        cp.backend = be->get();
        cp.n_gpu_layers = ngl;
        auto ctx = llm::Context::create(*model, cp);
        ASSERT_TRUE(ctx.ok()) << ctx.status().message();
        std::vector<std::vector<float>> logits;
        for (size_t i = 0; i < g.prompt.size(); i += size_t(nb)) {
            llm::Batch b;
            for (size_t j = i; j < std::min(g.prompt.size(), i + size_t(nb)); ++j) b.add(g.prompt[j], int32_t(j), 0, true);
            Status st = (*ctx)->decode(b);
            ASSERT_TRUE(st.ok()) << st.message();
            for (int64_t k = 0; k < b.size(); ++k) logits.emplace_back((*ctx)->logits(k), (*ctx)->logits(k) + nv);
        }
        ASSERT_EQ(logits.size(), g.logits.size());
        double worst = 0;
        for (size_t p = 0; p < g.logits.size(); ++p)
            worst = std::max(worst, test::nmse(logits[p].data(), g.logits[p].data(), int64_t(g.logits[p].size())));
        EXPECT_LT(worst, 1e-5) << "batch " << nb << " ngl " << ngl;
        std::vector<int32_t> greedy;
        std::vector<float> last = logits.back();
        int32_t pos = int32_t(g.prompt.size());
        for (size_t i = 0; i < g.greedy.size(); ++i) {
            const int32_t best = int32_t(std::max_element(last.begin(), last.end()) - last.begin());
            greedy.push_back(best);
            llm::Batch b;
            b.add(best, pos++, 0, true);
            Status st = (*ctx)->decode(b);
            ASSERT_TRUE(st.ok()) << st.message();
            last.assign((*ctx)->logits(0), (*ctx)->logits(0) + nv);
        }
        EXPECT_EQ(greedy, g.greedy) << "batch " << nb << " ngl " << ngl;
        if (nb == 64) std::printf("[ %s %s ngl %lld ] worst logits NMSE %.3g\n", arch.c_str(), baseline ? "baseline" : "normal", (long long)ngl, worst);
    }
}

INSTANTIATE_TEST_SUITE_P(Archs, LlmGoldenVulkan,
                         ::testing::Combine(::testing::Values("llama", "mistral", "qwen2", "qwen3", "qwen3moe", "phi3", "phi3swa"), ::testing::Bool()),
                         [](const auto& i) { return std::get<0>(i.param) + (std::get<1>(i.param) ? "_baseline" : "_normal"); });

} // namespace
#else
TEST(LlmGoldenVulkan, Skipped) { GTEST_SKIP() << "built without the Vulkan backend (VKAI_VULKAN=OFF)"; }
#endif
