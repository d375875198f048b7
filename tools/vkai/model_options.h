// Options shared by the commands that load and run an LLM (run, perplexity, logits, chat).
#pragma once

#include "args.h"
#include "llm/forward.h"
#include "llm/model.h"
#include "llm/sampler.h"
#include "plan/plan.h"

#include <memory>
#include <vector>

namespace vkai::cli {

std::vector<Option> model_options();    // -m, -c, -b, -t, --kv-type, --device, -ngl, --vram, --ctx-floor, --cpu-moe, --n-cpu-moe
std::vector<Option> sampling_options(); // --temp, --top-k, --top-p, --min-p, --typical, penalties, --seed

struct LoadedModel {
    std::unique_ptr<llm::Model> model;
    std::unique_ptr<Backend> backend; // before ctx: destroyed after it
    std::unique_ptr<llm::Context> ctx;
    double load_s = 0;
    plan::Placement placement; // what the plan chose (or reported, with an explicit -ngl)
    int load_attempts = 1;     // > 1: allocation failures at load made the plan retry smaller
};

// The planner's inputs for a loaded model: the footprint (tensor table + dry runs of the Context at
// each context size of the ladder), the probe of `gpu` (null: no GPU) and the policy from the
// command line (-c, --ctx-floor, -ngl, --cpu-moe, -b, --kv-type). default_ctx as in load_model.
struct PlanInputs {
    plan::Footprint footprint;
    plan::Probe probe;
    plan::Policy policy;
    int64_t n_batch = 512;
    int64_t head_dim = 0, n_head = 0, n_head_kv = 0; // the attention shape the rates probe times
    DType kv_type = DType::F16;
    int threads = 0;
};
// The backend for --device (auto: the first GPU, else the CPU), with --vram as its allocation cap.
Result<std::unique_ptr<Backend>> open_device(const Args& args, std::string& why);
Result<PlanInputs> plan_inputs(const Args& args, const llm::Model& model, Backend* gpu, int64_t default_ctx = 4096);
// MoE placements are priced by the cost model: measures the rates (plan::measure_rates, ~0.1-0.5 s)
// when the model is MoE, a GPU is in the probe and the plan chooses the placement (always: also for
// a forced one, whose estimate vkai plan prints); VKAI_PLAN_RATES or a failed measurement leave the
// given/assumed ones. gpu null: the GPU rates stay assumed.
Status price_plan(PlanInputs& in, Backend* gpu, bool always);

// Loads -m MODEL and creates a context from -c/-b/-t/--kv-type; logs what was loaded and where.
// -ngl auto (the default) places layers by the plan (src/plan); an allocation failure during load
// re-plans with a smaller device budget and retries, down to the CPU.
// default_ctx applies when -c is absent (then also capped at the model's training context).
Result<LoadedModel> load_model(const Args& args, int64_t default_ctx = 4096);
Result<llm::SamplerParams> sampling_params(const Args& args);

} // namespace vkai::cli
