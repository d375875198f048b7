#include "server/api_common.h"

#include "base/log.h"
#include "llm/tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <random>
#include <thread>

namespace vkai::server {

void bad_request(const std::string& msg) { throw ApiError(400, "invalid_request_error", msg); }

json parse_body(const std::string& body) {
    // Depth first, by a scan that skips strings: nlohmann's parser is iterative, but copying and
    // dumping a value recurse, so a deep document must never become a json value.
    int depth = 0;
    bool in_str = false, esc = false;
    for (char c : body) {
        if (in_str) {
            if (esc) esc = false;
            else if (c == '\\') esc = true;
            else if (c == '"') in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > kMaxJsonDepth) bad_request("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded()) {
        // Parse again with exceptions for the message (position and reason).
        try {
            json again = json::parse(body);
            (void)again;
        } catch (const json::exception& e) {
            bad_request(std::string("invalid JSON body: ") + e.what());
        }
        bad_request("invalid JSON body");
    }
    if (!j.is_object()) bad_request("the request body must be a JSON object");
    return j;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

namespace {
const json* field(const json& o, const char* key) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return nullptr;
    return &*it;
}
} // namespace

bool get_bool(const json& o, const char* key, bool fallback) {
    const json* v = field(o, key);
    if (!v) return fallback;
    if (!v->is_boolean()) bad_request(std::string("'") + key + "' must be a boolean");
    return v->get<bool>();
}

int64_t get_int(const json& o, const char* key, int64_t fallback, int64_t lo, int64_t hi) {
    const json* v = field(o, key);
    if (!v) return fallback;
    double d;
    if (v->is_number_integer() && !v->is_number_unsigned()) d = double(v->get<int64_t>());
    else if (v->is_number_unsigned()) d = double(v->get<uint64_t>());
    else if (v->is_number_float()) {
        d = v->get<double>();
        if (d != std::floor(d)) bad_request(std::string("'") + key + "' must be an integer");
    } else bad_request(std::string("'") + key + "' must be an integer");
    if (!(d >= double(lo) && d <= double(hi)))
        bad_request(std::string("'") + key + "' must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    if (v->is_number_integer() && !v->is_number_unsigned()) return v->get<int64_t>();
    if (v->is_number_unsigned()) return int64_t(v->get<uint64_t>());
    return int64_t(d);
}

double get_num(const json& o, const char* key, double fallback, double lo, double hi) {
    const json* v = field(o, key);
    if (!v) return fallback;
    if (!v->is_number()) bad_request(std::string("'") + key + "' must be a number");
    const double d = v->get<double>();
    if (!std::isfinite(d) || d < lo || d > hi) bad_request(std::string("'") + key + "' must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return d;
}

std::string get_str(const json& o, const char* key, const std::string& fallback) {
    const json* v = field(o, key);
    if (!v) return fallback;
    if (!v->is_string()) bad_request(std::string("'") + key + "' must be a string");
    return v->get<std::string>();
}

void parse_sampling(const json& o, GenParams& p, bool ollama) {
    llm::SamplerParams& s = p.sampling;
    s.temperature = float(get_num(o, "temperature", s.temperature, 0, 100));
    s.top_p = float(get_num(o, "top_p", s.top_p, 0, 1));
    s.top_k = int32_t(get_int(o, "top_k", s.top_k, 0, INT32_MAX));
    s.min_p = float(get_num(o, "min_p", s.min_p, 0, 1));
    s.typical_p = float(get_num(o, "typical_p", s.typical_p, 0, 1));
    if (s.typical_p <= 0) s.typical_p = 1;
    s.presence_penalty = float(get_num(o, "presence_penalty", 0, -2, 2));
    s.frequency_penalty = float(get_num(o, "frequency_penalty", 0, -2, 2));
    s.repeat_penalty = float(get_num(o, "repeat_penalty", 1, 0.01, 100));
    s.penalty_last_n = int32_t(get_int(o, "repeat_last_n", s.penalty_last_n, -1, INT32_MAX));
    // seed: < 0 random; above INT64_MAX folded into 63 bits (the sampler takes a signed seed).
    if (const auto it = o.find("seed"); it != o.end() && it->is_number_unsigned()) s.seed = int64_t(it->get<uint64_t>() & 0x7fffffffffffffffull);
    else s.seed = get_int(o, "seed", -1, INT64_MIN, INT64_MAX);

    const char* max_keys[] = {"max_completion_tokens", "max_tokens", "n_predict", "num_predict"};
    p.max_tokens = -1;
    for (const char* k : max_keys) {
        if (ollama != (std::string(k) == "num_predict")) continue;
        if (o.contains(k) && !o[k].is_null()) {
            // Ollama: -1 = no limit, -2 = until the context is full; both mean "until the slot is full".
            p.max_tokens = std::max<int64_t>(-1, get_int(o, k, -1, -2, INT32_MAX));
            break;
        }
    }
    if (const json* stop = field(o, "stop")) {
        if (stop->is_string()) p.stop = {stop->get<std::string>()};
        else if (stop->is_array()) {
            if (stop->size() > kMaxStopStrings) bad_request("'stop' has more than " + std::to_string(kMaxStopStrings) + " strings");
            for (const auto& x : *stop) {
                if (!x.is_string()) bad_request("'stop' must be a string or an array of strings");
                p.stop.push_back(x.get<std::string>());
            }
        } else bad_request("'stop' must be a string or an array of strings");
        for (const auto& x : p.stop)
            if (x.size() > 1024) bad_request("a 'stop' string is longer than 1024 bytes");
    }
    p.ignore_eos = get_bool(o, "ignore_eos", false);
    p.cache_prompt = get_bool(o, "cache_prompt", true);
}

std::shared_ptr<Engine> acquire_engine(ServerState& st, const std::string& name) {
    if (!st.models->find(name)) {
        if (name.empty()) throw ApiError(404, "not_found_error", "no model is configured");
        throw ApiError(404, "not_found_error", "model '" + name + "' not found; GET /v1/models lists the ids");
    }
    auto e = st.models->acquire(name);
    if (!e.ok() && e.status().code() == Code::invalid_argument) bad_request(e.status().message()); // a whisper model named for text
    if (!e.ok()) throw ApiError(503, "unavailable_error", e.status().message());
    return *e;
}

std::shared_ptr<Job> submit_job(ServerState& st, Engine& e, GenParams p) {
    if (p.prompt.empty()) bad_request("the prompt is empty (no tokens)");
    const int64_t n_ctx = e.sched->slot_ctx();
    if (int64_t(p.prompt.size()) >= n_ctx) {
        ApiError err(400, "exceed_context_size_error",
                     "the request has " + std::to_string(p.prompt.size()) + " prompt tokens but a slot holds " + std::to_string(n_ctx) +
                         " (context / parallel); start vkai serve with a larger -c or fewer --parallel slots");
        err.extra = {{"n_prompt_tokens", p.prompt.size()}, {"n_ctx", n_ctx}};
        throw err;
    }
    for (int32_t t : p.prompt)
        if (t < 0 || t >= e.llm.model->tokenizer().n_vocab()) bad_request("token id " + std::to_string(t) + " out of range");
    auto job = e.sched->submit(std::move(p));
    if (!job) {
        st.rejected_busy++;
        throw ApiError(429, "unavailable_error", "too many requests are waiting; retry later");
    }
    return job;
}

json timings_json(const JobStats& s) {
    const double pn = double(s.n_prompt - s.n_cached), gn = double(s.n_generated);
    return {{"cache_n", s.n_cached},
            {"prompt_n", s.n_prompt - s.n_cached},
            {"prompt_ms", s.prompt_ms},
            {"prompt_per_token_ms", pn > 0 ? s.prompt_ms / pn : 0.0},
            {"prompt_per_second", s.prompt_ms > 0 ? pn * 1e3 / s.prompt_ms : 0.0},
            {"predicted_n", s.n_generated},
            {"predicted_ms", s.generate_ms},
            {"predicted_per_token_ms", gn > 0 ? s.generate_ms / gn : 0.0},
            {"predicted_per_second", s.generate_ms > 0 ? gn * 1e3 / s.generate_ms : 0.0}};
}

std::string random_id(const char* prefix) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    char buf[24];
    std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)rng());
    return std::string(prefix) + buf;
}

int64_t unix_now() { return int64_t(std::time(nullptr)); }

void handle(ServerState& st, const HttpRequest& req, HttpResponse& res, const std::function<void(const HttpRequest&, HttpResponse&)>& fn) {
    st.requests++;
    try {
        fn(req, res);
    } catch (const ApiError& e) {
        json err = {{"code", e.status}, {"message", e.what()}, {"type", e.type}};
        for (auto it = e.extra.begin(); it != e.extra.end(); ++it) err[it.key()] = it.value();
        res = HttpResponse{};
        res.status = e.status;
        res.body = dump(json{{"error", err}});
    } catch (const json::exception& e) {
        // A value of an unexpected type reached a typed accessor: the request's fault.
        set_error(res, 400, "invalid_request_error", std::string("invalid request: ") + e.what());
    } catch (const std::exception& e) {
        VKAI_LOG_ERROR("server: %s %s: %s", req.method.c_str(), req.path.c_str(), e.what());
        set_error(res, 500, "server_error", std::string("internal error: ") + e.what());
    }
    if (res.status >= 400) st.errors++;
}

std::vector<llm::Message> parse_messages(const json& msgs, bool ollama) {
    if (!msgs.is_array() || msgs.empty()) bad_request("'messages' must be a non-empty array");
    if (msgs.size() > 4096) bad_request("'messages' has more than 4096 entries");
    std::vector<llm::Message> out;
    for (size_t i = 0; i < msgs.size(); ++i) {
        const json& m = msgs[i];
        const std::string where = "messages[" + std::to_string(i) + "]";
        if (!m.is_object()) bad_request(where + " must be an object");
        llm::Message msg;
        msg.role = get_str(m, "role", "");
        if (msg.role.empty()) bad_request(where + ".role is missing");
        if (msg.role == "developer") msg.role = "system";
        if (msg.role != "system" && msg.role != "user" && msg.role != "assistant" && msg.role != "tool")
            bad_request(where + ".role must be system, user, assistant, tool or developer, got '" + msg.role + "'");
        auto c = m.find("content");
        if (c == m.end() || c->is_null()) {
            if (msg.role != "assistant") msg.content = "";
        } else if (c->is_string()) {
            msg.content = c->get<std::string>();
        } else if (c->is_array()) {
            std::string text;
            for (const auto& part : *c) {
                if (!part.is_object()) bad_request(where + ".content parts must be objects");
                const std::string type = get_str(part, "type", "text");
                if (type == "text") {
                    if (!text.empty()) text += "\n";
                    text += get_str(part, "text", "");
                } else if (type == "image_url" || type == "input_image" || type == "image") {
                    bad_request("model does not support images");
                } else if (type == "input_audio") {
                    bad_request("model does not support audio input");
                } else if (type == "file") {
                    bad_request("model does not support file inputs");
                } else {
                    bad_request(where + ": unknown content part type '" + type + "'");
                }
            }
            msg.content = text;
        } else {
            bad_request(where + ".content must be a string, an array of parts or null");
        }
        if (ollama && m.contains("images") && m["images"].is_array() && !m["images"].empty()) bad_request("model does not support images");
        if (auto r = m.find("reasoning_content"); r != m.end() && r->is_string()) msg.reasoning_content = r->get<std::string>();
        if (auto tc = m.find("tool_calls"); tc != m.end() && !tc->is_null()) {
            if (!tc->is_array()) bad_request(where + ".tool_calls must be an array");
            for (const auto& t : *tc) {
                if (!t.is_object()) bad_request(where + ".tool_calls entries must be objects");
                llm::ToolCall call;
                call.id = get_str(t, "id", "");
                const json fn = t.contains("function") && t["function"].is_object() ? t["function"] : json::object();
                call.name = get_str(fn, "name", "");
                if (auto a = fn.find("arguments"); a != fn.end()) call.arguments = a->is_string() ? a->get<std::string>() : dump(*a);
                msg.tool_calls.push_back(std::move(call));
            }
        }
        if (auto id = m.find("tool_call_id"); id != m.end() && id->is_string()) msg.tool_call_id = id->get<std::string>();
        if (auto n = m.find("name"); n != m.end() && n->is_string()) msg.name = n->get<std::string>();
        out.push_back(std::move(msg));
    }
    return out;
}

std::vector<int32_t> chat_prompt(const Engine& e, const std::vector<llm::Message>& msgs, const json& body, bool& starts_in_think) {
    const llm::Tokenizer& tok = e.llm.model->tokenizer();
    llm::ChatOptions copt;
    copt.add_generation_prompt = true;
    if (tok.bos() >= 0) copt.bos_token = tok.token_text(tok.bos());
    if (tok.eos() >= 0) copt.eos_token = tok.token_text(tok.eos());
    if (auto t = body.find("tools"); t != body.end() && !t->is_null()) {
        if (!t->is_array()) bad_request("'tools' must be an array");
        copt.tools_json = dump(*t);
    }
    if (auto k = body.find("chat_template_kwargs"); k != body.end() && k->is_object()) {
        if (auto th = k->find("enable_thinking"); th != k->end() && th->is_boolean()) copt.enable_thinking = th->get<bool>();
    }
    if (auto th = body.find("think"); th != body.end() && th->is_boolean()) copt.enable_thinking = th->get<bool>(); // Ollama
    auto text = e.tmpl.render(msgs, copt);
    if (!text.ok()) bad_request("chat template: " + text.status().message());
    // A generation prompt that ends inside an open <think> block (DeepSeek-R1, Qwen3 thinking).
    std::string_view t = *text;
    while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.remove_suffix(1);
    starts_in_think = e.think_tags && t.size() >= 7 && t.substr(t.size() - 7) == "<think>";
    return tok.encode(*text, false, true);
}

bool pump(Job& job, StreamWriter& w, const std::function<std::string(std::vector<Piece>&)>& render, bool sse) {
    std::vector<Piece> pieces;
    auto last_write = std::chrono::steady_clock::now();
    for (;;) {
        const bool done = job.wait(pieces, 100);
        std::string out = pieces.empty() ? std::string() : render(pieces);
        pieces.clear();
        const auto now = std::chrono::steady_clock::now();
        // While a job waits (queue, long prompt) an SSE comment every second notices a client
        // that went away; clients skip lines that do not start with "data:".
        if (out.empty() && sse && now - last_write > std::chrono::seconds(1)) out = ": keep-alive\n\n";
        if (!out.empty()) {
            if (!w.write(out)) {
                job.cancel();
                return false;
            }
            last_write = now;
        }
        if (done) return true;
        // Coalesce: a small model makes a token every few hundred microseconds per slot, and one
        // wake-up + JSON chunk + write per token then costs more than the decode itself. Up to
        // 10 ms of tokens go out in one write (below what a reader notices).
        if (!out.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

json token_logprob_json(const llm::Tokenizer& tok, const TokenInfo& t) {
    auto one = [&](int32_t id, float lp) {
        const std::string piece = tok.token_to_piece(id);
        json bytes = json::array();
        for (char c : piece) bytes.push_back(int(uint8_t(c)));
        return json{{"token", piece}, {"logprob", lp}, {"bytes", bytes}};
    };
    json j = one(t.id, t.logprob);
    json top = json::array();
    for (const auto& [id, lp] : t.top) top.push_back(one(id, lp));
    j["top_logprobs"] = top;
    return j;
}

} // namespace vkai::server
