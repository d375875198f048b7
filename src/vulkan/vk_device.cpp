// Instance creation, physical-device enumeration (properties, features, heaps) and logical devices.
#include "vulkan/vk_device.h"

#include "base/log.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>

namespace vkai::vk {
namespace {

bool env_on(const char* name) {
    const char* v = std::getenv(name);
    return v && *v && std::strcmp(v, "0") != 0;
}

const char* type_name(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
    }
}

// Whether VK_NV_cooperative_matrix lists the shape mul_mat_cm.comp uses: A 16x16 f16, B 16x8 f16,
// C/D 16x8 f32, subgroup scope.
bool coopmat_nv_has_f16_shape(const Fns& f, VkPhysicalDevice pd) {
    if (!f.vkGetPhysicalDeviceCooperativeMatrixPropertiesNV) return false;
    uint32_t n = 0;
    if (f.vkGetPhysicalDeviceCooperativeMatrixPropertiesNV(pd, &n, nullptr) != VK_SUCCESS || n == 0) return false;
    std::vector<VkCooperativeMatrixPropertiesNV> props(n, VkCooperativeMatrixPropertiesNV{VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV});
    if (f.vkGetPhysicalDeviceCooperativeMatrixPropertiesNV(pd, &n, props.data()) != VK_SUCCESS) return false;
    for (uint32_t i = 0; i < n; ++i) {
        const VkCooperativeMatrixPropertiesNV& p = props[i];
        if (p.MSize == 16 && p.NSize == 8 && p.KSize == 16 && p.AType == VK_COMPONENT_TYPE_FLOAT16_NV && p.BType == VK_COMPONENT_TYPE_FLOAT16_NV &&
            p.CType == VK_COMPONENT_TYPE_FLOAT32_NV && p.DType == VK_COMPONENT_TYPE_FLOAT32_NV && p.scope == VK_SCOPE_SUBGROUP_NV)
            return true;
    }
    return false;
}

std::set<std::string> device_extensions(const Fns& f, VkPhysicalDevice pd) {
    uint32_t n = 0;
    f.vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr);
    std::vector<VkExtensionProperties> v(n);
    f.vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, v.data());
    std::set<std::string> s;
    for (auto& e : v) s.insert(e.extensionName);
    return s;
}

} // namespace

std::string version_string(uint32_t v) {
    return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) + "." +
           std::to_string(VK_API_VERSION_PATCH(v));
}

bool baseline_forced() { return env_on("VKAI_VK_BASELINE"); }

Result<Instance*> Instance::get() {
    static Instance inst;
    static Status st;
    static std::once_flag once;
    std::call_once(once, [] { st = inst.init(); });
    if (!st.ok()) return st;
    return &inst;
}

