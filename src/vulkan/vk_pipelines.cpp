// SPIR-V reflection, pipeline creation and the on-disk pipeline cache.
#include "vulkan/vk_pipelines.h"

#include "base/log.h"
#include "vulkan/shaders_embedded.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <unordered_map>

namespace vkai::vk {
namespace {

constexpr uint32_t kSpirvMagic = 0x07230203;
enum : uint32_t {
    OpExecutionMode = 16, OpTypeInt = 21, OpTypeFloat = 22, OpTypeVector = 23, OpTypeStruct = 30,
    OpTypePointer = 32, OpVariable = 59, OpDecorate = 71, OpMemberDecorate = 72,
};
enum : uint32_t { DecNonWritable = 24, DecBinding = 33, DecDescriptorSet = 34, DecOffset = 35, ModeLocalSize = 17, StoragePushConstant = 9 };

std::string cache_dir() {
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/vkai";
    if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/vkai";
    return {};
}

} // namespace

Result<Reflection> reflect_spirv(const uint32_t* w, size_t n) {
    if (n < 5 || w[0] != kSpirvMagic) return fail(Code::invalid_argument, "not a SPIR-V module (%zu words)", n);
    Reflection r;
    std::unordered_map<uint32_t, uint32_t> binding, set;     // id -> decoration value
    std::unordered_map<uint32_t, uint32_t> scalar_bytes;    // type id -> byte size (scalars/vectors)
    std::unordered_map<uint32_t, std::vector<uint32_t>> members; // struct id -> member type ids
    std::map<std::pair<uint32_t, uint32_t>, uint32_t> member_off; // (struct, member) -> offset
    std::unordered_map<uint32_t, uint32_t> ptr_pointee;     // pointer type -> pointee
    uint32_t pc_ptr_type = 0;
    std::vector<uint32_t> variables;
    std::unordered_map<uint32_t, uint32_t> var_type;           // variable -> its pointer type
    std::unordered_map<uint32_t, uint32_t> nonwritable_members; // struct id -> members decorated NonWritable
    std::unordered_map<uint32_t, bool> nonwritable;             // id decorated NonWritable
    for (size_t i = 5; i < n;) {
        const uint32_t op = w[i] & 0xffff, len = w[i] >> 16;
        if (len == 0 || i + len > n) return fail(Code::invalid_argument, "SPIR-V instruction at word %zu overruns the module", i);
        const uint32_t* a = w + i + 1; // operands
        switch (op) {
        case OpExecutionMode:
            if (len >= 6 && a[1] == ModeLocalSize) r.local_size[0] = a[2], r.local_size[1] = a[3], r.local_size[2] = a[4];
            break;
        case OpTypeInt:
        case OpTypeFloat:
            if (len >= 3) scalar_bytes[a[0]] = a[1] / 8;
            break;
        case OpTypeVector:
            if (len >= 4) scalar_bytes[a[0]] = scalar_bytes[a[1]] * a[2];
            break;
        case OpTypeStruct: members[a[0]].assign(a + 1, a + len - 1); break;
        case OpTypePointer:
            if (len >= 4) ptr_pointee[a[0]] = a[2];
            break;
        case OpVariable:
            if (len >= 4 && a[2] == StoragePushConstant) pc_ptr_type = a[0];
            if (len >= 4) variables.push_back(a[1]), var_type[a[1]] = a[0];
            break;
        case OpDecorate:
            if (len >= 4 && a[1] == DecBinding) binding[a[0]] = a[2];
            if (len >= 4 && a[1] == DecDescriptorSet) set[a[0]] = a[2];
            if (len >= 3 && a[1] == DecNonWritable) nonwritable[a[0]] = true;
            break;
        case OpMemberDecorate:
            if (len >= 5 && a[2] == DecOffset) member_off[{a[0], a[1]}] = a[3];
            if (len >= 4 && a[2] == DecNonWritable) ++nonwritable_members[a[0]];
            break;
        default: break;
        }
        i += len;
    }
    for (uint32_t v : variables) {
        auto b = binding.find(v);
        if (b == binding.end()) continue;
        auto s = set.find(v);
        if (s != set.end() && s->second != 0) return fail(Code::invalid_argument, "descriptor set %u used; vkai shaders use set 0 only", s->second);
        r.bindings.push_back(b->second);
        // Read-only when the variable is NonWritable or every member of its block is.
        const uint32_t st = ptr_pointee[var_type[v]];
        const bool ro = nonwritable[v] || (members.count(st) && nonwritable_members[st] >= members[st].size());
        if (!ro && b->second < 32) r.written |= 1u << b->second;
    }
    std::sort(r.bindings.begin(), r.bindings.end());
    r.bindings.erase(std::unique(r.bindings.begin(), r.bindings.end()), r.bindings.end());
    if (pc_ptr_type) {
        const uint32_t st = ptr_pointee[pc_ptr_type];
        const auto& mem = members[st];
        for (uint32_t m = 0; m < mem.size(); ++m) {
            auto sz = scalar_bytes.find(mem[m]);
            if (sz == scalar_bytes.end()) return fail(Code::invalid_argument, "push-constant member %u is not a scalar or vector", m);
            r.push_bytes = std::max(r.push_bytes, member_off[{st, m}] + sz->second);
        }
    }
    return r;
}

Pipelines::Pipelines(const Device& dev) : dev_(dev) {
    const DeviceInfo& info = dev.info();
    std::vector<uint8_t> data;
    const std::string dir = cache_dir();
    if (!dir.empty()) {
        char uuid[2 * VK_UUID_SIZE + 1] = {};
        for (unsigned i = 0; i < VK_UUID_SIZE; ++i) std::snprintf(uuid + 2 * i, 3, "%02x", info.uuid[i]);
        cache_path_ = dir + "/pipelines-" + uuid + "-" + std::to_string(info.driver_version) + (dev.baseline() ? "-base" : "") + ".bin";
        std::ifstream in(cache_path_, std::ios::binary);
        if (in) data.assign(std::istreambuf_iterator<char>(in), {});
    }
    VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    ci.initialDataSize = data.size();
    ci.pInitialData = data.empty() ? nullptr : data.data();
    // A corrupt or foreign file is ignored by the driver (the header carries UUID and vendor);
    // should creation still fail, start empty.
    if (dev_.fns().vkCreatePipelineCache(dev_.handle(), &ci, nullptr, &cache_) != VK_SUCCESS) {
        ci.initialDataSize = 0;
        ci.pInitialData = nullptr;
        if (dev_.fns().vkCreatePipelineCache(dev_.handle(), &ci, nullptr, &cache_) != VK_SUCCESS) cache_ = VK_NULL_HANDLE;
    }
    loaded_cache_bytes_ = data.size();
}

Pipelines::~Pipelines() {
    const Fns& f = dev_.fns();
    if (dirty_) {
        Status st = save_cache();
        if (!st.ok()) VKAI_LOG_DEBUG("pipeline cache not saved: %s", st.message().c_str());
    }
    for (auto& [n, p] : pipes_) {
        f.vkDestroyPipeline(dev_.handle(), p->pipe, nullptr);
        f.vkDestroyPipelineLayout(dev_.handle(), p->layout, nullptr);
    }
    for (auto& [n, l] : set_layouts_) f.vkDestroyDescriptorSetLayout(dev_.handle(), l, nullptr);
    if (cache_) f.vkDestroyPipelineCache(dev_.handle(), cache_, nullptr);
}

Status Pipelines::save_cache() {
    if (!cache_ || cache_path_.empty()) return {};
    size_t size = 0;
    VK_TRY(dev_.fns().vkGetPipelineCacheData(dev_.handle(), cache_, &size, nullptr), "vkGetPipelineCacheData");
    std::vector<uint8_t> data(size);
    VK_TRY(dev_.fns().vkGetPipelineCacheData(dev_.handle(), cache_, &size, data.data()), "vkGetPipelineCacheData");
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(cache_path_).parent_path(), ec);
    const std::string tmp = cache_path_ + ".tmp" + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) return fail(Code::io, "cannot write %s", tmp.c_str());
        out.write(reinterpret_cast<const char*>(data.data()), std::streamsize(size));
        if (!out) return fail(Code::io, "cannot write %s", tmp.c_str());
    }
    std::filesystem::rename(tmp, cache_path_, ec); // atomic: concurrent vkai processes never see half a file
    if (ec) return fail(Code::io, "cannot rename %s: %s", tmp.c_str(), ec.message().c_str());
    dirty_ = false;
    return {};
}

