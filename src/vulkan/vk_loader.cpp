// dlopen of the Vulkan loader and resolution of our function table (no link-time dependency).
#include "vulkan/vk_loader.h"

#include <dlfcn.h>
#include <mutex>

namespace vkai::vk {

Result<Fns*> load_global() {
    static Fns fns;
    static Status st;
    static std::once_flag once;
    std::call_once(once, [] {
        void* lib = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!lib) lib = dlopen("libvulkan.so", RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            st = fail(Code::unsupported, "no Vulkan loader (libvulkan.so.1 not found; install libvulkan1 and a driver)");
            return;
        }
        fns.vkGetInstanceProcAddr = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(lib, "vkGetInstanceProcAddr"));
        if (!fns.vkGetInstanceProcAddr) {
            st = fail(Code::unsupported, "the Vulkan loader has no vkGetInstanceProcAddr");
            return;
        }
#define VKAI_VK_LOAD(name) fns.name = reinterpret_cast<PFN_##name>(fns.vkGetInstanceProcAddr(nullptr, #name));
        VKAI_VK_GLOBAL_FNS(VKAI_VK_LOAD)
#undef VKAI_VK_LOAD
        if (!fns.vkCreateInstance || !fns.vkEnumerateInstanceExtensionProperties)
            st = fail(Code::unsupported, "the Vulkan loader lacks vkCreateInstance");
    });
    if (!st.ok()) return st;
    return &fns;
}

Status load_instance(Fns& f, VkInstance inst) {
#define VKAI_VK_LOAD(name)                                                                     \
    f.name = reinterpret_cast<PFN_##name>(f.vkGetInstanceProcAddr(inst, #name));               \
    if (!f.name) return fail(Code::unsupported, "Vulkan instance function %s is missing", #name);
    VKAI_VK_INSTANCE_FNS(VKAI_VK_LOAD)
#undef VKAI_VK_LOAD
    f.vkGetPhysicalDeviceCooperativeMatrixPropertiesNV = reinterpret_cast<PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV>(
        f.vkGetInstanceProcAddr(inst, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV"));
    return {};
}

Status load_device(Fns& f, VkDevice dev) {
#define VKAI_VK_LOAD(name)                                                                     \
    f.name = reinterpret_cast<PFN_##name>(f.vkGetDeviceProcAddr(dev, #name));                  \
    if (!f.name) return fail(Code::unsupported, "Vulkan device function %s is missing", #name);
    VKAI_VK_DEVICE_FNS(VKAI_VK_LOAD)
#undef VKAI_VK_LOAD
    return {};
}

const char* vk_result_name(VkResult r) {
    switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_INCOMPLETE: return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED: return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    case VK_ERROR_FRAGMENTED_POOL: return "VK_ERROR_FRAGMENTED_POOL";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    default: return "VkResult error";
    }
}

Status vk_status(VkResult r, const char* what) {
    Code c = Code::internal;
    switch (r) {
    case VK_ERROR_DEVICE_LOST: c = Code::device_lost; break;
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
    case VK_ERROR_OUT_OF_HOST_MEMORY:
    case VK_ERROR_OUT_OF_POOL_MEMORY:
    case VK_ERROR_FRAGMENTED_POOL:
    case VK_ERROR_TOO_MANY_OBJECTS: c = Code::out_of_memory; break;
    case VK_ERROR_INCOMPATIBLE_DRIVER:
    case VK_ERROR_EXTENSION_NOT_PRESENT:
    case VK_ERROR_FEATURE_NOT_PRESENT:
    case VK_ERROR_LAYER_NOT_PRESENT: c = Code::unsupported; break;
    default: break;
    }
    return fail(c, "%s failed: %s (%d)", what, vk_result_name(r), int(r));
}

} // namespace vkai::vk
