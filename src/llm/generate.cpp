#include "llm/generate.h"

#include "base/log.h"
#include "base/timer.h"

#include <algorithm>

namespace vkai::llm {

std::string StopMatcher::push(std::string_view piece, bool& stopped) {
    held_.append(piece);
    stopped = false;
    size_t cut = std::string::npos;
    for (const auto& s : stops_) {
        if (s.empty()) continue;
        size_t at = held_.find(s);
        if (at != std::string::npos) cut = std::min(cut, at);
    }
    if (cut != std::string::npos) {
        stopped = true;
        std::string out = held_.substr(0, cut);
        held_.clear();
        return out;
    }
    // Keep the longest suffix that is a prefix of some stop string.
    size_t keep = 0;
    for (const auto& s : stops_)
        for (size_t len = std::min(s.size() - (s.empty() ? 0 : 1), held_.size()); len > keep; --len)
            if (held_.compare(held_.size() - len, len, s, 0, len) == 0) {
                keep = len;
                break;
            }
    std::string out = held_.substr(0, held_.size() - keep);
    held_.erase(0, held_.size() - keep);
    return out;
}

std::string StopMatcher::flush() {
    std::string out;
    out.swap(held_);
    return out;
}

Result<GenerateResult> generate(Context& ctx, const std::vector<int32_t>& prompt, const GenerateParams& gp,
                                FunctionRef<bool(std::string_view)> on_text, int32_t pos0) {
    GenerateResult res;
    if (prompt.empty()) return fail(Code::invalid_argument, "the prompt is empty (no tokens)");
    const Model& model = ctx.model();
    const int64_t n_vocab = model.hp().n_vocab;
    const int64_t n_ctx = ctx.kv().n_cells();
    if (int64_t(pos0) + int64_t(prompt.size()) > n_ctx)
        return fail(Code::invalid_argument, "the prompt has %zu tokens but the context holds %lld; use a larger -c", prompt.size() + size_t(pos0), (long long)n_ctx);

    // decode() with the run-time fallback: a GPU fault moves the context to the CPU and the batch
    // runs again there (the cache was rolled back to before it).
    auto decode = [&](const Batch& b) -> Status {
        Status st = ctx.decode(b);
        if (st.ok() || !gp.cpu_fallback || !ctx.gpu_failed()) return st;
        VKAI_TRY(ctx.fallback_to_cpu(st));
        res.fallback = ctx.fallback_reason();
        return ctx.decode(b);
    };
    Sampler sampler(gp.sampling);
    res.seed = sampler.seed();
    res.n_prompt = int64_t(prompt.size());

    // Prompt in batches; logits for the last token only.
    double t0 = now_s();
    Batch batch;
    const int64_t nb = ctx.params().n_batch;
    for (size_t i = 0; i < prompt.size(); i += size_t(nb)) {
        batch.clear();
        const size_t end = std::min(prompt.size(), i + size_t(nb));
        for (size_t j = i; j < end; ++j) batch.add(prompt[j], pos0 + int32_t(j), gp.seq, j + 1 == prompt.size());
        VKAI_TRY(decode(batch));
    }
    res.prompt_s = now_s() - t0;

    std::vector<int32_t> history(prompt.begin(), prompt.end());
    Detokenizer detok(model.tokenizer());
    StopMatcher stop(gp.stop);
    int32_t pos = pos0 + int32_t(prompt.size());
    double t1 = now_s();
    res.finish_reason = "length";
    for (int64_t n = 0; gp.max_tokens < 0 || n < gp.max_tokens; ++n) {
        const int32_t tok = sampler.sample(ctx.logits(0), n_vocab, history);
        if (!gp.ignore_eos && model.tokenizer().is_eog(tok)) {
            res.finish_reason = "stop";
            break;
        }
        history.push_back(tok);
        res.tokens.push_back(tok);
        ++res.n_generated;
        bool stopped = false;
        std::string text = stop.push(detok.push(tok), stopped);
        if (!text.empty() && !on_text(text)) {
            res.finish_reason = "cancelled";
            break;
        }
        if (stopped) {
            res.finish_reason = "stop";
            break;
        }
        if (pos >= n_ctx) break; // context full
        if (gp.max_tokens >= 0 && n + 1 >= gp.max_tokens) break;
        batch.clear();
        batch.add(tok, pos++, gp.seq, true);
        VKAI_TRY(decode(batch));
    }
    if (res.finish_reason != "cancelled") {
        bool stopped = false;
        std::string tail = stop.push(detok.flush(), stopped);
        if (!stopped) tail += stop.flush();
        if (!tail.empty()) on_text(tail);
    }
    res.generate_s = now_s() - t1;
    res.device = ctx.backend().name();
    if (!res.fallback.empty()) VKAI_LOG_WARN("request served by the cpu after a fault on %s", res.fallback.c_str());
    return res;
}

} // namespace vkai::llm
