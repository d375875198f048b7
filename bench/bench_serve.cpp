// Aggregate generation speed of vkai serve: C concurrent clients, each streaming one completion of
// N tokens (ignore_eos) over HTTP from an in-process server, with 1 slot and then with S slots, on
// the CPU (-t threads) or a Vulkan GPU (--device vulkanN, every layer on the GPU).
// Usage: vkai-bench-serve [-m MODEL] [-c CLIENTS] [-n TOKENS] [-s SLOTS] [-t THREADS]
//                         [--device cpu|vulkanN] [--no-baseline] [--steps] [--warmup]
// --warmup: before the clock starts, one 2-token completion per slot (untimed, not counted).
// --steps: the engine alone (CPU, no HTTP, no sampling): the median time of a decode step of one
// token of 1 sequence and of SLOTS sequences, on the same KV size as the server runs (N steps
// after a 5-token prompt each).
#include "server/server.h"

#include "base/timer.h"
#include "llm/forward.h"
#include "llm/model.h"
#ifdef VKAI_HAVE_VULKAN
#include "vulkan/vulkan_backend.h"
#endif

#include <httplib.h>

#include <algorithm>
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
    uint64_t steps = 0, gen_steps = 0;                  // decode steps of the scheduler; those without prompt tokens
    double decode_ms = 0, sample_ms = 0, gen_decode_ms = 0; // the scheduler's time in decode and in sampling, in all
};

// The CPU loader of the tests, or the model on a Vulkan device (all layers there; the CPU backend
// the context makes for the token embedding gets `threads` threads).
server::Loader make_loader(const std::string& device, int threads, int slots) {
    if (device == "cpu") return server::cpu_loader(threads, slots);
    return [device, threads](const server::ModelSpec& spec) -> Result<server::LoadedLlm> {
        server::LoadedLlm l;
#ifdef VKAI_HAVE_VULKAN
        vk::VulkanOptions vo;
        vo.device = std::atoi(device.c_str() + 6); // checked by main
        VKAI_ASSIGN_OR_RETURN(l.backend, vk::create_vulkan_backend(vo));
        VKAI_ASSIGN_OR_RETURN(llm::Model m, llm::Model::load(spec.path));
        l.model = std::make_unique<llm::Model>(std::move(m));
        llm::ContextParams cp;
        cp.n_ctx = spec.ctx;
        cp.n_batch = std::min<int64_t>(512, cp.n_ctx);
        cp.threads = threads;
        cp.backend = l.backend.get();
        cp.n_gpu_layers = -1;
        VKAI_ASSIGN_OR_RETURN(l.ctx, llm::Context::create(*l.model, cp));
        return l;
#else
        (void)threads, (void)spec;
        return fail(Code::unsupported, "--device %s: this build has no Vulkan", device.c_str());
#endif
    };
}

Run bench(const std::string& model, const std::string& device, int slots, int clients, int tokens, int threads, int64_t ctx, bool warmup) {
    server::ServeConfig cfg;
    server::ModelSpec s;
    s.path = model;
    s.id = "m";
    s.ctx = ctx; // the same KV size for every run: attention cost grows with the cells
    cfg.models = {s};
    cfg.http.port = 0;
    cfg.parallel = slots;
    cfg.max_queue = clients + 1;
    auto srv = server::Server::start(cfg, make_loader(device, threads, slots));
    if (!srv.ok()) {
        std::fprintf(stderr, "bench_serve: %s\n", srv.status().message().c_str());
        std::exit(1);
    }
    const int port = (*srv)->port();
    auto loaded = (*srv)->models().acquire("m");
    if (!loaded.ok()) {
        std::fprintf(stderr, "bench_serve: %s\n", loaded.status().message().c_str());
        std::exit(1);
    }
    const std::string body = "{\"prompt\":\"Once upon a time\",\"max_tokens\":" + std::to_string(tokens) + ",\"ignore_eos\":true,\"stream\":true,\"seed\":1}";
    Run r;
    server::SchedulerMetrics m0;
    if (warmup) {
        // One untimed completion of 2 tokens per slot, all at once: the first decode's page faults
        // (mapped weights, KV cache, buffers) and the first prompt's cost stay out of the figures.
        const std::string wbody = "{\"prompt\":\"Hello\",\"max_tokens\":2,\"ignore_eos\":true,\"seed\":2}";
        std::vector<std::thread> wt;
        for (int i = 0; i < slots; ++i)
            wt.emplace_back([&] {
                httplib::Client cli("127.0.0.1", port);
                cli.set_read_timeout(600, 0);
                (void)cli.Post("/v1/completions", wbody, "application/json");
            });
        for (auto& t : wt) t.join();
        m0 = (*loaded)->sched->metrics();
    }
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
    const server::SchedulerMetrics m = (*e)->sched->metrics();
    r.tokens = long(m.tokens_generated - m0.tokens_generated);
    r.steps = m.steps - m0.steps;
    r.decode_ms = m.decode_ms - m0.decode_ms;
    r.sample_ms = m.sample_ms - m0.sample_ms;
    r.gen_steps = m.gen_steps - m0.gen_steps;
    r.gen_decode_ms = m.gen_decode_ms - m0.gen_decode_ms;
    for (long g : got)
        if (g < 0) ++r.failed;
    return r;
}

int usage() {
    std::fprintf(stderr,
                 "usage: vkai-bench-serve [-m MODEL] [-c CLIENTS] [-n TOKENS] [-s SLOTS] [-t THREADS] [--device cpu|vulkanN] [--no-baseline] [--steps] [--warmup]\n");
    return 2;
}

