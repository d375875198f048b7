// The SPIR-V modules compiled from shaders/*.comp at build time, looked up by variant name.
#pragma once

#include <cstddef>
#include <string_view>

namespace vkai::vk {

struct EmbeddedShader {
    const char* name;
    const unsigned char* code; // 4-byte aligned SPIR-V words
    const size_t* size;        // bytes
};

extern const EmbeddedShader kEmbeddedShaders[];
extern const size_t kEmbeddedShaderCount;

inline const EmbeddedShader* find_shader(std::string_view name) {
    for (size_t i = 0; i < kEmbeddedShaderCount; ++i)
        if (name == kEmbeddedShaders[i].name) return &kEmbeddedShaders[i];
    return nullptr;
}

} // namespace vkai::vk
