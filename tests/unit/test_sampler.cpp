// The sampler chain: greedy, truncations, penalties, and determinism for a fixed seed.
#include "llm/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <utility>
#include <vector>

using namespace vkai::llm;

namespace {

SamplerParams plain(float temp) {
    SamplerParams p;
    p.temperature = temp;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 7;
    return p;
}

std::set<int32_t> support(SamplerParams p, const std::vector<float>& logits, int draws = 2000) {
    std::set<int32_t> seen;
    Sampler s(p);
    for (int i = 0; i < draws; ++i) seen.insert(s.sample(logits.data(), int64_t(logits.size()), {}));
    return seen;
}

} // namespace

TEST(Sampler, GreedyTakesTheMaxAndLowestIdOnTies) {
    Sampler s(plain(0.0f));
    std::vector<float> l = {0.1f, 2.0f, -1.0f, 2.0f};
    EXPECT_EQ(s.sample(l.data(), 4, {}), 1);
}

TEST(Sampler, TopKTopPMinPTruncate) {
    // probabilities ~ 0.64 0.24 0.09 0.03 (softmax of 3, 2, 1, 0)
    std::vector<float> l = {3.0f, 2.0f, 1.0f, 0.0f};
    SamplerParams p = plain(1.0f);
    EXPECT_EQ(support(p, l).size(), 4u);
    p.top_k = 2;
    EXPECT_EQ(support(p, l), (std::set<int32_t>{0, 1}));
    p = plain(1.0f);
    p.top_p = 0.8f; // 0.64 + 0.24 reaches it
    EXPECT_EQ(support(p, l), (std::set<int32_t>{0, 1}));
    p = plain(1.0f);
    p.min_p = 0.2f; // keeps p >= 0.128
    EXPECT_EQ(support(p, l), (std::set<int32_t>{0, 1}));
}

TEST(Sampler, TemperatureShapesTheDistribution) {
    std::vector<float> l = {1.0f, 0.0f};
    auto freq0 = [&](float t) {
        Sampler s(plain(t));
        int c = 0;
        for (int i = 0; i < 4000; ++i) c += s.sample(l.data(), 2, {}) == 0;
        return c / 4000.0;
    };
    EXPECT_NEAR(freq0(1.0f), 0.731, 0.03);  // sigmoid(1)
    EXPECT_NEAR(freq0(0.5f), 0.881, 0.03);  // sigmoid(2)
}

TEST(Sampler, PenaltiesDiscourageRepeats) {
    std::vector<float> l = {2.0f, 1.9f};
    SamplerParams p = plain(0.0f);
    p.repeat_penalty = 1.5f; // 2.0 / 1.5 < 1.9
    Sampler s(p);
    EXPECT_EQ(s.sample(l.data(), 2, {0}), 1);
    p = plain(0.0f);
    p.presence_penalty = 0.5f;
    EXPECT_EQ(Sampler(p).sample(l.data(), 2, {0}), 1);
    p = plain(0.0f);
    p.frequency_penalty = 0.06f; // one occurrence is not enough, two are
    EXPECT_EQ(Sampler(p).sample(l.data(), 2, {0}), 0);
    EXPECT_EQ(Sampler(p).sample(l.data(), 2, {0, 0}), 1);
    p.penalty_last_n = 1; // only the last token counts
    EXPECT_EQ(Sampler(p).sample(l.data(), 2, {0, 1}), 0);
}

TEST(Sampler, SeedsRepeatAndRandomSeedIsReported) {
    std::vector<float> l(50);
    for (size_t i = 0; i < l.size(); ++i) l[i] = float(i % 7) * 0.3f;
    auto seq = [&](int64_t seed) {
        SamplerParams p = plain(1.0f);
        p.seed = seed;
        Sampler s(p);
        std::vector<int32_t> out;
        for (int i = 0; i < 32; ++i) out.push_back(s.sample(l.data(), 50, out));
        return out;
    };
    EXPECT_EQ(seq(123), seq(123));
    EXPECT_NE(seq(123), seq(124));
    SamplerParams p = plain(1.0f);
    p.seed = -1;
    Sampler a(p), b(p);
    EXPECT_NE(a.seed(), b.seed());
    // A reported random seed reproduces the run.
    SamplerParams q = plain(1.0f);
    q.seed = int64_t(a.seed());
    Sampler c(q);
    for (int i = 0; i < 16; ++i) EXPECT_EQ(a.sample(l.data(), 50, {}), c.sample(l.data(), 50, {}));
}

TEST(Sampler, TypicalKeepsTokensNearTheEntropy) {
    std::vector<float> l = {5.0f, 1.0f, 1.0f, 1.0f, -10.0f};
    SamplerParams p = plain(1.0f);
    p.typical_p = 0.2f;
    auto s = support(p, l);
    EXPECT_FALSE(s.count(4));
    EXPECT_GE(s.size(), 1u);
}

