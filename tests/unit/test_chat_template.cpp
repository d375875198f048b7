// Chat templates against HF transformers: every case in tests/models/chat_templates/expected.json
// (made by scripts/make_template_goldens.py on the GPU machine) must render byte-exact through
// llm::render_chat, or fail where transformers raised. Also checks the built-in templates.
#include "llm/chat_template.h"
#include "llm/jinja/builtin_templates.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

using namespace vkai;
using json = nlohmann::ordered_json;

namespace {

const std::string kDir = "tests/models/chat_templates/";

bool read_file(const std::string& path, std::string& out) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return false;
    std::stringstream ss;
    ss << f.rdbuf();
    out = ss.str();
    return true;
}

std::string fnv1a64(const std::string& s) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001B3ull;
    }
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
    return buf;
}

// conversations.json message dict -> llm::Message (the inverse of what render_chat hands templates).
llm::Message to_message(const json& m) {
    llm::Message msg;
    msg.role = m.at("role").get<std::string>();
    const json& c = m.at("content");
    if (c.is_string()) msg.content = c.get<std::string>();
    else if (c.is_array())
        for (const auto& p : c) msg.parts.push_back({p.at("type").get<std::string>(), p.at("text").get<std::string>()});
    if (m.contains("reasoning_content")) msg.reasoning_content = m["reasoning_content"].get<std::string>();
    if (m.contains("tool_calls")) {
        for (const auto& tc : m["tool_calls"]) {
            llm::ToolCall call;
            call.id = tc.value("id", "");
            call.type = tc.value("type", "function");
            call.name = tc.at("function").at("name").get<std::string>();
            const json& args = tc["function"]["arguments"];
            call.arguments_is_text = args.is_string();
            call.arguments = args.is_string() ? args.get<std::string>() : args.dump();
            msg.tool_calls.push_back(std::move(call));
        }
    }
    if (m.contains("tool_call_id")) msg.tool_call_id = m["tool_call_id"].get<std::string>();
    if (m.contains("name")) msg.name = m["name"].get<std::string>();
    return msg;
}

// Where two strings first differ, with both shown around that offset (escaped, so whitespace shows).
std::string diff_message(const std::string& got, const std::string& want) {
    size_t i = 0;
    while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
    auto around = [&](const std::string& s) {
        size_t from = i > 60 ? i - 60 : 0;
        return json(s.substr(from, 120)).dump();
    };
    std::ostringstream os;
    os << "first difference at byte " << i << " (got " << got.size() << " bytes, want " << want.size() << ")\n"
       << "  got:  ..." << around(got) << "...\n"
       << "  want: ..." << around(want) << "...\n"
       << "  full got:  " << json(got).dump() << "\n"
       << "  full want: " << json(want).dump();
    return os.str();
}

} // namespace