Status Instance::init() {
    VKAI_ASSIGN_OR_RETURN(Fns * g, load_global());
    fns_ = *g;
    uint32_t api = VK_API_VERSION_1_1;
    if (fns_.vkEnumerateInstanceVersion) {
        uint32_t v = 0;
        if (fns_.vkEnumerateInstanceVersion(&v) == VK_SUCCESS && v >= VK_API_VERSION_1_3) api = VK_API_VERSION_1_3;
        else if (v >= VK_API_VERSION_1_2) api = VK_API_VERSION_1_2;
    }
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "vkai";
    app.pEngineName = "vkai";
    app.apiVersion = api;
    std::vector<const char*> layers;
    if (env_on("VKAI_VK_VALIDATE") && fns_.vkEnumerateInstanceLayerProperties) {
        uint32_t n = 0;
        fns_.vkEnumerateInstanceLayerProperties(&n, nullptr);
        std::vector<VkLayerProperties> v(n);
        fns_.vkEnumerateInstanceLayerProperties(&n, v.data());
        bool found = false;
        for (auto& l : v) found |= std::strcmp(l.layerName, "VK_LAYER_KHRONOS_validation") == 0;
        if (found) layers.push_back("VK_LAYER_KHRONOS_validation");
        else VKAI_LOG_WARN("VKAI_VK_VALIDATE=1 but VK_LAYER_KHRONOS_validation is not installed");
    }
    VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ci.pApplicationInfo = &app;
    ci.enabledLayerCount = uint32_t(layers.size());
    ci.ppEnabledLayerNames = layers.data();
    const VkResult r = fns_.vkCreateInstance(&ci, nullptr, &inst_);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
        return fail(Code::not_found, "no Vulkan driver installed (the loader found no ICD; install mesa-vulkan-drivers or the GPU vendor's driver)");
    if (r != VK_SUCCESS) return vk_status(r, "vkCreateInstance");
    VKAI_TRY(load_instance(fns_, inst_));

    uint32_t n = 0;
    VK_TRY(fns_.vkEnumeratePhysicalDevices(inst_, &n, nullptr), "vkEnumeratePhysicalDevices");
    std::vector<VkPhysicalDevice> pds(n);
    VK_TRY(fns_.vkEnumeratePhysicalDevices(inst_, &n, pds.data()), "vkEnumeratePhysicalDevices");
    for (uint32_t i = 0; i < n; ++i) {
        DeviceInfo d;
        d.index = int(i);
        d.phys = pds[i];
        VkPhysicalDeviceProperties p{};
        fns_.vkGetPhysicalDeviceProperties(pds[i], &p);
        if (p.apiVersion < VK_API_VERSION_1_1) continue; // vkai needs Vulkan 1.1 (subgroups)
        const std::set<std::string> ext = device_extensions(fns_, pds[i]);
        const bool v12 = p.apiVersion >= VK_API_VERSION_1_2, v13 = p.apiVersion >= VK_API_VERSION_1_3;

        VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
        VkPhysicalDeviceSubgroupProperties sg{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
        VkPhysicalDeviceDriverProperties drv{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
        VkPhysicalDeviceIDProperties idp{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES};
        p2.pNext = &sg;
        sg.pNext = &idp;
        if (v12 || ext.count("VK_KHR_driver_properties")) idp.pNext = &drv;
        fns_.vkGetPhysicalDeviceProperties2(pds[i], &p2);
        d.name = p.deviceName;
        d.type = type_name(p.deviceType);
        d.api_version = p.apiVersion;
        d.driver_version = p.driverVersion;
        d.vendor_id = p.vendorID;
        d.device_id = p.deviceID;
        d.driver_name = drv.driverName;
        d.driver_info = drv.driverInfo;
        std::memcpy(d.uuid, idp.deviceUUID, VK_UUID_SIZE);
        d.subgroup_size = sg.subgroupSize;
        d.max_storage_buffer_range = p.limits.maxStorageBufferRange;
        d.min_storage_align = p.limits.minStorageBufferOffsetAlignment;
        d.max_push_constants = p.limits.maxPushConstantsSize;
        d.max_invocations = p.limits.maxComputeWorkGroupInvocations;
        d.max_shared_bytes = p.limits.maxComputeSharedMemorySize;
        for (int k = 0; k < 3; ++k) d.max_workgroup_count[k] = p.limits.maxComputeWorkGroupCount[k];
        d.timestamp_period = p.limits.timestampPeriod;
        d.max_allocation = 1ull << 30; // the Vulkan 1.1 guarantee, raised below when reported
        {
            VkPhysicalDeviceProperties2 q2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
            VkPhysicalDeviceMaintenance3Properties m3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
            q2.pNext = &m3;
            fns_.vkGetPhysicalDeviceProperties2(pds[i], &q2);
            if (m3.maxMemoryAllocationSize) d.max_allocation = m3.maxMemoryAllocationSize;
        }
        Features& f = d.features;
        f.subgroup_basic = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) && (sg.supportedOperations & VK_SUBGROUP_FEATURE_BASIC_BIT);
        f.subgroup_arith = f.subgroup_basic && (sg.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
        f.coopmat_nv = ext.count("VK_NV_cooperative_matrix") > 0;
        f.coopmat_khr = ext.count("VK_KHR_cooperative_matrix") > 0;
        f.memory_budget = ext.count("VK_EXT_memory_budget") > 0;
        d.exec_props = ext.count("VK_KHR_pipeline_executable_properties") > 0;

        VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
        VkPhysicalDevice16BitStorageFeatures s16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
        VkPhysicalDevice8BitStorageFeatures s8{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES};
        VkPhysicalDeviceShaderFloat16Int8Features f16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
        VkPhysicalDeviceShaderIntegerDotProductFeatures idot{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES};
        VkPhysicalDeviceVulkanMemoryModelFeatures vmm{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES};
        VkPhysicalDeviceCooperativeMatrixFeaturesNV cmnv{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
        void** tail = &f2.pNext;
        auto chain = [&](auto& s) { *tail = &s; tail = &s.pNext; };
        chain(s16);
        if (v12 || ext.count("VK_KHR_8bit_storage")) chain(s8);
        if (v12 || ext.count("VK_KHR_shader_float16_int8")) chain(f16);
        if (v13 || ext.count("VK_KHR_shader_integer_dot_product")) chain(idot);
        if (v12 || ext.count("VK_KHR_vulkan_memory_model")) chain(vmm);
        if (f.coopmat_nv) chain(cmnv);
        fns_.vkGetPhysicalDeviceFeatures2(pds[i], &f2);
        f.memory_model = vmm.vulkanMemoryModel;
        f.coopmat_nv_f16 = f.coopmat_nv && cmnv.cooperativeMatrix && coopmat_nv_has_f16_shape(fns_, pds[i]);
        f.storage16 = s16.storageBuffer16BitAccess;
        f.storage8 = s8.storageBuffer8BitAccess;
        f.fp16_math = f16.shaderFloat16;
        f.int_dot = idot.shaderIntegerDotProduct;

        uint32_t nq = 0;
        fns_.vkGetPhysicalDeviceQueueFamilyProperties(pds[i], &nq, nullptr);
        std::vector<VkQueueFamilyProperties> qf(nq);
        fns_.vkGetPhysicalDeviceQueueFamilyProperties(pds[i], &nq, qf.data());
        for (uint32_t q = 0; q < nq; ++q) {
            if (!(qf[q].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
            // Prefer a compute queue that also does graphics (the main queue): most mature.
            if (d.compute_family == UINT32_MAX || (qf[q].queueFlags & VK_QUEUE_GRAPHICS_BIT)) {
                if (d.compute_family == UINT32_MAX || !(qf[d.compute_family].queueFlags & VK_QUEUE_GRAPHICS_BIT)) {
                    d.compute_family = q;
                    d.timestamp_valid_bits = qf[q].timestampValidBits;
                }
            }
        }
        if (d.compute_family == UINT32_MAX) continue;
        refresh_heaps(d);
        devices_.push_back(std::move(d));
    }
    return {};
}

void Instance::refresh_heaps(DeviceInfo& d) const {
    VkPhysicalDeviceMemoryProperties2 mp{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2};
    VkPhysicalDeviceMemoryBudgetPropertiesEXT bud{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
    if (d.features.memory_budget) mp.pNext = &bud;
    fns_.vkGetPhysicalDeviceMemoryProperties2(d.phys, &mp);
    d.heaps.clear();
    for (uint32_t h = 0; h < mp.memoryProperties.memoryHeapCount; ++h) {
        HeapInfo hi;
        hi.size = mp.memoryProperties.memoryHeaps[h].size;
        hi.device_local = mp.memoryProperties.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT;
        hi.budget = d.features.memory_budget && bud.heapBudget[h] ? bud.heapBudget[h] : hi.size;
        hi.usage = d.features.memory_budget ? bud.heapUsage[h] : 0;
        d.heaps.push_back(hi);
    }
}

Result<std::unique_ptr<Device>> Device::create(int index, bool baseline) {
    VKAI_ASSIGN_OR_RETURN(Instance * inst, Instance::get());
    const DeviceInfo* info = nullptr;
    for (const DeviceInfo& d : inst->devices())
        if (d.index == index) info = &d;
    if (!info) return fail(Code::not_found, "no Vulkan device vulkan%d (%zu usable devices; see `vkai devices`)", index, inst->devices().size());
    std::unique_ptr<Device> dev(new Device());
    dev->inst_ = inst;
    dev->fns_ = inst->fns();
    dev->info_ = *info;
    dev->baseline_ = baseline;
    const Features& have = info->features;
    Features& en = dev->enabled_;
    en.subgroup_basic = have.subgroup_basic;
    en.memory_budget = have.memory_budget;
    if (!baseline) en = have;
    // Cooperative matrices: only the NV shape mul_mat_cm.comp is written for, with what its SPIR-V
    // needs (fp16 arithmetic, the Vulkan memory model, 32-lane subgroups); VKAI_VK_COOPMAT=0 turns
    // it off. No shader uses the KHR extension or integer dot products yet.
    const char* cm_env = std::getenv("VKAI_VK_COOPMAT");
    en.coopmat_nv = en.coopmat_nv_f16 = en.coopmat_nv_f16 && en.fp16_math && en.memory_model && info->subgroup_size == 32 &&
                                        !(cm_env && std::strcmp(cm_env, "0") == 0);
    en.memory_model = en.coopmat_nv;
    en.coopmat_khr = false;
    en.int_dot = false;

    const bool v12 = info->api_version >= VK_API_VERSION_1_2;
    std::vector<const char*> exts;
    if (en.memory_budget) exts.push_back("VK_EXT_memory_budget");
    VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    VkPhysicalDevice16BitStorageFeatures s16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDevice8BitStorageFeatures s8{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES};
    VkPhysicalDeviceShaderFloat16Int8Features f16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    VkPhysicalDeviceVulkanMemoryModelFeatures vmm{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES};
    VkPhysicalDeviceCooperativeMatrixFeaturesNV cmnv{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
    void** tail = &f2.pNext;
    auto chain = [&](auto& s) { *tail = &s; tail = &s.pNext; };
    if (en.coopmat_nv) {
        vmm.vulkanMemoryModel = VK_TRUE;
        chain(vmm);
        if (!v12) exts.push_back("VK_KHR_vulkan_memory_model");
        cmnv.cooperativeMatrix = VK_TRUE;
        chain(cmnv);
        exts.push_back("VK_NV_cooperative_matrix");
    }
    if (en.storage16) {
        s16.storageBuffer16BitAccess = VK_TRUE;
        chain(s16);
    }
    if (en.storage8) {
        s8.storageBuffer8BitAccess = VK_TRUE;
        chain(s8);
        if (!v12) exts.push_back("VK_KHR_8bit_storage");
    }
    if (en.fp16_math) {
        f16.shaderFloat16 = VK_TRUE;
        chain(f16);
        if (!v12) exts.push_back("VK_KHR_shader_float16_int8");
    }
    VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR pex{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR};
    const char* stats_env = std::getenv("VKAI_VK_PIPE_STATS");
    if (stats_env && *stats_env && info->exec_props) {
        pex.pipelineExecutableInfo = VK_TRUE;
        chain(pex);
        exts.push_back("VK_KHR_pipeline_executable_properties");
        dev->pipe_stats_ = stats_env;
    }
    const float prio = 1.0f;
    VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qci.queueFamilyIndex = info->compute_family;
    qci.queueCount = 1;
    qci.pQueuePriorities = &prio;
    VkDeviceCreateInfo ci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    ci.pNext = &f2;
    ci.queueCreateInfoCount = 1;
    ci.pQueueCreateInfos = &qci;
    ci.enabledExtensionCount = uint32_t(exts.size());
    ci.ppEnabledExtensionNames = exts.data();
    VK_TRY(dev->fns_.vkCreateDevice(info->phys, &ci, nullptr, &dev->dev_), "vkCreateDevice");
    VKAI_TRY(load_device(dev->fns_, dev->dev_));
    if (!dev->pipe_stats_.empty()) {
        dev->fns_.vkGetPipelineExecutablePropertiesKHR =
            reinterpret_cast<PFN_vkGetPipelineExecutablePropertiesKHR>(dev->fns_.vkGetDeviceProcAddr(dev->dev_, "vkGetPipelineExecutablePropertiesKHR"));
        dev->fns_.vkGetPipelineExecutableStatisticsKHR =
            reinterpret_cast<PFN_vkGetPipelineExecutableStatisticsKHR>(dev->fns_.vkGetDeviceProcAddr(dev->dev_, "vkGetPipelineExecutableStatisticsKHR"));
        if (!dev->fns_.vkGetPipelineExecutablePropertiesKHR || !dev->fns_.vkGetPipelineExecutableStatisticsKHR) dev->pipe_stats_.clear();
    }
    dev->fns_.vkGetDeviceQueue(dev->dev_, info->compute_family, 0, &dev->queue_);
    return dev;
}

Device::~Device() {
    if (dev_) {
        fns_.vkDeviceWaitIdle(dev_);
        fns_.vkDestroyDevice(dev_, nullptr);
    }
}

} // namespace vkai::vk
