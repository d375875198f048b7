// The web UI (src/server/web/*), embedded in the binary at build time by cmake/embed_files.cmake.
#pragma once

#include <cstddef>
#include <string_view>

namespace vkai::server {

struct WebAsset {
    const char* path; // "/index.html"
    const unsigned char* data;
    size_t size;
};

extern const WebAsset kWebAssets[]; // ends with {nullptr, nullptr, 0}

// "/" means "/index.html"; nullptr when no asset has that path.
const WebAsset* find_web_asset(std::string_view path);
const char* mime_type(std::string_view path); // by extension; application/octet-stream otherwise

} // namespace vkai::server
