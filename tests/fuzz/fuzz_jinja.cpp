// libFuzzer target for the chat-template engine: arbitrary bytes as a template (parsed, then rendered
// over a small conversation with tools) and as message text in a built-in template. Errors are fine;
// a crash, hang, leak, unbounded allocation or an empty error message is a bug.
#include "llm/chat_template.h"
#include "llm/jinja/jinja.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

using namespace vkai;

namespace {

void check(bool cond) {
    if (!cond) std::abort();
}

jinja::Value dict(std::initializer_list<std::pair<const char*, jinja::Value>> kv) {
    auto d = std::make_shared<jinja::Dict>();
    for (const auto& [k, v] : kv) d->set(jinja::Value(k), v);
    return jinja::Value::dict(std::move(d));
}

jinja::Value context(const std::string& text) {
    using jinja::Value;
    Value call = dict({{"id", Value("call00001")}, {"type", Value("function")},
                       {"function", dict({{"name", Value("f")}, {"arguments", dict({{"x", Value(1)}})}})}});
    jinja::List msgs = {
        dict({{"role", Value("system")}, {"content", Value("sys")}}),
        dict({{"role", Value("user")}, {"content", Value(text.substr(0, 64))}}),
        dict({{"role", Value("assistant")}, {"content", Value::none()}, {"tool_calls", Value::list({call})}}),
        dict({{"role", Value("tool")}, {"content", Value("42")}, {"tool_call_id", Value("call00001")}}),
        dict({{"role", Value("user")}, {"content", Value::list({dict({{"type", Value("text")}, {"text", Value("hi")}})})}}),
    };
    Value tool = dict({{"type", Value("function")}, {"function", dict({{"name", Value("f")}, {"parameters", Value::empty_dict()}})}});
    return dict({{"messages", Value::list(std::move(msgs))}, {"tools", Value::list({tool})}, {"add_generation_prompt", Value(true)},
                 {"bos_token", Value("<s>")}, {"eos_token", Value("</s>")}, {"enable_thinking", Value(false)}});
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > (64 << 10)) return 0;
    std::string text(reinterpret_cast<const char*>(data), size);
    jinja::Limits lim;
    lim.max_steps = 200000;
    lim.max_iterations = 20000;
    lim.max_output_bytes = 1 << 20;
    lim.max_value_bytes = 1 << 20;
    lim.max_depth = 64;
    lim.max_seconds = 5;

    auto t = jinja::Template::parse(text, jinja::Options(), lim);
    if (!t.ok()) {
        check(!t.status().message().empty());
    } else {
        auto r = t->render(context(text), lim, 0);
        if (r.ok()) check(r->size() <= lim.max_output_bytes);
        else check(!r.status().message().empty());
    }

    // The same bytes as untrusted message text must never break a real template.
    static const std::vector<llm::ChatTemplate> builtins = [] {
        std::vector<llm::ChatTemplate> v;
        for (const char* name : {"chatml", "llama3.1", "qwen3", "mistral-v3"}) {
            auto t = llm::ChatTemplate::parse(llm::builtin_template(name));
            check(t.ok());
            v.push_back(*t);
        }
        return v;
    }();
    std::vector<llm::Message> msgs = {{"user", text, {}, {}, {}, {}, {}}};
    for (size_t i = 0; i < builtins.size(); ++i) {
        auto r = builtins[i].render(msgs, llm::ChatOptions());
        check(r.ok());
        if (i == 0) check(r->find(text) != std::string::npos); // chatml copies the text verbatim
    }
    return 0;
}
