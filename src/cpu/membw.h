// Measured memory read bandwidth: the ceiling that CPU benchmarks print beside their results.
#pragma once

#include "base/thread_pool.h"

#include <cstdint>

namespace vkai::cpu {

// Median of `reps` full reads of a `bytes` buffer split over the pool's threads, in GB/s (1e9 B/s).
double measure_read_bandwidth(ThreadPool& pool, uint64_t bytes = uint64_t(1) << 30, int reps = 6);

} // namespace vkai::cpu
