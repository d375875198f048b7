// The Vulkan Backend (ops/backend.h): device memory behind fake addresses, every op recorded
// into one command buffer and submitted at sync()/download(). Create it with create_vulkan_backend().
#pragma once

#include "ops/backend.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vkai::vk {

struct VulkanOptions {
    int device = 0;           // "vulkan<device>" as `vkai devices` lists it
    bool baseline = false;    // force the Polaris baseline (VKAI_VK_BASELINE=1 also forces it)
    uint64_t staging_bytes = 64ull << 20; // host-visible ring for uploads/downloads/small tables
    uint64_t max_binding = 0; // tests: bind at most this many bytes per descriptor (0 = device limit)
    uint64_t max_device_bytes = 0; // --vram: device memory vkai may hold in all (0 = the budget)
};

// Result<unique_ptr<Backend>>: not_found (no such device), unsupported (no loader/driver), or
// the Vulkan error. Never aborts.
Result<std::unique_ptr<Backend>> create_vulkan_backend(const VulkanOptions& opt = {});

// ok when at least one usable Vulkan device exists; otherwise the one-line reason.
Status probe();

// What the device policy needs to know about each device, without Vulkan types.
struct DeviceSummary {
    int index;        // vulkan<index>
    std::string name;
    std::string type; // "discrete", "integrated", "virtual", "cpu" (a software rasterizer), "other"
    uint64_t device_local_bytes;
};
// Every Vulkan device, or the reason there are none (unsupported / not_found).
Result<std::vector<DeviceSummary>> list_devices();

// Whether mul_mat with `ncols` columns rounds W and x to f16 on this backend (the cooperative-matrix
// path, products accumulated in f32): callers comparing against f32 widen their tolerance to it.
// False for any other backend.
bool mul_mat_rounds_to_f16(const Backend& b, int64_t ncols);

class VulkanBackendImpl; // vulkan_backend_impl.h

} // namespace vkai::vk
