// vkai serve as a library: the model manager, the scheduler (LLM) or audio queue (whisper) per
// model, and the HTTP routes, started on a port and stopped again (the serve command and the tests
// both use it).
#pragma once

#include "base/status.h"
#include "server/http_server.h"
#include "server/model_manager.h"

#include <memory>
#include <string>
#include <vector>

namespace vkai::server {

struct ServeConfig {
    HttpOptions http;
    std::vector<ModelSpec> models;
    int parallel = 4;
    int max_queue = 64;
    int64_t idle_ttl_s = 0;
    bool preload_first = true; // start loading the first model at once
    size_t max_audio_bytes = 100u << 20; // largest upload to /v1/audio/* (413 beyond)
};

// Reads a JSON config file: {"models":[{"id","path","aliases":[..],"ctx","ngl","parallel"}],
// "idle_ttl_s": N}. Relative paths are relative to the file's folder. Model entries are appended to
// cfg.models; ids must be unique and may not contain '/'.
Status read_config_file(const std::string& path, ServeConfig& cfg);
// The default id of a model file: its stem ("models/stories260K.gguf" -> "stories260K").
std::string model_id_from_path(const std::string& path);

struct ServerState;

class Server {
public:
    // Each model's kind comes from its file (detect_model_kind); whisper models load with
    // whisper_loader (empty: cpu_whisper_loader(1)).
    static Result<std::unique_ptr<Server>> start(const ServeConfig& cfg, Loader loader, WhisperLoader whisper_loader = {});
    ~Server();
    int port() const;
    void stop();
    ModelManager& models();

private:
    Server();
    std::unique_ptr<ServerState> st_;
    std::unique_ptr<ModelManager> models_;
    std::unique_ptr<HttpServer> http_;
};

} // namespace vkai::server
