#include "server/web_assets.h"

namespace vkai::server {

const WebAsset* find_web_asset(std::string_view path) {
    if (path == "/") path = "/index.html";
    for (const WebAsset* a = kWebAssets; a->path; ++a)
        if (path == a->path) return a;
    return nullptr;
}

const char* mime_type(std::string_view path) {
    struct Ext {
        const char* ext;
        const char* mime;
    };
    static const Ext kTypes[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"}, {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},   {".json", "application/json"},             {".map", "application/json"},
        {".svg", "image/svg+xml"},             {".png", "image/png"},                     {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"}, {".woff2", "font/woff2"},                  {".webmanifest", "application/manifest+json"},
    };
    if (path == "/") return kTypes[0].mime;
    for (const auto& t : kTypes) {
        const std::string_view e = t.ext;
        if (path.size() >= e.size() && path.substr(path.size() - e.size()) == e) return t.mime;
    }
    return "application/octet-stream";
}

} // namespace vkai::server
