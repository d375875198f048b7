// The Vulkan loader opened at run time (dlopen of libvulkan.so.1) and our own table of function
// pointers, so the vkai binary starts and runs on the CPU where no Vulkan is installed.
#pragma once

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include "base/status.h"

namespace vkai::vk {

// Functions resolved through vkGetInstanceProcAddr (global, then per instance).
#define VKAI_VK_GLOBAL_FNS(X) \
    X(vkCreateInstance)       \
    X(vkEnumerateInstanceExtensionProperties) \
    X(vkEnumerateInstanceLayerProperties)     \
    X(vkEnumerateInstanceVersion)

#define VKAI_VK_INSTANCE_FNS(X)                     \
    X(vkDestroyInstance)                            \
    X(vkEnumeratePhysicalDevices)                   \
    X(vkGetPhysicalDeviceProperties)                \
    X(vkGetPhysicalDeviceProperties2)               \
    X(vkGetPhysicalDeviceFeatures2)                 \
    X(vkGetPhysicalDeviceMemoryProperties)          \
    X(vkGetPhysicalDeviceMemoryProperties2)         \
    X(vkGetPhysicalDeviceQueueFamilyProperties)     \
    X(vkEnumerateDeviceExtensionProperties)         \
    X(vkCreateDevice)                               \
    X(vkGetDeviceProcAddr)

#define VKAI_VK_DEVICE_FNS(X)           \
    X(vkDestroyDevice)                  \
    X(vkGetDeviceQueue)                 \
    X(vkDeviceWaitIdle)                 \
    X(vkAllocateMemory)                 \
    X(vkFreeMemory)                     \
    X(vkMapMemory)                      \
    X(vkUnmapMemory)                    \
    X(vkCreateBuffer)                   \
    X(vkDestroyBuffer)                  \
    X(vkGetBufferMemoryRequirements)    \
    X(vkBindBufferMemory)               \
    X(vkCreateShaderModule)             \
    X(vkDestroyShaderModule)            \
    X(vkCreatePipelineCache)            \
    X(vkDestroyPipelineCache)           \
    X(vkGetPipelineCacheData)           \
    X(vkCreateComputePipelines)         \
    X(vkDestroyPipeline)                \
    X(vkCreatePipelineLayout)           \
    X(vkDestroyPipelineLayout)          \
    X(vkCreateDescriptorSetLayout)      \
    X(vkDestroyDescriptorSetLayout)     \
    X(vkCreateDescriptorPool)           \
    X(vkDestroyDescriptorPool)          \
    X(vkResetDescriptorPool)            \
    X(vkAllocateDescriptorSets)         \
    X(vkUpdateDescriptorSets)           \
    X(vkCreateCommandPool)              \
    X(vkDestroyCommandPool)             \
    X(vkAllocateCommandBuffers)         \
    X(vkResetCommandBuffer)             \
    X(vkBeginCommandBuffer)             \
    X(vkEndCommandBuffer)               \
    X(vkCmdBindPipeline)                \
    X(vkCmdBindDescriptorSets)          \
    X(vkCmdPushConstants)               \
    X(vkCmdDispatch)                    \
    X(vkCmdPipelineBarrier)             \
    X(vkCmdCopyBuffer)                  \
    X(vkCmdFillBuffer)                  \
    X(vkCmdResetQueryPool)              \
    X(vkCmdWriteTimestamp)              \
    X(vkCreateQueryPool)                \
    X(vkDestroyQueryPool)               \
    X(vkGetQueryPoolResults)            \
    X(vkQueueSubmit)                    \
    X(vkCreateFence)                    \
    X(vkDestroyFence)                   \
    X(vkWaitForFences)                  \
    X(vkResetFences)

struct Fns {
    PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr = nullptr;
#define VKAI_VK_DECL(name) PFN_##name name = nullptr;
    VKAI_VK_GLOBAL_FNS(VKAI_VK_DECL)
    VKAI_VK_INSTANCE_FNS(VKAI_VK_DECL)
    VKAI_VK_DEVICE_FNS(VKAI_VK_DECL)
#undef VKAI_VK_DECL
    // Optional (null when the loader/driver lacks VK_NV_cooperative_matrix).
    PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV vkGetPhysicalDeviceCooperativeMatrixPropertiesNV = nullptr;
    // Optional (only with VKAI_VK_PIPE_STATS and VK_KHR_pipeline_executable_properties).
    PFN_vkGetPipelineExecutablePropertiesKHR vkGetPipelineExecutablePropertiesKHR = nullptr;
    PFN_vkGetPipelineExecutableStatisticsKHR vkGetPipelineExecutableStatisticsKHR = nullptr;
};

// Opens libvulkan.so.1 once per process and resolves the global functions. unsupported with the
// reason (no loader installed) when it cannot; the table stays usable for later instance loads.
Result<Fns*> load_global();
// Resolves instance-level functions (and vkGetDeviceProcAddr) for `inst` into a copy of the table.
Status load_instance(Fns& f, VkInstance inst);
Status load_device(Fns& f, VkDevice dev);

// VkResult as a Status: device lost and out-of-memory keep their codes, the rest is internal.
Status vk_status(VkResult r, const char* what);
const char* vk_result_name(VkResult r);

} // namespace vkai::vk

// Returns a Status from the enclosing function when a Vulkan call fails.
#define VK_TRY(call, what)                                                   \
    do {                                                                     \
        VkResult vkai_vk_r_ = (call);                                        \
        if (vkai_vk_r_ != VK_SUCCESS) return ::vkai::vk::vk_status(vkai_vk_r_, what); \
    } while (0)
