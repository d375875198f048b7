// What the planner knows about the machine: a plain struct the caller fills from Backend::memory()
// of the GPU backend (budget where VK_EXT_memory_budget exists, heap size otherwise, minus what
// vkai already holds) and from the host (/proc/meminfo MemAvailable, CPU threads).
#pragma once

#include "base/status.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace vkai::plan {

struct Probe {
    bool has_gpu = false;        // a GPU backend was created and may take layers
    std::string gpu_name;        // "vulkan0"
    uint64_t gpu_free = 0;       // bytes the device can still give vkai (budget - usage)
    uint64_t gpu_held = 0;       // bytes vkai already holds on the device (counted against gpu_cap)
    uint64_t gpu_cap = 0;        // --vram: at most this many device bytes in all; 0 = no cap
    uint64_t host_available = 0; // MemAvailable
    int cpu_threads = 0;
};

// MemAvailable from /proc/meminfo (bytes); falls back to sysconf free pages where the file is absent.
uint64_t host_available_bytes();

// Parses the text of /proc/meminfo; not_found when there is no MemAvailable line.
Result<uint64_t> parse_meminfo_available(std::string_view meminfo);

} // namespace vkai::plan
