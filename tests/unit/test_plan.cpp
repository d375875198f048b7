// The placement policy (src/plan) on synthetic footprints and budgets: monotone in VRAM, never
// over budget, context floor respected (the context shrinks before layers move), MoE experts moved
// to the CPU before dense layers (when round trips are cheap: the cost model then says so), the
// cost model's choice is the cheapest fitting placement and trades round trips against CPU bytes;
// plus the ladder, forced -ngl / --n-cpu-moe, the retry cap, rates parsing and /proc/meminfo.
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
    // the forward pass's counts for a qwen3moe / llama layer (llm::decode_ops)
    fp.ops_gpu = moe ? LayerOps{13, 2, 41, 57, 3, 3} : LayerOps{11, 4, 0, 0, 0, 3};
    fp.ops_cpu = moe ? LayerOps{14, 2, 58, 57, 0, 3} : LayerOps{12, 5, 0, 0, 0, 3};
    return fp;
}

// Cost = bytes: round trips, wake-ups and per-call times free, the GPU 60x faster than the CPU.
Rates bytes_only() {
    Rates r;
    r.gpu_gbs = 3000, r.cpu_gbs = 50;
    r.gpu_op_us = r.cpu_op_us = r.round_trip_us = r.cpu_wake_us = 0;
    return r;
}

// Like the H100 machine of docs/perf.md: each GPU call and each round trip costs.
Rates h100_like() {
    Rates r;
    r.gpu_gbs = 3000, r.cpu_gbs = 60;
    r.gpu_op_us = 15, r.cpu_op_us = 3, r.round_trip_us = 60, r.cpu_wake_us = 30;
    return r;
}

