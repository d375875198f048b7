// The placement policy: a pure function (footprint, probe, policy) -> placement. It never plans
// more device bytes than the usable budget (free or --vram cap, minus a safety margin):
//   1. every layer, its experts and the head on the GPU, at the requested context, then at each
//      smaller context of the ladder down to the floor;
//   2. otherwise, at the floor context:
//      dense: n_layer-1 ... 1 layers on the GPU, the first that fits;
//      MoE:   every (layers on the GPU, layers whose experts are on the GPU) that fits, the experts
//             of the last layers leaving first, whole layers from the end; the cost model (one
//             generated token: bytes / bandwidth + backend calls x call time + round trips to the
//             host, per side, probe.rates) picks the fastest, CPU-only included;
//   3. everything on the CPU (no GPU backend at all).
// Monotone in VRAM: a larger budget only adds candidates, so the planned device bytes never
// decrease, the estimated time never increases, and a dense model never gets fewer GPU layers.
#pragma once

#include "base/status.h"
#include "plan/footprint.h"
#include "plan/probe.h"

#include <cstdint>
#include <string>
#include <vector>

namespace vkai::plan {

struct Policy {
    int64_t n_ctx = 4096;     // the context asked for
    int64_t ctx_floor = 2048; // shrink down to this (clamped to n_ctx) before moving anything off the GPU
    double margin_frac = 0.02;            // of the available device bytes ...
    uint64_t margin_bytes = 256ull << 20; // ... plus this (the Vulkan allocator's block granularity)
    int64_t n_gpu_layers = -1; // < 0: auto; otherwise forced (the plan reports it, over budget or not)
    // MoE: < 0: auto; otherwise forced: the experts of the last n_cpu_moe layers stay on the CPU
    // (>= n_layer: every layer's, --cpu-moe). A forced -ngl with this auto keeps experts with their layer.
    int64_t n_cpu_moe = -1;
    uint64_t max_gpu_bytes = 0; // > 0: plan at most this many device bytes (a load retry below what failed)
};

// The contexts the plan may choose, largest first: n_ctx, then halving while above the floor, then
// the floor. The caller measures ComputeBytes at each (Footprint::compute).
std::vector<int64_t> ctx_ladder(const Policy& p);

struct PlanRow {
    std::string component; // "layers 0-27 attention", "KV cache layers 0-27", "compute buffers", ...
    std::string device;    // "vulkan0" or "cpu"
    uint64_t bytes = 0;
};

// The cost model's estimate of one generated token (batch of one) for a placement.
struct TokenCost {
    double gpu_s = 0, cpu_s = 0; // bytes / bandwidth + backend calls x call time, per side
    double sync_s = 0;           // round trips to the host and CPU wake-ups
    int64_t round_trips = 0;
    double total() const { return gpu_s + cpu_s + sync_s; }
};

// A placement the plan compared (vkai plan prints them): the best of each family that fits.
struct Alternative {
    std::string label; // "all on the GPU", "experts of layers 18-47 on the CPU", "30 of 48 layers", "cpu only"
    int64_t n_gpu_layers = 0, n_gpu_experts = 0;
    int64_t n_ctx = 0; // the floor
    uint64_t gpu_bytes = 0;
    bool fits = false;
    TokenCost cost;
};

struct Placement {
    bool use_gpu = false;      // false: create no GPU backend
    int64_t n_gpu_layers = 0;  // layers [0, n) on the GPU
    int64_t n_gpu_experts = 0; // MoE: layers [0, n) keep their experts on the GPU (<= n_gpu_layers)
    bool head_on_gpu = false;  // when every layer is on the GPU
    bool cpu_moe = false;      // MoE, GPU in use: every GPU layer's experts on the CPU
    int64_t n_cpu_moe = 0;     // MoE: the experts of the last n_cpu_moe layers on the CPU (n_layer - n_gpu_experts)
    int64_t n_ctx = 0;
    uint64_t gpu_usable = 0;  // budget after margin
    uint64_t gpu_bytes = 0;   // expected device bytes (weights + KV + compute)
    uint64_t cpu_bytes = 0;   // host bytes beyond the mapped file: KV + compute (+ weights read on the CPU)
    bool over_budget = false; // only with a forced n_gpu_layers
    bool fits_host = true;
    std::string speed_class;  // "gpu", "gpu+cpu-experts", "split", "cpu"
    double cpu_read_share = 0; // of the bytes read per generated token, the share read on the CPU
    TokenCost cost;            // the estimate for this placement (probe.rates)
    std::string reason;       // one line: why this placement
    std::vector<PlanRow> rows;
    std::vector<Alternative> alternatives; // at the floor context (GPU in use only)
};

// Errors: invalid_argument for a bad policy, internal when Footprint::compute lacks a ladder entry.
Result<Placement> make_plan(const Footprint& fp, const Probe& probe, const Policy& policy);

// Device bytes of one configuration: layers [0, ngl) on the GPU, the experts of [0, n_gpu_experts)
// with them (exposed for tests and the dry-run cross-check).
uint64_t gpu_bytes_of(const Footprint& fp, int64_t n_gpu_layers, int64_t n_gpu_experts, int64_t n_ctx, uint64_t compute_gpu);
// The cost model for the same configuration (n_gpu_layers 0: CPU only).
TokenCost token_cost(const Footprint& fp, const Rates& r, int64_t n_gpu_layers, int64_t n_gpu_experts);

// Human table and JSON of a placement (plan_format.cpp).
std::string format_table(const Placement& p, const Footprint& fp, const Probe& probe);
std::string format_json(const Placement& p, const Footprint& fp, const Probe& probe);

} // namespace vkai::plan
