// Chat templates compiled into the binary, for models that ship without one (see llm/chat_template.h).
#pragma once

#include <span>

namespace vkai::jinja {

struct BuiltinTemplate {
    const char* name; // the name users pick it by ("llama3")
    const char* file; // tests/models/chat_templates/<file>.jinja holds the same text
    const char* text;
};

std::span<const BuiltinTemplate> builtin_templates();

} // namespace vkai::jinja
