// The HTTP layer: the only code that sees cpp-httplib. It binds, runs httplib's thread pool, applies
// the request policy every route shares (Host allow-list against DNS rebinding, Bearer key, CORS,
// body size, timeouts) and hands plain HttpRequest/HttpResponse values to the route handlers.
#pragma once

#include "base/status.h"

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vkai::server {

struct HttpOptions {
    std::string host = "127.0.0.1";
    int port = 8080;                      // 0: an ephemeral port (tests)
    std::string api_key;                  // empty: no authentication
    std::vector<std::string> allow_hosts; // extra Host header names; "*" accepts any
    std::string cors_origin;              // empty: no CORS headers; "*" or one origin
    size_t max_body = 8u << 20;           // larger bodies get 413
    int read_timeout_s = 30;
    int write_timeout_s = 600;
    int threads = 32;                     // connections served at once (a stream holds one)
};

// One part of a multipart/form-data body (httplib's parser splits it; the body string is then empty).
struct FormPart {
    std::string name, filename, content_type, content;
};

struct HttpRequest {
    std::string method, path, body;
    std::vector<std::pair<std::string, std::string>> headers;
    // multipart/form-data, in the order sent. Mutable so that a handler can move an upload's bytes
    // out instead of copying them.
    mutable std::vector<FormPart> parts;
    std::string header(std::string_view name) const; // case-insensitive; "" when absent
};

// Streams write through this; write() returns false once the client has gone away.
class StreamWriter {
public:
    virtual ~StreamWriter() = default;
    virtual bool write(std::string_view data) = 0;
};

struct HttpResponse {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    // When set, the body is streamed (chunked) by calling this on the connection's thread.
    std::function<void(StreamWriter&)> stream;
};

using Handler = std::function<void(const HttpRequest&, HttpResponse&)>;

struct Route {
    std::string method; // GET or POST
    std::string path;   // exact path
    Handler handler;
    bool is_public = false; // no API key needed (/health, /v1/models, web assets)
    // Uploads (audio) have their own size limit; 0: HttpOptions::max_body. The flag that sets it is
    // named in the 413 message.
    size_t max_body = 0;
    std::string max_body_flag;
};

// The OpenAI error body {"error":{"message","type","code"}} (code = the HTTP status).
std::string error_body(int status, std::string_view type, std::string_view message);
void set_error(HttpResponse& res, int status, std::string_view type, std::string_view message);

class HttpServer {
public:
    // fallback handles GET paths no route names (web assets); it is public.
    static Result<std::unique_ptr<HttpServer>> start(const HttpOptions& opt, std::vector<Route> routes, Handler fallback);
    ~HttpServer();
    int port() const;
    void stop();

    struct Impl;

private:
    explicit HttpServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

bool is_loopback_host(std::string_view host); // 127.x, ::1, localhost

} // namespace vkai::server
