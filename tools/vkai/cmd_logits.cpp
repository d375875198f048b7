// vkai logits: the logits at every prompt position as JSON (top-K, or all), for comparing engines.
#include "args.h"
#include "commands.h"
#include "model_options.h"

#include "base/text.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

namespace vkai::cli {

int cmd_logits(int argc, char** argv) {
    std::vector<Option> opts = model_options();
    opts.push_back({"prompt", "p", "TEXT", "the text"});
    opts.push_back({"top", "", "K", "top-K ids and logits per position (default 10)"});
    opts.push_back({"all", "", "", "every logit at every position"});
    opts.push_back({"json", "", "", "JSON output (the only format; accepted for clarity)"});
    opts.push_back({"no-special", "", "", "do not add BOS/EOS and do not parse special tokens"});
    Args args("logits", "-m MODEL -p TEXT [--top K | --all] --json", opts);
    Status st = args.parse(argc, argv);
    if (!st.ok()) return report("logits", st);
    if (args.help_requested()) {
        std::printf("%s", args.help().c_str());
        return 0;
    }
    if (!args.has("prompt")) return report("logits", fail(Code::invalid_argument, "missing -p TEXT"));
    auto top = args.get_int("top", 10);
    if (!top.ok()) return report("logits", top.status());
    if (*top < 1) return report("logits", fail(Code::invalid_argument, "--top must be >= 1"));
    auto lm = load_model(args);
    if (!lm.ok()) return report("logits", lm.status());
    llm::Context& ctx = *lm->ctx;
    const bool special = !args.has("no-special");
    std::vector<int32_t> ids = lm->model->tokenizer().encode(args.get("prompt"), special, special);
    if (ids.empty()) return report("logits", fail(Code::invalid_argument, "the text has no tokens"));
    if (int64_t(ids.size()) > ctx.params().n_batch)
        return report("logits", fail(Code::invalid_argument, "%zu tokens exceed the batch size %lld; raise -b and -c", ids.size(), (long long)ctx.params().n_batch));
    llm::Batch b;
    for (size_t i = 0; i < ids.size(); ++i) b.add(ids[i], int32_t(i), 0, true);
    Status ds = ctx.decode(b);
    if (!ds.ok()) return report("logits", ds);

    const int64_t n_vocab = lm->model->hp().n_vocab;
    const int64_t k = std::min<int64_t>(*top, n_vocab);
    std::string out = "{\"model\": \"" + json_escape(args.get("model")) + "\", \"n_vocab\": " + std::to_string(n_vocab) + ", \"tokens\": [";
    for (size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
    out += "], \"positions\": [";
    std::vector<int32_t> order(static_cast<size_t>(n_vocab));
    for (size_t i = 0; i < ids.size(); ++i) {
        const float* lg = ctx.logits(int64_t(i));
        out += strf("%s\n  {\"pos\": %zu, \"token\": %d, ", i ? "," : "", i, ids[i]);
        if (args.has("all")) {
            out += "\"logits\": [";
            for (int64_t v = 0; v < n_vocab; ++v) out += strf("%s%.6g", v ? ", " : "", lg[v]);
            out += "]}";
            continue;
        }
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t c) { return lg[a] > lg[c] || (lg[a] == lg[c] && a < c); });
        out += "\"top\": [";
        for (int64_t j = 0; j < k; ++j) out += strf("%s[%d, %.6g]", j ? ", " : "", order[size_t(j)], lg[order[size_t(j)]]);
        out += "]}";
    }
    out += "\n]}\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}

} // namespace vkai::cli
