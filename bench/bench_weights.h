// Random weights for the kernel benchmarks: 64 distinct rows of N(0, 1) values quantized to the
// type, repeated to m rows (a speed test needs real bit patterns, not distinct ones everywhere).
#pragma once

#include "tensor/quant.h"

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace vkai::bench {

inline std::vector<uint8_t> random_weights(DType type, int64_t k, int64_t m, std::mt19937& rng) {
    std::normal_distribution<float> nd(0.f, 1.f);
    const uint64_t rb = *row_bytes(type, uint64_t(k));
    std::vector<uint8_t> host(rb * uint64_t(m));
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t r = 0; r < m; ++r) {
        if (r < 64) {
            for (float& v : row) v = nd(rng);
            quantize_row(type, row.data(), host.data() + uint64_t(r) * rb, k);
        } else {
            std::memcpy(host.data() + uint64_t(r) * rb, host.data() + uint64_t(r % 64) * rb, rb);
        }
    }
    return host;
}

} // namespace vkai::bench
