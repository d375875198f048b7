// Token sampling: penalties, then greedy or the truncation chain (top-k, typical, top-p, min-p) and
// temperature, then a draw from a seeded generator. Deterministic for a fixed seed. With top-k (and
// for greedy) one pass over the logits finds the candidates; the vocabulary is never copied.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace vkai::llm {

struct SamplerParams {
    float temperature = 0.8f; // <= 0: greedy
    int32_t top_k = 40;       // <= 0: off
    float top_p = 0.95f;      // >= 1: off
    float min_p = 0.05f;      // <= 0: off
    float typical_p = 1.0f;   // >= 1: off
    float repeat_penalty = 1.0f;    // 1: off (divides positive logits, multiplies negative ones)
    float presence_penalty = 0.0f;  // subtracted once per token that occurred
    float frequency_penalty = 0.0f; // subtracted per occurrence
    int32_t penalty_last_n = 64;    // how many recent tokens the penalties look at
    int64_t seed = -1;              // < 0: a random seed (see Sampler::seed())
};

class Sampler {
public:
    explicit Sampler(const SamplerParams& p);

    // Picks the next token from logits over n_vocab entries. history: the tokens so far.
    int32_t sample(const float* logits, int64_t n_vocab, const std::vector<int32_t>& history);

    uint64_t seed() const { return seed_; } // the seed in use (reported so a run can be repeated)
    const SamplerParams& params() const { return p_; }

private:
    struct Cand {
        int32_t id;
        float logit;
        float p;
    };
    void softmax(std::vector<Cand>& c) const;
    void penalties(int64_t n_vocab, const std::vector<int32_t>& history);
    float penalized(float logit, int count) const;
    void top_raw(const float* logits, int64_t n_vocab, size_t m);

    SamplerParams p_;
    uint64_t seed_;
    std::mt19937_64 rng_;
    std::vector<Cand> cands_;
    std::vector<Cand> pen_; // penalized ids of this call, by id (p = occurrence count)
};

} // namespace vkai::llm
