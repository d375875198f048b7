// The models a server can run: their ids, files and options (from -m or a config file), loaded on
// first use by a background thread, unloaded after an idle TTL, least recently used evicted first
// when a load fails for memory. Requests name models by id or alias only; a request never makes the
// server open a path.
#pragma once

#include "base/status.h"
#include "llm/chat_template.h"
#include "llm/forward.h"
#include "llm/model.h"
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

struct ModelSpec {
    std::string id;   // default: the file stem
    std::string path;
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

// Loads on the CPU (tests; the serve command passes a loader that picks the device).
// ctx when spec.ctx is 0: 512 cells per slot, capped by nothing else.
Loader cpu_loader(int threads, int default_parallel);

// A loaded model and everything requests need from it.
struct Engine {
    ModelSpec spec;
    LoadedLlm llm;
    llm::ChatTemplate tmpl;
    std::string template_source; // "model" or the built-in's name
    bool think_tags = false;      // the template uses <think> (reasoning_content split)
    int64_t loaded_at = 0;        // unix seconds
    std::unique_ptr<Scheduler> sched; // last: destroyed first (stops the worker before the context goes)
};

class ModelManager {
public:
    ModelManager(std::vector<ModelSpec> specs, Loader loader, int default_parallel, int max_queue, int64_t idle_ttl_s);
    ~ModelManager();

    // The spec a request's model name refers to: an id or alias, also with Ollama's ":latest"
    // suffix. Empty name: the first model. nullptr when unknown.
    const ModelSpec* find(const std::string& name) const;
    const std::vector<ModelSpec>& specs() const { return specs_; }

    // Waits until the model is loaded (starting the load if needed). Errors: not_found (unknown
    // name), the loader's error, cancelled (the server is shutting down).
    Result<std::shared_ptr<Engine>> acquire(const std::string& name);
    std::string state(const std::string& id) const; // loaded | loading | unloaded | failed
    bool any_loading() const;
    void preload(const std::string& id); // starts loading in the background, returns at once
    std::vector<std::shared_ptr<Engine>> loaded() const;

private:
    struct Entry;
    void start_load(Entry& e); // mu_ held
    void load_thread(Entry* e);
    void reaper();

    std::vector<ModelSpec> specs_;
    Loader loader_;
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

} // namespace vkai::server
