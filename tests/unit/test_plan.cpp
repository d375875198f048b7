// The placement policy (src/plan) on synthetic footprints and budgets: monotone in VRAM, never
// over budget, context floor respected (the context shrinks before layers move), MoE experts moved
// to the CPU before dense layers; plus the ladder, forced -ngl, the retry cap and /proc/meminfo.
#include "plan/plan.h"

#include <gtest/gtest.h>

using namespace vkai;
using namespace vkai::plan;

namespace {

constexpr uint64_t MiB = 1ull << 20, GiB = 1ull << 30;

// A 7B-like dense model (32 layers of ~120 MiB) or a 30B-A3B-like MoE (48 layers, 90% experts).
// Compute bytes are synthetic here (affine in the context, as the dry run measures them);
// test_plan_model checks the real ones.
Footprint synthetic(bool moe, const Policy& pol) {
    Footprint fp;
    fp.arch = moe ? "qwen3moe" : "llama";
    fp.n_layer = moe ? 48 : 32;
    fp.n_expert = moe ? 128 : 0;
    fp.n_expert_used = moe ? 8 : 0;
    for (int64_t l = 0; l < fp.n_layer; ++l) {
        LayerBytes L;
        L.attn = moe ? 20 * MiB : 30 * MiB + uint64_t(l) * 1000; // uneven layers
        L.ffn = moe ? 1 * MiB : 90 * MiB;
        L.experts = moe ? 340 * MiB : 0;
        fp.layers.push_back(L);
    }
    fp.embedding = 70 * MiB;
    fp.head = 105 * MiB;
    fp.kv_cell_layer = moe ? 2 * 4 * 128 * 2 : 2 * 8 * 128 * 2;
    for (int64_t c : ctx_ladder(pol)) fp.compute.push_back({c, 300 * MiB + uint64_t(c) * 2048, 200 * MiB});
    return fp;
}

Probe gpu(uint64_t free) {
    Probe p;
    p.has_gpu = true;
    p.gpu_name = "vulkan0";
    p.gpu_free = free;
    p.host_available = 64 * GiB;
    p.cpu_threads = 16;
    return p;
}

Placement must_plan(const Footprint& fp, const Probe& pr, const Policy& pol) {
    auto r = make_plan(fp, pr, pol);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : Placement{};
}

TEST(Plan, CtxLadder) {
    Policy p;
    p.n_ctx = 32768;
    p.ctx_floor = 4096;
    EXPECT_EQ(ctx_ladder(p), (std::vector<int64_t>{32768, 16384, 8192, 4096}));
    p.n_ctx = 5000;
    p.ctx_floor = 2048;
    EXPECT_EQ(ctx_ladder(p), (std::vector<int64_t>{5000, 2500, 2048}));
    p.ctx_floor = 9000; // clamped to n_ctx: no shrinking
    EXPECT_EQ(ctx_ladder(p), (std::vector<int64_t>{5000}));
}

// Sweeps VRAM from nothing to everything; checks the invariants at every step.
void sweep(bool moe) {
    Policy pol;
    pol.n_ctx = 16384;
    pol.ctx_floor = 4096;
    const Footprint fp = synthetic(moe, pol);
    int64_t last_ngl = -1, last_ctx = 0;
    bool last_cpu_moe = true, saw_partial = false, saw_full = false, saw_experts_only = false;
    for (uint64_t v = 0; v <= (moe ? 20 * GiB : 9 * GiB); v += 37 * MiB) {
        const Placement p = must_plan(fp, gpu(v), pol);
        // never over budget, and the rows add up to the planned device bytes
        EXPECT_LE(p.gpu_bytes, p.gpu_usable) << v;
        EXPECT_LE(p.gpu_usable, v);
        uint64_t rows_gpu = 0;
        for (const auto& r : p.rows)
            if (r.device == "vulkan0") rows_gpu += r.bytes;
        EXPECT_EQ(rows_gpu, p.gpu_bytes) << v;
        // monotone: more VRAM never means fewer GPU layers, a smaller context at full offload, or
        // experts going back to the CPU
        EXPECT_GE(p.n_gpu_layers, last_ngl) << v;
        if (p.n_gpu_layers == fp.n_layer && last_ngl == fp.n_layer && p.cpu_moe == last_cpu_moe) {
            EXPECT_GE(p.n_ctx, last_ctx) << v;
        }
        // the floor holds; layers only leave the GPU at the floor
        EXPECT_GE(p.n_ctx, pol.ctx_floor);
        if (p.use_gpu && p.n_gpu_layers < fp.n_layer) {
            EXPECT_EQ(p.n_ctx, pol.ctx_floor) << v;
            saw_partial = true;
            // MoE: the experts leave before any layer does
            if (moe) {
                EXPECT_TRUE(p.cpu_moe) << v;
            }
        }
        if (p.n_gpu_layers == fp.n_layer && !p.cpu_moe) saw_full = true;
        if (p.n_gpu_layers == fp.n_layer && p.cpu_moe) saw_experts_only = true;
        EXPECT_EQ(p.head_on_gpu, p.use_gpu && p.n_gpu_layers == fp.n_layer);
        if (!moe) {
            EXPECT_FALSE(p.cpu_moe);
        }
        if (moe && p.n_gpu_layers == fp.n_layer && p.cpu_moe) {
            EXPECT_EQ(p.speed_class, "gpu+cpu-experts");
        }
        last_ngl = p.n_gpu_layers;
        last_ctx = p.n_ctx;
        last_cpu_moe = p.cpu_moe;
    }
    EXPECT_TRUE(saw_partial);
    EXPECT_TRUE(saw_full);
    EXPECT_EQ(saw_experts_only, moe);
    EXPECT_EQ(last_ctx, pol.n_ctx); // enough VRAM: the full context
}

TEST(Plan, DenseMonotoneWithinBudgetFloorRespected) { sweep(false); }
TEST(Plan, MoeExpertsLeaveBeforeLayers) { sweep(true); }

TEST(Plan, ShrinksContextBeforeMovingLayers) {
    Policy pol;
    pol.n_ctx = 32768;
    pol.ctx_floor = 4096;
    const Footprint fp = synthetic(false, pol);
    const uint64_t full_at_floor = gpu_bytes_of(fp, fp.n_layer, false, 4096, fp.compute_at(4096)->gpu);
    const uint64_t full_at_max = gpu_bytes_of(fp, fp.n_layer, false, 32768, fp.compute_at(32768)->gpu);
    ASSERT_LT(full_at_floor, full_at_max);
    // A budget between the two: everything stays on the GPU at a smaller context.
    Probe pr = gpu(0);
    Policy no_margin = pol;
    no_margin.margin_bytes = 0;
    no_margin.margin_frac = 0;
    pr.gpu_free = (full_at_floor + full_at_max) / 2;
    Placement p = must_plan(fp, pr, no_margin);
    EXPECT_EQ(p.n_gpu_layers, fp.n_layer);
    EXPECT_LT(p.n_ctx, 32768);
    EXPECT_GE(p.n_ctx, 4096);
    // Just below the floor's need: one layer leaves, at the floor.
    pr.gpu_free = full_at_floor - 1;
    p = must_plan(fp, pr, no_margin);
    EXPECT_LT(p.n_gpu_layers, fp.n_layer);
    EXPECT_EQ(p.n_ctx, 4096);
    EXPECT_EQ(p.speed_class, "split");
}

TEST(Plan, CapMarginAndNoGpu) {
    Policy pol;
    const Footprint fp = synthetic(false, pol);
    Probe pr = gpu(80 * GiB);
    pr.gpu_cap = 2 * GiB; // --vram 2G on a big card
    Placement p = must_plan(fp, pr, pol);
    EXPECT_LE(p.gpu_bytes, 2 * GiB - 256 * MiB);
    EXPECT_LT(p.n_gpu_layers, fp.n_layer);
    EXPECT_GT(p.n_gpu_layers, 0);
    pr.gpu_held = 2 * GiB; // the cap already used up: nothing fits
    p = must_plan(fp, pr, pol);
    EXPECT_FALSE(p.use_gpu);
    EXPECT_EQ(p.speed_class, "cpu");
    EXPECT_EQ(p.gpu_bytes, 0u);
    Probe none;
    none.host_available = 64 * GiB;
    p = must_plan(fp, none, pol);
    EXPECT_FALSE(p.use_gpu);
    EXPECT_EQ(p.n_ctx, pol.n_ctx);
    EXPECT_TRUE(p.fits_host);
    none.host_available = 1 * GiB; // the CPU side needs more than that
    p = must_plan(fp, none, pol);
    EXPECT_FALSE(p.fits_host);
}

TEST(Plan, ForcedLayersAreReportedNotChanged) {
    Policy pol;
    pol.n_gpu_layers = 32;
    const Footprint fp = synthetic(false, pol);
    Placement p = must_plan(fp, gpu(1 * GiB), pol);
    EXPECT_EQ(p.n_gpu_layers, 32);
    EXPECT_TRUE(p.over_budget);
    pol.n_gpu_layers = 3;
    p = must_plan(fp, gpu(80 * GiB), pol);
    EXPECT_EQ(p.n_gpu_layers, 3);
    EXPECT_FALSE(p.over_budget);
    EXPECT_FALSE(p.head_on_gpu);
}

TEST(Plan, RetryCapGivesAStrictlySmallerPlacement) {
    Policy pol;
    pol.n_ctx = 8192;
    pol.ctx_floor = 2048;
    const Footprint fp = synthetic(true, pol);
    Placement p = must_plan(fp, gpu(80 * GiB), pol);
    int steps = 0;
    while (p.use_gpu) {
        Policy again = pol;
        again.max_gpu_bytes = p.gpu_bytes - 1;
        const Placement q = must_plan(fp, gpu(80 * GiB), again);
        EXPECT_LT(q.gpu_bytes, p.gpu_bytes);
        p = q;
        ASSERT_LT(++steps, 200);
    }
    EXPECT_GT(steps, fp.n_layer); // every entry of the preference list was visited
}

TEST(Plan, BadInput) {
    Policy pol;
    Footprint fp = synthetic(false, pol);
    Policy bad = pol;
    bad.n_ctx = 0;
    EXPECT_FALSE(make_plan(fp, gpu(GiB), bad).ok());
    bad = pol;
    bad.n_ctx = 8192; // the ladder changed: no measurement at 8192
    EXPECT_EQ(make_plan(fp, gpu(GiB), bad).status().code(), Code::internal);
    fp.layers.pop_back();
    EXPECT_FALSE(make_plan(fp, gpu(GiB), pol).ok());
}

TEST(Plan, Meminfo) {
    auto r = parse_meminfo_available("MemTotal:       16318480 kB\nMemFree:  1 kB\nMemAvailable:   12021444 kB\n");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, 12021444ull * 1024);
    EXPECT_FALSE(parse_meminfo_available("MemTotal: 5 kB\n").ok());
    EXPECT_FALSE(parse_meminfo_available("MemAvailable: x kB\n").ok());
    EXPECT_GT(host_available_bytes(), 0u);
}

TEST(Plan, Formats) {
    Policy pol;
    const Footprint fp = synthetic(true, pol);
    const Probe pr = gpu(8 * GiB);
    const Placement p = must_plan(fp, pr, pol);
    const std::string t = format_table(p, fp, pr), j = format_json(p, fp, pr);
    EXPECT_NE(t.find("expected speed class"), std::string::npos);
    EXPECT_NE(t.find("experts"), std::string::npos);
    EXPECT_NE(j.find("\"n_gpu_layers\": " + std::to_string(p.n_gpu_layers)), std::string::npos);
    EXPECT_EQ(j.front(), '{');
}

} // namespace
