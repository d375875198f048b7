// cpp-httplib is used here only (Debian builds it as a shared library; the Cflags of its pkg-config
// file must match so the class layouts agree).
#include "server/http_server.h"

#include "base/log.h"

#include <httplib.h>

#include <algorithm>
#include <csignal>
#include <sys/socket.h>
#include <cstring>
#include <thread>

namespace vkai::server {

namespace {

std::string lower(std::string_view s) {
    std::string r(s);
    for (char& c : r) c = char(std::tolower(uint8_t(c)));
    return r;
}

// JSON string escaping for messages; bytes that are not valid UTF-8 become '?'.
std::string json_escape(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        const uint8_t c = uint8_t(s[i]);
        if (c == '"' || c == '\\') out += '\\', out += char(c);
        else if (c == '\n') out += "\\n";
        else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else if (c < 0x80) out += char(c);
        else {
            const size_t n = (c >= 0xC2 && c <= 0xDF) ? 1 : (c >= 0xE0 && c <= 0xEF) ? 2 : (c >= 0xF0 && c <= 0xF4) ? 3 : 0;
            bool ok = n > 0;
            for (size_t k = 1; ok && k <= n; ++k) ok = i + k < s.size() && (uint8_t(s[i + k]) & 0xC0) == 0x80;
            if (!ok) {
                out += '?';
                continue;
            }
            out.append(s.substr(i, n + 1));
            i += n;
        }
    }
    return out;
}

bool is_ip_literal(std::string_view h) {
    if (!h.empty() && h.front() == '[') return true;
    return !h.empty() && h.find_first_not_of("0123456789.") == std::string_view::npos;
}

bool const_time_eq(std::string_view a, std::string_view b) {
    uint8_t d = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < a.size(); ++i) d |= uint8_t(a[i] ^ (b.empty() ? 0 : b[i % b.size()]));
    return d == 0;
}

class SinkWriter final : public StreamWriter {
public:
    explicit SinkWriter(httplib::DataSink& sink) : sink_(sink) {}
    bool write(std::string_view data) override {
        if (!ok_) return false;
        if (!sink_.is_writable()) return ok_ = false;
        if (!sink_.write(data.data(), data.size())) ok_ = false;
        return ok_;
    }

private:
    httplib::DataSink& sink_;
    bool ok_ = true;
};

} // namespace

std::string HttpRequest::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (k.size() == name.size() && lower(k) == lower(name)) return v;
    return "";
}

std::string error_body(int status, std::string_view type, std::string_view message) {
    return "{\"error\":{\"code\":" + std::to_string(status) + ",\"message\":\"" + json_escape(message) + "\",\"type\":\"" + json_escape(type) + "\"}}";
}

void set_error(HttpResponse& res, int status, std::string_view type, std::string_view message) {
    res.status = status;
    res.content_type = "application/json";
    res.body = error_body(status, type, message);
    res.stream = nullptr;
}

bool is_loopback_host(std::string_view h) {
    std::string l = lower(h);
    return l == "localhost" || l == "::1" || l == "[::1]" || l.rfind("127.", 0) == 0;
}

// httplib listens with a backlog of 5: 16 clients connecting at once overflow it, and the dropped
// SYNs are retried by the client's kernel only after a second. The socket is re-listened with a
// larger backlog after bind (Linux updates the backlog of a listening socket).
class BacklogServer : public httplib::Server {
public:
    void set_backlog(int n) { ::listen(svr_sock_, n); }
};

struct HttpServer::Impl {
    HttpOptions opt;
    std::vector<Route> routes;
    Handler fallback;
    BacklogServer svr;
    std::thread thread;
    int port = 0;

    bool host_allowed(const std::string& host_header) const;
    const Route* find_route(const std::string& method, const std::string& path) const;
    // The body limit of a request and the flag that sets it.
    std::pair<size_t, std::string> body_limit(const httplib::Request& req) const;
    bool key_ok(const httplib::Request& req) const;
    void add_cors(const httplib::Request& req, httplib::Response& res) const;
    // reader: the body of a POST, read by read_body (null when the request has none).
    void dispatch(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader* reader);
    // Reads the body into r.body or r.parts (multipart) within the route's limit.
    Status read_body(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader, HttpRequest& r) const;
};

