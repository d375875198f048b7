// /health, /tokenize, /detokenize (llama.cpp shapes), /metrics (Prometheus text) and the web UI.
#include "server/api_common.h"
#include "server/web_assets.h"

#include "llm/tokenizer.h"

namespace vkai::server {

namespace {

void health(ServerState& st, const HttpRequest&, HttpResponse& res) {
    if (st.models->loaded().empty() && st.models->any_loading()) {
        set_error(res, 503, "unavailable_error", "Loading model");
        return;
    }
    res.body = R"({"status":"ok"})";
}

void tokenize(ServerState& st, const HttpRequest& req, HttpResponse& res) {
    const json body = parse_body(req.body);
    const std::string content = get_str(body, "content", "");
    const bool add_special = get_bool(body, "add_special", false);
    const bool parse_special = get_bool(body, "parse_special", true);
    const bool with_pieces = get_bool(body, "with_pieces", false);
    auto eng = acquire_engine(st, get_str(body, "model", ""));
    const llm::Tokenizer& tok = eng->llm.model->tokenizer();
    const std::vector<int32_t> ids = tok.encode(content, add_special, parse_special);
    json tokens = json::array();
    for (int32_t id : ids) {
        if (with_pieces) tokens.push_back({{"id", id}, {"piece", tok.token_to_piece(id)}});
        else tokens.push_back(id);
    }
    res.body = dump(json{{"tokens", tokens}});
}

void detokenize(ServerState& st, const HttpRequest& req, HttpResponse& res) {
    const json body = parse_body(req.body);
    auto eng = acquire_engine(st, get_str(body, "model", ""));
    const llm::Tokenizer& tok = eng->llm.model->tokenizer();
    std::vector<int32_t> ids;
    if (auto t = body.find("tokens"); t != body.end() && !t->is_null()) {
        if (!t->is_array()) bad_request("'tokens' must be an array of token ids");
        for (const auto& x : *t) {
            if (!x.is_number_integer()) bad_request("'tokens' must be an array of token ids");
            const int64_t id = x.get<int64_t>();
            if (id < 0 || id >= tok.n_vocab()) bad_request("token id " + std::to_string(id) + " is out of range [0, " + std::to_string(tok.n_vocab()) + ")");
            ids.push_back(int32_t(id));
        }
    }
    res.body = dump(json{{"content", tok.decode(ids)}});
}

void metrics(ServerState& st, const HttpRequest&, HttpResponse& res) {
    std::string out;
    auto line = [&](const char* name, const char* type, const char* help, const std::string& samples) {
        out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + samples;
    };
    line("vkai_http_requests_total", "counter", "API requests received", "vkai_http_requests_total " + std::to_string(st.requests.load()) + "\n");
    line("vkai_http_errors_total", "counter", "API requests answered with a 4xx/5xx status", "vkai_http_errors_total " + std::to_string(st.errors.load()) + "\n");
    line("vkai_requests_rejected_busy_total", "counter", "requests refused with 429 (queue full)",
         "vkai_requests_rejected_busy_total " + std::to_string(st.rejected_busy.load()) + "\n");
    std::string done, prompt, gen, busy, total, queue, loaded;
    for (const auto& s : st.models->specs()) loaded += "vkai_model_loaded{model=\"" + s.id + "\"} " + (st.models->state(s.id) == "loaded" ? "1" : "0") + "\n";
    for (const auto& e : st.models->loaded()) {
        const SchedulerMetrics m = e->sched->metrics();
        const std::string l = "{model=\"" + e->spec.id + "\"} ";
        done += "vkai_requests_completed_total" + l + std::to_string(m.jobs_done) + "\n";
        prompt += "vkai_prompt_tokens_total" + l + std::to_string(m.tokens_prompt) + "\n";
        gen += "vkai_generated_tokens_total" + l + std::to_string(m.tokens_generated) + "\n";
        busy += "vkai_slots_busy" + l + std::to_string(m.slots_busy) + "\n";
        total += "vkai_slots_total" + l + std::to_string(m.slots_total) + "\n";
        queue += "vkai_queue_length" + l + std::to_string(m.queue_len) + "\n";
    }
    line("vkai_model_loaded", "gauge", "1 when the model is in memory", loaded);
    line("vkai_requests_completed_total", "counter", "generations finished (any reason) since the model was loaded", done);
    line("vkai_prompt_tokens_total", "counter", "prompt tokens evaluated (cached ones not counted)", prompt);
    line("vkai_generated_tokens_total", "counter", "tokens generated", gen);
    line("vkai_slots_busy", "gauge", "slots running a request", busy);
    line("vkai_slots_total", "gauge", "slots of the model", total);
    line("vkai_queue_length", "gauge", "requests waiting for a slot", queue);
    res.content_type = "text/plain; version=0.0.4";
    res.body = out;
}

} // namespace

void web_fallback(const HttpRequest& req, HttpResponse& res) {
    const WebAsset* a = find_web_asset(req.path);
    if (!a) {
        set_error(res, 404, "not_found_error", "no such endpoint or file: " + req.path);
        return;
    }
    res.content_type = mime_type(a->path);
    res.body.assign(reinterpret_cast<const char*>(a->data), a->size);
    res.headers.push_back({"Cache-Control", "no-cache"});
    res.headers.push_back({"X-Content-Type-Options", "nosniff"});
}

std::vector<Route> misc_routes(ServerState& st) {
    auto wrap = [&st](void (*fn)(ServerState&, const HttpRequest&, HttpResponse&)) {
        return [&st, fn](const HttpRequest& req, HttpResponse& res) { handle(st, req, res, [&](const HttpRequest& r, HttpResponse& o) { fn(st, r, o); }); };
    };
    return {
        {"GET", "/health", wrap(health), true},
        {"GET", "/v1/health", wrap(health), true},
        {"POST", "/tokenize", wrap(tokenize)},
        {"POST", "/detokenize", wrap(detokenize)},
        {"GET", "/metrics", wrap(metrics)},
    };
}

} // namespace vkai::server
