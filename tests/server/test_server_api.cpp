// The HTTP API of vkai serve against the real stories260K model: endpoint shapes (OpenAI, Ollama,
// llama.cpp extras), SSE framing, and errors in the OpenAI shape.
#include "server_fixture.h"

#include <thread>

namespace vkai::server::testing {
namespace {

class ServerApi : public ::testing::Test {
protected:
    static void SetUpTestSuite() { srv_ = start_server().release(); }
    static void TearDownTestSuite() {
        delete srv_;
        srv_ = nullptr;
    }
    static int port() { return srv_->port(); }
    static Server* srv_;
};
Server* ServerApi::srv_ = nullptr;

json chat_body(int max_tokens = 12, bool stream = false) {
    return {{"model", "stories260K"}, {"messages", {{{"role", "user"}, {"content", "Once upon a time"}}}}, {"max_tokens", max_tokens},
            {"seed", 42}, {"stream", stream}};
}

TEST_F(ServerApi, HealthAndModels) {
    ASSERT_TRUE(srv_);
    auto h = get(port(), "/health");
    ASSERT_TRUE(h);
    // 200 once loaded; 503 with an OpenAI error while the first model loads.
    if (h->status == 503) expect_error(h, 503, "unavailable_error");
    for (const char* path : {"/v1/models", "/models"}) {
        auto r = get(port(), path);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
        json j = json::parse(r->body);
        EXPECT_EQ(j["object"], "list");
        ASSERT_EQ(j["data"].size(), 1u);
        EXPECT_EQ(j["data"][0]["id"], "stories260K");
        EXPECT_EQ(j["data"][0]["object"], "model");
        EXPECT_TRUE(j["data"][0]["created"].is_number());
        EXPECT_EQ(j["data"][0]["owned_by"], "vkai");
        EXPECT_EQ(j["data"][0]["aliases"][0], "tiny");
    }
}

TEST_F(ServerApi, ChatNonStream) {
    auto r = post_json(port(), "/v1/chat/completions", chat_body().dump());
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    json j = json::parse(r->body);
    EXPECT_EQ(j["object"], "chat.completion");
    EXPECT_NE(j["id"].get<std::string>().find("chatcmpl-"), std::string::npos);
    EXPECT_EQ(j["model"], "stories260K");
    EXPECT_EQ(j["system_fingerprint"].get<std::string>()[0], 'b');
    const json& c = j["choices"][0];
    EXPECT_EQ(c["message"]["role"], "assistant");
    EXPECT_TRUE(c["message"]["content"].is_string());
    EXPECT_FALSE(c["message"]["content"].get<std::string>().empty());
    EXPECT_EQ(c["finish_reason"], "length");
    EXPECT_EQ(j["usage"]["completion_tokens"], 12);
    EXPECT_GT(j["usage"]["prompt_tokens"].get<int>(), 3);
    EXPECT_EQ(j["usage"]["total_tokens"], j["usage"]["prompt_tokens"].get<int>() + 12);
    ASSERT_TRUE(j["timings"].is_object());
    EXPECT_EQ(j["timings"]["predicted_n"], 12);
    EXPECT_EQ(j["seed"], 42);

    // Same seed, same text; an alias and max_completion_tokens (preferred over max_tokens) work.
    json b = chat_body(50);
    b["model"] = "tiny";
    b["max_completion_tokens"] = 12;
    auto r2 = post_json(port(), "/chat/completions", b.dump());
    ASSERT_TRUE(r2);
    json j2 = json::parse(r2->body);
    EXPECT_EQ(j2["choices"][0]["message"]["content"], c["message"]["content"]);
    EXPECT_EQ(j2["model"], "tiny");
}

TEST_F(ServerApi, ChatStreamFraming) {
    json b = chat_body(10, true);
    b["stream_options"] = {{"include_usage", true}};
    SseResult s = post_sse(port(), "/v1/chat/completions", b);
    ASSERT_EQ(s.status, 200) << s.raw;
    EXPECT_NE(s.content_type.find("text/event-stream"), std::string::npos);
    ASSERT_GE(s.data.size(), 4u) << s.raw;
    EXPECT_EQ(s.data.back(), "[DONE]");
    std::string id, text;
    for (size_t i = 0; i + 1 < s.data.size(); ++i) {
        json j = json::parse(s.data[i], nullptr, false);
        ASSERT_FALSE(j.is_discarded()) << s.data[i];
        EXPECT_EQ(j["object"], "chat.completion.chunk");
        if (id.empty()) id = j["id"];
        EXPECT_EQ(j["id"], id); // one id for every chunk
        EXPECT_FALSE(j.contains("timings") && j["timings"].is_null());
        if (i == 0) {
            EXPECT_EQ(j["choices"][0]["delta"]["role"], "assistant");
            EXPECT_TRUE(j["choices"][0]["delta"]["content"].is_null());
            EXPECT_FALSE(j.contains("timings"));
        } else if (i + 2 == s.data.size()) {
            // The usage chunk: empty choices.
            EXPECT_TRUE(j["choices"].empty());
            EXPECT_EQ(j["usage"]["completion_tokens"], 10);
        } else if (i + 3 == s.data.size()) {
            EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
            EXPECT_TRUE(j["choices"][0]["delta"].empty());
            EXPECT_TRUE(j["timings"].is_object());
        } else {
            EXPECT_TRUE(j["choices"][0]["finish_reason"].is_null());
            EXPECT_FALSE(j["choices"][0]["delta"].contains("role"));
            text += j["choices"][0]["delta"]["content"].get<std::string>();
        }
    }
    // Streamed text equals the non-streamed text for the same seed.
    auto r = post_json(port(), "/v1/chat/completions", chat_body(10).dump());
    ASSERT_TRUE(r);
    EXPECT_EQ(json::parse(r->body)["choices"][0]["message"]["content"], text);
}

TEST_F(ServerApi, CompletionsStopAndLogprobs) {
    json b = {{"prompt", "Once upon a time"}, {"max_tokens", 40}, {"temperature", 0}};
    auto r = post_json(port(), "/v1/completions", b.dump());
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    json j = json::parse(r->body);
    EXPECT_EQ(j["object"], "text_completion");
    const std::string text = j["choices"][0]["text"];
    ASSERT_GT(text.size(), 10u);
    // A stop string cuts the text before it, finish_reason "stop".
    const std::string stop = text.substr(5, 3);
    b["stop"] = json::array({stop, "zzzz"});
    auto r2 = post_json(port(), "/v1/completions", b.dump());
    json j2 = json::parse(r2->body);
    EXPECT_EQ(j2["choices"][0]["finish_reason"], "stop");
    EXPECT_EQ(j2["choices"][0]["text"], text.substr(0, text.find(stop)));
    // max_tokens 0: nothing generated, finish_reason "length".
    json z = {{"prompt", "Once"}, {"max_tokens", 0}};
    json jz = json::parse(post_json(port(), "/v1/completions", z.dump())->body);
    EXPECT_EQ(jz["choices"][0]["text"], "");
    EXPECT_EQ(jz["choices"][0]["finish_reason"], "length");
    EXPECT_EQ(jz["usage"]["completion_tokens"], 0);
    // Legacy logprobs.
    b.erase("stop");
    b["max_tokens"] = 5;
    b["logprobs"] = 3;
    json j3 = json::parse(post_json(port(), "/v1/completions", b.dump())->body);
    const json& lp = j3["choices"][0]["logprobs"];
    ASSERT_EQ(lp["tokens"].size(), 5u);
    ASSERT_EQ(lp["top_logprobs"][0].size(), 3u);
    EXPECT_LE(lp["token_logprobs"][0].get<double>(), 0.0);
    // Greedy: the chosen token is the most likely one.
    double best = -1e30;
    for (auto& [k, v] : lp["top_logprobs"][0].items()) best = std::max(best, v.get<double>());
    EXPECT_FLOAT_EQ(float(best), lp["token_logprobs"][0].get<float>());
}

TEST_F(ServerApi, ChatLogprobsAndContentParts) {
    json b = chat_body(4);
    b["messages"][0]["content"] = json::array({{{"type", "text"}, {"text", "Once upon"}}, {{"type", "text"}, {"text", "a time"}}});
    b["logprobs"] = true;
    b["top_logprobs"] = 2;
    b["some_unknown_key"] = {{"x", 1}};
    b["user"] = {{"name", "a"}, {"id", "b"}};
    auto r = post_json(port(), "/v1/chat/completions", b.dump());
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    json j = json::parse(r->body);
    const json& c = j["choices"][0]["logprobs"]["content"];
    ASSERT_EQ(c.size(), 4u);
    EXPECT_TRUE(c[0]["token"].is_string());
    EXPECT_TRUE(c[0]["bytes"].is_array());
    EXPECT_EQ(c[0]["top_logprobs"].size(), 2u);
    // An image part: 400 "does not support images".
    b["messages"][0]["content"] = json::array({{{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64,AAAA"}}}}});
    auto r2 = post_json(port(), "/v1/chat/completions", b.dump());
    expect_error(r2, 400, "invalid_request_error");
    EXPECT_NE(r2->body.find("does not support images"), std::string::npos);
}

TEST_F(ServerApi, JsonObjectResponseFormat) {
    json b = chat_body(60);
    b["response_format"] = {{"type", "json_object"}};
    b["temperature"] = 1.0;
    for (int seed : {1, 2, 3}) {
        b["seed"] = seed;
        auto r = post_json(port(), "/v1/chat/completions", b.dump());
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 200) << r->body;
        json j = json::parse(r->body);
        const std::string content = j["choices"][0]["message"]["content"];
        ASSERT_FALSE(content.empty());
        // Either a complete object (stop) or a valid prefix cut by max_tokens (length).
        if (j["choices"][0]["finish_reason"] == "stop") {
            json v = json::parse(content, nullptr, false);
            EXPECT_TRUE(v.is_object()) << content;
        } else {
            EXPECT_EQ(content.find_first_not_of(" \n\t"), content.find('{')) << content;
        }
    }
}

TEST_F(ServerApi, TokenizeDetokenize) {
    auto r = post_json(port(), "/tokenize", R"({"content":"Once upon a time","with_pieces":false})");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    json t = json::parse(r->body)["tokens"];
    ASSERT_GT(t.size(), 2u);
    auto d = post_json(port(), "/detokenize", json{{"tokens", t}}.dump());
    EXPECT_EQ(json::parse(d->body)["content"], "Once upon a time");
    expect_error(post_json(port(), "/detokenize", R"({"tokens":[99999999]})"), 400);
    expect_error(post_json(port(), "/detokenize", R"({"tokens":"abc"})"), 400);
}

TEST_F(ServerApi, Metrics) {
    auto r = get(port(), "/metrics");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->body.find("# TYPE vkai_http_requests_total counter"), std::string::npos);
    EXPECT_NE(r->body.find("vkai_slots_total{model=\"stories260K\"} 4"), std::string::npos) << r->body;
    EXPECT_NE(r->body.find("vkai_queue_length{model=\"stories260K\"} 0"), std::string::npos);
}

TEST_F(ServerApi, Ollama) {
    auto tags = get(port(), "/api/tags");
    ASSERT_TRUE(tags);
    EXPECT_EQ(json::parse(tags->body)["models"][0]["name"], "stories260K:latest");
    EXPECT_TRUE(json::parse(get(port(), "/api/version")->body)["version"].is_string());
    // Streaming NDJSON by default.
    json b = {{"model", "stories260K:latest"}, {"messages", {{{"role", "user"}, {"content", "Once"}}}}, {"options", {{"num_predict", 6}, {"seed", 3}}}};
    auto r = post_json(port(), "/api/chat", b.dump());
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_NE(r->get_header_value("Content-Type").find("application/x-ndjson"), std::string::npos);
    std::vector<json> lines;
    size_t pos = 0;
    while (pos < r->body.size()) {
        size_t e = r->body.find('\n', pos);
        ASSERT_NE(e, std::string::npos);
        lines.push_back(json::parse(r->body.substr(pos, e - pos)));
        pos = e + 1;
    }
    ASSERT_GE(lines.size(), 2u);
    std::string text;
    for (size_t i = 0; i + 1 < lines.size(); ++i) {
        EXPECT_EQ(lines[i]["done"], false);
        text += lines[i]["message"]["content"].get<std::string>();
    }
    const json& last = lines.back();
    EXPECT_EQ(last["done"], true);
    EXPECT_EQ(last["eval_count"], 6);
    EXPECT_GT(last["prompt_eval_count"].get<int>(), 0);
    EXPECT_TRUE(last["eval_duration"].is_number_integer());
    // Non-stream /api/generate.
    json g = {{"model", "stories260K"}, {"prompt", "Once"}, {"stream", false}, {"options", {{"num_predict", 6}, {"seed", 3}}}};
    auto rg = post_json(port(), "/api/generate", g.dump());
    ASSERT_TRUE(rg);
    json jg = json::parse(rg->body);
    EXPECT_EQ(jg["done"], true);
    EXPECT_EQ(jg["response"], text); // same prompt template, same seed
}

TEST_F(ServerApi, Errors) {
    expect_error(post_json(port(), "/v1/chat/completions", "{not json"), 400, "invalid_request_error");
    expect_error(post_json(port(), "/v1/chat/completions", "[1,2]"), 400);
    expect_error(post_json(port(), "/v1/chat/completions", R"({"messages":"hi"})"), 400);
    expect_error(post_json(port(), "/v1/chat/completions", R"({"messages":[{"role":"user","content":5}]})"), 400);
    expect_error(post_json(port(), "/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}],"temperature":"hot"})"), 400);
    expect_error(post_json(port(), "/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}],"max_tokens":1e300})"), 400);
    expect_error(post_json(port(), "/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}],"top_k":123456789012345678901234567890})"), 400);
    expect_error(post_json(port(), "/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}],"stop":[1,2]})"), 400);
    expect_error(post_json(port(), "/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}],"n":3})"), 400);
    expect_error(post_json(port(), "/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"yaml"}})"), 400);
    // Unknown model and path tricks: 404, no file is opened.
    for (const char* m : {"nope", "../models/stories260K", "/etc/passwd", "models/stories260K.gguf", "stories260K/../x"}) {
        json b = chat_body();
        b["model"] = m;
        expect_error(post_json(port(), "/v1/chat/completions", b.dump()), 404, "not_found_error");
    }
    expect_error(post_json(port(), "/v1/embeddings", R"({"model":"stories260K","input":"x"})"), 501, "not_supported_error");
    expect_error(post_json(port(), "/v1/embeddings", R"({"model":"zzz","input":"x"})"), 404);
    expect_error(get(port(), "/v1/nothing"), 404);
    expect_error(get(port(), "/v1/chat/completions"), 405);
    // Prompt longer than a slot: 400 exceed_context_size_error with the sizes.
    std::string long_text;
    for (int i = 0; i < 1500; ++i) long_text += "time ";
    json b = chat_body();
    b["messages"][0]["content"] = long_text;
    auto r = post_json(port(), "/v1/chat/completions", b.dump());
    expect_error(r, 400, "exceed_context_size_error");
    EXPECT_TRUE(json::parse(r->body)["error"]["n_ctx"].is_number());
}

TEST_F(ServerApi, HostileInputs) {
    // 100k-deep nesting: 400, and the server keeps serving.
    std::string deep(100000, '[');
    expect_error(post_json(port(), "/v1/chat/completions", deep), 400);
    std::string deep_obj;
    for (int i = 0; i < 100000; ++i) deep_obj += "{\"a\":";
    expect_error(post_json(port(), "/v1/chat/completions", deep_obj), 400);
    // Invalid UTF-8 inside a string.
    expect_error(post_json(port(), "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}"), 400);
    // Oversized body: 413 with a JSON error.
    std::string big(9u << 20, ' ');
    expect_error(post_json(port(), "/v1/chat/completions", big), 413);
    // Wrong types everywhere.
    for (const char* body : {R"({"messages":[{"role":5}]})", R"({"messages":[null]})", R"({"messages":[{"role":"user","content":[5]}]})",
                             R"({"messages":[{"role":"user","content":"x"}],"stream":"yes"})", R"({"messages":[{"role":"user","content":"x"}],"seed":1.5})",
                             R"({"messages":[{"role":"user","content":"x"}],"stream_options":7})", R"({"model":7,"messages":[]})",
                             R"({"prompt":{"a":1}})", R"({"prompt":[1,-5]})"}) {
        const bool completion = std::string(body).find("prompt") != std::string::npos;
        expect_error(post_json(port(), completion ? "/v1/completions" : "/v1/chat/completions", body), 400);
    }
    // Huge and odd seeds are accepted and reported.
    json b = chat_body(2);
    b["seed"] = 18446744073709551615ull;
    auto r = post_json(port(), "/v1/chat/completions", b.dump());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    b["seed"] = -2;
    r = post_json(port(), "/v1/chat/completions", b.dump());
    EXPECT_EQ(r->status, 200);
    EXPECT_GE(json::parse(r->body)["seed"].get<uint64_t>(), 0u);
    // Still serving.
    EXPECT_EQ(get(port(), "/health")->status, 200);
}

TEST_F(ServerApi, HostHeaderAndWebUi) {
    auto bad = get(port(), "/health", {{"Host", "evil.example"}});
    expect_error(bad, 403, "permission_error");
    EXPECT_EQ(get(port(), "/health", {{"Host", "localhost:1234"}})->status, 200);
    EXPECT_EQ(get(port(), "/health", {{"Host", "[::1]:1234"}})->status, 200);
    auto page = get(port(), "/");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, 200);
    EXPECT_NE(page->get_header_value("Content-Type").find("text/html"), std::string::npos);
    EXPECT_NE(page->body.find("<html"), std::string::npos);
    auto same = get(port(), "/index.html");
    EXPECT_EQ(same->body, page->body);
    expect_error(get(port(), "/../../etc/passwd"), 404);
    // No CORS headers unless configured.
    auto o = get(port(), "/v1/models", {{"Origin", "http://evil.example"}});
    EXPECT_FALSE(o->has_header("Access-Control-Allow-Origin"));
}

TEST(ServerAuth, KeyAndCors) {
    ServeConfig cfg;
    cfg.http.api_key = "sekret";
    cfg.http.cors_origin = "http://ui.example";
    cfg.preload_first = false;
    auto srv = start_server(cfg, 1);
    ASSERT_TRUE(srv);
    const int port = srv->port();
    // Public: health and models. (health may say 503 before the first load; it never asks for a key)
    EXPECT_NE(get(port, "/health")->status, 401);
    EXPECT_EQ(get(port, "/v1/models")->status, 200);
    const std::string body = chat_body(2).dump();
    expect_error(post_json(port, "/v1/chat/completions", body), 401, "authentication_error");
    expect_error(post_json(port, "/v1/chat/completions", body, {{"Authorization", "Bearer "}}), 401);
    expect_error(post_json(port, "/v1/chat/completions", body, {{"Authorization", "Bearer sekreT"}}), 401);
    expect_error(get(port, "/metrics"), 401);
    auto ok = post_json(port, "/v1/chat/completions", body, {{"Authorization", "Bearer sekret"}});
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200) << ok->body;
    EXPECT_EQ(post_json(port, "/v1/chat/completions", body, {{"X-Api-Key", "sekret"}})->status, 200);
    auto c = get(port, "/v1/models", {{"Origin", "http://ui.example"}});
    EXPECT_EQ(c->get_header_value("Access-Control-Allow-Origin"), "http://ui.example");
    auto other = get(port, "/v1/models", {{"Origin", "http://evil.example"}});
    EXPECT_FALSE(other->has_header("Access-Control-Allow-Origin"));
    httplib::Client cli("127.0.0.1", port);
    auto pre = cli.Options("/v1/chat/completions", {{"Origin", "http://ui.example"}, {"Access-Control-Request-Method", "POST"}});
    ASSERT_TRUE(pre);
    EXPECT_EQ(pre->status, 204);
    EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Origin"), "http://ui.example");
}

// A slow load: /v1/models and /health answer at once (health 503 "loading"), a chat request waits
// for the load and then succeeds.
TEST(ServerLoading, ModelsAnswersWhileLoading) {
    ServeConfig cfg;
    ModelSpec s;
    s.path = kModel;
    s.id = "slow";
    cfg.models = {s};
    cfg.http.port = 0;
    Loader inner = cpu_loader(1, 1);
    auto srv = Server::start(cfg, [inner](const ModelSpec& spec) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        return inner(spec);
    });
    ASSERT_TRUE(srv.ok());
    const int port = (*srv)->port();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto t0 = std::chrono::steady_clock::now();
    auto m = get(port, "/v1/models");
    ASSERT_TRUE(m);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));
    EXPECT_EQ(json::parse(m->body)["data"][0]["status"]["value"], "loading");
    expect_error(get(port, "/health"), 503, "unavailable_error");
    auto r = post_json(port, "/v1/chat/completions", chat_body(3).dump());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404); // chat_body names "stories260K"; this server only knows "slow"
    json b = chat_body(3);
    b["model"] = "slow";
    r = post_json(port, "/v1/chat/completions", b.dump());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(get(port, "/health")->status, 200);
}

TEST(ServerAuth, EmptyKeyAcceptedWhenAuthOff) {
    ServeConfig cfg;
    auto srv = start_server(cfg, 1);
    ASSERT_TRUE(srv);
    auto r = post_json(srv->port(), "/v1/chat/completions", chat_body(2).dump(), {{"Authorization", "Bearer "}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
}

} // namespace
} // namespace vkai::server::testing
