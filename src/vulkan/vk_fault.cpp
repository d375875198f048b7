#include "vulkan/vk_fault.h"

#include "base/log.h"

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <mutex>

namespace vkai::vk {
namespace {

struct Counter {
    std::atomic<uint64_t> seen{0};
    std::atomic<uint64_t> fail_at{0}; // 0 = none
};
Counter g_alloc, g_lost;
std::once_flag g_env_once;

void read_env() {
    std::call_once(g_env_once, [] {
        const char* v = std::getenv("VKAI_FAULT");
        if (!v || !*v) return;
        uint64_t a = 0, l = 0;
        if (!fault_parse(v, a, l)) {
            VKAI_LOG_WARN("VKAI_FAULT='%s' ignored: expected alloc:N and/or lost:N (N >= 1), comma-separated", v);
            return;
        }
        if (a) g_alloc.fail_at = a;
        if (l) g_lost.fail_at = l;
    });
}

bool hit(Counter& c) {
    read_env();
    const uint64_t n = ++c.seen;
    uint64_t want = c.fail_at.load();
    return want && n == want && c.fail_at.compare_exchange_strong(want, 0);
}

Counter& counter(FaultKind k) { return k == FaultKind::alloc ? g_alloc : g_lost; }

} // namespace

bool fault_parse(std::string_view spec, uint64_t& alloc_at, uint64_t& lost_at) {
    alloc_at = lost_at = 0;
    while (!spec.empty()) {
        const size_t comma = spec.find(',');
        const std::string_view item = spec.substr(0, comma);
        spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
        if (comma != std::string_view::npos && spec.empty()) return false; // trailing comma
        const size_t colon = item.find(':');
        if (colon == std::string_view::npos) return false;
        const std::string_view kind = item.substr(0, colon), num = item.substr(colon + 1);
        uint64_t n = 0;
        auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), n);
        if (ec != std::errc() || end != num.data() + num.size() || n == 0) return false;
        if (kind == "alloc") alloc_at = n;
        else if (kind == "lost") lost_at = n;
        else return false;
    }
    return alloc_at || lost_at;
}

bool fault_alloc() {
    if (hit(g_alloc)) {
        VKAI_LOG_WARN("VKAI_FAULT: device allocation %llu fails (out of device memory)", (unsigned long long)g_alloc.seen.load());
        return true;
    }
    return false;
}

bool fault_submit() {
    if (hit(g_lost)) {
        VKAI_LOG_WARN("VKAI_FAULT: submit %llu reports the device lost", (unsigned long long)g_lost.seen.load());
        return true;
    }
    return false;
}

uint64_t fault_count(FaultKind k) { return counter(k).seen.load(); }

void fault_arm(FaultKind k, uint64_t n) {
    read_env();
    Counter& c = counter(k);
    c.fail_at = n ? c.seen.load() + n : 0;
}

} // namespace vkai::vk
