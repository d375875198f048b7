// Compute pipelines from the embedded SPIR-V: a small reflection of each module (descriptor
// bindings, push-constant block size) checked against what the host code binds and pushes, and a
// VkPipelineCache kept on disk per device UUID and driver version.
#pragma once

#include "vulkan/vk_device.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace vkai::vk {

struct Reflection {
    std::vector<uint32_t> bindings; // binding numbers of set 0, sorted
    uint32_t written = 0;           // bit b: binding b is writable (a block there lacks readonly)
    uint32_t push_bytes = 0;        // size of the push-constant block, 0 when none
    uint32_t local_size[3] = {1, 1, 1};
};
// Minimal SPIR-V parser: OpDecorate Binding/DescriptorSet, NonWritable (on a block's members or the
// variable: what the hazard tracker takes as only read), the PushConstant variable's struct
// (member offsets + sizes), OpExecutionMode LocalSize. invalid_argument on malformed words.
Result<Reflection> reflect_spirv(const uint32_t* words, size_t n_words);

struct Pipeline {
    std::string name;
    VkPipeline pipe = VK_NULL_HANDLE;
    VkPipelineLayout layout = VK_NULL_HANDLE;
    VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
    uint32_t n_bindings = 0, push_bytes = 0;
    uint32_t written = 0; // Reflection::written: the bindings a dispatch writes
};

struct PipelineSpec {
    std::string name;
    uint32_t n_bindings = 0, push_bytes = 0;
};

class Pipelines {
public:
    explicit Pipelines(const Device& dev);
    ~Pipelines(); // saves the cache when it grew

    // The pipeline of an embedded variant, created on first use. The host states how many storage
    // buffers it binds (0..n-1) and how many push-constant bytes it pushes; a module that
    // disagrees is an internal error here instead of a GPU hang later.
    Result<const Pipeline*> get(const std::string& name, uint32_t n_bindings, uint32_t push_bytes);
    // Creates all of them up front, the driver compiles on `threads` threads (shaders compile
    // independently; the pipeline cache is internally synchronized).
    Status prepare(const std::vector<PipelineSpec>& specs, unsigned threads);
    size_t created() const { return pipes_.size(); }
    std::string cache_path() const { return cache_path_; }
    Status save_cache();

private:
    Result<VkDescriptorSetLayout> set_layout(uint32_t n_bindings);
    // Checks the module against the spec and makes the layouts (not thread-safe).
    Result<std::unique_ptr<Pipeline>> begin_pipeline(const PipelineSpec& spec);
    // Shader module + compute pipeline (thread-safe for distinct pipelines).
    VkResult compile(Pipeline& p) const;
    void destroy(Pipeline& p) const;
    void log_stats(const Pipeline& p) const; // VKAI_VK_PIPE_STATS (vk_device.h)

    const Device& dev_;
    VkPipelineCache cache_ = VK_NULL_HANDLE;
    std::string cache_path_;
    size_t loaded_cache_bytes_ = 0;
    bool dirty_ = false;
    std::map<std::string, std::unique_ptr<Pipeline>> pipes_;
    std::map<uint32_t, VkDescriptorSetLayout> set_layouts_;
};

} // namespace vkai::vk
