// The device's f32 arithmetic ceiling, measured now (shaders/flops.comp): what benchmarks print
// beside a kernel's FLOP/s. Uses its own logical device on the same GPU, so it needs no backend.
#pragma once

#include "base/status.h"

namespace vkai::vk {

// FLOP/s (an FMA counts 2) of dependent-free f32 FMA chains over the whole GPU, best of 3 rounds.
Result<double> measure_f32_flops(int device_index);

} // namespace vkai::vk
