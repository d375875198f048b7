#include "base/text.h"

#include <cstdarg>
#include <cstdio>

namespace vkai {

std::string strf(const char* fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = std::vsnprintf(nullptr, 0, fmt, ap);
    va_end(ap);
    std::string s;
    if (n > 0) {
        s.resize(size_t(n) + 1);
        std::vsnprintf(s.data(), s.size(), fmt, ap2);
        s.resize(size_t(n));
    }
    va_end(ap2);
    return s;
}

std::string format_bytes(uint64_t b) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = double(b);
    int u = 0;
    while (v >= 1024.0 && u < 4) { v /= 1024.0; ++u; }
    return u == 0 ? strf("%llu B", (unsigned long long)b) : strf("%.2f %s", v, units[u]);
}

Result<uint64_t> parse_bytes(std::string_view t) {
    if (t.empty()) return fail(Code::invalid_argument, "empty size; expected e.g. 8G, 512M or a byte count");
    uint64_t v = 0;
    size_t i = 0;
    for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) {
        if (v > (UINT64_MAX - 9) / 10) return fail(Code::invalid_argument, "size '%.*s' is too large", int(t.size()), t.data());
        v = v * 10 + uint64_t(t[i] - '0');
    }
    if (i == 0) return fail(Code::invalid_argument, "size '%.*s' does not start with a number; expected e.g. 8G", int(t.size()), t.data());
    std::string_view suf = t.substr(i);
    int shift = 0;
    if (suf.empty() || suf == "B") shift = 0;
    else if (suf == "K" || suf == "KB" || suf == "KiB" || suf == "k") shift = 10;
    else if (suf == "M" || suf == "MB" || suf == "MiB") shift = 20;
    else if (suf == "G" || suf == "GB" || suf == "GiB") shift = 30;
    else if (suf == "T" || suf == "TB" || suf == "TiB") shift = 40;
    else return fail(Code::invalid_argument, "unknown size unit '%.*s'; use K, M, G or T", int(suf.size()), suf.data());
    if (shift && v > (UINT64_MAX >> shift)) return fail(Code::invalid_argument, "size '%.*s' is too large", int(t.size()), t.data());
    return v << shift;
}

std::string json_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) out += strf("\\u%04x", c);
            else out += char(c);
        }
    }
    return out;
}

std::string printable(std::string_view s, size_t max) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (out.size() >= max) { out += "..."; break; }
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c < 0x20 || c == 0x7f) out += strf("\\x%02x", c);
        else out += char(c);
    }
    return out;
}

} // namespace vkai
