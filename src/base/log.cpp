#include "base/log.h"

#include "base/check.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace vkai {
namespace {

LogLevel level_from_env() {
    const char* s = std::getenv("VKAI_LOG");
    if (!s) return LogLevel::info;
    if (!std::strcmp(s, "debug")) return LogLevel::debug;
    if (!std::strcmp(s, "warn")) return LogLevel::warn;
    if (!std::strcmp(s, "error")) return LogLevel::error;
    if (!std::strcmp(s, "off")) return LogLevel::off;
    return LogLevel::info;
}

std::atomic<int> g_level{static_cast<int>(level_from_env())};
std::mutex g_mutex; // whole lines, never interleaved

} // namespace

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel log_level() { return static_cast<LogLevel>(g_level.load()); }

void log(LogLevel level, const char* fmt, ...) {
    if (static_cast<int>(level) < g_level.load()) return;
    static const char* tags[] = {"debug: ", "", "warning: ", "error: "};
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    std::lock_guard<std::mutex> lock(g_mutex);
    std::fprintf(stderr, "%s%s\n", tags[static_cast<int>(level)], buf);
}

void assert_fail(const char* file, int line, const char* cond, const char* fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    std::fprintf(stderr, "vkai: internal error at %s:%d: assertion '%s' failed%s%s\n", file, line, cond, buf[0] ? ": " : "", buf);
    std::abort();
}

} // namespace vkai
