// Chat prompts: renders a model's Jinja chat template (tokenizer.chat_template) over a conversation the
// way HF transformers' apply_chat_template does, with built-in templates for models that ship none.
#pragma once

#include "base/status.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vkai::jinja {
class Template;
}

namespace vkai::llm {

struct ToolCall {
    std::string id;                 // left out of the message when empty
    std::string type = "function";
    std::string name;
    std::string arguments = "{}";   // JSON text (OpenAI sends a string)
    // false: templates see the arguments parsed into an object (what most templates expect, e.g.
    // "arguments | tojson"); true: they see the JSON text as a string (DeepSeek concatenates it).
    bool arguments_is_text = false;
};

struct ContentPart {
    std::string type = "text";
    std::string text;
};

// One turn. Templates see a dict {role, content, [reasoning_content], [tool_calls], [tool_call_id],
// [name]} in that key order; optional fields are absent unless set.
struct Message {
    std::string role;
    std::optional<std::string> content;  // nullopt: content is None (a turn that only calls tools)
    std::vector<ContentPart> parts;       // non-empty: content is this list of parts instead
    std::optional<std::string> reasoning_content;
    std::vector<ToolCall> tool_calls;
    std::optional<std::string> tool_call_id;
    std::optional<std::string> name;
};

struct ChatOptions {
    bool add_generation_prompt = true;
    std::string bos_token;
    std::string eos_token;
    std::string tools_json;                // JSON array of tool definitions; empty: tools is None
    std::optional<bool> enable_thinking;   // Qwen3 and others; unset: the variable is undefined
    // More template variables: name and JSON value text ({"date_string", "\"26 Jul 2024\""}).
    std::vector<std::pair<std::string, std::string>> extra_json;
    int64_t now_unix = -1;                 // time for strftime_now(); < 0: the clock
};

// A parsed template, reusable across requests (thread-safe to render concurrently).
class ChatTemplate {
public:
    ChatTemplate();
    ~ChatTemplate();
    ChatTemplate(const ChatTemplate&);
    ChatTemplate& operator=(const ChatTemplate&);

    // Errors name the template line; templates are untrusted and parsing is bounded.
    static Result<ChatTemplate> parse(std::string_view template_text);
    Result<std::string> render(const std::vector<Message>& msgs, const ChatOptions& opt) const;

private:
    std::unique_ptr<jinja::Template> t_;
};

// Parse + render in one call.
Result<std::string> render_chat(const std::string& template_text, const std::vector<Message>& msgs, const ChatOptions& opt);

// ---- built-in templates (exact copies of the models' own templates) ----
// Names: chatml, llama2, llama3, llama3.1, mistral-v1, mistral-v3, mistral-nemo, gemma, phi3, phi4,
// qwen2.5, qwen3, deepseek-r1. nullptr for an unknown name.
const char* builtin_template(std::string_view name);
std::vector<std::string> builtin_template_names();

// What the GGUF says about the model, for choosing a built-in template when it has none.
struct TemplateHints {
    std::string arch;                        // general.architecture
    std::string model_name;                  // general.name
    std::vector<std::string> special_tokens; // texts of the vocabulary's control tokens
};
// The built-in template that fits best; never null ("chatml" when nothing matches).
const char* detect_builtin(const TemplateHints& hints);

// The template to use: the model's own when it has one, else the detected built-in, with a log line
// saying which built-in was chosen and why. source (optional) receives "model" or the built-in name.
std::string choose_template(const std::string& model_template, const TemplateHints& hints, std::string* source = nullptr);

} // namespace vkai::llm
