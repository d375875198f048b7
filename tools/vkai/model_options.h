// Options shared by the commands that load and run an LLM (run, perplexity, logits, chat).
#pragma once

#include "args.h"
#include "llm/forward.h"
#include "llm/model.h"
#include "llm/sampler.h"

#include <memory>
#include <vector>

namespace vkai::cli {

std::vector<Option> model_options();    // -m, -c, -b, -t, --kv-type, --device
std::vector<Option> sampling_options(); // --temp, --top-k, --top-p, --min-p, --typical, penalties, --seed

struct LoadedModel {
    std::unique_ptr<llm::Model> model;
    std::unique_ptr<Backend> backend; // before ctx: destroyed after it
    std::unique_ptr<llm::Context> ctx;
    double load_s = 0;
};

// Loads -m MODEL and creates a context from -c/-b/-t/--kv-type; logs what was loaded and where.
// default_ctx applies when -c is absent (then also capped at the model's training context).
Result<LoadedModel> load_model(const Args& args, int64_t default_ctx = 4096);
Result<llm::SamplerParams> sampling_params(const Args& args);

} // namespace vkai::cli
