// The output head runs on at most 64 tokens at a time (its logits buffer holds 64 rows, not a whole
// batch): every logit of a 150-token batch (chunks of 64, 64, 22) equals the logits of the same
// tokens read in batches of 8, on the CPU and on Vulkan (lavapipe in CI; skipped without).
#include "llm/forward.h"
#include "llm/model.h"

#ifdef VKAI_HAVE_VULKAN
#include "vulkan/vulkan_backend.h"
#endif

#include <gtest/gtest.h>

#include <cmath>

using namespace vkai;

namespace {

std::vector<float> all_logits(const llm::Model& m, Backend* be, int64_t n_tok, int64_t n_batch) {
    llm::ContextParams cp;
    cp.n_ctx = 256;
    cp.n_batch = n_batch;
    cp.backend = be;
    auto ctx = llm::Context::create(m, cp);
    EXPECT_TRUE(ctx.ok()) << ctx.status().message();
    std::vector<float> out;
    if (!ctx.ok()) return out;
    const int64_t nv = m.hp().n_vocab;
    for (int64_t i = 0; i < n_tok; i += n_batch) {
        llm::Batch b;
        for (int64_t j = i; j < std::min(n_tok, i + n_batch); ++j) b.add(int32_t((j * 7919 + 13) % nv), int32_t(j), 0, true);
        EXPECT_TRUE((*ctx)->decode(b).ok());
        EXPECT_EQ((*ctx)->n_logits(), b.size());
        out.insert(out.end(), (*ctx)->logits(0), (*ctx)->logits(0) + b.size() * nv);
    }
    return out;
}

void check(Backend* be) {
    auto m = llm::Model::load("tests/models/golden/llama.gguf");
    ASSERT_TRUE(m.ok()) << m.status().message();
    const std::vector<float> big = all_logits(*m, be, 150, 150), small = all_logits(*m, be, 150, 8);
    ASSERT_EQ(big.size(), small.size());
    ASSERT_EQ(big.size(), size_t(150 * m->hp().n_vocab));
    // per token NMSE: 150 and 8 columns take different matmul paths in every layer (rounding only)
    const size_t nv = size_t(m->hp().n_vocab);
    double worst = 0;
    for (size_t t = 0; t < 150; ++t) {
        double num = 0, den = 0;
        for (size_t i = t * nv; i < (t + 1) * nv; ++i) num += (big[i] - small[i]) * double(big[i] - small[i]), den += double(small[i]) * small[i];
        worst = std::max(worst, num / den);
    }
    EXPECT_LT(worst, 1e-6);
}

TEST(HeadChunks, CpuAllLogitsOfALongBatch) { check(nullptr); }

#ifdef VKAI_HAVE_VULKAN
TEST(HeadChunks, VulkanAllLogitsOfALongBatch) {
    auto be = vk::create_vulkan_backend();
    if (!be.ok()) GTEST_SKIP() << "no Vulkan device: " << be.status().message();
    check(be->get());
}
#endif

} // namespace
