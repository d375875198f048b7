// Aggregate generation speed of vkai serve: C concurrent clients, each streaming one completion of
// N tokens (ignore_eos) over HTTP from an in-process server, with 1 slot and then with S slots.
// Usage: vkai-bench-serve [-m MODEL] [-c CLIENTS] [-n TOKENS] [-s SLOTS] [-t THREADS]
#include "server/server.h"

#include "base/timer.h"

#include <httplib.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using namespace vkai;

namespace {

struct Run {
    double seconds = 0;
    long tokens = 0;
    int failed = 0;
};

Run bench(const std::string& model, int slots, int clients, int tokens, int threads, int64_t ctx) {
    server::ServeConfig cfg;
    server::ModelSpec s;
    s.path = model;
    s.id = "m";
    s.ctx = ctx; // the same KV size for every run: attention cost grows with the cells
    cfg.models = {s};
    cfg.http.port = 0;
    cfg.parallel = slots;
    cfg.max_queue = clients + 1;
    auto srv = server::Server::start(cfg, server::cpu_loader(threads, slots));
    if (!srv.ok()) {
        std::fprintf(stderr, "bench_serve: %s\n", srv.status().message().c_str());
        std::exit(1);
    }
    const int port = (*srv)->port();
    if (!(*srv)->models().acquire("m").ok()) std::exit(1);
    const std::string body = "{\"prompt\":\"Once upon a time\",\"max_tokens\":" + std::to_string(tokens) + ",\"ignore_eos\":true,\"stream\":true,\"seed\":1}";
    Run r;
    std::vector<long> got(static_cast<size_t>(clients));
    std::vector<std::thread> th;
    const double t0 = now_s();
    for (int i = 0; i < clients; ++i)
        th.emplace_back([&, i] {
            httplib::Client cli("127.0.0.1", port);
            cli.set_read_timeout(600, 0);
            long chunks = 0;
            httplib::Request req;
            req.method = "POST";
            req.path = "/v1/completions";
            req.body = body;
            req.set_header("Content-Type", "application/json");
            req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
                for (size_t k = 0; k + 6 <= n; ++k)
                    if (std::memcmp(d + k, "\"text\"", 6) == 0) ++chunks;
                return true;
            };
            auto res = cli.send(req);
            got[size_t(i)] = res && res->status == 200 ? chunks : -1;
        });
    for (auto& t : th) t.join();
    r.seconds = now_s() - t0;
    auto e = (*srv)->models().acquire("m");
    r.tokens = long((*e)->sched->metrics().tokens_generated);
    for (long g : got)
        if (g < 0) ++r.failed;
    return r;
}

} // namespace

int main(int argc, char** argv) {
    std::string model = "models/stories260K.gguf";
    int clients = 16, tokens = 128, slots = 8, threads = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "-m") model = argv[i + 1];
        else if (a == "-c") clients = std::atoi(argv[i + 1]);
        else if (a == "-n") tokens = std::atoi(argv[i + 1]);
        else if (a == "-s") slots = std::atoi(argv[i + 1]);
        else if (a == "-t") threads = std::atoi(argv[i + 1]);
        else {
            std::fprintf(stderr, "usage: vkai-bench-serve [-m MODEL] [-c CLIENTS] [-n TOKENS] [-s SLOTS] [-t THREADS]\n");
            return 2;
        }
    }
    if (clients < 1 || tokens < 1 || slots < 1 || threads < 1) {
        std::fprintf(stderr, "bench_serve: counts must be >= 1\n");
        return 2;
    }
    std::printf("{\"model\":\"%s\",\"clients\":%d,\"tokens_per_client\":%d,\"threads\":%d,\"runs\":[", model.c_str(), clients, tokens, threads);
    bool first = true;
    for (int s : {1, slots}) {
        const Run r = bench(model, s, clients, tokens, threads, int64_t(slots) * (tokens + 64));
        std::printf("%s{\"slots\":%d,\"seconds\":%.3f,\"tokens\":%ld,\"tok_per_s\":%.1f,\"failed\":%d}", first ? "" : ",", s, r.seconds, r.tokens,
                    double(r.tokens) / r.seconds, r.failed);
        std::fflush(stdout);
        first = false;
    }
    std::printf("]}\n");
    return 0;
}
