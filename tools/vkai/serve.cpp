// vkai serve: the OpenAI/Ollama-compatible HTTP server (src/server) with the CLI's model loading
// (device choice, -ngl) for each configured LLM; whisper models (found by their file's magic) serve
// /v1/audio/transcriptions and /v1/audio/translations on the device `vkai transcribe` would pick.
#include "commands.h"
#include "model_options.h"

#include "base/log.h"
#include "server/server.h"
#include "whisper/model.h"
#include "whisper/runtime.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

namespace vkai::cli {

namespace {

std::atomic<bool> g_quit{false};
void on_signal(int) { g_quit = true; }

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
        size_t end = s.find(',', start);
        if (end == std::string::npos) end = s.size();
        if (end > start) out.push_back(s.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

} // namespace

int cmd_serve(int argc, char** argv) {
    std::vector<Option> opts = model_options();
    for (Option& o : opts) { // the server sizes its context per slot (see --parallel)
        if (o.name == "ctx-size") o.help = "total context in tokens, shared by the --parallel slots (default: 1024 per slot, at least 4096)";
        if (o.name == "model") o.help = "model file: an LLM GGUF, or a whisper model (whisper.cpp .bin or whisper GGUF) for /v1/audio/*";
    }
    opts.push_back({"config", "", "FILE", "JSON config: {\"models\":[{\"id\",\"path\",\"aliases\",\"ctx\",\"ngl\",\"parallel\"}],\"idle_ttl_s\":N}"});
    opts.push_back({"alias", "a", "NAME", "another name for the -m model (comma list)"});
    opts.push_back({"host", "", "ADDR", "address to bind (default 127.0.0.1; 0.0.0.0 for all interfaces)"});
    opts.push_back({"port", "", "N", "port (default 8080)"});
    opts.push_back({"api-key", "", "KEY", "require Authorization: Bearer KEY (default: no key)"});
    opts.push_back({"parallel", "np", "N", "slots per model: requests generated at once (default 4); each gets ctx/N tokens"});
    opts.push_back({"max-queue", "", "N", "requests waiting per model before 429 (default 64)"});
    opts.push_back({"allow-host", "", "NAMES", "extra Host header names to accept (comma list; * = any)"});
    opts.push_back({"cors", "", "ORIGIN", "send CORS headers for this origin (* = any); default: none"});
    opts.push_back({"max-body", "", "BYTES", "largest request body (default 8388608)"});
    opts.push_back({"max-audio-mb", "", "N", "largest audio upload to /v1/audio/* in MiB (default 100)"});
    opts.push_back({"timeout", "", "S", "socket read timeout in seconds (default 30)"});
    opts.push_back({"idle-ttl", "", "S", "unload a model after S seconds without requests (default: never)"});
    Args args("serve", "[-m MODEL [-m MODEL2 ...]] [--config FILE] [--host ADDR] [--port N] [options]", opts);
    Status st = args.parse(argc, argv);
    if (!st.ok()) return report("serve", st);
    if (args.help_requested()) {
        std::printf("%s", args.help().c_str());
        return 0;
    }
    server::ServeConfig cfg;
    auto get = [&](const char* name, int64_t fb, int64_t lo, int64_t hi, int64_t& out) -> Status {
        VKAI_ASSIGN_OR_RETURN(int64_t v, args.get_int(name, fb));
        if (v < lo || v > hi) return fail(Code::invalid_argument, "--%s must be in [%lld, %lld], got %lld", name, (long long)lo, (long long)hi, (long long)v);
        out = v;
        return Status::success();
    };
    int64_t port = 0, parallel = 0, queue = 0, body = 0, timeout = 0, ttl = 0, ctx = 0, ngl = 0, audio_mb = 0, threads_n = 0;
    for (Status s : {get("port", 8080, 0, 65535, port), get("parallel", 4, 1, 256, parallel), get("max-queue", 64, 1, 100000, queue),
                     get("max-body", 8 << 20, 1024, int64_t(1) << 32, body), get("timeout", 30, 1, 86400, timeout), get("idle-ttl", 0, 0, INT32_MAX, ttl),
                     get("ctx-size", 0, 0, int64_t(1) << 24, ctx), get("max-audio-mb", 100, 1, 4096, audio_mb), get("threads", 0, 0, 4096, threads_n)})
        if (!s.ok()) return report("serve", s);
    // -ngl N or auto (the default: the planner places the layers).
    if (args.has("n-gpu-layers") && args.get("n-gpu-layers") != "auto")
        if (Status s = get("n-gpu-layers", -1, 0, 100000, ngl); !s.ok()) return report("serve", s);
    if (!args.has("n-gpu-layers") || args.get("n-gpu-layers") == "auto") ngl = -1;
    cfg.http.host = args.get("host", "127.0.0.1");
    cfg.http.port = int(port);
    cfg.http.api_key = args.get("api-key", "");
    cfg.http.allow_hosts = split_commas(args.get("allow-host", ""));
    cfg.http.cors_origin = args.get("cors", "");
    cfg.http.max_body = size_t(body);
    cfg.http.read_timeout_s = int(timeout);
    cfg.parallel = int(parallel);
    cfg.max_queue = int(queue);
    cfg.idle_ttl_s = ttl;
    cfg.max_audio_bytes = size_t(audio_mb) << 20;

    // -m may be repeated (an LLM and a whisper model); extra positional files are models too.
    std::vector<std::string> files = args.get_all("model");
    for (const auto& p : args.positional()) files.push_back(p);
    for (size_t i = 0; i < files.size(); ++i) {
        server::ModelSpec s;
        s.path = files[i];
        s.id = server::model_id_from_path(files[i]);
        if (i == 0) s.aliases = split_commas(args.get("alias", ""));
        s.ctx = ctx;
        s.ngl = ngl;
        cfg.models.push_back(s);
    }
    if (args.has("config")) {
        Status cs = server::read_config_file(args.get("config"), cfg);
        if (!cs.ok()) return report("serve", cs);
    }
    if (cfg.models.empty()) return report("serve", fail(Code::invalid_argument, "no model: pass -m MODEL or --config FILE"));
    // Models load lazily; a file that is not there at all is a mistake on the command line.
    for (const auto& m : cfg.models)
        if (FILE* f = std::fopen(m.path.c_str(), "rb")) std::fclose(f);
        else return report("serve", fail(Code::not_found, "model %s: cannot open %s", m.id.c_str(), m.path.c_str()));

    // Each model loads like `vkai run` would load it, with its own -c/-ngl from the config.
    const std::string device = args.get("device", "auto"), threads = args.get("threads", "0"), kv = args.get("kv-type", "f16"), batch = args.get("batch-size", "512");
    const int default_parallel = cfg.parallel;
    server::Loader loader = [=](const server::ModelSpec& spec) -> Result<server::LoadedLlm> {
        const int par = spec.parallel > 0 ? spec.parallel : default_parallel;
        const int64_t n_ctx = spec.ctx > 0 ? spec.ctx : std::max<int64_t>(4096, 1024 * int64_t(par));
        std::vector<std::string> a = {"serve", "-m", spec.path, "-c", std::to_string(n_ctx), "--device", device, "-t", threads, "--kv-type", kv, "-b", batch};
        if (spec.ngl >= 0) a.insert(a.end(), {"-ngl", std::to_string(spec.ngl)});
        std::vector<char*> av;
        for (auto& s : a) av.push_back(s.data());
        Args margs("serve", "", model_options());
        VKAI_TRY(margs.parse(int(av.size()), av.data()));
        VKAI_ASSIGN_OR_RETURN(LoadedModel lm, load_model(margs, n_ctx));
        server::LoadedLlm l;
        l.model = std::move(lm.model);
        l.backend = std::move(lm.backend);
        l.ctx = std::move(lm.ctx);
        return l;
    };

    if (!server::is_loopback_host(cfg.http.host) && cfg.http.api_key.empty())
        VKAI_LOG_WARN("serve: listening on %s without --api-key: anyone who can reach this address can use the models", cfg.http.host.c_str());
    // Whisper models open --device like `vkai transcribe` (auto: a Vulkan GPU if there is one), and
    // run on the CPU when the device cannot hold or run them.
    const std::string vram = args.get("vram", "");
    server::WhisperLoader wloader = [=](const server::ModelSpec& spec) -> Result<server::LoadedWhisper> {
        std::vector<std::string> a = {"serve", "-m", spec.path, "--device", device, "-t", threads};
        if (!vram.empty()) a.insert(a.end(), {"--vram", vram});
        std::vector<char*> av;
        for (auto& s : a) av.push_back(s.data());
        Args wargs("serve", "", model_options());
        VKAI_TRY(wargs.parse(int(av.size()), av.data()));
        server::LoadedWhisper w;
        w.threads = int(threads_n);
        VKAI_ASSIGN_OR_RETURN(w.model, whisper::Model::load(spec.path));
        std::string why;
        VKAI_ASSIGN_OR_RETURN(w.backend, open_device(wargs, why));
        w.device = w.backend->name() + " (" + why + ")";
        auto rt = whisper::Runtime::create(*w.model, *w.backend);
        if (rt.ok()) w.rt = std::move(*rt);
        else VKAI_TRY(w.fall_back_to_cpu(rt.status()));
        return w;
    };
    auto srv = server::Server::start(cfg, loader, wloader);
    if (!srv.ok()) return report("serve", srv.status());
    std::fprintf(stderr, "vkai serve: listening on http://%s:%d (OpenAI base URL http://%s:%d/v1); models:", cfg.http.host.c_str(), (*srv)->port(),
                 cfg.http.host.c_str(), (*srv)->port());
    for (const auto& m : (*srv)->models().specs()) std::fprintf(stderr, " %s%s", m.id.c_str(), m.kind == server::ModelKind::whisper ? " (whisper)" : "");
    std::fprintf(stderr, "\n");
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    while (!g_quit) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::fprintf(stderr, "vkai serve: shutting down\n");
    (*srv)->stop();
    return 0;
}

} // namespace vkai::cli
