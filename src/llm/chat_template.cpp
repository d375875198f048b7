// Chat prompt rendering: builds the variables transformers passes to a chat template (messages, tools,
// documents, add_generation_prompt, special tokens, extra kwargs) and renders the template with the
// bounded Jinja interpreter. Also picks a built-in template for models without one.
#include "llm/chat_template.h"

#include "base/log.h"
#include "llm/jinja/builtin_templates.h"
#include "llm/jinja/jinja.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace vkai::llm {

namespace {

using json = nlohmann::ordered_json; // keeps object key order, which tojson output depends on
using jinja::Value;

constexpr int kMaxJsonNesting = 128;

Result<Value> from_json(const json& j, int depth) {
    if (depth > kMaxJsonNesting) return fail(Code::invalid_argument, "JSON nested deeper than %d levels", kMaxJsonNesting);
    switch (j.type()) {
    case json::value_t::null: return Value::none();
    case json::value_t::boolean: return Value(j.get<bool>());
    case json::value_t::number_integer: return Value(int64_t(j.get<int64_t>()));
    case json::value_t::number_unsigned: {
        uint64_t u = j.get<uint64_t>();
        return u > uint64_t(INT64_MAX) ? Value(double(u)) : Value(int64_t(u));
    }
    case json::value_t::number_float: return Value(j.get<double>());
    case json::value_t::string: return Value(j.get<std::string>());
    case json::value_t::array: {
        jinja::List items;
        items.reserve(j.size());
        for (const auto& x : j) {
            VKAI_ASSIGN_OR_RETURN(Value v, from_json(x, depth + 1));
            items.push_back(std::move(v));
        }
        return Value::list(std::move(items));
    }
    case json::value_t::object: {
        auto d = std::make_shared<jinja::Dict>();
        for (auto it = j.begin(); it != j.end(); ++it) {
            VKAI_ASSIGN_OR_RETURN(Value v, from_json(it.value(), depth + 1));
            d->entries.emplace_back(Value(it.key()), std::move(v));
        }
        return Value::dict(std::move(d));
    }
    default: break;
    }
    return fail(Code::invalid_argument, "unsupported JSON value");
}

Result<Value> parse_json_value(const std::string& text, const char* what) {
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return fail(Code::invalid_argument, "%s is not valid JSON", what);
    return from_json(j, 0);
}

void put(jinja::Dict& d, const char* key, Value v) { d.entries.emplace_back(Value(key), std::move(v)); }

Result<Value> message_value(const Message& m, size_t index) {
    auto d = std::make_shared<jinja::Dict>();
    put(*d, "role", Value(m.role));
    if (!m.parts.empty()) {
        jinja::List parts;
        for (const auto& p : m.parts) {
            auto pd = std::make_shared<jinja::Dict>();
            put(*pd, "type", Value(p.type));
            put(*pd, "text", Value(p.text));
            parts.push_back(Value::dict(std::move(pd)));
        }
        put(*d, "content", Value::list(std::move(parts)));
    } else {
        put(*d, "content", m.content ? Value(*m.content) : Value::none());
    }
    if (m.reasoning_content) put(*d, "reasoning_content", Value(*m.reasoning_content));
    if (!m.tool_calls.empty()) {
        jinja::List calls;
        for (const auto& tc : m.tool_calls) {
            auto fn = std::make_shared<jinja::Dict>();
            put(*fn, "name", Value(tc.name));
            if (tc.arguments_is_text) {
                put(*fn, "arguments", Value(tc.arguments));
            } else {
                // Templates expect an object; text that is not JSON is passed through as a string.
                json j = json::parse(tc.arguments, nullptr, false);
                if (j.is_discarded()) {
                    put(*fn, "arguments", Value(tc.arguments));
                } else {
                    auto v = from_json(j, 0);
                    if (!v.ok()) {
                        Status st = v.status();
                        return st.with_context("message " + std::to_string(index) + " tool call arguments");
                    }
                    put(*fn, "arguments", std::move(v).value());
                }
            }
            auto c = std::make_shared<jinja::Dict>();
            if (!tc.id.empty()) put(*c, "id", Value(tc.id));
            put(*c, "type", Value(tc.type));
            put(*c, "function", Value::dict(std::move(fn)));
            calls.push_back(Value::dict(std::move(c)));
        }
        put(*d, "tool_calls", Value::list(std::move(calls)));
    }
    if (m.tool_call_id) put(*d, "tool_call_id", Value(*m.tool_call_id));
    if (m.name) put(*d, "name", Value(*m.name));
    return Value::dict(std::move(d));
}

} // namespace

ChatTemplate::ChatTemplate() = default;
ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(const ChatTemplate& o) : t_(o.t_ ? std::make_unique<jinja::Template>(*o.t_) : nullptr) {}
ChatTemplate& ChatTemplate::operator=(const ChatTemplate& o) {
    if (this != &o) t_ = o.t_ ? std::make_unique<jinja::Template>(*o.t_) : nullptr;
    return *this;
}

Result<ChatTemplate> ChatTemplate::parse(std::string_view template_text) {
    VKAI_ASSIGN_OR_RETURN(jinja::Template t, jinja::Template::parse(template_text));
    ChatTemplate ct;
    ct.t_ = std::make_unique<jinja::Template>(std::move(t));
    return ct;
}

