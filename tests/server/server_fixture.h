// Shared by the server tests: a vkai server started in-process on an ephemeral loopback port with
// the real stories260K model on the CPU, and small HTTP helpers (httplib's client, raw sockets).
#pragma once

#include "server/server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

namespace vkai::server::testing {

using json = nlohmann::json;

inline const char* kModel = "models/stories260K.gguf";

inline std::unique_ptr<Server> start_server(ServeConfig cfg = {}, int parallel = 4, int64_t ctx = 0) {
    if (cfg.models.empty()) {
        ModelSpec s;
        s.path = kModel;
        s.id = "stories260K";
        s.aliases = {"tiny"};
        s.ctx = ctx;
        cfg.models.push_back(s);
    }
    cfg.http.port = 0;
    cfg.parallel = parallel;
    // One CPU thread: the test machine's cores are shared, and a pool of 2 on a loaded machine is
    // 10-100x slower per token than 1 (threads wait for each other).
    auto r = Server::start(cfg, cpu_loader(1, parallel));
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? std::move(*r) : nullptr;
}

// One SSE stream, split into its "data:" payloads; other lines are checked to be comments/blank.
struct SseResult {
    int status = 0;
    std::string content_type, raw;
    std::vector<std::string> data; // payloads in order, "[DONE]" included
};

inline SseResult post_sse(int port, const std::string& path, const json& body, const httplib::Headers& headers = {}) {
    httplib::Client cli("127.0.0.1", port);
    cli.set_read_timeout(60, 0);
    SseResult r;
    httplib::Request req;
    req.method = "POST";
    req.path = path;
    req.headers = headers;
    req.set_header("Content-Type", "application/json");
    req.body = body.dump();
    req.response_handler = [&](const httplib::Response& res) {
        r.status = res.status;
        r.content_type = res.get_header_value("Content-Type");
        return true;
    };
    req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
        r.raw.append(d, n);
        return true;
    };
    auto res = cli.send(req);
    if (!res) return r;
    size_t pos = 0;
    while (pos < r.raw.size()) {
        size_t end = r.raw.find("\n\n", pos);
        if (end == std::string::npos) {
            r.data.push_back("<unterminated event: " + r.raw.substr(pos) + ">");
            break;
        }
        std::string ev = r.raw.substr(pos, end - pos);
        pos = end + 2;
        if (ev.rfind("data: ", 0) == 0) r.data.push_back(ev.substr(6));
        else if (ev.rfind(":", 0) != 0) r.data.push_back("<not a data line: " + ev + ">");
    }
    return r;
}

inline httplib::Result post_json(int port, const std::string& path, const std::string& body, const httplib::Headers& headers = {}) {
    httplib::Client cli("127.0.0.1", port);
    cli.set_read_timeout(60, 0);
    return cli.Post(path.c_str(), headers, body, "application/json");
}

inline httplib::Result get(int port, const std::string& path, const httplib::Headers& headers = {}) {
    httplib::Client cli("127.0.0.1", port);
    cli.set_read_timeout(30, 0);
    return cli.Get(path.c_str(), headers);
}

// Raw socket: sends bytes as they are (for what httplib's client would not send).
inline int connect_raw(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

inline bool send_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return false;
        off += size_t(n);
    }
    return true;
}

// The error body every failure must have: {"error":{"message","type","code"}}.
inline void expect_error(const httplib::Result& r, int status, const std::string& type = "") {
    ASSERT_TRUE(r) << "no response";
    EXPECT_EQ(r->status, status) << r->body;
    json j = json::parse(r->body, nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("error")) << r->body;
    EXPECT_TRUE(j["error"]["message"].is_string());
    EXPECT_EQ(j["error"]["code"], status);
    if (!type.empty()) {
        EXPECT_EQ(j["error"]["type"], type) << r->body;
    }
}

} // namespace vkai::server::testing
