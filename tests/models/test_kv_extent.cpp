// Attention reads only the KV cells up to the last one in use (KvCache::used_end): the size of the
// context and cells freed above a sequence's do not change what the sequence computes. stories260K
// on the CPU and, where there is one, on Vulkan (lavapipe in CI), whose attention kernels change
// with the cell count (wide from 256 cells, split from 512).
#include "llm/forward.h"
#include "llm/model.h"

#ifdef VKAI_HAVE_VULKAN
#include "vulkan/vulkan_backend.h"
#endif

#include <gtest/gtest.h>

#include <cmath>
#include <memory>

using namespace vkai;

namespace {

const char* kModel = "models/stories260K.gguf";

std::unique_ptr<llm::Context> context(const llm::Model& m, Backend* be, int64_t n_ctx) {
    llm::ContextParams cp;
    cp.n_ctx = n_ctx;
    cp.n_batch = 16;
    cp.backend = be;
    auto c = llm::Context::create(m, cp);
    EXPECT_TRUE(c.ok()) << c.status().message();
    return c.ok() ? std::move(*c) : nullptr;
}

// Decodes tokens at positions p0.. of seq one at a time; returns the logits of the last.
std::vector<float> run(llm::Context& ctx, const std::vector<int32_t>& toks, int32_t p0, int32_t seq) {
    llm::Batch b;
    for (size_t i = 0; i < toks.size(); ++i) {
        b.clear();
        b.add(toks[i], p0 + int32_t(i), seq, true);
        Status st = ctx.decode(b);
        EXPECT_TRUE(st.ok()) << st.message();
        if (!st.ok()) return {};
    }
    const int64_t nv = ctx.model().hp().n_vocab;
    return std::vector<float>(ctx.logits(0), ctx.logits(0) + nv);
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size() || a.empty()) return INFINITY;
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
    return m;
}

void check(Backend* be) {
    auto model = llm::Model::load(kModel);
    ASSERT_TRUE(model.ok()) << model.status().message();
    const std::vector<int32_t> toks = model->tokenizer().encode("Once upon a time there was a little girl who", true, true);
    ASSERT_GE(toks.size(), 8u);

    // The same tokens in a tight context and in a 2048-cell one (used_end stays at the token count).
    auto small = context(*model, be, 32), big = context(*model, be, 2048);
    ASSERT_TRUE(small && big);
    const std::vector<float> want = run(*small, toks, 0, 0);
    EXPECT_EQ(big->kv().used_end(), 0);
    const std::vector<float> got = run(*big, toks, 0, 0);
    EXPECT_EQ(big->kv().used_end(), int64_t(toks.size()));
    EXPECT_LT(max_diff(got, want), 1e-4);

    // Another sequence takes 600 cells after seq 0's (attention over > 512 cells: the split kernel
    // on Vulkan), then leaves: seq 0 goes on as if it had been alone.
    std::vector<int32_t> filler(600, toks[1]);
    llm::Batch b;
    for (size_t i = 0; i < filler.size(); i += 16) {
        b.clear();
        for (size_t j = i; j < std::min(filler.size(), i + 16); ++j) b.add(filler[j], int32_t(j), 1, j + 1 == filler.size());
        ASSERT_TRUE(big->decode(b).ok());
    }
    EXPECT_EQ(big->kv().used_end(), int64_t(toks.size() + filler.size()));
    const std::vector<int32_t> more = {toks[2], toks[3]};
    auto small2 = context(*model, be, 32);
    ASSERT_TRUE(small2);
    run(*small2, toks, 0, 0);
    const std::vector<float> want_a = run(*small2, {more[0]}, int32_t(toks.size()), 0);
    const std::vector<float> want_b = run(*small2, {more[1]}, int32_t(toks.size()) + 1, 0);
    const std::vector<float> got_a = run(*big, {more[0]}, int32_t(toks.size()), 0); // the other sequence's cells masked
    EXPECT_LT(max_diff(got_a, want_a), 1e-4);
    big->kv().remove(1);
    // seq 0's newest cell (claimed after the filler's) is now the highest in use; the next token
    // takes the lowest free cell, right after seq 0's first ones
    EXPECT_EQ(big->kv().used_end(), int64_t(toks.size() + filler.size() + 1));
    const std::vector<float> got_b = run(*big, {more[1]}, int32_t(toks.size()) + 1, 0);
    // (logits up to ~13: 2e-4 is float summation order, three merged splits against one chunk)
    EXPECT_LT(max_diff(got_b, want_b), 2e-4);
    EXPECT_EQ(big->kv().cell_pos(int64_t(toks.size())), int32_t(toks.size()) + 1);
    // Emptied, the cache packs from cell 0 again.
    big->kv().remove(0);
    EXPECT_EQ(big->kv().used_end(), 0);
}

} // namespace

TEST(KvExtent, Cpu) { check(nullptr); }

#ifdef VKAI_HAVE_VULKAN
TEST(KvExtent, Vulkan) {
    auto be = vk::create_vulkan_backend();
    if (!be.ok()) GTEST_SKIP() << "no Vulkan device: " << be.status().message();
    check(be->get());
}
#endif
