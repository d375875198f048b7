// vkai bench: prompt processing (pp) and generation (tg) speed of a model, with the effective
// weight bandwidth of generation beside the machine's measured memory read bandwidth.
#include "args.h"
#include "commands.h"
#include "model_options.h"

#include "base/log.h"
#include "base/text.h"
#include "base/thread_pool.h"
#include "base/timer.h"
#include "cpu/cpu.h"

#include <algorithm>
#include <cstdio>

namespace vkai::cli {
namespace {

// Weight bytes one generated token reads: every matrix of every layer and the output head; the
// embedding contributes one row; MoE layers read only the chosen experts.
uint64_t bytes_per_token(const llm::Model& m) {
    const llm::HParams& hp = m.hp();
    uint64_t total = 0;
    for (const auto& t : m.gguf().tensors) {
        const std::string_view n = t.name;
        if (n == "token_embd.weight") {
            total += t.bytes / uint64_t(std::max<int64_t>(1, t.ne[1]));
            if (hp.tied_embeddings) total += t.bytes; // it is also the output head
        } else if (n.find("_exps.") != std::string_view::npos && hp.n_expert > 0) {
            total += t.bytes / uint64_t(hp.n_expert) * uint64_t(hp.n_expert_used);
        } else {
            total += t.bytes;
        }
    }
    return total;
}

} // namespace

int cmd_bench(int argc, char** argv) {
    std::vector<Option> opts = model_options();
    opts.push_back({"n-prompt", "p", "N", "prompt tokens for the pp test (default 512; 0 skips)"});
    opts.push_back({"n-gen", "n", "N", "generated tokens for the tg test (default 128; 0 skips)"});
    opts.push_back({"reps", "r", "N", "repetitions, best is reported (default 3)"});
    opts.push_back({"json", "", "", "print one JSON object"});
    Args args("bench", "-m MODEL [-p 512] [-n 128] [-t THREADS]", opts);
    Status st = args.parse(argc, argv);
    if (!st.ok()) return report("bench", st);
    if (args.help_requested()) {
        std::printf("%s", args.help().c_str());
        return 0;
    }
    auto np = args.get_int("n-prompt", 512), ng = args.get_int("n-gen", 128), reps = args.get_int("reps", 3);
    for (const Status* s : {&np.status(), &ng.status(), &reps.status()})
        if (!s->ok()) return report("bench", *s);
    if (*np < 0 || *ng < 0 || *reps < 1) return report("bench", fail(Code::invalid_argument, "-p and -n must be >= 0 and -r >= 1"));
    // Room for the longer test by default; a fresh cache's size does not change the timings.
    auto lm = load_model(args, std::max<int64_t>(*np, *ng) + 16);
    if (!lm.ok()) return report("bench", lm.status());
    llm::Context& ctx = *lm->ctx;
    const llm::Model& model = *lm->model;
    const int64_t n_vocab = model.hp().n_vocab;
    auto token = [&](int64_t i) { return int32_t((i * 7919 + 13) % n_vocab); };

    double pp = 0, tg = 0;
    for (int64_t r = 0; r < *reps; ++r) {
        if (*np > 0) {
            ctx.kv().clear();
            const double t0 = now_s();
            for (int64_t i = 0; i < *np; i += ctx.params().n_batch) {
                llm::Batch b;
                const int64_t end = std::min<int64_t>(*np, i + ctx.params().n_batch);
                for (int64_t j = i; j < end; ++j) b.add(token(j), int32_t(j), 0, j + 1 == *np);
                Status ds = ctx.decode(b);
                if (!ds.ok()) return report("bench", ds);
            }
            pp = std::max(pp, double(*np) / (now_s() - t0));
        }
        if (*ng > 0) {
            ctx.kv().clear();
            const double t0 = now_s();
            for (int64_t j = 0; j < *ng; ++j) {
                llm::Batch b;
                b.add(token(j), int32_t(j), 0, true);
                Status ds = ctx.decode(b);
                if (!ds.ok()) return report("bench", ds);
            }
            tg = std::max(tg, double(*ng) / (now_s() - t0));
        }
    }
    const uint64_t bpt = bytes_per_token(model);
    const double eff = tg * double(bpt) / 1e9;
    // The ceiling of the device that ran the layers (the main backend), measured in this run.
    // Without room for the probe (a tight --vram) the figures are still printed, with ceiling 0.
    auto bw = ctx.backend().read_bandwidth();
    if (!bw.ok()) VKAI_LOG_WARN("bench: read bandwidth not measured: %s", bw.status().message().c_str());
    const double ceiling = bw.ok() ? *bw : 0.0;
    const std::string dev = ctx.backend().name();
    const int threads = ctx.params().threads > 0 ? ctx.params().threads : ThreadPool::default_threads();
    if (args.has("json")) {
        std::printf("{\"model\": \"%s\", \"device\": \"%s\", \"threads\": %d, \"kernels\": \"%s\", \"weight_bytes\": %llu, "
                    "\"bytes_per_token\": %llu, \"pp\": %lld, \"pp_tok_s\": %.2f, \"tg\": %lld, \"tg_tok_s\": %.3f, "
                    "\"tg_gb_s\": %.2f, \"read_bw_gb_s\": %.2f, \"tg_bw_ratio\": %.3f}\n",
                    json_escape(args.get("model")).c_str(), dev.c_str(), threads, dev == "cpu" ? cpu::simd_name() : "vulkan", (unsigned long long)model.weight_bytes(),
                    (unsigned long long)bpt, (long long)*np, pp, (long long)*ng, tg, eff, ceiling, ceiling > 0 ? eff / ceiling : 0.0);
    } else {
        if (dev == "cpu")
            std::printf("model %s | cpu, %d threads, %s kernels | %s of weights, %s read per generated token\n", args.get("model").c_str(), threads,
                        cpu::simd_name(), format_bytes(model.weight_bytes()).c_str(), format_bytes(bpt).c_str());
        else
            std::printf("model %s | %s, %lld of %lld layers | %s of weights, %s read per generated token\n", args.get("model").c_str(), dev.c_str(),
                        (long long)ctx.n_gpu_layers(), (long long)model.hp().n_layer, format_bytes(model.weight_bytes()).c_str(), format_bytes(bpt).c_str());
        if (*np > 0) std::printf("pp%-5lld %10.2f tok/s\n", (long long)*np, pp);
        if (*ng > 0)
            std::printf("tg%-5lld %10.3f tok/s  = %.2f GB/s of weights; measured read bandwidth %.2f GB/s (%.0f%%)\n", (long long)*ng, tg, eff, ceiling,
                        ceiling > 0 ? 100.0 * eff / ceiling : 0.0);
    }
    return 0;
}

} // namespace vkai::cli
