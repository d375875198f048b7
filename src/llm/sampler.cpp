#include "llm/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <unordered_map>
#include <utility>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

namespace {

// The order of the chain: higher logit first, lower id on ties (a strict total order).
inline bool better(float la, int32_t ia, float lb, int32_t ib) { return la > lb || (la == lb && ia < ib); }

} // namespace

void Sampler::penalties(int64_t n_vocab, const std::vector<int32_t>& history) {
    pen_.clear();
    const bool penalize = p_.repeat_penalty != 1.0f || p_.presence_penalty != 0.0f || p_.frequency_penalty != 0.0f;
    if (!penalize || p_.penalty_last_n == 0 || history.empty()) return;
    size_t start = p_.penalty_last_n < 0 || size_t(p_.penalty_last_n) >= history.size() ? 0 : history.size() - size_t(p_.penalty_last_n);
    std::unordered_map<int32_t, int> count;
    for (size_t i = start; i < history.size(); ++i) count[history[i]]++;
    for (const auto& [id, cnt] : count) {
        if (id < 0 || id >= n_vocab) continue;
        pen_.push_back({id, 0.0f, float(cnt)}); // logit filled in by the caller; p holds the count
    }
    std::sort(pen_.begin(), pen_.end(), [](const Cand& a, const Cand& b) { return a.id < b.id; });
}

float Sampler::penalized(float l, int cnt) const {
    if (p_.repeat_penalty != 1.0f) l = l > 0 ? l / p_.repeat_penalty : l * p_.repeat_penalty;
    return l - (p_.presence_penalty + p_.frequency_penalty * float(cnt));
}

// The m best of the raw logits (by `better`), best first, in one pass with a bounded heap whose
// root is the worst kept: most logits fail the first comparison, so this costs ~1 compare each.
void Sampler::top_raw(const float* logits, int64_t n_vocab, size_t m) {
    auto worse_first = [](const Cand& a, const Cand& b) { return better(a.logit, a.id, b.logit, b.id); };
    cands_.clear();
    int64_t i = 0;
    for (; i < n_vocab && cands_.size() < m; ++i) {
        cands_.push_back({int32_t(i), logits[i], 0.0f});
        std::push_heap(cands_.begin(), cands_.end(), worse_first);
    }
    float thr = cands_.empty() ? 0.0f : cands_.front().logit;
    auto visit = [&](int64_t j) {
        // Later ids lose ties, so only a strictly greater logit can enter.
        if (!(logits[j] > thr)) return;
        std::pop_heap(cands_.begin(), cands_.end(), worse_first);
        cands_.back() = {int32_t(j), logits[j], 0.0f};
        std::push_heap(cands_.begin(), cands_.end(), worse_first);
        thr = cands_.front().logit;
    };
#ifdef __SSE2__
    // 16 logits per test: after the first few thousand almost no block holds one above the
    // threshold (a NaN compares false either way, as in visit).
    for (; i + 16 <= n_vocab; i += 16) {
        const __m128 t = _mm_set1_ps(thr);
        const __m128 g = _mm_or_ps(_mm_or_ps(_mm_cmpgt_ps(_mm_loadu_ps(logits + i), t), _mm_cmpgt_ps(_mm_loadu_ps(logits + i + 4), t)),
                                   _mm_or_ps(_mm_cmpgt_ps(_mm_loadu_ps(logits + i + 8), t), _mm_cmpgt_ps(_mm_loadu_ps(logits + i + 12), t)));
        if (_mm_movemask_ps(g) == 0) continue;
        for (int64_t j = i; j < i + 16; ++j) visit(j);
    }
#endif
    for (; i < n_vocab; ++i) visit(i);
    std::sort_heap(cands_.begin(), cands_.end(), worse_first);
}

int32_t Sampler::sample(const float* logits, int64_t n_vocab, const std::vector<int32_t>& history) {
    auto by_logit = [](const Cand& a, const Cand& b) { return better(a.logit, a.id, b.logit, b.id); };
    // Penalties over the last penalty_last_n tokens: pen_ lists the penalized ids (sorted) and their counts.
    penalties(n_vocab, history);
    for (Cand& c : pen_) c.logit = penalized(logits[c.id], int(c.p));
    auto is_pen = [&](int32_t id) {
        auto it = std::lower_bound(pen_.begin(), pen_.end(), id, [](const Cand& c, int32_t v) { return c.id < v; });
        return it != pen_.end() && it->id == id;
    };

    // The candidates: with top-k, the k best of the penalized logits, found among the k + |pen| best
    // raw logits plus the penalized ids (a token outside both loses to k unpenalized tokens); the
    // same set and order as sorting the whole vocabulary, without touching it more than once.
    // Greedy is top-k with k = 1.
    const bool greedy = p_.temperature <= 0.0f;
    const size_t k = greedy ? 1 : p_.top_k > 0 ? size_t(p_.top_k) : size_t(n_vocab);
    if (k < size_t(n_vocab)) {
        top_raw(logits, n_vocab, std::min(size_t(n_vocab), k + pen_.size()));
        size_t w = 0;
        for (const Cand& c : cands_)
            if (!is_pen(c.id)) cands_[w++] = c;
        cands_.resize(w);
        cands_.insert(cands_.end(), pen_.begin(), pen_.end());
        for (Cand& c : cands_) c.p = 0.0f;
    } else {
        cands_.resize(size_t(n_vocab));
        for (int64_t i = 0; i < n_vocab; ++i) cands_[size_t(i)] = {int32_t(i), logits[i], 0.0f};
        for (const Cand& c : pen_) cands_[size_t(c.id)].logit = c.logit;
    }
    const size_t keep = std::min(k, cands_.size());
    std::partial_sort(cands_.begin(), cands_.begin() + std::ptrdiff_t(keep), cands_.end(), by_logit);
    cands_.resize(keep);
    if (greedy) return cands_[0].id;
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
