// Vulkan instance, physical-device enumeration with the features vkai cares about, and the logical
// device with one compute queue. VKAI_VK_BASELINE=1 turns every optional feature off (the Polaris path).
#pragma once

#include "vulkan/vk_loader.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vkai::vk {

struct HeapInfo {
    uint64_t size = 0;
    uint64_t budget = 0; // VK_EXT_memory_budget when present, else size
    uint64_t usage = 0;  // bytes used by every process (budget extension), else 0
    bool device_local = false;
};

// What a physical device offers (before the baseline switch is applied, see Features).
struct Features {
    bool fp16_math = false;        // shaderFloat16
    bool storage16 = false;        // storageBuffer16BitAccess
    bool storage8 = false;         // storageBuffer8BitAccess
    bool int_dot = false;          // VK_KHR_shader_integer_dot_product (or 1.3)
    bool coopmat_nv = false;       // VK_NV_cooperative_matrix
    bool coopmat_khr = false;      // VK_KHR_cooperative_matrix
    bool coopmat_nv_f16 = false;   // the NV extension offers 16x8x16 f16 x f16 -> f32 at subgroup scope
    bool memory_model = false;     // vulkanMemoryModel (the coopmat shaders are compiled for it)
    bool subgroup_arith = false;   // subgroupAdd & co in compute shaders
    bool subgroup_basic = false;
    bool memory_budget = false;    // VK_EXT_memory_budget
};

struct DeviceInfo {
    int index = 0; // position in vkEnumeratePhysicalDevices: "vulkan<index>"
    VkPhysicalDevice phys = VK_NULL_HANDLE;
    std::string name, type, driver_name, driver_info;
    uint32_t api_version = 0, driver_version = 0, vendor_id = 0, device_id = 0;
    uint8_t uuid[VK_UUID_SIZE] = {};
    uint32_t subgroup_size = 0;
    uint64_t max_storage_buffer_range = 0, max_allocation = 0, min_storage_align = 0;
    uint32_t max_push_constants = 0, max_workgroup_count[3] = {}, timestamp_valid_bits = 0;
    uint32_t max_invocations = 0, max_shared_bytes = 0; // per workgroup
    float timestamp_period = 1.0f;
    uint32_t compute_family = UINT32_MAX;
    Features features;
    std::vector<HeapInfo> heaps;
    bool exec_props = false; // VK_KHR_pipeline_executable_properties (compiled-shader statistics)
};

std::string version_string(uint32_t v); // "1.3.255"

// The process-wide instance (created on first use). Holds the loader's function table.
class Instance {
public:
    static Result<Instance*> get();
    const Fns& fns() const { return fns_; }
    VkInstance handle() const { return inst_; }
    const std::vector<DeviceInfo>& devices() const { return devices_; }
    // Re-reads heap budgets (they change as memory is used).
    void refresh_heaps(DeviceInfo& d) const;

private:
    Status init();
    Fns fns_;
    VkInstance inst_ = VK_NULL_HANDLE;
    std::vector<DeviceInfo> devices_;
};

bool baseline_forced(); // VKAI_VK_BASELINE=1 in the environment

// A logical device with the features it was created with (baseline: all optional ones off).
class Device {
public:
    static Result<std::unique_ptr<Device>> create(int index, bool baseline);
    ~Device();
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    const Fns& fns() const { return fns_; }
    VkDevice handle() const { return dev_; }
    VkQueue queue() const { return queue_; }
    const DeviceInfo& info() const { return info_; }
    const Features& enabled() const { return enabled_; } // what the shaders may use
    bool baseline() const { return baseline_; }
    // VKAI_VK_PIPE_STATS=<name part>: the driver's statistics of each pipeline whose name contains it
    // (register count, spills: where the driver reports them) are logged at creation. Empty: off.
    const std::string& pipe_stats() const { return pipe_stats_; }
    const Instance& instance() const { return *inst_; }

private:
    Device() = default;
    Instance* inst_ = nullptr;
    Fns fns_;
    VkDevice dev_ = VK_NULL_HANDLE;
    VkQueue queue_ = VK_NULL_HANDLE;
    DeviceInfo info_;
    Features enabled_;
    bool baseline_ = false;
    std::string pipe_stats_;
};

} // namespace vkai::vk