TEST(ChatTemplate, MatchesTransformers) {
    const char* env = std::getenv("VKAI_CHAT_EXPECTED");
    std::string expected_path = env ? env : kDir + "expected.json";
    std::string conv_text, exp_text;
    ASSERT_TRUE(read_file(kDir + "conversations.json", conv_text)) << "missing " << kDir << "conversations.json";
    if (!read_file(expected_path, exp_text))
        GTEST_SKIP() << "no " << expected_path << " yet: generate it on the GPU machine with "
                     << "'python3 scripts/make_template_goldens.py $OUT' and commit $OUT/expected.json there";
    json spec = json::parse(conv_text);
    json expected = json::parse(exp_text);
    ASSERT_TRUE(expected.contains("cases") && !expected["cases"].empty());

    std::map<std::string, std::string> texts;
    for (const auto& [name, info] : expected["templates"].items()) {
        std::string text;
        ASSERT_TRUE(read_file(kDir + name + ".jinja", text)) << "missing template " << name;
        EXPECT_EQ(fnv1a64(text), info["fnv1a64"].get<std::string>())
            << name << ".jinja changed after expected.json was made; regenerate the goldens";
        texts[name] = text;
    }

    int n = 0, failed = 0;
    for (const auto& c : expected["cases"]) {
        const std::string tname = c["template"].get<std::string>();
        const std::string cname = c["conversation"].get<std::string>();
        const std::string vname = c["variant"].get<std::string>();
        const json& tspec = spec["templates"][tname];
        const json& conv = spec["conversations"][cname];
        std::vector<llm::Message> msgs;
        for (const auto& m : conv["messages"]) msgs.push_back(to_message(m));
        llm::ChatOptions opt;
        opt.add_generation_prompt = c["add_generation_prompt"].get<bool>();
        opt.bos_token = tspec["bos_token"].get<std::string>();
        opt.eos_token = tspec["eos_token"].get<std::string>();
        if (conv.contains("tools")) opt.tools_json = spec["tools"][conv["tools"].get<std::string>()].dump();
        if (tspec.contains("variants")) {
            for (const auto& v : tspec["variants"]) {
                if (v["name"] != vname) continue;
                for (const auto& [k, val] : v["kwargs"].items()) {
                    if (k == "enable_thinking") opt.enable_thinking = val.get<bool>();
                    else opt.extra_json.emplace_back(k, val.dump());
                }
            }
        }
        std::string label = tname + " / " + cname + " / " + vname + (opt.add_generation_prompt ? " / gen" : " / no-gen");
        auto r = llm::render_chat(texts[tname], msgs, opt);
        ++n;
        if (c.contains("output")) {
            if (!r.ok()) {
                ADD_FAILURE() << label << ": transformers rendered it, vkai failed: " << r.status().message();
                ++failed;
            } else if (*r != c["output"].get<std::string>()) {
                ADD_FAILURE() << label << ": " << diff_message(*r, c["output"].get<std::string>());
                ++failed;
            }
        } else {
            // Where the template itself raised (TemplateError), the message must come through.
            if (r.ok()) {
                ADD_FAILURE() << label << ": transformers raised " << c["error_type"] << " (" << c["error"] << "), vkai rendered "
                              << json(*r).dump();
                ++failed;
            } else if (c["error_type"] == "TemplateError" &&
                       r.status().message().find(c["error"].get<std::string>()) == std::string::npos) {
                ADD_FAILURE() << label << ": error message differs: got '" << r.status().message() << "', want '"
                              << c["error"].get<std::string>() << "'";
                ++failed;
            }
        }
    }
    std::printf("chat templates: %d of %d cases match transformers (%s)\n", n - failed, n,
                expected.value("transformers_version", "?").c_str());
}

TEST(ChatTemplate, BuiltinsAreTheTemplateFiles) {
    std::vector<std::string> names = llm::builtin_template_names();
    ASSERT_GE(names.size(), 3u);
    for (const char* must : {"chatml", "llama2", "llama3"})
        EXPECT_NE(llm::builtin_template(must), nullptr) << must;
    EXPECT_EQ(llm::builtin_template("no-such-template"), nullptr);
    for (const auto& b : jinja::builtin_templates()) {
        std::string file;
        ASSERT_TRUE(read_file(kDir + b.file + ".jinja", file)) << b.file;
        EXPECT_EQ(file, b.text) << "built-in '" << b.name << "' differs from " << b.file << ".jinja";
    }
    for (const auto& name : names) {
        const char* text = llm::builtin_template(name);
        ASSERT_NE(text, nullptr);
        // Every built-in must parse and render a plain conversation.
        std::vector<llm::Message> msgs = {{"user", "Hi", {}, {}, {}, {}, {}}};
        llm::ChatOptions opt;
        opt.bos_token = "<s>";
        opt.eos_token = "</s>";
        auto r = llm::render_chat(text, msgs, opt);
        EXPECT_TRUE(r.ok()) << name << ": " << r.status().message();
        if (r.ok()) {
            EXPECT_NE(r->find("Hi"), std::string::npos) << name;
        }
    }
}

