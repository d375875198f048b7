// Ollama routes (Open WebUI's other connection type): /api/tags, /api/version, /api/chat,
// /api/generate. Streams are NDJSON (application/x-ndjson): one object per line, the last with
// "done": true and the eval counts (durations in nanoseconds).
#include "server/api_common.h"
#include "server/think_split.h"

#include "llm/tokenizer.h"

#include <chrono>
#include <ctime>

namespace vkai::server {

namespace {

std::string created_at() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string tagged(const std::string& id) { return id.find(':') == std::string::npos ? id + ":latest" : id; }

void tags(ServerState& st, const HttpRequest&, HttpResponse& res) {
    json models = json::array();
    for (const auto& s : st.models->specs())
        models.push_back({{"name", tagged(s.id)},
                          {"model", tagged(s.id)},
                          {"modified_at", created_at()},
                          {"size", 0},
                          {"digest", ""},
                          {"details", {{"format", "gguf"}, {"family", ""}, {"families", json::array()}, {"parameter_size", ""}, {"quantization_level", ""}}}});
    res.body = dump(json{{"models", models}});
}

void version(ServerState&, const HttpRequest&, HttpResponse& res) { res.body = R"({"version":"0.6.0"})"; }

void done_fields(json& j, const JobStats& s) {
    j["done"] = true;
    j["done_reason"] = s.finish_reason;
    j["total_duration"] = int64_t((s.queued_ms + s.prompt_ms + s.generate_ms) * 1e6);
    j["load_duration"] = 0;
    j["prompt_eval_count"] = s.n_prompt;
    j["prompt_eval_duration"] = int64_t(s.prompt_ms * 1e6);
    j["eval_count"] = s.n_generated;
    j["eval_duration"] = int64_t(s.generate_ms * 1e6);
}

// Shared by /api/chat (chat = true: "message") and /api/generate ("response").
void run(ServerState& st, const HttpRequest& req, HttpResponse& res, bool chat) {
    const json body = parse_body(req.body);
    const std::string model = get_str(body, "model", "");
    GenParams p;
    if (auto o = body.find("options"); o != body.end() && !o->is_null()) {
        if (!o->is_object()) bad_request("'options' must be an object");
        parse_sampling(*o, p, true);
    }
    if (auto f = body.find("format"); f != body.end() && !f->is_null()) {
        if (f->is_object() || (f->is_string() && f->get<std::string>() == "json")) p.json_object = true;
        else if (!(f->is_string() && f->get<std::string>().empty())) bad_request("'format' must be \"json\" or a JSON schema object");
    }
    const bool stream = get_bool(body, "stream", true);
    std::shared_ptr<Engine> eng = acquire_engine(st, model);
    bool in_think = false;
    if (chat) {
        const auto it = body.find("messages");
        p.prompt = chat_prompt(*eng, parse_messages(it == body.end() ? json() : *it, true), body, in_think);
    } else {
        if (auto im = body.find("images"); im != body.end() && im->is_array() && !im->empty()) bad_request("model does not support images");
        const std::string prompt = get_str(body, "prompt", "");
        if (get_bool(body, "raw", false)) {
            p.prompt = eng->llm.model->tokenizer().encode(prompt, true, true);
        } else {
            std::vector<llm::Message> msgs;
            const std::string system = get_str(body, "system", "");
            if (!system.empty()) msgs.push_back({"system", system});
            msgs.push_back({"user", prompt});
            p.prompt = chat_prompt(*eng, msgs, body, in_think);
        }
    }
    std::shared_ptr<Job> job = submit_job(st, *eng, std::move(p));
    const std::string name = model.empty() ? tagged(eng->spec.id) : model;
    const bool split = eng->think_tags;
    auto object = [name, chat](const std::string& content, const std::string& thinking) {
        json j = {{"model", name}, {"created_at", created_at()}};
        if (chat) {
            j["message"] = {{"role", "assistant"}, {"content", content}};
            if (!thinking.empty()) j["message"]["thinking"] = thinking;
        } else {
            j["response"] = content;
            if (!thinking.empty()) j["thinking"] = thinking;
        }
        j["done"] = false;
        return j;
    };
    if (!stream) {
        std::string content, thinking;
        ThinkSplitter sp(in_think);
        std::vector<Piece> pieces;
        for (bool done = false; !done;) {
            done = job->wait(pieces, 1000);
            for (auto& pc : pieces) {
                if (split) sp.push(pc.text, content, thinking);
                else content += pc.text;
            }
            pieces.clear();
        }
        sp.flush(content, thinking);
        const JobStats s = job->stats();
        if (s.finish_reason == "error") throw ApiError(500, "server_error", "generation failed: " + job->error().message());
        if (s.finish_reason == "cancelled") throw ApiError(503, "unavailable_error", "the request was cancelled");
        json j = object(content, thinking);
        done_fields(j, s);
        res.body = dump(j);
        return;
    }
    res.content_type = "application/x-ndjson";
    res.stream = [eng, job, object, split, in_think](StreamWriter& w) {
        ThinkSplitter sp(in_think);
        auto render = [&](std::vector<Piece>& pieces) {
            std::string content, thinking;
            for (auto& pc : pieces) {
                if (split) sp.push(pc.text, content, thinking);
                else content += pc.text;
            }
            if (content.empty() && thinking.empty()) return std::string();
            return dump(object(content, thinking)) + "\n";
        };
        if (!pump(*job, w, render, false)) return;
        std::string content, thinking, tail;
        sp.flush(content, thinking);
        if (!content.empty() || !thinking.empty()) tail += dump(object(content, thinking)) + "\n";
        const JobStats s = job->stats();
        if (s.finish_reason == "error" || s.finish_reason == "cancelled") {
            tail += dump(json{{"error", s.finish_reason == "error" ? "generation failed: " + job->error().message() : "cancelled"}}) + "\n";
        } else {
            json j = object("", "");
            done_fields(j, s);
            tail += dump(j) + "\n";
        }
        w.write(tail);
    };
}

} // namespace

std::vector<Route> ollama_routes(ServerState& st) {
    auto wrap = [&st](std::function<void(ServerState&, const HttpRequest&, HttpResponse&)> fn) {
        return [&st, fn](const HttpRequest& req, HttpResponse& res) { handle(st, req, res, [&](const HttpRequest& r, HttpResponse& o) { fn(st, r, o); }); };
    };
    return {
        {"GET", "/api/tags", wrap(tags), true},
        {"GET", "/api/version", wrap(version), true},
        {"POST", "/api/chat", wrap([](ServerState& s, const HttpRequest& r, HttpResponse& o) { run(s, r, o, true); })},
        {"POST", "/api/generate", wrap([](ServerState& s, const HttpRequest& r, HttpResponse& o) { run(s, r, o, false); })},
    };
}

} // namespace vkai::server
