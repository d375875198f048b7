// The footprint of real model files against what the Context really allocates: the tensor table's
// per-layer bytes and the KV formula must equal a dry run (Context::measure) of the same placement,
// and the plan's device bytes must equal the dry run of the placement it chose, for every expert
// placement; the backend calls the cost model prices (llm::decode_ops) equal a counting dry run.
#include "llm/forward.h"
#include "llm/model.h"
#include "plan/plan.h"

#include <gtest/gtest.h>

#include <algorithm>

using namespace vkai;

namespace {

class PlanModel : public ::testing::TestWithParam<std::string> {};

plan::Footprint footprint(const llm::Model& m, const plan::Policy& pol, int64_t n_batch) {
    const llm::HParams& hp = m.hp();
    auto fp = plan::footprint_from_gguf(m.gguf(), hp.n_layer, hp.n_head_kv * hp.head_dim, 2, hp.n_expert, hp.n_expert_used);
    EXPECT_TRUE(fp.ok()) << fp.status().message();
    for (int64_t c : plan::ctx_ladder(pol)) {
        llm::ContextParams cp;
        cp.n_ctx = c;
        cp.n_batch = std::min(n_batch, c);
        auto dr = llm::Context::measure(m, cp);
        EXPECT_TRUE(dr.ok()) << dr.status().message();
        fp->compute.push_back({c, dr->gpu_act, dr->cpu_act + dr->host_mask});
    }
    return *fp;
}

TEST_P(PlanModel, FootprintMatchesDryRun) {
    auto m = llm::Model::load(GetParam());
    ASSERT_TRUE(m.ok()) << m.status().message();
    const llm::HParams& hp = m->hp();
    plan::Policy pol;
    pol.n_ctx = 256;
    pol.ctx_floor = 64;
    const plan::Footprint fp = footprint(*m, pol, 32);
    EXPECT_EQ(fp.weights(), m->weight_bytes());
    EXPECT_EQ(fp.n_layer, hp.n_layer);

    // n_cpu_moe: the experts of the last n layers on the CPU (n_layer: all of them, as cpu_moe)
    for (int64_t n_cpu_moe : {int64_t(0), int64_t(1), hp.n_layer}) {
        if (n_cpu_moe > 0 && hp.n_expert == 0) continue;
        for (int64_t ngl : {hp.n_layer, int64_t(1)}) {
            for (int64_t ctx : {int64_t(256), int64_t(64)}) {
                llm::ContextParams cp;
                cp.n_ctx = ctx;
                cp.n_batch = 32;
                cp.n_gpu_layers = ngl;
                cp.n_cpu_moe = n_cpu_moe;
                auto dr = llm::Context::measure(*m, cp);
                ASSERT_TRUE(dr.ok()) << dr.status().message();
                const int64_t ge = std::clamp<int64_t>(hp.n_layer - n_cpu_moe, 0, ngl);
                const uint64_t want = plan::gpu_bytes_of(fp, ngl, ge, ctx, fp.compute_at(ctx)->gpu);
                EXPECT_EQ(dr->gpu_total(), want) << "ngl " << ngl << " ctx " << ctx << " n_cpu_moe " << n_cpu_moe;
                EXPECT_EQ(dr->gpu_kv, uint64_t(ngl) * fp.kv_cell_layer * uint64_t(ctx));
                EXPECT_EQ(dr->cpu_kv, uint64_t(hp.n_layer - ngl) * fp.kv_cell_layer * uint64_t(ctx));
                EXPECT_EQ(dr->cpu_weights, 0u); // the CPU reads the mapped file
            }
        }
    }

    // The plan's device bytes are what the Context it describes allocates.
    const uint64_t experts_of_one = fp.layers.back().experts;
    for (uint64_t free : {uint64_t(1) << 40, fp.compute_at(64)->gpu + fp.layers[0].total() + (uint64_t(1) << 20),
                          plan::gpu_bytes_of(fp, hp.n_layer, hp.n_layer, 64, fp.compute_at(64)->gpu) - experts_of_one / 2}) {
        plan::Probe pr;
        pr.has_gpu = true;
        pr.gpu_name = "vulkan0";
        pr.gpu_free = free;
        plan::Policy p0 = pol;
        p0.margin_bytes = 0;
        p0.margin_frac = 0;
        auto pl = plan::make_plan(fp, pr, p0);
        ASSERT_TRUE(pl.ok()) << pl.status().message();
        if (!pl->use_gpu) continue;
        llm::ContextParams cp;
        cp.n_ctx = pl->n_ctx;
        cp.n_batch = 32;
        cp.n_gpu_layers = pl->n_gpu_layers;
        cp.cpu_moe = pl->cpu_moe;
        cp.n_cpu_moe = pl->n_cpu_moe;
        auto dr = llm::Context::measure(*m, cp);
        ASSERT_TRUE(dr.ok());
        EXPECT_EQ(dr->gpu_total(), pl->gpu_bytes);
        EXPECT_LE(pl->gpu_bytes, free);
    }
}

// The calls llm::decode_ops says one decode step makes equal what a counting dry run sees, per
// placement: differences between placements isolate the per-layer terms (the constants of a step,
// mask uploads, the embedding lookup, cancel).
TEST_P(PlanModel, DecodeOpsMatchACountingDryRun) {
    auto m = llm::Model::load(GetParam());
    ASSERT_TRUE(m.ok()) << m.status().message();
    const llm::HParams& hp = m->hp();
    const int64_t N = hp.n_layer;
    const llm::DecodeOps g = llm::decode_ops(*m, true), c = llm::decode_ops(*m, false);
    auto count = [&](int64_t ngl, int64_t n_cpu_moe) {
        llm::ContextParams cp;
        cp.n_ctx = 64;
        cp.n_batch = 8;
        cp.n_gpu_layers = ngl;
        cp.n_cpu_moe = n_cpu_moe;
        auto r = llm::Context::count_decode(*m, cp);
        EXPECT_TRUE(r.ok()) << r.status().message();
        return r.ok() ? *r : llm::Context::DecodeCount{};
    };
    const auto all = count(N, 0), cpu = count(0, 0), one = count(1, 0);
    // the whole model on the GPU vs on the CPU: every layer and the head (+ the embedding's upload)
    EXPECT_EQ(all.gpu_ops - cpu.gpu_ops, N * (g.attn + g.ffn + g.experts) + g.head + 1);
    EXPECT_EQ(cpu.cpu_ops - all.cpu_ops, N * (c.attn + c.ffn + c.experts) + c.head);
    // a round trip per MoE layer on the GPU, one for the logits, one more at a GPU -> CPU boundary
    EXPECT_EQ(all.gpu_downloads, (hp.n_expert > 0 ? N : 0) + 1);
    EXPECT_EQ(one.gpu_downloads, (hp.n_expert > 0 ? 1 : 0) + 1);
    if (hp.n_expert > 0) {
        const auto off = count(N, N), last = count(N, 1);
        // experts of every layer on the CPU: the GPU side trades them for copy + upload + add, the
        // CPU side runs them; still one round trip per layer
        EXPECT_EQ(all.gpu_ops - off.gpu_ops, N * (g.experts - g.cpu_experts_gpu_side));
        EXPECT_EQ(off.cpu_ops - all.cpu_ops, N * g.experts_cpu);
        EXPECT_EQ(off.gpu_downloads, all.gpu_downloads);
        EXPECT_EQ(all.gpu_ops - last.gpu_ops, g.experts - g.cpu_experts_gpu_side);
        EXPECT_EQ(last.cpu_ops - all.cpu_ops, g.experts_cpu);
    }
}

INSTANTIATE_TEST_SUITE_P(Files, PlanModel,
                         ::testing::Values("models/stories260K.gguf", "tests/models/golden/llama.gguf", "tests/models/golden/qwen2.gguf",
                                           "tests/models/golden/qwen3moe.gguf", "tests/models/golden/phi3.gguf"),
                         [](const auto& i) {
                             std::string n = i.param.substr(i.param.rfind('/') + 1);
                             n = n.substr(0, n.find('.'));
                             for (auto& c : n)
                                 if (!isalnum((unsigned char)c)) c = '_';
                             return n;
                         });

TEST(PlanModel, BadTensorTable) {
    auto m = llm::Model::load("tests/models/golden/llama.gguf");
    ASSERT_TRUE(m.ok());
    // Fewer layers than the file names: a clear error, not a crash.
    auto fp = plan::footprint_from_gguf(m->gguf(), 1, 64, 2, 0, 0);
    EXPECT_EQ(fp.status().code(), Code::corrupt);
    EXPECT_FALSE(plan::footprint_from_gguf(m->gguf(), 0, 64, 2, 0, 0).ok());
    EXPECT_FALSE(plan::footprint_from_gguf(m->gguf(), 2, 64, 3, 0, 0).ok());
}

} // namespace
