#include "server/scheduler.h"

#include "base/log.h"
#include "base/timer.h"
#include "llm/generate.h"
#include "llm/tokenizer.h"
#include "server/json_prefix.h"

#include <algorithm>
#include <cmath>

namespace vkai::server {

// ---- Job ----

bool Job::wait(std::vector<Piece>& out, int timeout_ms) {
    std::unique_lock lk(mu_);
    if (pending_.empty() && !done_) cv_.wait_for(lk, std::chrono::milliseconds(timeout_ms), [&] { return !pending_.empty() || done_; });
    for (auto& p : pending_) out.push_back(std::move(p));
    pending_.clear();
    return done_;
}

JobStats Job::stats() const {
    std::lock_guard lk(mu_);
    return stats_;
}

Status Job::error() const {
    std::lock_guard lk(mu_);
    return error_;
}

void Job::emit(Piece p) {
    {
        std::lock_guard lk(mu_);
        pending_.push_back(std::move(p));
    }
    cv_.notify_all();
}

void Job::finish(JobStats st, Status err) {
    {
        std::lock_guard lk(mu_);
        stats_ = std::move(st);
        error_ = std::move(err);
        done_ = true;
    }
    cv_.notify_all();
}

// ---- Scheduler ----

struct Scheduler::Slot {
    int32_t seq = 0;
    std::shared_ptr<Job> job;
    std::vector<int32_t> cache; // tokens whose K/V this sequence holds, at positions 0..size-1
    size_t next_prompt = 0;     // first prompt token not yet in the cache
    bool generating = false;
    int32_t last_tok = -1;      // sampled, not yet decoded
    std::unique_ptr<llm::Sampler> sampler;
    std::unique_ptr<llm::Detokenizer> detok;
    std::unique_ptr<llm::StopMatcher> stop;
    std::unique_ptr<JsonPrefix> json;
    std::vector<int32_t> history; // prompt + generated (the penalties look at it)
    std::vector<TokenInfo> infos; // tokens since the last emitted piece
    std::vector<int32_t> added;   // tokens put into the current batch
    int64_t logits_index = -1;
    JobStats st;
    double t_admit = 0, t_gen = 0;
};

Scheduler::Scheduler(llm::Context& ctx, int n_slots, int max_queue) : ctx_(ctx), max_queue_(size_t(std::max(1, max_queue))) {
    n_slots = std::max(1, n_slots);
    slot_ctx_ = ctx.kv().n_cells() / n_slots;
    for (int i = 0; i < n_slots; ++i) {
        auto s = std::make_unique<Slot>();
        s->seq = i;
        slots_.push_back(std::move(s));
    }
    const llm::Tokenizer& tok = ctx.model().tokenizer();
    pieces_.resize(size_t(tok.n_vocab()));
    for (int32_t i = 0; i < tok.n_vocab(); ++i) {
        const llm::TokenType t = tok.token_type(i);
        // Control/unknown/unused tokens never appear in JSON output; an empty piece marks them.
        if (t == llm::TokenType::control || t == llm::TokenType::unknown || t == llm::TokenType::unused) continue;
        pieces_[size_t(i)] = tok.token_to_piece(i);
    }
    worker_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() {
    {
        std::lock_guard lk(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
}

std::shared_ptr<Job> Scheduler::submit(GenParams p) {
    auto job = std::make_shared<Job>(std::move(p));
    job->submitted_at = now_s();
    {
        std::lock_guard lk(mu_);
        if (stop_ || draining_ || queue_.size() >= max_queue_) return nullptr;
        queue_.push_back(job);
    }
    cv_.notify_all();
    return job;
}

void Scheduler::drain() {
    {
        std::lock_guard lk(mu_);
        draining_ = true;
        for (auto& j : queue_) j->cancel();
    }
    cv_.notify_all();
}

SchedulerMetrics Scheduler::metrics() const {
    std::lock_guard lk(mu_);
    SchedulerMetrics m;
    m.slots_total = int(slots_.size());
    m.slots_busy = busy_;
    m.queue_len = int(queue_.size());
    m.jobs_done = jobs_done_;
    m.tokens_prompt = tokens_prompt_;
    m.tokens_generated = tokens_generated_;
    m.steps = steps_;
    m.decode_ms = decode_ms_;
    m.sample_ms = sample_ms_;
    m.gen_decode_ms = gen_decode_ms_;
    m.gen_steps = gen_steps_;
    return m;
}

// Called with mu_ held: moves queued jobs into free slots, oldest first. A job goes to the free slot
// whose cached tokens share the longest prefix with its prompt (prompt cache reuse).
void Scheduler::admit() {
    while (!queue_.empty()) {
        std::shared_ptr<Job> job = queue_.front();
        if (job->cancelled()) {
            queue_.pop_front();
            JobStats st;
            st.finish_reason = "cancelled";
            job->finish(st);
            continue;
        }
        Slot* best = nullptr;
        size_t best_common = 0;
        const auto& prompt = job->params.prompt;
        for (auto& s : slots_) {
            if (s->job) continue;
            size_t common = 0;
            if (job->params.cache_prompt)
                while (common < s->cache.size() && common < prompt.size() && s->cache[common] == prompt[common]) ++common;
            if (!best || common > best_common) best = s.get(), best_common = common;
        }
        if (!best) return;
        queue_.pop_front();
        ++busy_;
        Slot& s = *best;
        // Keep at least the last prompt token to evaluate: its logits start generation.
        if (best_common >= prompt.size()) best_common = prompt.size() - 1;
        ctx_.kv().remove(s.seq, int32_t(best_common), -1);
        s.cache.resize(best_common);
        s.job = job;
        s.next_prompt = best_common;
        s.generating = false;
        s.last_tok = -1;
        const GenParams& p = job->params;
        s.sampler = std::make_unique<llm::Sampler>(p.sampling);
        s.detok = std::make_unique<llm::Detokenizer>(ctx_.model().tokenizer());
        s.stop = std::make_unique<llm::StopMatcher>(p.stop);
        s.json = p.json_object ? std::make_unique<JsonPrefix>(true) : nullptr;
        s.history = prompt;
        s.infos.clear();
        s.st = JobStats{};
        s.st.n_prompt = int64_t(prompt.size());
        s.st.n_cached = int64_t(best_common);
        s.st.seed = s.sampler->seed();
        s.t_admit = now_s();
        s.st.queued_ms = (s.t_admit - job->submitted_at) * 1e3;
    }
}

void Scheduler::run() {
    for (;;) {
        {
            std::unique_lock lk(mu_);
            if (stop_) break;
            admit();
            if (busy_ == 0) {
                cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
                continue;
            }
        }
        for (auto& s : slots_) {
            if (s->job && draining_) s->job->cancel();
            if (s->job && s->job->cancelled()) finish_slot(*s, "cancelled");
        }
        step();
    }
    for (auto& s : slots_)
        if (s->job) finish_slot(*s, "cancelled");
    std::lock_guard lk(mu_);
    for (auto& job : queue_) {
        JobStats st;
        st.finish_reason = "cancelled";
        job->finish(st);
    }
    queue_.clear();
}

bool Scheduler::step() {
    llm::Batch batch;
    std::vector<Slot*> in_batch;
    int64_t n_logits = 0;
    const int64_t n_batch = ctx_.params().n_batch;
    // One token of every generating slot first: generation never waits behind long prompts.
    for (auto& sp : slots_) {
        Slot& s = *sp;
        s.added.clear();
        s.logits_index = -1;
        if (!s.job || !s.generating || s.last_tok < 0) continue;
        batch.add(s.last_tok, int32_t(s.cache.size()), s.seq, true);
        s.added.push_back(s.last_tok);
        s.logits_index = n_logits++;
        in_batch.push_back(&s);
    }
    // Then prompt chunks, round-robin so one long prompt does not starve the others.
    const size_t ns = slots_.size();
    for (size_t k = 0; k < ns && batch.size() < n_batch; ++k) {
        Slot& s = *slots_[(rr_ + k) % ns];
        if (!s.job || s.generating) continue;
        const auto& prompt = s.job->params.prompt;
        const size_t n = std::min(prompt.size() - s.next_prompt, size_t(n_batch - batch.size()));
        for (size_t i = 0; i < n; ++i) {
            const size_t j = s.next_prompt + i;
            const bool last = j + 1 == prompt.size();
            batch.add(prompt[j], int32_t(s.cache.size() + i), s.seq, last);
            s.added.push_back(prompt[j]);
            if (last) s.logits_index = n_logits++;
        }
        if (n > 0) in_batch.push_back(&s);
    }
    rr_ = (rr_ + 1) % ns;
    if (batch.size() == 0) return false;

    const double t0 = now_s();
    Status st = ctx_.decode(batch);
    const double t1 = now_s();
    if (!st.ok()) {
        VKAI_LOG_ERROR("server: decode of %lld tokens failed: %s", (long long)batch.size(), st.message().c_str());
        for (Slot* s : in_batch) finish_slot(*s, "error", st);
        return true;
    }
    {
        std::lock_guard lk(mu_);
        ++steps_;
        decode_ms_ += (t1 - t0) * 1e3;
        if (batch.size() == n_logits && int64_t(in_batch.size()) == n_logits) {
            ++gen_steps_;
            gen_decode_ms_ += (t1 - t0) * 1e3;
        }
    }
    for (Slot* s : in_batch) {
        s->cache.insert(s->cache.end(), s->added.begin(), s->added.end());
        if (!s->generating) {
            s->next_prompt += s->added.size();
            if (s->next_prompt < s->job->params.prompt.size()) continue;
            s->generating = true;
            s->t_gen = now_s();
            s->st.prompt_ms = (s->t_gen - s->t_admit) * 1e3;
            std::lock_guard lk(mu_);
            tokens_prompt_ += uint64_t(s->st.n_prompt - s->st.n_cached);
        }
        sample_slot(*s, s->logits_index);
    }
    const double t2 = now_s();
    std::lock_guard lk(mu_);
    sample_ms_ += (t2 - t1) * 1e3;
    return true;
}

void Scheduler::sample_slot(Slot& s, int64_t li) {
    const GenParams& p = s.job->params;
    const llm::Tokenizer& tok = ctx_.model().tokenizer();
    const int64_t n_vocab = ctx_.model().hp().n_vocab;
    const float* logits = ctx_.logits(li);
    const float* use = logits;
    if (p.max_tokens == 0) return finish_slot(s, "length");
    if (s.json) {
        if (s.json->complete()) return finish_slot(s, "stop");
        // Mask every token whose bytes cannot continue a valid JSON object; end of generation only
        // once the object is complete.
        scratch_.assign(logits, logits + n_vocab);
        int64_t allowed = 0;
        for (int64_t i = 0; i < n_vocab; ++i) {
            const std::string& piece = pieces_[size_t(i)];
            bool ok = false;
            if (!piece.empty()) {
                JsonPrefix probe = *s.json;
                ok = probe.push(piece);
            }
            if (!ok) scratch_[size_t(i)] = -INFINITY;
            else ++allowed;
        }
        if (allowed == 0) return finish_slot(s, "stop");
        use = scratch_.data();
    }
    const int32_t id = s.sampler->sample(use, n_vocab, s.history);
    if (!p.ignore_eos && tok.is_eog(id)) return finish_slot(s, "stop");

    TokenInfo info;
    info.id = id;
    if (p.top_logprobs >= 0) {
        // log-softmax of the model's raw logits (before penalties and truncation).
        float mx = -INFINITY;
        for (int64_t i = 0; i < n_vocab; ++i) mx = std::max(mx, logits[i]);
        double sum = 0;
        for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(double(logits[i] - mx));
        const float lse = mx + float(std::log(sum));
        info.logprob = logits[id] - lse;
        const int k = std::min<int>(p.top_logprobs, int(n_vocab));
        if (k > 0) {
            std::vector<int32_t> ids(static_cast<size_t>(n_vocab));
            for (int64_t i = 0; i < n_vocab; ++i) ids[size_t(i)] = int32_t(i);
            std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
            for (int i = 0; i < k; ++i) info.top.push_back({ids[size_t(i)], logits[ids[size_t(i)]] - lse});
        }
    }
    s.history.push_back(id);
    ++s.st.n_generated;
    {
        std::lock_guard lk(mu_);
        ++tokens_generated_;
    }
    if (s.json) s.json->push(pieces_[size_t(id)]);
    bool stopped = false;
    std::string text = s.stop->push(s.detok->push(id), stopped);
    s.infos.push_back(std::move(info));
    if (!text.empty() || p.top_logprobs >= 0) s.job->emit(Piece{std::move(text), std::move(s.infos)}), s.infos.clear();
    if (stopped) return finish_slot(s, "stop");
    if (s.json && s.json->complete()) return finish_slot(s, "stop");
    if (p.max_tokens >= 0 && s.st.n_generated >= p.max_tokens) return finish_slot(s, "length");
    if (int64_t(s.cache.size()) + 1 > slot_ctx_) return finish_slot(s, "length");
    s.last_tok = id;
}

void Scheduler::finish_slot(Slot& s, const std::string& reason, Status err) {
    const double t = now_s();
    if (reason == "stop" || reason == "length") {
        bool stopped = false;
        std::string tail = s.stop->push(s.detok->flush(), stopped);
        if (!stopped) tail += s.stop->flush();
        if (!tail.empty() || !s.infos.empty()) s.job->emit(Piece{std::move(tail), std::move(s.infos)});
    }
    s.infos.clear();
    if (reason == "cancelled" || reason == "error") {
        // The cells go back to the pool now; an error may have left them half-written.
        ctx_.kv().remove(s.seq, 0, -1);
        s.cache.clear();
    }
    if (!s.generating) s.st.prompt_ms = (t - s.t_admit) * 1e3;
    s.st.generate_ms = s.generating ? (t - s.t_gen) * 1e3 : 0;
    s.st.finish_reason = reason;
    {
        // Counted free before the client can see the end, so metrics never lag behind a reply.
        std::lock_guard lk(mu_);
        --busy_;
        ++jobs_done_;
    }
    s.job->finish(s.st, std::move(err));
    s.job.reset();
    s.sampler.reset();
    s.stop.reset();
    s.generating = false;
    s.last_tok = -1;
}

} // namespace vkai::server
