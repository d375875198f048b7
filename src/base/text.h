// Small text helpers shared by the CLI and formats: sizes, numbers, escaping.
#pragma once

#include "base/status.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace vkai {

std::string format_bytes(uint64_t bytes);             // "1.50 GiB", "812 B"
Result<uint64_t> parse_bytes(std::string_view text);   // "8G", "512M", "123" (binary units)
std::string json_escape(std::string_view s);           // body of a JSON string, without quotes
std::string printable(std::string_view s, size_t max); // for logs: escapes control bytes, cuts long text
std::string strf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

} // namespace vkai
