// VKAI_ASSERT: always-on invariant checks for programmer errors (never for input bytes: use Status).
#pragma once

namespace vkai {
[[noreturn]] void assert_fail(const char* file, int line, const char* cond, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));
}

#define VKAI_ASSERT(cond, ...) \
    ((cond) ? (void)0 : ::vkai::assert_fail(__FILE__, __LINE__, #cond, "" __VA_ARGS__))
