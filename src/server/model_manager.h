// The models a server can run: their ids, files and options (from -m or a config file), loaded on
// first use by a background thread, unloaded after an idle TTL, least recently used evicted first
// when a load fails for memory. Requests name models by id or alias only; a request never makes the
// server open a path. Two kinds of model live side by side: LLMs (a Scheduler each) and whisper
// speech-to-text models (an AudioQueue each); the kind comes from the file's magic, not its name.
#pragma once

#include "base/status.h"
#include "llm/chat_template.h"
#include "llm/forward.h"
#include "llm/model.h"
#include "server/audio_queue.h"
#include "server/scheduler.h"

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vkai::server {

enum class ModelKind { llm, whisper };
const char* model_kind_name(ModelKind k); // "llm" | "whisper"

// whisper: a whisper.cpp ggml .bin (magic "ggml") or a GGUF whose general.architecture is
// "whisper"; anything else (unreadable files included: their load reports the error) is an LLM.
ModelKind detect_model_kind(const std::string& path);

struct ModelSpec {
    std::string id;   // default: the file stem
    std::string path;
    ModelKind kind = ModelKind::llm;
    std::vector<std::string> aliases;
    int64_t ctx = 0;     // total KV cells shared by the slots; 0: the loader's default
    int64_t ngl = -1;    // layers on the GPU; < 0: all
    int parallel = 0;    // slots; 0: the server's --parallel
};

// What a loader produces; members are destroyed in reverse order (context before backend and model).
struct LoadedLlm {
    std::unique_ptr<llm::Model> model;
    std::unique_ptr<Backend> backend;
    std::unique_ptr<llm::Context> ctx;
};
using Loader = std::function<Result<LoadedLlm>(const ModelSpec&)>;
using WhisperLoader = std::function<Result<LoadedWhisper>(const ModelSpec&)>;

// Loads on the CPU (tests; the serve command passes a loader that picks the device).
// ctx when spec.ctx is 0: 512 cells per slot, capped by nothing else.
Loader cpu_loader(int threads, int default_parallel);
// Whisper on the CPU backend with `threads` threads (<= 0: all cores), as `vkai transcribe` runs it.
WhisperLoader cpu_whisper_loader(int threads);

// A loaded model and everything requests need from it: llm + tmpl + sched for an LLM, stt + audio
// for a whisper model (spec.kind says which).
struct Engine {
    ModelSpec spec;
    LoadedLlm llm;
    llm::ChatTemplate tmpl;
    std::string template_source; // "model" or the built-in's name
    bool think_tags = false;      // the template uses <think> (reasoning_content split)
    int64_t loaded_at = 0;        // unix seconds
    LoadedWhisper stt;
    std::unique_ptr<AudioQueue> audio; // after stt: destroyed first (joins its worker)
    std::unique_ptr<Scheduler> sched; // last: destroyed first (stops the worker before the context goes)
};

class ModelManager {
public:
    // whisper_loader: for the whisper specs (empty: cpu_whisper_loader(1)).
    ModelManager(std::vector<ModelSpec> specs, Loader loader, int default_parallel, int max_queue, int64_t idle_ttl_s,
                 WhisperLoader whisper_loader = {});
    ~ModelManager();

    // The spec a request's model name refers to: an id or alias (of any kind), also with Ollama's
    // ":latest" suffix. Empty name: the first model of `kind`. nullptr when unknown.
    const ModelSpec* find(const std::string& name, ModelKind kind = ModelKind::llm) const;
    const std::vector<ModelSpec>& specs() const { return specs_; }

    // Waits until the model is loaded (starting the load if needed). Errors: not_found (unknown
    // name), invalid_argument (the model is not of `kind`: a chat request naming a whisper model),
    // the loader's error, cancelled (the server is shutting down).
    Result<std::shared_ptr<Engine>> acquire(const std::string& name, ModelKind kind = ModelKind::llm);
    std::string state(const std::string& id) const; // loaded | loading | unloaded | failed
    bool any_loading() const;
    void preload(const std::string& id); // starts loading in the background, returns at once
    std::vector<std::shared_ptr<Engine>> loaded(ModelKind kind = ModelKind::llm) const; // loaded models of one kind

private:
    struct Entry;
    void start_load(Entry& e); // mu_ held
    void load_thread(Entry* e);
    void reaper();

    std::vector<ModelSpec> specs_;
    Loader loader_;
    WhisperLoader whisper_loader_;
    int default_parallel_, max_queue_;
    int64_t idle_ttl_s_;
    std::vector<std::unique_ptr<Entry>> entries_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::vector<std::thread> loads_;
    std::thread reaper_;
};

// Builds the engine around a loaded model: chat template, scheduler.
Result<std::shared_ptr<Engine>> make_engine(const ModelSpec& spec, LoadedLlm llm, int parallel, int max_queue);
// Around a loaded whisper model: its audio queue (max_queue waiting requests).
std::shared_ptr<Engine> make_whisper_engine(const ModelSpec& spec, LoadedWhisper w, int max_queue);

} // namespace vkai::server
