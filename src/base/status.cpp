#include "base/status.h"

#include <cstdio>

namespace vkai {

const char* code_name(Code c) {
    switch (c) {
    case Code::ok: return "ok";
    case Code::invalid_argument: return "invalid argument";
    case Code::not_found: return "not found";
    case Code::corrupt: return "corrupt";
    case Code::unsupported: return "unsupported";
    case Code::io: return "I/O error";
    case Code::out_of_memory: return "out of memory";
    case Code::device_lost: return "device lost";
    case Code::cancelled: return "cancelled";
    case Code::internal: return "internal error";
    }
    return "unknown";
}

Status vfail(Code code, const char* fmt, va_list ap) {
    char buf[1024];
    va_list ap2;
    va_copy(ap2, ap);
    int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
    std::string msg;
    if (n >= 0 && static_cast<size_t>(n) < sizeof buf) {
        msg.assign(buf, static_cast<size_t>(n));
    } else if (n >= 0) {
        msg.resize(static_cast<size_t>(n) + 1);
        std::vsnprintf(msg.data(), msg.size(), fmt, ap2);
        msg.resize(static_cast<size_t>(n));
    }
    va_end(ap2);
    return Status(code, std::move(msg));
}

Status fail(Code code, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    Status s = vfail(code, fmt, ap);
    va_end(ap);
    return s;
}

} // namespace vkai
