// A Jinja2 interpreter for the subset chat templates use. Templates are untrusted code (they come
// inside model files), so parsing and rendering are bounded: size, steps, loop iterations, nesting
// depth, output size and time all end in a Status error, never a crash or a hang.
#pragma once

#include "base/status.h"
#include "llm/jinja/value.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace vkai::jinja {

namespace ast {
struct Program;
}

struct Limits {
    size_t max_template_bytes = size_t(1) << 20;
    size_t max_output_bytes = size_t(16) << 20;
    size_t max_value_bytes = size_t(16) << 20; // the largest string or list one operation may build
    size_t max_alloc_bytes = size_t(256) << 20; // all strings and lists built in one render, together
    uint64_t max_steps = 50'000'000;           // evaluation steps (work units) in one render
    uint64_t max_iterations = 2'000'000;       // loop iterations in one render, all loops together
    uint32_t max_depth = 200;                  // nesting while parsing; macro call depth while rendering
    double max_seconds = 10.0;                 // wall clock for one render
};

// The environment HF transformers builds for chat templates: trim_blocks and lstrip_blocks on,
// autoescape off, loop controls ({% break %}, {% continue %}) on.
struct Options {
    bool trim_blocks = true;
    bool lstrip_blocks = true;
    bool keep_trailing_newline = false;
};

class Template {
public:
    Template() = default;
    // Errors name the line: "chat template line 3: unexpected 'endfor'".
    static Result<Template> parse(std::string_view text, const Options& opt = {}, const Limits& lim = {});

    // context: a dict of the variables the template sees. now_unix: the time strftime_now() formats
    // (seconds since the epoch, local time zone); < 0 means the clock.
    Result<std::string> render(const Value& context, const Limits& lim = {}, int64_t now_unix = -1) const;

    bool empty() const { return !prog_; }

private:
    std::shared_ptr<const ast::Program> prog_;
};

// The message raise_exception() produced, when a render failed because the template raised it
// (errors of that kind start with this prefix): callers may show it to the user as is.
constexpr const char* kRaisedPrefix = "template raised: ";

} // namespace vkai::jinja
