// vkai perplexity: exp(mean negative log-likelihood) of a text, in windows of the context size.
// Each window is evaluated from an empty cache and only its second half is scored, so every scored
// token sees at least half a window of context (the convention other engines report).
#include "args.h"
#include "commands.h"
#include "model_options.h"

#include "base/mapped_file.h"
#include "base/timer.h"

#include <cmath>
#include <cstdio>

namespace vkai::cli {

int cmd_perplexity(int argc, char** argv) {
    std::vector<Option> opts = model_options();
    opts.push_back({"file", "f", "FILE", "text file to score"});
    opts.push_back({"json", "", "", "print the result as JSON"});
    Args args("perplexity", "-m MODEL -f TEXT [-c CTX]", opts);
    Status st = args.parse(argc, argv);
    if (!st.ok()) return report("perplexity", st);
    if (args.help_requested()) {
        std::printf("%s", args.help().c_str());
        return 0;
    }
    if (!args.has("file")) return report("perplexity", fail(Code::invalid_argument, "missing -f TEXT"));
    auto text = read_file(args.get("file"));
    if (!text.ok()) return report("perplexity", text.status());
    auto lm = load_model(args);
    if (!lm.ok()) return report("perplexity", lm.status());
    llm::Context& ctx = *lm->ctx;
    const llm::Tokenizer& tok = lm->model->tokenizer();
    const int64_t n_vocab = lm->model->hp().n_vocab;

    std::vector<int32_t> ids = tok.encode(*text, false, false);
    const int64_t n_ctx = ctx.kv().n_cells();
    const bool bos = tok.add_bos() && tok.bos() >= 0;
    const int64_t window = n_ctx - (bos ? 1 : 0); // text tokens per window
    if (window < 2 || int64_t(ids.size()) < 2)
        return report("perplexity", fail(Code::invalid_argument, "text too short: %zu tokens (need at least 2 and a context of at least 3)", ids.size()));
    const int64_t n_windows = std::max<int64_t>(1, int64_t(ids.size()) / window);

    double nll = 0, nll2 = 0;
    int64_t scored = 0;
    const double t0 = now_s();
    for (int64_t w = 0; w < n_windows; ++w) {
        const int64_t begin = w * window;
        const int64_t len = std::min<int64_t>(window, int64_t(ids.size()) - begin);
        std::vector<int32_t> seq;
        if (bos) seq.push_back(tok.bos());
        seq.insert(seq.end(), ids.begin() + begin, ids.begin() + begin + len);
        ctx.kv().clear();
        const int64_t first = std::max<int64_t>(1, int64_t(seq.size()) / 2); // score predictions of seq[first..]
        const int64_t nb = ctx.params().n_batch;
        for (int64_t i = 0; i < int64_t(seq.size()); i += nb) {
            llm::Batch b;
            const int64_t end = std::min<int64_t>(int64_t(seq.size()), i + nb);
            for (int64_t j = i; j < end; ++j) b.add(seq[size_t(j)], int32_t(j), 0, j + 1 >= first && j + 1 < int64_t(seq.size()));
            Status ds = ctx.decode(b);
            if (!ds.ok()) return report("perplexity", ds);
            int64_t li = 0;
            for (int64_t j = i; j < end; ++j) {
                if (!(j + 1 >= first && j + 1 < int64_t(seq.size()))) continue;
                const float* lg = ctx.logits(li++);
                float mx = -INFINITY;
                for (int64_t v = 0; v < n_vocab; ++v) mx = std::max(mx, lg[v]);
                double sum = 0;
                for (int64_t v = 0; v < n_vocab; ++v) sum += std::exp(double(lg[v]) - mx);
                const double lp = double(lg[seq[size_t(j + 1)]]) - mx - std::log(sum);
                nll -= lp;
                nll2 += lp * lp;
                ++scored;
            }
        }
        if (!args.has("json")) std::fprintf(stderr, "[%lld/%lld] running perplexity %.4f\n", (long long)(w + 1), (long long)n_windows, std::exp(nll / double(scored)));
    }
    const double mean = nll / double(scored);
    const double var = nll2 / double(scored) - mean * mean;
    const double ppl = std::exp(mean);
    const double err = scored > 1 ? ppl * std::sqrt(std::max(var, 0.0) / double(scored - 1)) : 0.0;
    const double secs = now_s() - t0;
    if (args.has("json")) {
        std::printf("{\"perplexity\": %.6f, \"stderr\": %.6f, \"tokens_scored\": %lld, \"windows\": %lld, \"ctx\": %lld, \"seconds\": %.3f}\n", ppl, err,
                    (long long)scored, (long long)n_windows, (long long)n_ctx, secs);
    } else {
        std::printf("perplexity: %.4f +/- %.4f over %lld tokens (%lld windows of %lld), %.2f s\n", ppl, err, (long long)scored, (long long)n_windows,
                    (long long)n_ctx, secs);
    }
    return 0;
}

} // namespace vkai::cli
