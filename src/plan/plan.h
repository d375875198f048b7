// The placement policy: a pure function (footprint, probe, policy) -> placement. It never plans
// more device bytes than the usable budget (free or --vram cap, minus a safety margin), and walks a
// fixed preference list, taking the first entry that fits:
//   1. every layer and the head on the GPU, at the requested context, then at each smaller
//      context of the ladder down to the floor;
//   2. (MoE) every layer on the GPU with the experts' weights on the CPU, same context ladder;
//   3. n_layer-1 ... 1 layers on the GPU (experts on the CPU for MoE), at the floor context;
//   4. everything on the CPU (no GPU backend at all).
// GPU layers never increase along the list, and every entry's device bytes do not depend on the
// budget, so more VRAM never gives fewer GPU layers (monotone).
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
    int64_t ctx_floor = 2048; // shrink down to this (clamped to n_ctx) before moving layers off the GPU
    double margin_frac = 0.02;            // of the available device bytes ...
    uint64_t margin_bytes = 256ull << 20; // ... plus this (the Vulkan allocator's block granularity)
    int64_t n_gpu_layers = -1; // < 0: auto; otherwise forced (the plan reports it, over budget or not)
    int cpu_moe = -1;          // -1: auto (policy step 2), 0: never, 1: always (when the model has experts)
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

struct Placement {
    bool use_gpu = false;     // false: create no GPU backend
    int64_t n_gpu_layers = 0; // layers [0, n) on the GPU
    bool head_on_gpu = false; // when every layer is on the GPU
    bool cpu_moe = false;     // experts' weights of GPU layers stay on the CPU
    int64_t n_ctx = 0;
    uint64_t gpu_usable = 0;  // budget after margin
    uint64_t gpu_bytes = 0;   // expected device bytes (weights + KV + compute)
    uint64_t cpu_bytes = 0;   // host bytes beyond the mapped file: KV + compute (+ weights read on the CPU)
    bool over_budget = false; // only with a forced n_gpu_layers
    bool fits_host = true;
    std::string speed_class;  // "gpu", "gpu+cpu-experts", "split", "cpu"
    double cpu_read_share = 0; // of the bytes read per generated token, the share read on the CPU
    std::string reason;       // one line: why this placement
    std::vector<PlanRow> rows;
};

// Errors: invalid_argument for a bad policy, internal when Footprint::compute lacks a ladder entry.
Result<Placement> make_plan(const Footprint& fp, const Probe& probe, const Policy& policy);

// Device bytes of one configuration (exposed for tests and the dry-run cross-check).
uint64_t gpu_bytes_of(const Footprint& fp, int64_t n_gpu_layers, bool cpu_moe, int64_t n_ctx, uint64_t compute_gpu);

// Human table and JSON of a placement (plan_format.cpp).
std::string format_table(const Placement& p, const Footprint& fp, const Probe& probe);
std::string format_json(const Placement& p, const Footprint& fp, const Probe& probe);

} // namespace vkai::plan
