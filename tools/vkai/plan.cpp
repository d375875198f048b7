// vkai plan: the memory plan for a model on this machine (src/plan): which layers, experts, KV cache
// and compute buffers go on which device, the context size, and the expected speed class. Nothing
// is uploaded: the model file is mapped and the Context is measured by a dry run.
#include "args.h"
#include "commands.h"
#include "model_options.h"

#include "base/text.h"

#include <cstdio>

namespace vkai::cli {

int cmd_plan(int argc, char** argv) {
    std::vector<Option> opts = model_options();
    opts.push_back({"ctx", "", "N", "context size asked for (same as -c)"});
    opts.push_back({"json", "", "", "print the plan as JSON"});
    Args args("plan", "-m MODEL [--ctx N] [--vram BYTES] [-ngl N] [--cpu-moe | --n-cpu-moe N] [--json]", opts);
    Status st = args.parse(argc, argv);
    if (!st.ok()) return report("plan", st);
    if (args.help_requested()) {
        std::printf("%s", args.help().c_str());
        return 0;
    }
    if (!args.has("model")) return report("plan", fail(Code::invalid_argument, "missing -m MODEL (a GGUF file)"));
    auto model = llm::Model::load(args.get("model"));
    if (!model.ok()) return report("plan", model.status());
    std::string why;
    auto be = open_device(args, why);
    if (!be.ok()) return report("plan", be.status());
    Backend* gpu = (*be)->name() != "cpu" ? be->get() : nullptr;
    auto in = plan_inputs(args, *model, gpu);
    if (!in.ok()) return report("plan", in.status());
    // No GPU in use (none, a software one, or --device cpu) but --vram given: plan for a GPU with
    // that much free memory: what would fit on such a card.
    if (!gpu && args.has("vram")) {
        in->probe.has_gpu = true;
        in->probe.gpu_name = "gpu";
        in->probe.gpu_free = in->probe.gpu_cap;
        std::fprintf(stderr, "plan: no GPU in use (%s): planning for a GPU with --vram %s free\n", why.c_str(), args.get("vram").c_str());
    }
    st = price_plan(*in, gpu, true);
    if (!st.ok()) return report("plan", st);
    auto pl = plan::make_plan(in->footprint, in->probe, in->policy);
    if (!pl.ok()) return report("plan", pl.status());
    const std::string out = args.has("json") ? plan::format_json(*pl, in->footprint, in->probe) : plan::format_table(*pl, in->footprint, in->probe);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}

} // namespace vkai::cli
