#include "plan/probe.h"

#include <charconv>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace vkai::plan {

Result<uint64_t> parse_meminfo_available(std::string_view text) {
    // Line format: "MemAvailable:   12345678 kB"
    const std::string_view key = "MemAvailable:";
    const size_t at = text.find(key);
    if (at == std::string_view::npos) return fail(Code::not_found, "/proc/meminfo has no MemAvailable line");
    size_t i = at + key.size();
    while (i < text.size() && text[i] == ' ') ++i;
    uint64_t kb = 0;
    auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), kb);
    if (ec != std::errc() || end == text.data() + i) return fail(Code::corrupt, "/proc/meminfo: MemAvailable is not a number");
    if (kb > (UINT64_MAX >> 10)) return fail(Code::corrupt, "/proc/meminfo: MemAvailable out of range");
    return kb << 10;
}

uint64_t host_available_bytes() {
    std::ifstream f("/proc/meminfo");
    if (f) {
        std::stringstream ss;
        ss << f.rdbuf();
        auto r = parse_meminfo_available(ss.str());
        if (r.ok()) return *r;
    }
    const long avail = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return avail > 0 && page > 0 ? uint64_t(avail) * uint64_t(page) : 0;
}

} // namespace vkai::plan