Result<std::string> ChatTemplate::render(const std::vector<Message>& msgs, const ChatOptions& opt) const {
    if (!t_) return fail(Code::invalid_argument, "chat template not loaded");
    jinja::List messages;
    messages.reserve(msgs.size());
    for (size_t i = 0; i < msgs.size(); ++i) {
        VKAI_ASSIGN_OR_RETURN(Value m, message_value(msgs[i], i));
        messages.push_back(std::move(m));
    }
    // The variables transformers' render_jinja_template passes: tools and documents are None when
    // absent (so "tools is defined" holds), special tokens and extra kwargs follow.
    auto ctx = std::make_shared<jinja::Dict>();
    put(*ctx, "messages", Value::list(std::move(messages)));
    Value tools = Value::none();
    if (!opt.tools_json.empty()) {
        VKAI_ASSIGN_OR_RETURN(tools, parse_json_value(opt.tools_json, "tools"));
        if (!tools.is_list()) return fail(Code::invalid_argument, "tools must be a JSON array of tool definitions");
        if (tools.items().empty()) tools = Value::none();
    }
    put(*ctx, "tools", std::move(tools));
    put(*ctx, "documents", Value::none());
    put(*ctx, "add_generation_prompt", Value(opt.add_generation_prompt));
    put(*ctx, "bos_token", Value(opt.bos_token));
    put(*ctx, "eos_token", Value(opt.eos_token));
    if (opt.enable_thinking) ctx->set(Value("enable_thinking"), Value(*opt.enable_thinking));
    for (const auto& [name, text] : opt.extra_json) {
        VKAI_ASSIGN_OR_RETURN(Value v, parse_json_value(text, ("template variable '" + name + "'").c_str()));
        ctx->set(Value(name), std::move(v));
    }
    return t_->render(Value::dict(std::move(ctx)), jinja::Limits(), opt.now_unix);
}

Result<std::string> render_chat(const std::string& template_text, const std::vector<Message>& msgs, const ChatOptions& opt) {
    VKAI_ASSIGN_OR_RETURN(ChatTemplate t, ChatTemplate::parse(template_text));
    return t.render(msgs, opt);
}

const char* builtin_template(std::string_view name) {
    for (const auto& b : jinja::builtin_templates())
        if (name == b.name) return b.text;
    return nullptr;
}

std::vector<std::string> builtin_template_names() {
    std::vector<std::string> out;
    for (const auto& b : jinja::builtin_templates()) out.emplace_back(b.name);
    return out;
}

namespace {

bool has_token(const TemplateHints& h, std::string_view t) {
    return std::find(h.special_tokens.begin(), h.special_tokens.end(), t) != h.special_tokens.end();
}

bool name_has(const std::string& name, std::string_view part) {
    std::string lower;
    for (char c : name) lower += char(c >= 'A' && c <= 'Z' ? c + 32 : c);
    return lower.find(part) != std::string::npos;
}

} // namespace

const char* detect_builtin(const TemplateHints& h) {
    // Control tokens identify the prompt format more reliably than names do.
    if (has_token(h, "<｜User｜>") || has_token(h, "<｜Assistant｜>")) return "deepseek-r1";
    if (has_token(h, "<|start_header_id|>")) return name_has(h.model_name, "3.1") || name_has(h.model_name, "3.2") || name_has(h.model_name, "3.3") ? "llama3.1" : "llama3";
    if (has_token(h, "<start_of_turn>")) return "gemma";
    if (has_token(h, "<|im_sep|>")) return "phi4";
    if (has_token(h, "<|user|>") && has_token(h, "<|end|>")) return "phi3";
    if (has_token(h, "<|im_start|>")) {
        if (h.arch == "qwen3" || h.arch == "qwen3moe") return "qwen3";
        if (h.arch == "qwen2" || h.arch == "qwen2moe") return "qwen2.5";
        return "chatml";
    }
    if (has_token(h, "[AVAILABLE_TOOLS]") || has_token(h, "[INST]")) {
        if (name_has(h.model_name, "nemo") || h.arch == "mistral-nemo") return "mistral-nemo";
        return "mistral-v3";
    }
    if (name_has(h.model_name, "mistral") || name_has(h.model_name, "mixtral")) return "mistral-v1";
    if (h.arch == "llama" && (name_has(h.model_name, "llama-2") || name_has(h.model_name, "llama 2") || name_has(h.model_name, "llama2")))
        return "llama2";
    if (h.arch == "gemma" || h.arch == "gemma2" || h.arch == "gemma3") return "gemma";
    if (h.arch == "phi3") return "phi3";
    return "chatml";
}

std::string choose_template(const std::string& model_template, const TemplateHints& hints, std::string* source) {
    if (!model_template.empty()) {
        if (source) *source = "model";
        return model_template;
    }
    const char* name = detect_builtin(hints);
    VKAI_LOG_WARN("model has no tokenizer.chat_template; using the built-in '%s' template (arch '%s', name '%s'); "
                  "pass a template explicitly if the prompt format is different",
                  name, hints.arch.c_str(), hints.model_name.c_str());
    if (source) *source = name;
    return builtin_template(name);
}

} // namespace vkai::llm
