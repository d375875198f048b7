#include "llm/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <unordered_map>

namespace vkai::llm {

Sampler::Sampler(const SamplerParams& p) : p_(p) {
    seed_ = p.seed >= 0 ? uint64_t(p.seed) : (uint64_t(std::random_device{}()) << 32 | std::random_device{}()) & 0x7fffffffffffffffull;
    rng_.seed(seed_);
}

void Sampler::softmax(std::vector<Cand>& c) const {
    float mx = -INFINITY;
    for (const auto& x : c) mx = std::max(mx, x.logit);
    double sum = 0;
    for (auto& x : c) {
        x.p = std::exp(x.logit - mx);
        sum += x.p;
    }
    for (auto& x : c) x.p = float(x.p / sum);
}

int32_t Sampler::sample(const float* logits, int64_t n_vocab, const std::vector<int32_t>& history) {
    cands_.resize(size_t(n_vocab));
    for (int64_t i = 0; i < n_vocab; ++i) cands_[size_t(i)] = {int32_t(i), logits[i], 0.0f};

    // Penalties over the last penalty_last_n tokens.
    const bool penalize = p_.repeat_penalty != 1.0f || p_.presence_penalty != 0.0f || p_.frequency_penalty != 0.0f;
    if (penalize && p_.penalty_last_n != 0 && !history.empty()) {
        size_t start = p_.penalty_last_n < 0 || size_t(p_.penalty_last_n) >= history.size() ? 0 : history.size() - size_t(p_.penalty_last_n);
        std::unordered_map<int32_t, int> count;
        for (size_t i = start; i < history.size(); ++i) count[history[i]]++;
        for (const auto& [id, cnt] : count) {
            if (id < 0 || id >= n_vocab) continue;
            float& l = cands_[size_t(id)].logit;
            if (p_.repeat_penalty != 1.0f) l = l > 0 ? l / p_.repeat_penalty : l * p_.repeat_penalty;
            l -= p_.presence_penalty + p_.frequency_penalty * float(cnt);
        }
    }

    auto by_logit = [](const Cand& a, const Cand& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); };
    if (p_.temperature <= 0.0f) return std::min_element(cands_.begin(), cands_.end(), by_logit)->id;

    // top-k keeps the order stable for the rest of the chain.
    size_t keep = cands_.size();
    if (p_.top_k > 0 && size_t(p_.top_k) < keep) keep = size_t(p_.top_k);
    std::partial_sort(cands_.begin(), cands_.begin() + std::ptrdiff_t(keep), cands_.end(), by_logit);
    cands_.resize(keep);
    softmax(cands_);

    // Locally typical sampling: keep tokens whose surprisal is closest to the entropy.
    if (p_.typical_p < 1.0f && cands_.size() > 1) {
        double ent = 0;
        for (const auto& c : cands_)
            if (c.p > 0) ent -= c.p * std::log(c.p);
        std::vector<std::pair<double, size_t>> dev;
        for (size_t i = 0; i < cands_.size(); ++i) dev.push_back({std::fabs(-std::log(std::max(cands_[i].p, 1e-30f)) - ent), i});
        std::stable_sort(dev.begin(), dev.end());
        double cum = 0;
        std::vector<Cand> kept;
        for (const auto& [d, i] : dev) {
            kept.push_back(cands_[i]);
            cum += cands_[i].p;
            if (cum >= p_.typical_p) break;
        }
        std::sort(kept.begin(), kept.end(), by_logit);
        cands_ = kept;
        softmax(cands_);
    }
    if (p_.top_p < 1.0f) {
        double cum = 0;
        size_t i = 0;
        for (; i < cands_.size(); ++i) {
            cum += cands_[i].p;
            if (cum >= p_.top_p) {
                ++i;
                break;
            }
        }
        cands_.resize(std::max<size_t>(1, std::min(i, cands_.size())));
    }
    if (p_.min_p > 0.0f) {
        const float floor = cands_[0].p * p_.min_p;
        size_t i = 1;
        while (i < cands_.size() && cands_[i].p >= floor) ++i;
        cands_.resize(i);
    }
    for (auto& c : cands_) c.logit /= p_.temperature;
    softmax(cands_);

    std::uniform_real_distribution<double> uni(0.0, 1.0);
    double r = uni(rng_), cum = 0;
    for (const auto& c : cands_) {
        cum += c.p;
        if (r < cum) return c.id;
    }
    return cands_.back().id;
}

} // namespace vkai::llm