bool HttpServer::Impl::host_allowed(const std::string& hh) const {
    for (const auto& a : opt.allow_hosts)
        if (a == "*") return true;
    std::string name;
    if (!hh.empty() && hh.front() == '[') {
        size_t close = hh.find(']');
        if (close == std::string::npos) return false;
        name = lower(hh.substr(0, close + 1));
    } else {
        name = lower(hh.substr(0, hh.find(':')));
    }
    if (name.empty()) return false;
    if (name == "localhost" || name == "127.0.0.1" || name == "[::1]") return true;
    std::string bound = lower(opt.host);
    if (bound.find(':') != std::string::npos && bound.front() != '[') bound = "[" + bound + "]";
    if (name == bound) return true;
    for (const auto& a : opt.allow_hosts)
        if (lower(a) == name) return true;
    // Bound to a non-loopback address with no allow-list: IP literals are safe (DNS rebinding needs
    // a name); names must be listed with --allow-host.
    return !is_loopback_host(opt.host) && opt.allow_hosts.empty() && is_ip_literal(name);
}

const Route* HttpServer::Impl::find_route(const std::string& method, const std::string& path) const {
    for (const auto& rt : routes)
        if (rt.path == path && rt.method == method) return &rt;
    return nullptr;
}

std::pair<size_t, std::string> HttpServer::Impl::body_limit(const httplib::Request& req) const {
    const Route* r = find_route(req.method, req.path);
    if (r && r->max_body) return {r->max_body, r->max_body_flag};
    return {opt.max_body, "--max-body"};
}

bool HttpServer::Impl::key_ok(const httplib::Request& req) const {
    if (opt.api_key.empty()) return true;
    std::string got = req.get_header_value("Authorization");
    if (got.size() >= 7 && lower(got.substr(0, 7)) == "bearer ") got = got.substr(7);
    else got = req.get_header_value("X-Api-Key");
    return const_time_eq(got, opt.api_key);
}

void HttpServer::Impl::add_cors(const httplib::Request& req, httplib::Response& res) const {
    if (opt.cors_origin.empty()) return;
    const std::string origin = req.get_header_value("Origin");
    if (origin.empty()) return;
    if (opt.cors_origin != "*" && origin != opt.cors_origin) return;
    res.set_header("Access-Control-Allow-Origin", opt.cors_origin == "*" ? "*" : origin);
    res.set_header("Vary", "Origin");
    res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Api-Key");
    res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
}

Status HttpServer::Impl::read_body(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader, HttpRequest& r) const {
    const auto [limit, flag] = body_limit(req);
    // Past the limit the rest is read and dropped (so the client sees the answer instead of a reset),
    // up to a bound: a sender that never stops is cut off.
    const uint64_t drain_limit = uint64_t(limit) * 4 + (64u << 20);
    uint64_t total = 0;
    bool too_big = false;
    auto take = [&](std::string& dst, const char* data, size_t n) {
        total += n;
        if (total > limit) too_big = true;
        if (!too_big) dst.append(data, n);
        return total <= drain_limit;
    };
    bool ok;
    if (req.is_multipart_form_data()) {
        ok = reader(
            [&](const httplib::MultipartFormData& part) {
                r.parts.push_back({part.name, part.filename, part.content_type, ""});
                return true;
            },
            [&](const char* data, size_t n) { return take(r.parts.back().content, data, n); });
    } else {
        ok = reader([&](const char* data, size_t n) { return take(r.body, data, n); });
    }
    if (too_big || res.status == 413)
        return fail(Code::out_of_memory, "request body larger than the limit of %zu bytes (%s)", limit, flag.c_str());
    if (!ok && req.is_multipart_form_data())
        return fail(Code::invalid_argument, "malformed multipart/form-data body (boundary, part headers or the closing boundary)");
    if (!ok) return fail(Code::io, "the request body could not be read (cut short or sent too slowly)");
    return {};
}

