// Logging to stderr. Level from VKAI_LOG=debug|info|warn|error (default info).
#pragma once

namespace vkai {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

void set_log_level(LogLevel level);
LogLevel log_level();
void log(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

} // namespace vkai

#define VKAI_LOG_DEBUG(...) ::vkai::log(::vkai::LogLevel::debug, __VA_ARGS__)
#define VKAI_LOG_INFO(...) ::vkai::log(::vkai::LogLevel::info, __VA_ARGS__)
#define VKAI_LOG_WARN(...) ::vkai::log(::vkai::LogLevel::warn, __VA_ARGS__)
#define VKAI_LOG_ERROR(...) ::vkai::log(::vkai::LogLevel::error, __VA_ARGS__)
