#include "server/server.h"

#include "base/log.h"
#include "server/api_common.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace vkai::server {

std::string model_id_from_path(const std::string& path) { return std::filesystem::path(path).stem().string(); }

Status read_config_file(const std::string& path, ServeConfig& cfg) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return fail(Code::io, "cannot read config file %s", path.c_str());
    std::stringstream ss;
    ss << f.rdbuf();
    json j;
    try {
        j = parse_body(ss.str());
    } catch (const ApiError& e) {
        return fail(Code::invalid_argument, "config file %s: %s", path.c_str(), e.what());
    }
    const std::filesystem::path dir = std::filesystem::path(path).parent_path();
    try {
        if (j.contains("idle_ttl_s")) cfg.idle_ttl_s = get_int(j, "idle_ttl_s", 0, 0, INT32_MAX);
        auto m = j.find("models");
        if (m == j.end() || !m->is_array()) return fail(Code::invalid_argument, "config file %s: 'models' must be an array of {\"id\",\"path\",...}", path.c_str());
        for (size_t i = 0; i < m->size(); ++i) {
            const json& e = (*m)[i];
            if (!e.is_object()) return fail(Code::invalid_argument, "config file %s: models[%zu] must be an object", path.c_str(), i);
            ModelSpec s;
            s.path = get_str(e, "path", "");
            if (s.path.empty()) return fail(Code::invalid_argument, "config file %s: models[%zu].path is missing", path.c_str(), i);
            if (std::filesystem::path(s.path).is_relative()) s.path = (dir / s.path).string();
            s.id = get_str(e, "id", model_id_from_path(s.path));
            if (auto a = e.find("aliases"); a != e.end() && !a->is_null()) {
                if (!a->is_array()) return fail(Code::invalid_argument, "config file %s: models[%zu].aliases must be an array of strings", path.c_str(), i);
                for (const auto& x : *a) {
                    if (!x.is_string()) return fail(Code::invalid_argument, "config file %s: models[%zu].aliases must be strings", path.c_str(), i);
                    s.aliases.push_back(x.get<std::string>());
                }
            }
            s.ctx = get_int(e, "ctx", 0, 0, int64_t(1) << 24);
            s.ngl = get_int(e, "ngl", -1, -1, 100000);
            s.parallel = int(get_int(e, "parallel", 0, 0, 256));
            cfg.models.push_back(std::move(s));
        }
    } catch (const ApiError& e) {
        return fail(Code::invalid_argument, "config file %s: %s", path.c_str(), e.what());
    }
    return Status::success();
}

Server::Server() = default;

Server::~Server() { stop(); }

int Server::port() const { return http_ ? http_->port() : 0; }

ModelManager& Server::models() { return *models_; }

void Server::stop() {
    // Running streams end with an error event once their jobs are cancelled; then the HTTP threads
    // can be joined.
    if (models_) {
        for (auto& e : models_->loaded()) e->sched->drain();
        for (auto& e : models_->loaded(ModelKind::whisper)) e->audio->drain();
    }
    if (http_) http_->stop();
    http_.reset();
    models_.reset(); // stops every scheduler: running jobs finish as "cancelled"
}

Result<std::unique_ptr<Server>> Server::start(const ServeConfig& cfg_in, Loader loader, WhisperLoader whisper_loader) {
    if (cfg_in.models.empty()) return fail(Code::invalid_argument, "no model: pass -m MODEL or --config FILE");
    ServeConfig cfg = cfg_in;
    for (auto& m : cfg.models) m.kind = detect_model_kind(m.path);
    std::set<std::string> names;
    for (const auto& m : cfg.models) {
        for (const std::string& n : [&] { auto v = m.aliases; v.push_back(m.id); return v; }()) {
            if (n.empty() || n.find('/') != std::string::npos || n.find('\\') != std::string::npos)
                return fail(Code::invalid_argument, "model id or alias '%s' must be non-empty without '/' (path: %s)", n.c_str(), m.path.c_str());
            if (!names.insert(n).second) return fail(Code::invalid_argument, "model id or alias '%s' is used twice; give one of them an \"id\"", n.c_str());
        }
    }
    if (cfg.parallel < 1 || cfg.parallel > 256) return fail(Code::invalid_argument, "--parallel must be in [1, 256], got %d", cfg.parallel);
    // OpenAI's transcription model name: clients (Open WebUI's default STT model, SDK examples) send
    // "whisper-1". It names the first whisper model unless some model already uses that name.
    if (!names.count("whisper-1"))
        for (auto& m : cfg.models)
            if (m.kind == ModelKind::whisper) {
                m.aliases.push_back("whisper-1");
                break;
            }
    std::unique_ptr<Server> s(new Server());
    s->st_ = std::make_unique<ServerState>();
    s->st_->opt.http = cfg.http;
    s->st_->opt.parallel = cfg.parallel;
    s->st_->opt.max_queue = cfg.max_queue;
    s->st_->opt.idle_ttl_s = cfg.idle_ttl_s;
    s->st_->opt.max_audio_bytes = cfg.max_audio_bytes;
    s->models_ = std::make_unique<ModelManager>(cfg.models, std::move(loader), cfg.parallel, cfg.max_queue, cfg.idle_ttl_s, std::move(whisper_loader));
    s->st_->models = s->models_.get();
    std::vector<Route> routes = openai_routes(*s->st_);
    for (auto& r : ollama_routes(*s->st_)) routes.push_back(std::move(r));
    for (auto& r : misc_routes(*s->st_)) routes.push_back(std::move(r));
    // The upload limit only raises httplib's body limit when some model can use an upload.
    const bool any_whisper = std::any_of(cfg.models.begin(), cfg.models.end(), [](const ModelSpec& m) { return m.kind == ModelKind::whisper; });
    for (auto& r : audio_routes(*s->st_)) {
        if (!any_whisper) r.max_body = 0;
        routes.push_back(std::move(r));
    }
    HttpOptions http = cfg.http;
    // Every stream holds a connection thread: room for all slots' streams plus the queue's waiters.
    http.threads = std::max(http.threads, cfg.parallel * int(cfg.models.size()) + 16);
    VKAI_ASSIGN_OR_RETURN(s->http_, HttpServer::start(http, std::move(routes), web_fallback));
    if (cfg.preload_first) s->models_->preload(cfg.models[0].id);
    return s;
}

} // namespace vkai::server