Result<VkDescriptorSetLayout> Pipelines::set_layout(uint32_t n) {
    auto it = set_layouts_.find(n);
    if (it != set_layouts_.end()) return it->second;
    std::vector<VkDescriptorSetLayoutBinding> b(n);
    for (uint32_t i = 0; i < n; ++i) {
        b[i].binding = i;
        b[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        b[i].descriptorCount = 1;
        b[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    }
    VkDescriptorSetLayoutCreateInfo ci{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    ci.bindingCount = n;
    ci.pBindings = b.data();
    VkDescriptorSetLayout l = VK_NULL_HANDLE;
    VK_TRY(dev_.fns().vkCreateDescriptorSetLayout(dev_.handle(), &ci, nullptr, &l), "vkCreateDescriptorSetLayout");
    set_layouts_[n] = l;
    return l;
}

Result<std::unique_ptr<Pipeline>> Pipelines::begin_pipeline(const PipelineSpec& spec) {
    const std::string& name = spec.name;
    const EmbeddedShader* sh = find_shader(name);
    if (!sh) return fail(Code::internal, "no embedded shader named %s", name.c_str());
    VKAI_ASSIGN_OR_RETURN(Reflection refl, reflect_spirv(reinterpret_cast<const uint32_t*>(sh->code), *sh->size / 4));
    bool bindings_ok = refl.bindings.size() == spec.n_bindings;
    for (uint32_t i = 0; bindings_ok && i < spec.n_bindings; ++i) bindings_ok = refl.bindings[i] == i;
    if (!bindings_ok || refl.push_bytes != spec.push_bytes)
        return fail(Code::internal, "shader %s declares %zu bindings and %u push-constant bytes; the host binds %u and pushes %u", name.c_str(),
                    refl.bindings.size(), refl.push_bytes, spec.n_bindings, spec.push_bytes);
    if (spec.push_bytes > dev_.info().max_push_constants)
        return fail(Code::unsupported, "shader %s needs %u push-constant bytes; the device allows %u", name.c_str(), spec.push_bytes,
                    dev_.info().max_push_constants);
    auto p = std::make_unique<Pipeline>();
    p->name = name;
    p->n_bindings = spec.n_bindings;
    p->push_bytes = spec.push_bytes;
    p->written = refl.written;
    VKAI_ASSIGN_OR_RETURN(p->set_layout, set_layout(spec.n_bindings));
    VkPushConstantRange pcr{VK_SHADER_STAGE_COMPUTE_BIT, 0, spec.push_bytes};
    VkPipelineLayoutCreateInfo lci{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    lci.setLayoutCount = 1;
    lci.pSetLayouts = &p->set_layout;
    lci.pushConstantRangeCount = spec.push_bytes ? 1 : 0;
    lci.pPushConstantRanges = &pcr;
    VK_TRY(dev_.fns().vkCreatePipelineLayout(dev_.handle(), &lci, nullptr, &p->layout), "vkCreatePipelineLayout");
    return p;
}

VkResult Pipelines::compile(Pipeline& p) const {
    const Fns& f = dev_.fns();
    const EmbeddedShader* sh = find_shader(p.name);
    VkShaderModuleCreateInfo mci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    mci.codeSize = *sh->size;
    mci.pCode = reinterpret_cast<const uint32_t*>(sh->code);
    VkShaderModule mod = VK_NULL_HANDLE;
    VkResult res = f.vkCreateShaderModule(dev_.handle(), &mci, nullptr, &mod);
    if (res != VK_SUCCESS) return res;
    VkComputePipelineCreateInfo pci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    pci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    pci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    pci.stage.module = mod;
    pci.stage.pName = "main";
    pci.layout = p.layout;
    const bool stats = !dev_.pipe_stats().empty() && p.name.find(dev_.pipe_stats()) != std::string::npos;
    if (stats) pci.flags |= VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR;
    res = f.vkCreateComputePipelines(dev_.handle(), cache_, 1, &pci, nullptr, &p.pipe);
    f.vkDestroyShaderModule(dev_.handle(), mod, nullptr);
    if (res == VK_SUCCESS && stats) log_stats(p);
    return res;
}

// One line per pipeline: every statistic the driver reports for its compute executable.
void Pipelines::log_stats(const Pipeline& p) const {
    const Fns& f = dev_.fns();
    VkPipelineInfoKHR pi{VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR};
    pi.pipeline = p.pipe;
    uint32_t ne = 0;
    if (f.vkGetPipelineExecutablePropertiesKHR(dev_.handle(), &pi, &ne, nullptr) != VK_SUCCESS || ne == 0) return;
    VkPipelineExecutableInfoKHR ei{VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR};
    ei.pipeline = p.pipe;
    ei.executableIndex = 0;
    uint32_t ns = 0;
    if (f.vkGetPipelineExecutableStatisticsKHR(dev_.handle(), &ei, &ns, nullptr) != VK_SUCCESS) return;
    std::vector<VkPipelineExecutableStatisticKHR> st(ns, VkPipelineExecutableStatisticKHR{VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR});
    if (f.vkGetPipelineExecutableStatisticsKHR(dev_.handle(), &ei, &ns, st.data()) != VK_SUCCESS) return;
    std::string line;
    for (uint32_t i = 0; i < ns; ++i) {
        char v[64];
        switch (st[i].format) {
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR: std::snprintf(v, sizeof v, "%s", st[i].value.b32 ? "yes" : "no"); break;
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR: std::snprintf(v, sizeof v, "%lld", (long long)st[i].value.i64); break;
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR: std::snprintf(v, sizeof v, "%llu", (unsigned long long)st[i].value.u64); break;
        default: std::snprintf(v, sizeof v, "%g", st[i].value.f64); break;
        }
        line += std::string(i ? ", " : "") + st[i].name + " " + v;
    }
    std::fprintf(stderr, "pipeline %s: %s\n", p.name.c_str(), line.c_str());
}

void Pipelines::destroy(Pipeline& p) const {
    if (p.pipe) dev_.fns().vkDestroyPipeline(dev_.handle(), p.pipe, nullptr);
    if (p.layout) dev_.fns().vkDestroyPipelineLayout(dev_.handle(), p.layout, nullptr);
}

Result<const Pipeline*> Pipelines::get(const std::string& name, uint32_t n_bindings, uint32_t push_bytes) {
    auto it = pipes_.find(name);
    if (it != pipes_.end()) {
        const Pipeline* p = it->second.get();
        if (p->n_bindings != n_bindings || p->push_bytes != push_bytes)
            return fail(Code::internal, "pipeline %s used with %u bindings / %u push bytes, created with %u / %u", name.c_str(), n_bindings,
                        push_bytes, p->n_bindings, p->push_bytes);
        return p;
    }
    VKAI_ASSIGN_OR_RETURN(std::unique_ptr<Pipeline> p, begin_pipeline(PipelineSpec{name, n_bindings, push_bytes}));
    const VkResult res = compile(*p);
    if (res != VK_SUCCESS) {
        destroy(*p);
        Status st = vk_status(res, "creating a compute pipeline");
        return st.with_context(name);
    }
    dirty_ = true;
    const Pipeline* out = p.get();
    pipes_[name] = std::move(p);
    return out;
}

Status Pipelines::prepare(const std::vector<PipelineSpec>& specs, unsigned threads) {
    std::vector<std::unique_ptr<Pipeline>> todo;
    for (const PipelineSpec& s : specs) {
        if (pipes_.count(s.name)) {
            VKAI_TRY(get(s.name, s.n_bindings, s.push_bytes).status()); // re-checks the interface
            continue;
        }
        Result<std::unique_ptr<Pipeline>> p = begin_pipeline(s);
        if (!p.ok()) {
            for (auto& q : todo) destroy(*q);
            return p.status();
        }
        todo.push_back(std::move(p).value());
    }
    std::vector<VkResult> res(todo.size(), VK_SUCCESS);
    std::atomic<size_t> next{0};
    auto work = [&] {
        for (size_t i; (i = next.fetch_add(1)) < todo.size();) res[i] = compile(*todo[i]);
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < std::max(1u, threads); ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    Status st;
    for (size_t i = 0; i < todo.size(); ++i) {
        if (res[i] != VK_SUCCESS) {
            if (st.ok()) st = vk_status(res[i], "creating a compute pipeline").with_context(todo[i]->name);
            destroy(*todo[i]);
            continue;
        }
        dirty_ = true;
        const std::string name = todo[i]->name;
        pipes_[name] = std::move(todo[i]);
    }
    return st;
}

} // namespace vkai::vk
