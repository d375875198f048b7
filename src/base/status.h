// Status and Result<T>: the error channel for everything that depends on input, files or devices.
// Programmer errors use VKAI_ASSERT (check.h) instead. Engine code does not throw.
#pragma once

#include <cstdarg>
#include <optional>
#include <string>
#include <utility>

namespace vkai {

enum class Code {
    ok = 0,
    invalid_argument, // bad user input: flag, request field, prompt
    not_found,        // file, tensor, key or model missing
    corrupt,          // a file's bytes contradict its own format
    unsupported,      // valid but not implemented (a tensor type, an architecture)
    io,               // the OS refused: open, read, mmap, write
    out_of_memory,    // host or device allocation failed
    device_lost,      // the GPU went away mid-work
    cancelled,
    internal,
};

const char* code_name(Code c);

class [[nodiscard]] Status {
public:
    Status() = default;
    Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

    static Status success() { return {}; }
    bool ok() const { return code_ == Code::ok; }
    Code code() const { return code_; }
    const std::string& message() const { return message_; }
    // Prefixes context ("reading model.gguf: ") while keeping the code.
    Status& with_context(const std::string& ctx) {
        if (!ok()) message_ = ctx + ": " + message_;
        return *this;
    }

private:
    Code code_ = Code::ok;
    std::string message_;
};

// printf-style constructors: fail(Code::corrupt, "tensor '%s': offset %llu past end %llu", ...)
Status fail(Code code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
Status vfail(Code code, const char* fmt, va_list ap);

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : value_(std::move(value)) {}
    Result(Status status) : status_(std::move(status)) {
        if (status_.ok()) status_ = Status(Code::internal, "Result built from an ok Status without a value");
    }

    bool ok() const { return value_.has_value(); }
    const Status& status() const { return status_; }
    T& value() & { return *value_; }
    const T& value() const& { return *value_; }
    T&& value() && { return std::move(*value_); }
    T* operator->() { return &*value_; }
    const T* operator->() const { return &*value_; }
    T& operator*() & { return *value_; }
    const T& operator*() const& { return *value_; }

private:
    std::optional<T> value_;
    Status status_;
};

} // namespace vkai

#define VKAI_CONCAT_(a, b) a##b
#define VKAI_CONCAT(a, b) VKAI_CONCAT_(a, b)

// Returns the Status from the enclosing function when expr (a Status) is not ok.
#define VKAI_TRY(expr)                              \
    do {                                            \
        ::vkai::Status vkai_try_st_ = (expr);       \
        if (!vkai_try_st_.ok()) return vkai_try_st_; \
    } while (0)

// auto x = value of a Result, or return its Status.
#define VKAI_ASSIGN_OR_RETURN(lhs, expr) VKAI_ASSIGN_OR_RETURN_(VKAI_CONCAT(vkai_res_, __LINE__), lhs, expr)
#define VKAI_ASSIGN_OR_RETURN_(tmp, lhs, expr) \
    auto tmp = (expr);                         \
    if (!tmp.ok()) return tmp.status();        \
    lhs = std::move(tmp).value()
