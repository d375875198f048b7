// list_devices(): the Vulkan devices as plain data, for device policy outside this library.
#include "vulkan/vk_device.h"
#include "vulkan/vulkan_backend.h"

namespace vkai::vk {

Result<std::vector<DeviceSummary>> list_devices() {
    VKAI_ASSIGN_OR_RETURN(Instance * inst, Instance::get());
    std::vector<DeviceSummary> out;
    for (const DeviceInfo& d : inst->devices()) {
        uint64_t local = 0;
        for (const auto& h : d.heaps)
            if (h.device_local) local += h.size;
        out.push_back({d.index, d.name, d.type, local});
    }
    if (out.empty()) return fail(Code::not_found, "no Vulkan device found");
    return out;
}

} // namespace vkai::vk
