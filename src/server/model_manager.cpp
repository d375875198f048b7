#include "server/model_manager.h"

#include "base/log.h"
#include "base/mapped_file.h"
#include "base/timer.h"
#include "cpu/cpu_backend.h"
#include "formats/gguf.h"
#include "formats/whisper_bin.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>

namespace vkai::server {

struct ModelManager::Entry {
    size_t index = 0; // into specs_
    std::shared_ptr<Engine> engine;
    bool loading = false;
    Status error; // of the last failed load
    double last_used = 0;
};

namespace {

llm::TemplateHints hints_of(const llm::Model& m) {
    llm::TemplateHints h;
    h.arch = m.hp().arch;
    h.model_name = m.gguf().get_string_or("general.name", "");
    const llm::Tokenizer& tok = m.tokenizer();
    for (int32_t i = 0; i < tok.n_vocab(); ++i)
        if (tok.token_type(i) == llm::TokenType::control) h.special_tokens.push_back(tok.token_text(i));
    return h;
}

} // namespace

const char* model_kind_name(ModelKind k) { return k == ModelKind::whisper ? "whisper" : "llm"; }

ModelKind detect_model_kind(const std::string& path) {
    auto f = MappedFile::open(path);
    if (!f.ok() || f->size() < 4) return ModelKind::llm;
    const auto b = f->bytes();
    uint32_t magic;
    std::memcpy(&magic, b.data(), 4);
    if (magic == whisper_bin::kMagic) return ModelKind::whisper;
    if (std::memcmp(b.data(), "GGUF", 4) != 0) return ModelKind::llm;
    auto g = gguf::parse(b, path);
    return g.ok() && g->architecture() == "whisper" ? ModelKind::whisper : ModelKind::llm;
}

WhisperLoader cpu_whisper_loader(int threads) {
    return [threads](const ModelSpec& spec) -> Result<LoadedWhisper> {
        LoadedWhisper w;
        w.threads = threads;
        VKAI_ASSIGN_OR_RETURN(w.model, whisper::Model::load(spec.path));
        w.backend = std::make_unique<cpu::CpuBackend>(threads);
        w.device = "cpu";
        VKAI_ASSIGN_OR_RETURN(w.rt, whisper::Runtime::create(*w.model, *w.backend));
        return w;
    };
}

std::shared_ptr<Engine> make_whisper_engine(const ModelSpec& spec, LoadedWhisper w, int max_queue) {
    auto e = std::make_shared<Engine>();
    e->spec = spec;
    e->loaded_at = int64_t(std::time(nullptr));
    e->stt = std::move(w);
    e->audio = std::make_unique<AudioQueue>(e->stt, max_queue);
    return e;
}

Loader cpu_loader(int threads, int default_parallel) {
    return [threads, default_parallel](const ModelSpec& spec) -> Result<LoadedLlm> {
        LoadedLlm l;
        VKAI_ASSIGN_OR_RETURN(llm::Model m, llm::Model::load(spec.path));
        l.model = std::make_unique<llm::Model>(std::move(m));
        llm::ContextParams cp;
        const int par = spec.parallel > 0 ? spec.parallel : default_parallel;
        cp.n_ctx = spec.ctx > 0 ? spec.ctx : 512 * int64_t(std::max(1, par));
        cp.n_batch = std::min<int64_t>(512, cp.n_ctx);
        cp.threads = threads;
        VKAI_ASSIGN_OR_RETURN(l.ctx, llm::Context::create(*l.model, cp));
        return l;
    };
}

Result<std::shared_ptr<Engine>> make_engine(const ModelSpec& spec, LoadedLlm l, int parallel, int max_queue) {
    auto e = std::make_shared<Engine>();
    e->spec = spec;
    const llm::Model& m = *l.model;
    const std::string text = llm::choose_template(std::string(m.gguf().get_string_or("tokenizer.chat_template", "")), hints_of(m), &e->template_source);
    auto t = llm::ChatTemplate::parse(text);
    if (!t.ok()) return Status(t.status()).with_context("chat template of " + spec.id + " (" + e->template_source + ")");
    e->tmpl = std::move(*t);
    e->think_tags = text.find("<think>") != std::string::npos;
    e->loaded_at = int64_t(std::time(nullptr));
    e->llm = std::move(l);
    e->sched = std::make_unique<Scheduler>(*e->llm.ctx, parallel, max_queue);
    return e;
}

ModelManager::ModelManager(std::vector<ModelSpec> specs, Loader loader, int default_parallel, int max_queue, int64_t idle_ttl_s,
                           WhisperLoader whisper_loader)
    : specs_(std::move(specs)), loader_(std::move(loader)), whisper_loader_(whisper_loader ? std::move(whisper_loader) : cpu_whisper_loader(1)),
      default_parallel_(default_parallel), max_queue_(max_queue), idle_ttl_s_(idle_ttl_s) {
    for (size_t i = 0; i < specs_.size(); ++i) {
        auto e = std::make_unique<Entry>();
        e->index = i;
        entries_.push_back(std::move(e));
    }
    reaper_ = std::thread([this] { reaper(); });
}

ModelManager::~ModelManager() {
    {
        std::lock_guard lk(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (reaper_.joinable()) reaper_.join();
    for (auto& t : loads_)
        if (t.joinable()) t.join();
}

const ModelSpec* ModelManager::find(const std::string& name, ModelKind kind) const {
    if (name.empty()) {
        for (const auto& s : specs_)
            if (s.kind == kind) return &s;
        return nullptr;
    }
    auto match = [&](const std::string& n) -> const ModelSpec* {
        for (const auto& s : specs_) {
            if (s.id == n) return &s;
            for (const auto& a : s.aliases)
                if (a == n) return &s;
        }
        return nullptr;
    };
    if (const ModelSpec* s = match(name)) return s;
    const std::string latest = ":latest";
    if (name.size() > latest.size() && name.compare(name.size() - latest.size(), latest.size(), latest) == 0)
        return match(name.substr(0, name.size() - latest.size()));
    return nullptr;
}

void ModelManager::start_load(Entry& e) {
    e.loading = true;
    e.error = Status();
    loads_.emplace_back([this, p = &e] { load_thread(p); });
}

void ModelManager::load_thread(Entry* e) {
    const ModelSpec& spec = specs_[e->index];
    const int parallel = spec.parallel > 0 ? spec.parallel : default_parallel_;
    const double t0 = now_s();
    const bool stt = spec.kind == ModelKind::whisper;
    // One load attempt of either kind, as an engine.
    auto load = [&]() -> Result<std::shared_ptr<Engine>> {
        if (stt) {
            VKAI_ASSIGN_OR_RETURN(LoadedWhisper w, whisper_loader_(spec));
            return make_whisper_engine(spec, std::move(w), max_queue_);
        }
        VKAI_ASSIGN_OR_RETURN(LoadedLlm l, loader_(spec));
        return make_engine(spec, std::move(l), parallel, max_queue_);
    };
    Result<std::shared_ptr<Engine>> eng = load();
    // Out of memory: unload the least recently used idle model and try again, until none is left.
    while (!eng.ok() && eng.status().code() == Code::out_of_memory) {
        std::shared_ptr<Engine> victim;
        {
            std::lock_guard lk(mu_);
            Entry* lru = nullptr;
            for (auto& o : entries_)
                if (o.get() != e && o->engine && o->engine.use_count() == 1 && (!lru || o->last_used < lru->last_used)) lru = o.get();
            if (!lru) break;
            victim = std::move(lru->engine);
            VKAI_LOG_INFO("server: unloading %s to make room for %s", victim->spec.id.c_str(), spec.id.c_str());
        }
        victim.reset();
        eng = load();
    }
    std::lock_guard lk(mu_);
    e->loading = false;
    if (eng.ok()) {
        e->engine = *eng;
        e->last_used = now_s();
        if (stt) {
            const whisper::Model& m = *e->engine->stt.model;
            VKAI_LOG_INFO("server: whisper model %s loaded in %.2f s (%s, %s, %s; device %s)", spec.id.c_str(), now_s() - t0, m.size_name().c_str(),
                          dtype_name(m.matrix_type()), m.vocab().multilingual() ? "multilingual" : "English-only", e->engine->stt.device.c_str());
        } else {
            VKAI_LOG_INFO("server: model %s loaded in %.2f s (%d slots of %lld tokens, chat template: %s)", spec.id.c_str(), now_s() - t0, parallel,
                          (long long)e->engine->sched->slot_ctx(), e->engine->template_source.c_str());
        }
    } else {
        e->error = Status(eng.status()).with_context("loading model " + spec.id);
        VKAI_LOG_ERROR("server: %s", e->error.message().c_str());
    }
    cv_.notify_all();
}

Result<std::shared_ptr<Engine>> ModelManager::acquire(const std::string& name, ModelKind kind) {
    const ModelSpec* spec = find(name, kind);
    if (!spec) return fail(Code::not_found, "model '%s' not found", name.c_str());
    if (spec->kind != kind) {
        if (spec->kind == ModelKind::whisper)
            return fail(Code::invalid_argument, "model '%s' is a whisper speech-to-text model: use it with /v1/audio/transcriptions or /v1/audio/translations",
                        name.c_str());
        return fail(Code::invalid_argument, "model '%s' is a language model, not a whisper speech-to-text model", name.c_str());
    }
    std::unique_lock lk(mu_);
    Entry& e = *entries_[size_t(spec - specs_.data())];
    if (!e.engine && !e.loading) start_load(e);
    cv_.wait(lk, [&] { return stop_ || e.engine || !e.loading; });
    if (stop_) return fail(Code::cancelled, "the server is shutting down");
    if (!e.engine) return e.error.ok() ? fail(Code::internal, "model %s did not load", spec->id.c_str()) : e.error;
    e.last_used = now_s();
    return e.engine;
}

void ModelManager::preload(const std::string& id) {
    const ModelSpec* spec = find(id);
    if (!spec) return;
    std::lock_guard lk(mu_);
    Entry& e = *entries_[size_t(spec - specs_.data())];
    if (!e.engine && !e.loading) start_load(e);
}

std::string ModelManager::state(const std::string& id) const {
    const ModelSpec* spec = find(id);
    if (!spec) return "unknown";
    std::lock_guard lk(mu_);
    const Entry& e = *entries_[size_t(spec - specs_.data())];
    return e.engine ? "loaded" : e.loading ? "loading" : e.error.ok() ? "unloaded" : "failed";
}

bool ModelManager::any_loading() const {
    std::lock_guard lk(mu_);
    return std::any_of(entries_.begin(), entries_.end(), [](const auto& e) { return e->loading; });
}

std::vector<std::shared_ptr<Engine>> ModelManager::loaded(ModelKind kind) const {
    std::lock_guard lk(mu_);
    std::vector<std::shared_ptr<Engine>> out;
    for (const auto& e : entries_)
        if (e->engine && e->engine->spec.kind == kind) out.push_back(e->engine);
    return out;
}

void ModelManager::reaper() {
    std::unique_lock lk(mu_);
    while (!stop_) {
        cv_.wait_for(lk, std::chrono::milliseconds(500));
        if (stop_ || idle_ttl_s_ <= 0) continue;
        const double now = now_s();
        for (auto& e : entries_) {
            if (!e->engine || e->engine.use_count() != 1 || now - e->last_used < double(idle_ttl_s_)) continue;
            // A request may be in flight without a reference only before acquire() returned, which
            // holds mu_; so no one can pick this engine up while we drop it.
            std::shared_ptr<Engine> drop = std::move(e->engine);
            VKAI_LOG_INFO("server: unloading %s after %lld s idle", drop->spec.id.c_str(), (long long)idle_ttl_s_);
            lk.unlock();
            drop.reset();
            lk.lock();
        }
    }
}

} // namespace vkai::server
