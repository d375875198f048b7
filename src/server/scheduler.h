// Continuous batching over one shared Context: N slots, each a sequence id of the context's KV
// cache. A worker thread admits queued jobs into free slots (FIFO), then each step puts one token of
// every generating slot and chunks of new prompts into ONE Batch, decodes it, and samples per slot
// with the job's own sampler (its own seeded RNG, so a job's text does not depend on its neighbours).
// HTTP threads submit jobs and read their output through Job; a cancelled job's slot is freed (its
// KV cells removed) at the next step.
#pragma once

#include "base/status.h"
#include "llm/forward.h"
#include "llm/sampler.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace vkai::server {

struct GenParams {
    std::vector<int32_t> prompt;
    int64_t max_tokens = -1; // < 0: until the slot's context is full
    std::vector<std::string> stop;
    llm::SamplerParams sampling;
    bool json_object = false; // mask tokens that would make the output invalid JSON (an object)
    int top_logprobs = -1;    // < 0: no logprobs; else logprobs with this many alternatives (<= 20)
    bool ignore_eos = false;
    bool cache_prompt = true; // reuse the KV of a slot whose last prompt shares a prefix
};

struct TokenInfo {
    int32_t id = 0;
    float logprob = 0;
    std::vector<std::pair<int32_t, float>> top; // (id, logprob), most likely first
};

// Text released by the stop-string matcher together with the tokens generated since the last piece.
struct Piece {
    std::string text;
    std::vector<TokenInfo> tokens;
};

struct JobStats {
    int64_t n_prompt = 0, n_cached = 0, n_generated = 0;
    double queued_ms = 0, prompt_ms = 0, generate_ms = 0;
    uint64_t seed = 0;
    std::string finish_reason; // stop | length | cancelled | error
};

class Job {
public:
    explicit Job(GenParams p) : params(std::move(p)) {}
    // Moves the pieces produced so far into out; waits up to timeout_ms when there are none.
    // Returns true once the job has finished and everything was drained.
    bool wait(std::vector<Piece>& out, int timeout_ms);
    void cancel() { cancelled_.store(true); }
    bool cancelled() const { return cancelled_.load(); }
    JobStats stats() const;   // final after wait() returned true
    Status error() const;     // set when finish_reason == "error"

    const GenParams params;
    double submitted_at = 0; // now_s() at submit

private:
    friend class Scheduler;
    void emit(Piece p);
    void finish(JobStats st, Status err = {});

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Piece> pending_;
    bool done_ = false;
    JobStats stats_;
    Status error_;
    std::atomic<bool> cancelled_{false};
};

struct SchedulerMetrics {
    int slots_total = 0, slots_busy = 0, queue_len = 0;
    uint64_t jobs_done = 0, tokens_prompt = 0, tokens_generated = 0, steps = 0;
    // Worker time since load: in Context::decode, and in sampling + streaming the sampled tokens;
    // gen_*: the steps that held no prompt token (one token per generating slot).
    double decode_ms = 0, sample_ms = 0, gen_decode_ms = 0;
    uint64_t gen_steps = 0;
};

class Scheduler {
public:
    // ctx must outlive the scheduler. Each slot may use n_ctx / n_slots positions.
    Scheduler(llm::Context& ctx, int n_slots, int max_queue);
    ~Scheduler(); // stops the worker; unfinished jobs end with finish_reason "cancelled"

    // nullptr when the queue is full (the caller answers 429).
    std::shared_ptr<Job> submit(GenParams p);
    int64_t slot_ctx() const { return slot_ctx_; }
    int n_slots() const { return int(slots_.size()); }
    SchedulerMetrics metrics() const;
    // Shutdown: cancels running and queued jobs and refuses new ones.
    void drain();

private:
    struct Slot;
    void run();
    void admit();
    bool step();
    void sample_slot(Slot& s, int64_t logits_index);
    void finish_slot(Slot& s, const std::string& reason, Status err = {});

    llm::Context& ctx_;
    int64_t slot_ctx_;
    size_t max_queue_;
    std::vector<std::unique_ptr<Slot>> slots_;
    std::vector<std::string> pieces_; // token id -> bytes (for the JSON mask)
    std::vector<float> scratch_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<Job>> queue_;
    bool stop_ = false;
    std::atomic<bool> draining_{false};
    int busy_ = 0;
    uint64_t jobs_done_ = 0, tokens_prompt_ = 0, tokens_generated_ = 0, steps_ = 0;
    double decode_ms_ = 0, sample_ms_ = 0, gen_decode_ms_ = 0;
    uint64_t gen_steps_ = 0;
    size_t rr_ = 0; // round-robin start for prompt chunks
    std::thread worker_;
};

} // namespace vkai::server