namespace {

// The chain as it was before the candidate search (penalize a copy of the whole vocabulary, sort
// it, truncate): the reference the fast path must match token for token.
int32_t reference_sample(const SamplerParams& p, std::mt19937_64& rng, const std::vector<float>& logits, const std::vector<int32_t>& history) {
    struct C {
        int32_t id;
        float logit, p;
    };
    const int64_t n = int64_t(logits.size());
    std::vector<C> c(logits.size());
    for (int64_t i = 0; i < n; ++i) c[size_t(i)] = {int32_t(i), logits[size_t(i)], 0.0f};
    if ((p.repeat_penalty != 1.0f || p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f) && p.penalty_last_n != 0 && !history.empty()) {
        size_t start = p.penalty_last_n < 0 || size_t(p.penalty_last_n) >= history.size() ? 0 : history.size() - size_t(p.penalty_last_n);
        std::map<int32_t, int> count;
        for (size_t i = start; i < history.size(); ++i) count[history[i]]++;
        for (const auto& [id, cnt] : count) {
            float& l = c[size_t(id)].logit;
            if (p.repeat_penalty != 1.0f) l = l > 0 ? l / p.repeat_penalty : l * p.repeat_penalty;
            l -= p.presence_penalty + p.frequency_penalty * float(cnt);
        }
    }
    auto by_logit = [](const C& a, const C& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); };
    auto softmax = [](std::vector<C>& v) {
        float mx = -INFINITY;
        for (const auto& x : v) mx = std::max(mx, x.logit);
        double sum = 0;
        for (auto& x : v) {
            x.p = std::exp(x.logit - mx);
            sum += x.p;
        }
        for (auto& x : v) x.p = float(x.p / sum);
    };
    if (p.temperature <= 0.0f) return std::min_element(c.begin(), c.end(), by_logit)->id;
    size_t keep = c.size();
    if (p.top_k > 0 && size_t(p.top_k) < keep) keep = size_t(p.top_k);
    std::partial_sort(c.begin(), c.begin() + std::ptrdiff_t(keep), c.end(), by_logit);
    c.resize(keep);
    softmax(c);
    if (p.typical_p < 1.0f && c.size() > 1) {
        double ent = 0;
        for (const auto& x : c)
            if (x.p > 0) ent -= x.p * std::log(x.p);
        std::vector<std::pair<double, size_t>> dev;
        for (size_t i = 0; i < c.size(); ++i) dev.push_back({std::fabs(-std::log(std::max(c[i].p, 1e-30f)) - ent), i});
        std::stable_sort(dev.begin(), dev.end());
        double cum = 0;
        std::vector<C> kept;
        for (const auto& [d, i] : dev) {
            kept.push_back(c[i]);
            cum += c[i].p;
            if (cum >= p.typical_p) break;
        }
        std::sort(kept.begin(), kept.end(), by_logit);
        c = kept;
        softmax(c);
    }
    if (p.top_p < 1.0f) {
        double cum = 0;
        size_t i = 0;
        for (; i < c.size(); ++i) {
            cum += c[i].p;
            if (cum >= p.top_p) {
                ++i;
                break;
            }
        }
        c.resize(std::max<size_t>(1, std::min(i, c.size())));
    }
    if (p.min_p > 0.0f) {
        const float floor = c[0].p * p.min_p;
        size_t i = 1;
        while (i < c.size() && c[i].p >= floor) ++i;
        c.resize(i);
    }
    for (auto& x : c) x.logit /= p.temperature;
    softmax(c);
    std::uniform_real_distribution<double> uni(0.0, 1.0);
    double r = uni(rng), cum = 0;
    for (const auto& x : c) {
        cum += x.p;
        if (r < cum) return x.id;
    }
    return c.back().id;
}

} // namespace

// The one-pass candidate search gives the same tokens as sorting the penalized vocabulary, over
// random logits with many ties, every truncation, penalties in both directions and greedy.
TEST(Sampler, FastPathMatchesFullSort) {
    std::mt19937_64 gen(99);
    for (int trial = 0; trial < 300; ++trial) {
        const int64_t n = trial % 3 == 0 ? 7 : trial % 3 == 1 ? 300 : 5000;
        std::vector<float> l(static_cast<size_t>(n));
        // Coarse values (many exact ties) or fine ones.
        for (float& v : l) v = trial % 2 ? float(int(gen() % 20)) * 0.5f : std::uniform_real_distribution<float>(-8, 8)(gen);
        SamplerParams p;
        p.seed = int64_t(trial);
        const int kk[] = {0, 1, 3, 40, int(n) - 1, int(n), int(n) + 5};
        p.top_k = kk[gen() % 7];
        p.temperature = gen() % 5 == 0 ? 0.0f : 0.3f + float(gen() % 10) * 0.2f;
        p.top_p = gen() % 2 ? 1.0f : 0.5f + float(gen() % 5) * 0.1f;
        p.min_p = gen() % 2 ? 0.0f : 0.05f * float(1 + gen() % 4);
        p.typical_p = gen() % 4 == 0 ? 0.7f : 1.0f;
        if (gen() % 2) {
            p.repeat_penalty = gen() % 2 ? 1.3f : 0.8f; // > 1 discourages, < 1 encourages
            p.presence_penalty = float(int(gen() % 5) - 2) * 0.5f;
            p.frequency_penalty = float(int(gen() % 3) - 1) * 0.3f;
            p.penalty_last_n = gen() % 3 == 0 ? -1 : 16;
        }
        Sampler s(p);
        std::mt19937_64 ref_rng(uint64_t(p.seed));
        std::vector<int32_t> hist, ref_hist;
        for (int step = 0; step < 24; ++step) {
            const int32_t a = s.sample(l.data(), n, hist), b = reference_sample(p, ref_rng, l, ref_hist);
            ASSERT_EQ(a, b) << "trial " << trial << " step " << step << " top_k " << p.top_k << " temp " << p.temperature;
            hist.push_back(a);
            ref_hist.push_back(b);
            // Move the logits a little so the penalties and candidates change from step to step.
            l[size_t(gen() % uint64_t(n))] += 1.0f;
        }
    }
}