// Median milliseconds of a decode step of one token for each of `seqs` sequences (CPU context).
double step_ms(const llm::Model& model, int seqs, int steps, int threads, int64_t ctx) {
    llm::ContextParams cp;
    cp.n_ctx = ctx;
    cp.n_batch = std::min<int64_t>(512, ctx);
    cp.threads = threads;
    auto c = llm::Context::create(model, cp);
    if (!c.ok()) {
        std::fprintf(stderr, "bench_serve: %s\n", c.status().message().c_str());
        std::exit(1);
    }
    const int32_t n_vocab = int32_t(model.hp().n_vocab);
    llm::Batch b;
    for (int s = 0; s < seqs; ++s)
        for (int p = 0; p < 5; ++p) b.add((100 + 7 * p + s) % n_vocab, p, s, p == 4);
    std::vector<double> t;
    for (int i = 0; i <= steps; ++i) {
        const double t0 = now_s();
        const Status st = (*c)->decode(b);
        if (!st.ok()) {
            std::fprintf(stderr, "bench_serve: decode: %s\n", st.message().c_str());
            std::exit(1);
        }
        if (i > 0) t.push_back((now_s() - t0) * 1e3); // the prompt step is not timed
        b.clear();
        for (int s = 0; s < seqs; ++s) b.add((1000 + 13 * i + s) % n_vocab, 5 + i, s, true);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
    std::string model = "models/stories260K.gguf", device = "cpu";
    int clients = 16, tokens = 128, slots = 8, threads = 1;
    bool baseline = true, steps_only = false, warmup = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--no-baseline") {
            baseline = false;
            continue;
        }
        if (a == "--steps") {
            steps_only = true;
            continue;
        }
        if (a == "--warmup") {
            warmup = true;
            continue;
        }
        if (i + 1 >= argc) return usage();
        const char* v = argv[++i];
        if (a == "-m") model = v;
        else if (a == "--device") device = v;
        else if (a == "-c") clients = std::atoi(v);
        else if (a == "-n") tokens = std::atoi(v);
        else if (a == "-s") slots = std::atoi(v);
        else if (a == "-t") threads = std::atoi(v);
        else return usage();
    }
    const bool vulkan = device.size() > 6 && device.size() <= 10 && device.rfind("vulkan", 0) == 0 &&
                        device.find_first_not_of("0123456789", 6) == std::string::npos;
    if (device != "cpu" && !vulkan) {
        std::fprintf(stderr, "bench_serve: --device '%s': expected cpu or vulkanN\n", device.c_str());
        return 2;
    }
    if (clients < 1 || tokens < 1 || slots < 1 || threads < 1) {
        std::fprintf(stderr, "bench_serve: counts must be >= 1\n");
        return 2;
    }
    if (steps_only) {
        if (device != "cpu") {
            std::fprintf(stderr, "bench_serve: --steps runs on the CPU only\n");
            return 2;
        }
        auto m = llm::Model::load(model);
        if (!m.ok()) {
            std::fprintf(stderr, "bench_serve: %s\n", m.status().message().c_str());
            return 1;
        }
        const int64_t ctx = int64_t(slots) * (tokens + 64);
        const double one = step_ms(*m, 1, tokens, threads, ctx), many = slots == 1 ? one : step_ms(*m, slots, tokens, threads, ctx);
        if (slots == 1) {
            std::printf("{\"model\":\"%s\",\"threads\":%d,\"ctx\":%lld,\"steps\":%d,\"step_ms_1\":%.2f,\"tok_per_s_1\":%.1f}\n", model.c_str(), threads,
                        (long long)ctx, tokens, one, 1e3 / one);
            return 0;
        }
        std::printf("{\"model\":\"%s\",\"threads\":%d,\"ctx\":%lld,\"steps\":%d,\"step_ms_1\":%.2f,\"step_ms_%d\":%.2f,\"tok_per_s_1\":%.1f,"
                    "\"tok_per_s_%d\":%.1f,\"ratio\":%.2f}\n",
                    model.c_str(), threads, (long long)ctx, tokens, one, slots, many, 1e3 / one, slots, slots * 1e3 / many, slots * one / many);
        return 0;
    }
    std::printf("{\"model\":\"%s\",\"device\":\"%s\",\"clients\":%d,\"tokens_per_client\":%d,\"threads\":%d,\"runs\":[", model.c_str(), device.c_str(),
                clients, tokens, threads);
    std::vector<int> runs = {slots};
    if (baseline && slots != 1) runs.insert(runs.begin(), 1);
    double first_rate = 0;
    for (size_t i = 0; i < runs.size(); ++i) {
        const int s = runs[i];
        const Run r = bench(model, device, s, clients, tokens, threads, int64_t(slots) * (tokens + 64), warmup);
        const double rate = double(r.tokens) / r.seconds;
        if (i == 0) first_rate = rate;
        // Per decode step (prompt steps included): the scheduler's decode and sampling time.
        const double steps = double(std::max<uint64_t>(1, r.steps));
        std::printf("%s{\"slots\":%d,\"seconds\":%.3f,\"tokens\":%ld,\"tok_per_s\":%.1f,\"vs_first\":%.2f,\"failed\":%d,\"steps\":%llu,"
                    "\"decode_ms_per_step\":%.2f,\"sample_ms_per_step\":%.2f,\"decode_ms_per_gen_step\":%.2f}",
                    i ? "," : "", s, r.seconds, r.tokens, rate, rate / first_rate, r.failed, (unsigned long long)r.steps, r.decode_ms / steps,
                    r.sample_ms / steps, r.gen_decode_ms / double(std::max<uint64_t>(1, r.gen_steps)));
        std::fflush(stdout);
    }
    std::printf("]}\n");
    return 0;
}