void HttpServer::Impl::dispatch(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader* reader) {
    HttpRequest r;
    r.method = req.method;
    r.path = req.path;
    for (const auto& [k, v] : req.headers) r.headers.push_back({k, v});
    HttpResponse out;
    const Route* route = find_route(req.method, req.path);
    // The body is read here, not by httplib: its payload limit is global and does not hold for
    // chunked bodies; each route has its own limit (uploads are larger than JSON requests).
    Status body_status;
    if (reader) body_status = read_body(req, res, *reader, r);
    try {
        const bool other_method = std::any_of(routes.begin(), routes.end(), [&](const Route& rt) { return rt.path == req.path; });
        if (!body_status.ok()) {
            set_error(out, body_status.code() == Code::out_of_memory ? 413 : 400, "invalid_request_error", body_status.message());
            out.headers.push_back({"Connection", "close"});
        } else if (route) route->handler(r, out);
        else if (other_method) set_error(out, 405, "invalid_request_error", "method " + req.method + " not allowed on " + req.path);
        else if (req.method == "GET" && fallback) fallback(r, out);
        else set_error(out, 404, "not_found_error", "no such endpoint: " + req.method + " " + req.path);
    } catch (const std::exception& e) {
        VKAI_LOG_ERROR("server: %s %s: %s", req.method.c_str(), req.path.c_str(), e.what());
        set_error(out, 500, "server_error", std::string("internal error: ") + e.what());
    }
    res.status = out.status;
    for (const auto& [k, v] : out.headers) res.set_header(k, v);
    add_cors(req, res);
    if (out.stream) {
        auto fn = std::move(out.stream);
        res.set_chunked_content_provider(out.content_type, [fn](size_t, httplib::DataSink& sink) {
            SinkWriter w(sink);
            fn(w);
            sink.done();
            return true;
        });
    } else {
        res.set_content(out.body, out.content_type);
    }
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

int HttpServer::port() const { return impl_->port; }

void HttpServer::stop() {
    if (!impl_) return;
    impl_->svr.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
}

Result<std::unique_ptr<HttpServer>> HttpServer::start(const HttpOptions& opt, std::vector<Route> routes, Handler fallback) {
    // A client that goes away mid-stream must not kill the process: writes then fail with EPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    auto impl = std::make_unique<Impl>();
    impl->opt = opt;
    impl->routes = std::move(routes);
    impl->fallback = std::move(fallback);
    Impl* I = impl.get();
    auto& svr = impl->svr;
    const size_t threads = size_t(std::max(4, opt.threads));
    svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    size_t payload_max = opt.max_body;
    for (const auto& rt : impl->routes) payload_max = std::max(payload_max, rt.max_body);
    svr.set_payload_max_length(payload_max);
    svr.set_read_timeout(opt.read_timeout_s, 0);
    svr.set_write_timeout(opt.write_timeout_s, 0);
    svr.set_keep_alive_timeout(5);
    svr.set_tcp_nodelay(true);
    // Runs before the body is read: a request from a foreign Host or without the key costs nothing.
    svr.set_pre_routing_handler([I](const httplib::Request& req, httplib::Response& res) {
        if (!I->host_allowed(req.get_header_value("Host"))) {
            res.status = 403;
            res.set_content(error_body(403, "permission_error", "Host header not allowed (DNS rebinding protection); start vkai serve with --allow-host NAME"), "application/json");
            return httplib::Server::HandlerResponse::Handled;
        }
        if (req.method == "OPTIONS") {
            res.status = 204;
            I->add_cors(req, res);
            return httplib::Server::HandlerResponse::Handled;
        }
        const Route* route = I->find_route(req.method, req.path);
        const bool is_public = route ? route->is_public : req.method == "GET";
        if (!is_public && !I->key_ok(req)) {
            res.status = 401;
            res.set_content(error_body(401, "authentication_error", "invalid or missing API key (send Authorization: Bearer KEY)"), "application/json");
            I->add_cors(req, res);
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });
    auto handler = [I](const httplib::Request& req, httplib::Response& res) { I->dispatch(req, res, nullptr); };
    svr.Get(".*", handler);
    svr.Post(".*", handler); // a POST without a body
    svr.Post(".*", [I](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) { I->dispatch(req, res, &reader); });
    // Statuses httplib sets itself (413 body too large, 400 bad request line) get a JSON body too.
    svr.set_error_handler(httplib::Server::HandlerWithResponse([I](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        const char* type = res.status == 413 ? "invalid_request_error" : res.status >= 500 ? "server_error" : "invalid_request_error";
        const auto [limit, flag] = I->body_limit(req);
        std::string msg = res.status == 413 ? "request body larger than the limit of " + std::to_string(limit) + " bytes (" + flag + ")"
                                            : res.status == 400 && req.is_multipart_form_data()
                                                  ? std::string("malformed multipart/form-data body (boundary, part headers or the closing boundary)")
                                                  : "HTTP error " + std::to_string(res.status);
        res.set_content(error_body(res.status, type, msg), "application/json");
        I->add_cors(req, res);
        return httplib::Server::HandlerResponse::Handled;
    }));
    svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        res.status = 500;
        res.set_content(error_body(500, "server_error", "internal error"), "application/json");
    });
    int port = opt.port;
    if (port == 0) {
        port = svr.bind_to_any_port(opt.host);
        if (port <= 0) return fail(Code::io, "cannot bind to %s (any port)", opt.host.c_str());
    } else if (!svr.bind_to_port(opt.host, port)) {
        return fail(Code::io, "cannot bind to %s:%d (in use, or not an address of this machine)", opt.host.c_str(), port);
    }
    svr.set_backlog(512);
    impl->port = port;
    impl->thread = std::thread([I] { I->svr.listen_after_bind(); });
    return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

} // namespace vkai::server