Probe gpu(uint64_t free, const Rates& rates = bytes_only()) {
    Probe p;
    p.rates = rates;
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
void sweep(bool moe, const Rates& rates, bool experts_first) {
    Policy pol;
    pol.n_ctx = 16384;
    pol.ctx_floor = 4096;
    const Footprint fp = synthetic(moe, pol);
    int64_t last_ngl = -1, last_ctx = 0;
    uint64_t last_bytes = 0;
    double last_s = 1e30;
    bool saw_partial = false, saw_full = false, saw_experts_only = false;
    for (uint64_t v = 0; v <= (moe ? 20 * GiB : 9 * GiB); v += 37 * MiB) {
        const Placement p = must_plan(fp, gpu(v, rates), pol);
        // never over budget, and the rows add up to the planned device bytes
        EXPECT_LE(p.gpu_bytes, p.gpu_usable) << v;
        EXPECT_LE(p.gpu_usable, v);
        uint64_t rows_gpu = 0;
        for (const auto& r : p.rows)
            if (r.device == "vulkan0") rows_gpu += r.bytes;
        EXPECT_EQ(rows_gpu, p.gpu_bytes) << v;
        // monotone: more VRAM never means fewer device bytes or a slower estimate; for a dense
        // model never fewer GPU layers, and never a smaller context at full offload
        EXPECT_GE(p.gpu_bytes, last_bytes) << v;
        EXPECT_LE(p.cost.total(), last_s * (1 + 1e-12)) << v;
        if (!moe) {
            EXPECT_GE(p.n_gpu_layers, last_ngl) << v;
        }
        if (p.n_gpu_layers == fp.n_layer && last_ngl == fp.n_layer && p.n_gpu_experts == fp.n_layer) {
            EXPECT_GE(p.n_ctx, last_ctx) << v;
        }
        // the floor holds; anything leaves the GPU only at the floor
        EXPECT_GE(p.n_ctx, pol.ctx_floor);
        if (p.use_gpu && (p.n_gpu_layers < fp.n_layer || p.n_gpu_experts < fp.n_layer)) {
            EXPECT_EQ(p.n_ctx, pol.ctx_floor) << v;
        }
        if (p.use_gpu && p.n_gpu_layers < fp.n_layer) {
            saw_partial = true;
            // MoE: the experts leave before any dense part does
            if (moe && experts_first) {
                EXPECT_EQ(p.n_gpu_experts, 0) << v;
            }
        }
        if (p.n_gpu_layers == fp.n_layer && p.n_gpu_experts == fp.n_layer) saw_full = true;
        if (p.n_gpu_layers == fp.n_layer && p.n_gpu_experts < fp.n_layer) {
            saw_experts_only = true;
            EXPECT_EQ(p.speed_class, "gpu+cpu-experts");
            EXPECT_EQ(p.n_cpu_moe, fp.n_layer - p.n_gpu_experts);
        }
        EXPECT_EQ(p.head_on_gpu, p.use_gpu && p.n_gpu_layers == fp.n_layer);
        EXPECT_LE(p.n_gpu_experts, p.n_gpu_layers);
        if (!moe) {
            EXPECT_FALSE(p.cpu_moe);
            EXPECT_EQ(p.n_gpu_experts, p.n_gpu_layers);
        }
        last_ngl = p.n_gpu_layers;
        last_ctx = p.n_ctx;
        last_bytes = p.gpu_bytes;
        last_s = p.cost.total();
    }
    EXPECT_TRUE(saw_partial);
    EXPECT_EQ(saw_experts_only, moe);
    if (experts_first) { // with round trips and GPU calls priced, the GPU's experts may never pay off
        EXPECT_TRUE(saw_full);
        EXPECT_EQ(last_ctx, pol.n_ctx); // enough VRAM: the full context
    }
}

TEST(Plan, DenseMonotoneWithinBudgetFloorRespected) { sweep(false, bytes_only(), true); }
TEST(Plan, MoeExpertsLeaveBeforeLayers) { sweep(true, bytes_only(), true); }
TEST(Plan, MoeMonotoneUnderRoundTripCosts) { sweep(true, h100_like(), false); }

// The MoE choice is the cheapest of every fitting (layers, expert layers) at the floor and CPU only.
TEST(Plan, MoeChoosesTheCheapestFittingPlacement) {
    Policy pol;
    pol.n_ctx = 8192;
    pol.ctx_floor = 4096;
    const Footprint fp = synthetic(true, pol);
    for (const Rates& r : {bytes_only(), h100_like()})
        for (uint64_t v : {2 * GiB, 8 * GiB, 12 * GiB}) {
            const Placement p = must_plan(fp, gpu(v, r), pol);
            double best = token_cost(fp, r, 0, 0).total();
            for (int64_t n = 1; n <= fp.n_layer; ++n)
                for (int64_t g = 0; g <= n; ++g)
                    if (gpu_bytes_of(fp, n, g, 4096, fp.compute_at(4096)->gpu) <= p.gpu_usable) best = std::min(best, token_cost(fp, r, n, g).total());
            EXPECT_NEAR(p.cost.total(), best, best * 1e-12) << v;
            // the alternatives name the families and say what fits
            ASSERT_EQ(p.alternatives.size(), 5u);
            EXPECT_EQ(p.alternatives.front().label, "all on the GPU");
            EXPECT_EQ(p.alternatives.back().label, "cpu only (-ngl 0)");
            for (const Alternative& a : p.alternatives) {
                if (a.fits) {
                    EXPECT_GE(a.cost.total(), p.cost.total() * (1 - 1e-12)) << a.label;
                }
            }
        }
}

// Round trips cost: with one per MoE layer on the GPU, few GPU layers can beat every layer on the
// GPU with its experts on the CPU (the whole-layer split has one round trip per GPU layer only).
TEST(Plan, RoundTripsTradeAgainstCpuBytes) {
    Policy pol;
    pol.n_ctx = 4096;
    pol.ctx_floor = 4096;
    const Footprint fp = synthetic(true, pol);
    Rates cheap = bytes_only(), dear = bytes_only();
    dear.round_trip_us = 3000; // per layer more than the CPU needs for a whole layer
    const Placement a = must_plan(fp, gpu(8 * GiB, cheap), pol), b = must_plan(fp, gpu(8 * GiB, dear), pol);
    EXPECT_EQ(a.n_gpu_layers, fp.n_layer);
    EXPECT_GT(a.n_gpu_experts, 0);
    EXPECT_LT(b.n_gpu_layers, fp.n_layer);
    EXPECT_LT(b.cost.round_trips, a.cost.round_trips);
}

// The cost model's arithmetic on a two-layer footprint.
TEST(Plan, TokenCostArithmetic) {
    Footprint fp;
    fp.n_layer = 2;
    fp.n_expert = 4;
    fp.n_expert_used = 1;
    fp.layers = {LayerBytes{1000, 1000, 8000}, LayerBytes{1000, 1000, 8000}};
    fp.head = 500;
    fp.ops_gpu = LayerOps{10, 2, 6, 8, 3, 3};
    fp.ops_cpu = LayerOps{11, 2, 9, 8, 0, 3};
    Rates r;
    r.gpu_gbs = 1e-6, r.cpu_gbs = 1e-6; // 1000 B/s: bytes -> ms
    r.gpu_op_us = 1000, r.cpu_op_us = 2000, r.round_trip_us = 5000, r.cpu_wake_us = 7000;
    // every layer on the GPU, layer 1's experts on the CPU: gpu reads 2000 + 2000 + 2000 (experts
    // of layer 0 x 1/4) + 500 (head); cpu 2000; gpu calls 2*12 + 6 + 3 + 3, cpu calls 8;
    // 2 routing round trips + 1, one wake-up
    const TokenCost t = token_cost(fp, r, 2, 1);
    EXPECT_NEAR(t.gpu_s, 6.5 + 0.036, 1e-9);
    EXPECT_NEAR(t.cpu_s, 2.0 + 0.016, 1e-9);
    EXPECT_EQ(t.round_trips, 3);
    EXPECT_NEAR(t.sync_s, 0.015 + 0.007, 1e-9);
    const TokenCost c = token_cost(fp, r, 0, 0); // CPU only: no round trip
    EXPECT_NEAR(c.cpu_s, 8.5 + 2 * (11 + 2 + 9) * 0.002 + 3 * 0.002, 1e-9);
    EXPECT_EQ(c.round_trips, 0);
    EXPECT_EQ(c.gpu_s, 0);
}

TEST(Plan, ForcedExpertPlacement) {
    Policy pol;
    const Footprint fp = synthetic(true, pol);
    pol.n_cpu_moe = 10; // the experts of layers 38-47 on the CPU
    Placement p = must_plan(fp, gpu(80 * GiB), pol);
    EXPECT_EQ(p.n_gpu_layers, 48);
    EXPECT_EQ(p.n_gpu_experts, 38);
    EXPECT_EQ(p.n_cpu_moe, 10);
    EXPECT_FALSE(p.cpu_moe);
    bool row = false;
    for (const auto& r : p.rows) row = row || (r.component == "layers 38-47 experts" && r.device == "cpu");
    EXPECT_TRUE(row);
    pol.n_cpu_moe = 48; // --cpu-moe
    p = must_plan(fp, gpu(80 * GiB), pol);
    EXPECT_TRUE(p.cpu_moe);
    EXPECT_EQ(p.n_gpu_experts, 0);
    pol.n_cpu_moe = 40; // small budget: layers leave, the forced experts stay off
    p = must_plan(fp, gpu(3 * GiB), pol);
    EXPECT_LT(p.n_gpu_layers, 48);
    EXPECT_EQ(p.n_gpu_experts, std::min<int64_t>(p.n_gpu_layers, 8));
    pol.n_gpu_layers = 20; // forced layers with forced experts: reported as given
    p = must_plan(fp, gpu(1 * GiB), pol);
    EXPECT_EQ(p.n_gpu_layers, 20);
    EXPECT_EQ(p.n_gpu_experts, 8);
    EXPECT_TRUE(p.over_budget);
    pol.n_cpu_moe = -1; // forced layers, experts with them
    p = must_plan(fp, gpu(80 * GiB), pol);
    EXPECT_EQ(p.n_gpu_experts, 20);
}

TEST(Plan, ParseRates) {
    Rates r;
    ASSERT_TRUE(parse_rates("gpu_gbs=3000,cpu_gbs=60.5,gpu_op_us=8,cpu_op_us=3,rt_us=40,wake_us=30", r).ok());
    EXPECT_EQ(r.gpu_gbs, 3000);
    EXPECT_EQ(r.cpu_gbs, 60.5);
    EXPECT_EQ(r.round_trip_us, 40);
    EXPECT_EQ(r.cpu_wake_us, 30);
    EXPECT_EQ(r.source, "VKAI_PLAN_RATES");
    Rates q;
    ASSERT_TRUE(parse_rates("rt_us=7", q).ok()); // a subset: the rest stays
    EXPECT_EQ(q.round_trip_us, 7);
    EXPECT_EQ(q.gpu_gbs, Rates().gpu_gbs);
    for (const char* bad : {"rt_us", "rt_us=", "rt_us=x", "rt_us=-1", "gpu_gbs=0", "speed=3", "rt_us=1,"}) {
        Rates b;
        const Status st = parse_rates(bad, b);
        EXPECT_EQ(st.code(), Code::invalid_argument) << bad;
        EXPECT_EQ(b.source, "assumed") << bad; // untouched
    }
}

TEST(Plan, ShrinksContextBeforeMovingLayers) {
    Policy pol;
    pol.n_ctx = 32768;
    pol.ctx_floor = 4096;
    const Footprint fp = synthetic(false, pol);
    const uint64_t full_at_floor = gpu_bytes_of(fp, fp.n_layer, fp.n_layer, 4096, fp.compute_at(4096)->gpu);
    const uint64_t full_at_max = gpu_bytes_of(fp, fp.n_layer, fp.n_layer, 32768, fp.compute_at(32768)->gpu);
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
    for (bool moe : {false, true}) {
        const Footprint fp = synthetic(moe, pol);
        Placement p = must_plan(fp, gpu(80 * GiB), pol);
        int steps = 0;
        while (p.use_gpu) {
            Policy again = pol;
            again.max_gpu_bytes = p.gpu_bytes - 1;
            const Placement q = must_plan(fp, gpu(80 * GiB), again);
            EXPECT_LT(q.gpu_bytes, p.gpu_bytes);
            p = q;
            ASSERT_LT(++steps, 5000);
        }
        if (!moe) {
            EXPECT_GT(steps, fp.n_layer); // every entry of the preference list was visited
        } else {
            EXPECT_GT(steps, 1); // the cheapest placement below each failure: a handful of steps
        }
    }
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
    EXPECT_NE(j.find("\"n_cpu_moe\": " + std::to_string(p.n_cpu_moe)), std::string::npos);
    EXPECT_NE(j.find("\"alternatives\": [{\"label\": \"all on the GPU\""), std::string::npos);
    EXPECT_NE(j.find("\"estimate\": {\"tok_s\": "), std::string::npos);
    EXPECT_NE(t.find("compared at context"), std::string::npos);
    EXPECT_NE(t.find("estimate: "), std::string::npos);
    EXPECT_EQ(j.front(), '{');
}

} // namespace
