// What the planner knows about the machine: a plain struct the caller fills from Backend::memory()
// of the GPU backend (budget where VK_EXT_memory_budget exists, heap size otherwise, minus what
// vkai already holds) and from the host (/proc/meminfo MemAvailable, CPU threads).
#pragma once

#include "base/status.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace vkai {
class Backend;
}

namespace vkai::plan {

// What one generated token costs on each side, for the plan's cost model (plan.h): read bandwidth,
// the time of one small backend call in a dependent chain (host recording + launch + sync share),
// a round trip to the host (a GPU download: submit, wait, copy back) and the wake-up of the CPU's
// thread pool after it slept through a GPU wait.
struct Rates {
    double gpu_gbs = 300, cpu_gbs = 20;     // GB/s (1e9 B/s)
    double gpu_op_us = 10, cpu_op_us = 2;   // microseconds per backend call
    double round_trip_us = 50, cpu_wake_us = 20;
    // One decode step's attention call at the model's shape and the planned context (it reads the
    // whole cache and runs one workgroup per head: often the slowest call of a layer); 0 = priced
    // as any other call.
    double gpu_attn_us = 0, cpu_attn_us = 0;
    std::string source = "assumed";          // "assumed", "measured" or "VKAI_PLAN_RATES"
};

// The attention a decode step of the model runs (one token against n_cells cached ones).
struct AttnShape {
    int64_t head_dim = 0, n_head = 0, n_head_kv = 0, n_cells = 0;
};

// Measures the rates above: the backends' read_bandwidth() (a temporary buffer of up to 1 GiB on
// each side, ~0.1-0.5 s) and chains of small ops. gpu null: GPU fields keep their assumed values; no
// room for the GPU's bandwidth probe: its bandwidth stays assumed. Errors from the backends.
// attn (optional): also times the decode attention at that shape on each side.
Result<Rates> measure_rates(Backend* gpu, Backend& cpu, const AttnShape* attn = nullptr);
// VKAI_PLAN_RATES: "gpu_gbs=3000,cpu_gbs=60,gpu_op_us=8,cpu_op_us=3,rt_us=40,wake_us=30,
// gpu_attn_us=20,cpu_attn_us=15" (any subset, over `r`); invalid_argument naming the bad field.
Status parse_rates(std::string_view spec, Rates& r);

struct Probe {
    bool has_gpu = false;        // a GPU backend was created and may take layers
    std::string gpu_name;        // "vulkan0"
    uint64_t gpu_free = 0;       // bytes the device can still give vkai (budget - usage)
    uint64_t gpu_held = 0;       // bytes vkai already holds on the device (counted against gpu_cap)
    uint64_t gpu_cap = 0;        // --vram: at most this many device bytes in all; 0 = no cap
    uint64_t host_available = 0; // MemAvailable
    int cpu_threads = 0;
    Rates rates;                 // assumed unless measured (MoE placements are priced by them)
};

// MemAvailable from /proc/meminfo (bytes); falls back to sysconf free pages where the file is absent.
uint64_t host_available_bytes();

// Parses the text of /proc/meminfo; not_found when there is no MemAvailable line.
Result<uint64_t> parse_meminfo_available(std::string_view meminfo);

} // namespace vkai::plan
