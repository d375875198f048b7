// Shared by the route files (the only server files that include nlohmann/json): request parsing with
// limits, the sampling fields every API accepts, error mapping, and the running counters.
#pragma once

#include "server/http_server.h"
#include "server/model_manager.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <stdexcept>
#include <string>

namespace vkai::server {

using json = nlohmann::json;

// Thrown by request parsing inside a route handler and turned into the OpenAI error body by
// handle(); nothing outside the route layer throws.
struct ApiError : std::runtime_error {
    ApiError(int status_, std::string type_, const std::string& msg) : std::runtime_error(msg), status(status_), type(std::move(type_)) {}
    int status;
    std::string type;
    json extra = json::object(); // more fields of "error" (n_prompt_tokens, n_ctx)
};
[[noreturn]] void bad_request(const std::string& msg);

struct ServerOptions {
    HttpOptions http;
    int parallel = 4;   // slots per model unless its spec says otherwise
    int max_queue = 64; // waiting requests per model before 429
    int64_t idle_ttl_s = 0; // unload a model idle this long; 0: never
    bool preload_first = true;
    size_t max_audio_bytes = 100u << 20; // largest audio upload (413 beyond)
};

struct ServerState {
    ServerOptions opt;
    ModelManager* models = nullptr;
    std::atomic<uint64_t> requests{0}, errors{0}, rejected_busy{0};
};

constexpr int kMaxJsonDepth = 64;
constexpr size_t kMaxStopStrings = 16;

// Parses a request body: nesting depth checked before parsing (the parser's callers recurse),
// UTF-8 validated by the parser, the top level must be an object.
json parse_body(const std::string& body);
// Serializes for a response; invalid UTF-8 in generated text is replaced, never thrown on.
std::string dump(const json& j);

// Typed field getters: absent or null -> fallback; wrong type or out of range -> 400 naming the key.
bool get_bool(const json& o, const char* key, bool fallback);
int64_t get_int(const json& o, const char* key, int64_t fallback, int64_t lo, int64_t hi);
double get_num(const json& o, const char* key, double fallback, double lo, double hi);
std::string get_str(const json& o, const char* key, const std::string& fallback);

// The generation fields common to the OpenAI chat/completions and Ollama options objects:
// temperature, top_p, top_k, min_p, typical_p, penalties, seed, stop, max tokens, response_format.
struct GenFields {
    GenParams params;
    bool stream = false;
    bool include_usage = false;
};
void parse_sampling(const json& o, GenParams& p, bool ollama_names);

// Waits for the model a request names; 404 unknown, 503 when it cannot be loaded.
std::shared_ptr<Engine> acquire_engine(ServerState& st, const std::string& name);
// Submits; 400 when the prompt does not fit a slot, 429 when the queue is full.
std::shared_ptr<Job> submit_job(ServerState& st, Engine& e, GenParams p);

json timings_json(const JobStats& s);
std::string random_id(const char* prefix);
int64_t unix_now();

// Runs a handler, turning ApiError / std::exception into an error response and counting requests.
void handle(ServerState& st, const HttpRequest& req, HttpResponse& res, const std::function<void(const HttpRequest&, HttpResponse&)>& fn);

// Streams a job's pieces: render turns pieces into bytes to write. Returns false when the client
// went away (the job is then cancelled, which frees its slot). sse: send keep-alive comments.
bool pump(Job& job, StreamWriter& w, const std::function<std::string(std::vector<Piece>&)>& render, bool sse);
// {"token","logprob","bytes","top_logprobs":[...]} (OpenAI chat logprobs).
json token_logprob_json(const llm::Tokenizer& tok, const TokenInfo& t);

// Route tables (one file each).
std::vector<Route> openai_routes(ServerState& st);
std::vector<Route> ollama_routes(ServerState& st);
std::vector<Route> misc_routes(ServerState& st);
std::vector<Route> audio_routes(ServerState& st); // routes_audio.cpp
void web_fallback(const HttpRequest& req, HttpResponse& res);

// Chat messages (OpenAI shape) -> the template's messages. Image/audio/file parts -> 400.
std::vector<llm::Message> parse_messages(const json& msgs, bool ollama);
// Renders the conversation with the engine's template and tokenizes it.
std::vector<int32_t> chat_prompt(const Engine& e, const std::vector<llm::Message>& msgs, const json& body, bool& starts_in_think);

} // namespace vkai::server