TEST(ChatTemplate, DetectBuiltin) {
    llm::TemplateHints h;
    EXPECT_STREQ(llm::detect_builtin(h), "chatml");
    h.special_tokens = {"<|begin_of_text|>", "<|start_header_id|>", "<|eot_id|>"};
    EXPECT_STREQ(llm::detect_builtin(h), "llama3");
    h.model_name = "Meta Llama 3.1 8B Instruct";
    EXPECT_STREQ(llm::detect_builtin(h), "llama3.1");
    h = {};
    h.arch = "qwen3";
    h.special_tokens = {"<|im_start|>", "<|im_end|>"};
    EXPECT_STREQ(llm::detect_builtin(h), "qwen3");
    h = {};
    h.arch = "llama";
    h.model_name = "Llama-2-7b-chat";
    EXPECT_STREQ(llm::detect_builtin(h), "llama2");
    h.model_name = "Mistral-7B-Instruct-v0.1";
    EXPECT_STREQ(llm::detect_builtin(h), "mistral-v1");
    h.special_tokens = {"[INST]", "[/INST]", "[AVAILABLE_TOOLS]"};
    EXPECT_STREQ(llm::detect_builtin(h), "mistral-v3");
    h = {};
    h.special_tokens = {"<start_of_turn>", "<end_of_turn>"};
    EXPECT_STREQ(llm::detect_builtin(h), "gemma");
    for (const char* name : {"chatml", "llama3", "llama3.1", "qwen3", "llama2", "mistral-v1", "mistral-v3", "gemma"})
        EXPECT_NE(llm::builtin_template(name), nullptr) << name;

    std::string source;
    std::string t = llm::choose_template("", h, &source);
    EXPECT_EQ(source, "gemma");
    EXPECT_EQ(t, llm::builtin_template("gemma"));
    EXPECT_EQ(llm::choose_template("{{ x }}", h, &source), "{{ x }}");
    EXPECT_EQ(source, "model");
}

TEST(ChatTemplate, MessageShapes) {
    // What templates see: key order, None content, parts, tool calls with object or text arguments.
    const std::string t =
        "{% for m in messages %}{{ m|tojson }}\n{% endfor %}{{ tools|tojson }}|{{ add_generation_prompt }}|{{ enable_thinking is defined }}|{{ x }}";
    llm::Message a{"assistant", std::nullopt, {}, std::string("why"), {}, {}, {}};
    llm::ToolCall tc;
    tc.id = "call00001";
    tc.name = "f";
    tc.arguments = R"({"b": 1, "a": [true, null, 2.5]})";
    a.tool_calls.push_back(tc);
    tc.arguments = "not json";
    a.tool_calls.push_back(tc);
    tc.arguments = R"({"q": 1})";
    tc.arguments_is_text = true;
    a.tool_calls.push_back(tc);
    llm::Message u{"user", {}, {{"text", "hi"}}, {}, {}, {}, std::string("bob")};
    llm::Message tool{"tool", std::string("42"), {}, {}, {}, std::string("call00001"), {}};
    llm::ChatOptions opt;
    opt.add_generation_prompt = false;
    opt.extra_json = {{"x", R"({"k": "v"})"}};
    auto r = llm::render_chat(t, {u, a, tool}, opt);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(*r,
              "{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"hi\"}], \"name\": \"bob\"}\n"
              "{\"role\": \"assistant\", \"content\": null, \"reasoning_content\": \"why\", \"tool_calls\": ["
              "{\"id\": \"call00001\", \"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": {\"b\": 1, \"a\": [true, null, 2.5]}}}, "
              "{\"id\": \"call00001\", \"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": \"not json\"}}, "
              "{\"id\": \"call00001\", \"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": \"{\\\"q\\\": 1}\"}}]}\n"
              "{\"role\": \"tool\", \"content\": \"42\", \"tool_call_id\": \"call00001\"}\n"
              "null|False|False|{'k': 'v'}");

    opt.tools_json = "[1";
    EXPECT_FALSE(llm::render_chat(t, {u}, opt).ok());
    opt.tools_json = "{}";
    EXPECT_FALSE(llm::render_chat(t, {u}, opt).ok());
    opt.tools_json = "[]";
    opt.enable_thinking = false;
    auto r2 = llm::render_chat(t, {}, opt);
    ASSERT_TRUE(r2.ok()) << r2.status().message();
    EXPECT_EQ(*r2, "null|False|True|{'k': 'v'}");
}

TEST(ChatTemplate, ParseOnceRenderMany) {
    auto t = llm::ChatTemplate::parse(llm::builtin_template("chatml"));
    ASSERT_TRUE(t.ok());
    llm::ChatTemplate copy = *t;
    llm::ChatOptions opt;
    auto a = t->render({{"user", std::string("one"), {}, {}, {}, {}, {}}}, opt);
    auto b = copy.render({{"user", std::string("two"), {}, {}, {}, {}, {}}}, opt);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(*a, "<|im_start|>user\none<|im_end|>\n<|im_start|>assistant\n");
    EXPECT_EQ(*b, "<|im_start|>user\ntwo<|im_end|>\n<|im_start|>assistant\n");
    EXPECT_FALSE(llm::ChatTemplate::parse("{% if %}").ok());
    llm::ChatTemplate empty;
    EXPECT_FALSE(empty.render({}, opt).ok());
}
