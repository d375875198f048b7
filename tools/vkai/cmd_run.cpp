// vkai run: generate text from a prompt; only the generated text goes to stdout.
#include "args.h"
#include "commands.h"
#include "model_options.h"

#include "llm/generate.h"

#include <cstdio>

namespace vkai::cli {

int cmd_run(int argc, char** argv) {
    std::vector<Option> opts = model_options();
    for (auto& o : sampling_options()) opts.push_back(o);
    opts.push_back({"prompt", "p", "TEXT", "the prompt"});
    opts.push_back({"n-predict", "n", "N", "tokens to generate; -1 = until the context is full (default 128)"});
    opts.push_back({"ignore-eos", "", "", "keep generating after end-of-text"});
    Args args("run", "-m MODEL -p PROMPT [options]", opts);
    Status st = args.parse(argc, argv);
    if (!st.ok()) return report("run", st);
    if (args.help_requested()) {
        std::printf("%s", args.help().c_str());
        return 0;
    }
    if (!args.has("prompt")) return report("run", fail(Code::invalid_argument, "missing -p PROMPT"));
    auto n_predict = args.get_int("n-predict", 128);
    if (!n_predict.ok()) return report("run", n_predict.status());
    auto sp = sampling_params(args);
    if (!sp.ok()) return report("run", sp.status());
    auto lm = load_model(args);
    if (!lm.ok()) return report("run", lm.status());

    const llm::Tokenizer& tok = lm->model->tokenizer();
    std::vector<int32_t> prompt = tok.encode(args.get("prompt"), true, true);
    llm::GenerateParams gp;
    gp.max_tokens = *n_predict;
    gp.sampling = *sp;
    gp.ignore_eos = args.has("ignore-eos");
    auto res = llm::generate(*lm->ctx, prompt, gp, [](std::string_view text) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
        return true;
    });
    std::printf("\n");
    if (!res.ok()) return report("run", res.status());
    std::fprintf(stderr, "load %.2f s | prompt %lld tokens, %.1f tok/s | generated %lld tokens, %.1f tok/s | seed %llu | finish: %s\n",
                 lm->load_s, (long long)res->n_prompt, res->prompt_s > 0 ? double(res->n_prompt) / res->prompt_s : 0.0,
                 (long long)res->n_generated, res->generate_s > 0 ? double(res->n_generated) / res->generate_s : 0.0,
                 (unsigned long long)res->seed, res->finish_reason.c_str());
    return 0;
}

} // namespace vkai::cli
