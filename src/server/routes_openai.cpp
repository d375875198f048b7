// OpenAI routes: /v1/models, /v1/chat/completions, /v1/completions, /v1/embeddings (each also
// without /v1). Shapes follow api-contract.md: a stream is text/event-stream with "data: {json}\n\n"
// chunks, a final chunk with finish_reason and timings, an optional usage chunk with empty choices,
// then "data: [DONE]".
#include "server/api_common.h"
#include "server/think_split.h"

#include "llm/tokenizer.h"

namespace vkai::server {

namespace {

const char* kFingerprint = "b1-vkai";

json usage_json(const JobStats& s) {
    return {{"prompt_tokens", s.n_prompt},
            {"completion_tokens", s.n_generated},
            {"total_tokens", s.n_prompt + s.n_generated},
            {"prompt_tokens_details", {{"cached_tokens", s.n_cached}}}};
}

// Finished jobs that did not stop or hit the length limit become errors.
void check_finished(const Job& job) {
    const JobStats s = job.stats();
    if (s.finish_reason == "error") throw ApiError(500, "server_error", "generation failed: " + job.error().message());
    if (s.finish_reason == "cancelled") throw ApiError(503, "unavailable_error", "the request was cancelled (server shutting down)");
}

std::string sse(const json& j) { return "data: " + dump(j) + "\n\n"; }

json error_chunk(const Job& job) {
    const JobStats s = job.stats();
    const std::string msg = s.finish_reason == "error" ? "generation failed: " + job.error().message() : "the request was cancelled";
    return {{"error", {{"code", 500}, {"message", msg}, {"type", "server_error"}}}};
}

void parse_response_format(const json& body, GenParams& p) {
    auto rf = body.find("response_format");
    if (rf == body.end() || rf->is_null()) return;
    if (!rf->is_object()) bad_request("'response_format' must be an object");
    const std::string type = get_str(*rf, "type", "text");
    if (type == "json_object" || type == "json_schema") p.json_object = true; // the schema itself is not enforced
    else if (type != "text") bad_request("'response_format.type' must be text, json_object or json_schema, got '" + type + "'");
}

bool include_usage(const json& body) {
    auto so = body.find("stream_options");
    if (so == body.end() || so->is_null()) return false;
    if (!so->is_object()) bad_request("'stream_options' must be an object");
    return get_bool(*so, "include_usage", false);
}

void models(ServerState& st, const HttpRequest&, HttpResponse& res) {
    json data = json::array();
    const int64_t created = unix_now();
    for (const auto& s : st.models->specs()) {
        json m = {{"id", s.id}, {"object", "model"}, {"created", created}, {"owned_by", "vkai"}, {"aliases", s.aliases},
                  {"status", {{"value", st.models->state(s.id)}}}};
        data.push_back(m);
    }
    res.body = dump(json{{"object", "list"}, {"data", data}});
}

void chat(ServerState& st, const HttpRequest& req, HttpResponse& res) {
    const json body = parse_body(req.body);
    const std::string model = get_str(body, "model", "");
    const auto it = body.find("messages");
    const std::vector<llm::Message> msgs = parse_messages(it == body.end() ? json() : *it, false);
    if (get_int(body, "n", 1, 1, 1) != 1) bad_request("'n' must be 1");
    GenParams p;
    parse_sampling(body, p, false);
    parse_response_format(body, p);
    const bool logprobs = get_bool(body, "logprobs", false);
    const int64_t top = get_int(body, "top_logprobs", 0, 0, 20);
    p.top_logprobs = logprobs ? int(top) : -1;
    const bool stream = get_bool(body, "stream", false);
    const bool usage = include_usage(body);

    std::shared_ptr<Engine> eng = acquire_engine(st, model);
    bool in_think = false;
    p.prompt = chat_prompt(*eng, msgs, body, in_think);
    std::shared_ptr<Job> job = submit_job(st, *eng, std::move(p));
    const std::string id = random_id("chatcmpl-");
    const int64_t created = unix_now();
    const std::string name = model.empty() ? eng->spec.id : model;
    const bool split = eng->think_tags;

    if (!stream) {
        std::string content, reasoning;
        ThinkSplitter sp(in_think);
        json lp = json::array();
        std::vector<Piece> pieces;
        for (bool done = false; !done;) {
            done = job->wait(pieces, 1000);
            for (auto& pc : pieces) {
                if (split) sp.push(pc.text, content, reasoning);
                else content += pc.text;
                for (const auto& t : pc.tokens) lp.push_back(token_logprob_json(eng->llm.model->tokenizer(), t));
            }
            pieces.clear();
        }
        sp.flush(content, reasoning);
        check_finished(*job);
        const JobStats s = job->stats();
        json msg = {{"role", "assistant"}, {"content", content}};
        if (!reasoning.empty()) msg["reasoning_content"] = reasoning;
        json choice = {{"index", 0}, {"finish_reason", s.finish_reason}, {"message", msg}};
        choice["logprobs"] = logprobs ? json{{"content", lp}} : json(nullptr);
        res.body = dump(json{{"id", id}, {"object", "chat.completion"}, {"created", created}, {"model", name}, {"system_fingerprint", kFingerprint},
                             {"choices", json::array({choice})}, {"usage", usage_json(s)}, {"timings", timings_json(s)}, {"seed", s.seed}});
        return;
    }

    res.content_type = "text/event-stream";
    res.headers.push_back({"Cache-Control", "no-cache"});
    res.headers.push_back({"X-Accel-Buffering", "no"});
    res.stream = [eng, job, id, created, name, split, in_think, logprobs, usage](StreamWriter& w) {
        auto chunk = [&](json delta, json finish) {
            return json{{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", name}, {"system_fingerprint", kFingerprint},
                        {"choices", json::array({{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish)}}})}};
        };
        if (!w.write(sse(chunk({{"role", "assistant"}, {"content", nullptr}}, nullptr)))) return job->cancel();
        ThinkSplitter sp(in_think);
        const llm::Tokenizer& tok = eng->llm.model->tokenizer();
        auto render = [&](std::vector<Piece>& pieces) {
            std::string out, content, reasoning;
            json lp = json::array();
            for (auto& pc : pieces) {
                if (split) sp.push(pc.text, content, reasoning);
                else content += pc.text;
                if (logprobs)
                    for (const auto& t : pc.tokens) lp.push_back(token_logprob_json(tok, t));
            }
            if (content.empty() && reasoning.empty() && lp.empty()) return out;
            json delta = json::object();
            if (!reasoning.empty()) delta["reasoning_content"] = reasoning;
            if (!content.empty()) delta["content"] = content;
            json c = chunk(delta, nullptr);
            if (logprobs) c["choices"][0]["logprobs"] = {{"content", lp}};
            return sse(c);
        };
        if (!pump(*job, w, render, true)) return;
        std::string tail, content, reasoning;
        sp.flush(content, reasoning);
        if (!content.empty() || !reasoning.empty()) {
            json delta = json::object();
            if (!reasoning.empty()) delta["reasoning_content"] = reasoning;
            if (!content.empty()) delta["content"] = content;
            tail += sse(chunk(delta, nullptr));
        }
        const JobStats s = job->stats();
        if (s.finish_reason == "error" || s.finish_reason == "cancelled") {
            tail += sse(error_chunk(*job));
        } else {
            json fin = chunk(json::object(), s.finish_reason);
            fin["timings"] = timings_json(s);
            tail += sse(fin);
            if (usage) {
                json u = {{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", name}, {"system_fingerprint", kFingerprint},
                          {"choices", json::array()}, {"usage", usage_json(s)}, {"timings", timings_json(s)}};
                tail += sse(u);
            }
        }
        tail += "data: [DONE]\n\n";
        w.write(tail);
    };
}

// Legacy logprobs: {"tokens","token_logprobs","top_logprobs":[{piece: logprob}],"text_offset"}.
struct LegacyLogprobs {
    json tokens = json::array(), token_logprobs = json::array(), top = json::array(), offsets = json::array();
    void add(const llm::Tokenizer& tok, const TokenInfo& t, size_t& offset) {
        const std::string piece = tok.token_to_piece(t.id);
        tokens.push_back(piece);
        token_logprobs.push_back(t.logprob);
        json m = json::object();
        for (const auto& [id, lp] : t.top) m[tok.token_to_piece(id)] = lp;
        top.push_back(m);
        offsets.push_back(offset);
        offset += piece.size();
    }
    json to_json() const { return {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top}, {"text_offset", offsets}}; }
};

void completions(ServerState& st, const HttpRequest& req, HttpResponse& res) {
    const json body = parse_body(req.body);
    const std::string model = get_str(body, "model", "");
    if (get_int(body, "n", 1, 1, 1) != 1) bad_request("'n' must be 1");
    GenParams p;
    parse_sampling(body, p, false);
    parse_response_format(body, p);
    if (p.max_tokens < 0 && !body.contains("max_tokens")) p.max_tokens = 16; // the OpenAI default for completions
    const json* lp_field = body.contains("logprobs") && !body["logprobs"].is_null() ? &body["logprobs"] : nullptr;
    const int64_t n_lp = lp_field ? get_int(body, "logprobs", 0, 0, 20) : -1;
    p.top_logprobs = int(n_lp);
    const bool stream = get_bool(body, "stream", false);
    const bool usage = include_usage(body);

    std::shared_ptr<Engine> eng = acquire_engine(st, model);
    const llm::Tokenizer& tok = eng->llm.model->tokenizer();
    auto pr = body.find("prompt");
    if (pr == body.end() || pr->is_null()) bad_request("'prompt' is missing");
    json prompt = *pr;
    if (prompt.is_array() && prompt.size() == 1 && (prompt[0].is_string() || prompt[0].is_array())) prompt = prompt[0];
    if (prompt.is_string()) {
        p.prompt = tok.encode(prompt.get<std::string>(), true, true);
    } else if (prompt.is_array()) {
        for (const auto& t : prompt) {
            if (!t.is_number_integer()) bad_request("'prompt' must be a string, an array of one string, or an array of token ids");
            const int64_t id = t.get<int64_t>();
            if (id < 0 || id >= tok.n_vocab()) bad_request("token id " + std::to_string(id) + " in 'prompt' is out of range");
            p.prompt.push_back(int32_t(id));
        }
    } else {
        bad_request("'prompt' must be a string, an array of one string, or an array of token ids");
    }
    std::shared_ptr<Job> job = submit_job(st, *eng, std::move(p));
    const std::string id = random_id("cmpl-");
    const int64_t created = unix_now();
    const std::string name = model.empty() ? eng->spec.id : model;

    if (!stream) {
        std::string text;
        LegacyLogprobs lp;
        size_t offset = 0;
        std::vector<Piece> pieces;
        for (bool done = false; !done;) {
            done = job->wait(pieces, 1000);
            for (auto& pc : pieces) {
                text += pc.text;
                for (const auto& t : pc.tokens) lp.add(tok, t, offset);
            }
            pieces.clear();
        }
        check_finished(*job);
        const JobStats s = job->stats();
        json choice = {{"text", text}, {"index", 0}, {"finish_reason", s.finish_reason}};
        choice["logprobs"] = n_lp >= 0 ? lp.to_json() : json(nullptr);
        res.body = dump(json{{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", name}, {"system_fingerprint", kFingerprint},
                             {"choices", json::array({choice})}, {"usage", usage_json(s)}, {"timings", timings_json(s)}, {"seed", s.seed}});
        return;
    }
    res.content_type = "text/event-stream";
    res.headers.push_back({"Cache-Control", "no-cache"});
    res.stream = [eng, job, id, created, name, n_lp, usage](StreamWriter& w) {
        const llm::Tokenizer& tk = eng->llm.model->tokenizer();
        size_t offset = 0;
        auto chunk = [&](const std::string& text, json finish, json logprobs) {
            return json{{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", name}, {"system_fingerprint", kFingerprint},
                        {"choices", json::array({{{"text", text}, {"index", 0}, {"logprobs", std::move(logprobs)}, {"finish_reason", std::move(finish)}}})}};
        };
        auto render = [&](std::vector<Piece>& pieces) {
            std::string text;
            LegacyLogprobs lp;
            for (auto& pc : pieces) {
                text += pc.text;
                for (const auto& t : pc.tokens) lp.add(tk, t, offset);
            }
            if (text.empty() && n_lp < 0) return std::string();
            return sse(chunk(text, nullptr, n_lp >= 0 ? lp.to_json() : json(nullptr)));
        };
        if (!pump(*job, w, render, true)) return;
        const JobStats s = job->stats();
        std::string tail;
        if (s.finish_reason == "error" || s.finish_reason == "cancelled") {
            tail += sse(error_chunk(*job));
        } else {
            json fin = chunk("", s.finish_reason, nullptr);
            fin["timings"] = timings_json(s);
            tail += sse(fin);
            if (usage)
                tail += sse(json{{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", name}, {"choices", json::array()},
                                 {"usage", usage_json(s)}, {"timings", timings_json(s)}});
        }
        tail += "data: [DONE]\n\n";
        w.write(tail);
    };
}

void embeddings(ServerState& st, const HttpRequest& req, HttpResponse&) {
    const json body = parse_body(req.body);
    const std::string model = get_str(body, "model", "");
    if (!st.models->find(model)) throw ApiError(404, "not_found_error", "model '" + model + "' not found");
    throw ApiError(501, "not_supported_error", "model does not support embeddings (vkai has no embedding models yet)");
}

} // namespace

std::vector<Route> openai_routes(ServerState& st) {
    auto wrap = [&st](void (*fn)(ServerState&, const HttpRequest&, HttpResponse&)) {
        return [&st, fn](const HttpRequest& req, HttpResponse& res) { handle(st, req, res, [&](const HttpRequest& r, HttpResponse& o) { fn(st, r, o); }); };
    };
    std::vector<Route> r;
    for (const char* prefix : {"/v1", ""}) {
        const std::string p = prefix;
        r.push_back({"GET", p + "/models", wrap(models), true});
        r.push_back({"POST", p + "/chat/completions", wrap(chat)});
        r.push_back({"POST", p + "/completions", wrap(completions)});
        r.push_back({"POST", p + "/embeddings", wrap(embeddings)});
    }
    return r;
}

} // namespace vkai::server
