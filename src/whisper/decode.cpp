#include "whisper/decode.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <zlib.h>

namespace vkai::whisper {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// e^x for x <= 0 (0 below -87), relative error < 1e-7: 2^i * e^(f ln 2) with i = round(x log2 e),
// |f| <= 1/2, and a degree-7 Taylor polynomial. Branch-free so the compiler vectorizes the sums
// below: a decoded token's logits are 52k values, and libm's exp per value cost ~0.5 ms a token.
inline float exp_nonpos(float x) {
    x = std::max(x, -87.0f);
    const float t = x * 1.44269504088896341f;
    const int i = -int(0.5f - t); // round(t) for t <= 0.5
    const float f = (t - float(i)) * 0.693147180559945309f;
    const float p = 1.0f + f * (1.0f + f * (0.5f + f * (1.0f / 6 + f * (1.0f / 24 + f * (1.0f / 120 + f * (1.0f / 720 + f * (1.0f / 5040)))))));
    float scale;
    const int32_t bits = (i + 127) << 23; // i >= -126 here
    std::memcpy(&scale, &bits, 4);
    return p * scale;
}

// log(sum(exp(x))) over n values (-inf entries count 0); -inf when all are -inf.
float logsumexp(const float* x, size_t n) {
    float mx = kNegInf;
    for (size_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
    if (mx == kNegInf) return kNegInf;
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0}; // independent partial sums (vectorized, and more exact)
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (size_t k = 0; k < 8; ++k) acc[k] += exp_nonpos(x[i + k] - mx);
    for (; i < n; ++i) acc[0] += exp_nonpos(x[i] - mx);
    double s = 0;
    for (float a : acc) s += a;
    return mx + float(std::log(s));
}

void log_softmax(const std::vector<float>& logits, std::vector<float>& out) {
    const float lse = logsumexp(logits.data(), logits.size());
    out.resize(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) out[i] = logits[i] - lse;
}

// The per-step rules applied to the logits of the next token, given the sampled tokens so far.
class LogitRules {
public:
    LogitRules(const Vocab& v, const DecodeTask& t) : v_(v), ts_(t.timestamps), suppress_(suppressed_tokens(v)) {
        auto sp = v.encode(" ");
        if (sp.ok()) blank_ = *sp;
        blank_.push_back(v.eot());
    }

    void apply(const std::vector<int32_t>& sampled, std::vector<float>& lg) const {
        const int32_t nv = v_.n_vocab(), tb = v_.timestamp_begin();
        if (sampled.empty())
            for (int32_t id : blank_) lg[size_t(id)] = kNegInf;
        for (int32_t id : suppress_) lg[size_t(id)] = kNegInf;
        // Specials other than <|endoftext|> and timestamps never continue a transcript. The reference leaves
        // languages and <|notimestamps|> unsuppressed (trained models do not emit them); random-weight
        // models would, so they are masked here too.
        for (int32_t id = v_.sot(); id < tb; ++id) lg[size_t(id)] = kNegInf;
        if (!ts_) {
            for (int32_t id = tb; id < nv; ++id) lg[size_t(id)] = kNegInf;
            return;
        }
        lg[size_t(v_.notimestamps())] = kNegInf;
        const size_t n = sampled.size();
        const bool last_ts = n >= 1 && sampled[n - 1] >= tb;
        const bool penult_ts = n < 2 || sampled[n - 2] >= tb;
        if (last_ts) {
            if (penult_ts) // two timestamps in a row: a text token must follow
                for (int32_t id = tb; id < nv; ++id) lg[size_t(id)] = kNegInf;
            else // a segment just closed: the next is a timestamp or the end
                for (int32_t id = 0; id < v_.eot(); ++id) lg[size_t(id)] = kNegInf;
        }
        // Timestamps never decrease; after a lone closing timestamp the next may repeat it.
        int32_t last = -1;
        for (int32_t id : sampled)
            if (id >= tb) last = id;
        if (last >= 0) {
            const int32_t lo = last_ts && !penult_ts ? last : last + 1;
            for (int32_t id = tb; id < std::min(lo, nv); ++id) lg[size_t(id)] = kNegInf;
        }
        if (n == 0) { // the first token is a timestamp within the first second
            for (int32_t id = 0; id < tb; ++id) lg[size_t(id)] = kNegInf;
            for (int32_t id = tb + 50 + 1; id < nv; ++id) lg[size_t(id)] = kNegInf;
        }
        // Sample a timestamp when the timestamps together are more likely than any text token. Both
        // sides are log-probabilities over the same normalizer, which cancels: compare the logits'
        // log-sum-exp over timestamps with the best text logit.
        const float ts_lse = logsumexp(lg.data() + tb, size_t(nv - tb));
        float text_max = kNegInf;
        for (int32_t id = 0; id < tb; ++id) text_max = std::max(text_max, lg[size_t(id)]);
        if (ts_lse != kNegInf && ts_lse > text_max)
            for (int32_t id = 0; id < tb; ++id) lg[size_t(id)] = kNegInf;
    }

private:
    const Vocab& v_;
    bool ts_;
    std::vector<int32_t> suppress_, blank_;
};

struct Candidate {
    std::vector<int32_t> tokens;
    double sum_logprob = 0;
    bool done = false;
};

// Runs the prompt and sot sequence into `cache`; returns the logits for the first sampled token and
// P(nospeech) at the sot position.
Status prefill(Runtime& rt, const DecodeTask& task, KvCache& cache, std::vector<float>& logits, double& no_speech) {
    const Vocab& v = rt.model().vocab();
    std::vector<int32_t> head = task.prompt;
    head.push_back(task.sot_seq.at(0));
    VKAI_TRY(rt.decode(cache, head.data(), int(head.size()), false, logits, task.slot));
    std::vector<float> lp;
    log_softmax(logits, lp);
    no_speech = std::exp(double(lp[size_t(v.nospeech())]));
    if (task.sot_seq.size() > 1) VKAI_TRY(rt.decode(cache, task.sot_seq.data() + 1, int(task.sot_seq.size() - 1), false, logits, task.slot));
    return {};
}

double score(const Candidate& c) { return c.sum_logprob / double(std::max<size_t>(c.tokens.size(), 1)); }

} // namespace

std::vector<int32_t> suppressed_tokens(const Vocab& v) { return v.suppressed(); }

double compression_ratio(const std::string& text) {
    if (text.empty()) return 0.0;
    uLongf n = compressBound(uLong(text.size()));
    std::vector<Bytef> buf(n);
    if (compress2(buf.data(), &n, reinterpret_cast<const Bytef*>(text.data()), uLong(text.size()), 9) != Z_OK) return 0.0;
    return double(text.size()) / double(n);
}

Result<int> detect_language(Runtime& rt, std::vector<float>* probs) {
    const Vocab& v = rt.model().vocab();
    if (!v.multilingual()) return 0; // English-only models
    VKAI_ASSIGN_OR_RETURN(KvCache cache, rt.new_cache());
    std::vector<float> logits;
    const int32_t sot = v.sot();
    VKAI_TRY(rt.decode(cache, &sot, 1, false, logits));
    int best = 0;
    float mx = kNegInf;
    for (int i = 0; i < v.n_languages(); ++i)
        if (logits[size_t(v.language(i))] > mx) {
            mx = logits[size_t(v.language(i))];
            best = i;
        }
    if (probs) {
        probs->assign(size_t(v.n_languages()), 0.0f);
        double s = 0;
        for (int i = 0; i < v.n_languages(); ++i) s += std::exp(double(logits[size_t(v.language(i))] - mx));
        for (int i = 0; i < v.n_languages(); ++i) (*probs)[size_t(i)] = float(std::exp(double(logits[size_t(v.language(i))] - mx)) / s);
    }
    return best;
}

Result<DecodeResult> decode_window(Runtime& rt, const DecodeTask& task) {
    const Vocab& v = rt.model().vocab();
    if (task.sot_seq.empty() || task.sot_seq[0] != v.sot()) return fail(Code::invalid_argument, "decode: the sot sequence must start with <|startoftranscript|>");
    const int ctx = rt.model().hp().n_text_ctx;
    const int budget = ctx - int(task.prompt.size() + task.sot_seq.size());
    if (budget < 2) return fail(Code::invalid_argument, "decode: prompt of %zu tokens leaves no room in the text context of %d", task.prompt.size(), ctx);
    const int max_len = std::min(task.sample_len, budget);
    LogitRules rules(v, task);
    DecodeResult res;
    res.temperature = task.temperature;

    VKAI_ASSIGN_OR_RETURN(KvCache base, rt.new_cache());
    std::vector<float> first_logits, logits, lp;
    VKAI_TRY(prefill(rt, task, base, first_logits, res.no_speech_prob));

    std::vector<Candidate> finished;
    if (task.temperature > 0.0f || task.beam_size <= 1) {
        // Greedy (one candidate, temperature 0) or best_of samples.
        const int n_cand = task.temperature > 0.0f ? std::max(1, task.best_of) : 1;
        std::mt19937_64 rng(task.seed);
        VKAI_ASSIGN_OR_RETURN(KvCache cache, rt.new_cache());
        for (int c = 0; c < n_cand; ++c) {
            VKAI_TRY(rt.copy_cache(base, cache));
            Candidate cand;
            logits = first_logits;
            for (int step = 0; step < max_len; ++step) {
                rules.apply(cand.tokens, logits);
                int32_t next = 0;
                if (task.temperature > 0.0f) {
                    log_softmax(logits, lp);
                    std::vector<double> w(logits.size());
                    for (size_t i = 0; i < w.size(); ++i) w[i] = logits[i] == kNegInf ? 0.0 : std::exp(double(lp[i]) / task.temperature);
                    next = int32_t(std::discrete_distribution<size_t>(w.begin(), w.end())(rng));
                    cand.sum_logprob += lp[size_t(next)];
                } else {
                    next = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
                    cand.sum_logprob += logits[size_t(next)] - logsumexp(logits.data(), logits.size());
                }
                if (next == v.eot()) {
                    cand.done = true;
                    break;
                }
                cand.tokens.push_back(next);
                if (step + 1 == max_len) break;
                VKAI_TRY(rt.decode(cache, &next, 1, false, logits, task.slot));
            }
            finished.push_back(std::move(cand));
        }
    } else {
        // Beam search: each beam proposes its beam_size + 1 best tokens; the best beam_size new
        // sequences that do not end continue, those that end are kept until beam_size have ended.
        const size_t nb = size_t(task.beam_size);
        std::vector<Candidate> beams(1);
        std::vector<KvCache> caches, spare;
        for (size_t i = 0; i < nb; ++i) {
            VKAI_ASSIGN_OR_RETURN(KvCache a, rt.new_cache());
            VKAI_ASSIGN_OR_RETURN(KvCache b, rt.new_cache());
            caches.push_back(std::move(a));
            spare.push_back(std::move(b));
        }
        VKAI_TRY(rt.copy_cache(base, caches[0]));
        std::vector<std::vector<float>> beam_logits = {first_logits};
        for (int step = 0; step < max_len && finished.size() < nb && !beams.empty(); ++step) {
            struct Prop {
                double score;
                size_t parent;
                int32_t token;
            };
            std::vector<Prop> props;
            std::map<std::vector<int32_t>, bool> seen;
            for (size_t b = 0; b < beams.size(); ++b) {
                rules.apply(beams[b].tokens, beam_logits[b]);
                log_softmax(beam_logits[b], lp);
                std::vector<int32_t> idx(lp.size());
                for (size_t i = 0; i < idx.size(); ++i) idx[i] = int32_t(i);
                std::partial_sort(idx.begin(), idx.begin() + long(nb + 1), idx.end(), [&](int32_t x, int32_t y) { return lp[size_t(x)] > lp[size_t(y)]; });
                for (size_t j = 0; j < nb + 1; ++j)
                    if (lp[size_t(idx[j])] > kNegInf) props.push_back({beams[b].sum_logprob + lp[size_t(idx[j])], b, idx[j]});
            }
            std::stable_sort(props.begin(), props.end(), [](const Prop& x, const Prop& y) { return x.score > y.score; });
            std::vector<Candidate> next_beams;
            std::vector<std::pair<size_t, int32_t>> sources;
            for (const Prop& p : props) {
                std::vector<int32_t> seq = beams[p.parent].tokens;
                seq.push_back(p.token);
                if (seen.count(seq)) continue;
                seen[seq] = true;
                if (p.token == v.eot()) {
                    if (finished.size() < nb) {
                        seq.pop_back();
                        finished.push_back({seq, p.score, true});
                    }
                } else if (next_beams.size() < nb) {
                    next_beams.push_back({seq, p.score, false});
                    sources.push_back({p.parent, p.token});
                }
                if (next_beams.size() >= nb && finished.size() >= nb) break;
            }
            if (finished.size() >= nb || step + 1 == max_len) {
                beams = std::move(next_beams);
                break;
            }
            // Each new beam continues from its parent's cache with its new token.
            beam_logits.assign(next_beams.size(), {});
            for (size_t i = 0; i < next_beams.size(); ++i) {
                VKAI_TRY(rt.copy_cache(caches[sources[i].first], spare[i]));
                VKAI_TRY(rt.decode(spare[i], &sources[i].second, 1, false, beam_logits[i], task.slot));
            }
            std::swap(caches, spare);
            beams = std::move(next_beams);
        }
        for (auto& b : beams) // unfinished beams compete when fewer than beam_size ended
            if (finished.size() < nb) finished.push_back(std::move(b));
    }
    if (finished.empty()) return fail(Code::internal, "decode: no candidate sequence");
    const Candidate* best = &finished[0];
    for (const auto& c : finished)
        if (score(c) > score(*best)) best = &c;
    res.tokens = best->tokens;
    res.sum_logprob = best->sum_logprob;
    res.avg_logprob = best->sum_logprob / double(best->tokens.size() + 1);
    res.text = v.decode(res.tokens);
    res.compression_ratio = compression_ratio(res.text);
    return res;
}

Result<std::vector<DecodeResult>> decode_windows_greedy(Runtime& rt, const std::vector<DecodeTask>& tasks) {
    const Vocab& v = rt.model().vocab();
    const int ctx = rt.model().hp().n_text_ctx, n = int(tasks.size());
    if (n < 1 || n > Runtime::kMaxLogitRows) return fail(Code::invalid_argument, "decode: %d windows at once (1 .. %d)", n, Runtime::kMaxLogitRows);
    // Per sequence: the forced head (prompt, sot sequence), then greedy steps.
    struct Seq {
        std::vector<int32_t> head;
        size_t fed = 0;      // head tokens fed
        int sot_at = 0;      // index of <|startoftranscript|> in head
        int max_len = 0;
        Candidate cand;
        int32_t next = -1;   // sampled, to be fed
        bool done = false;
        double no_speech = 0;
        LogitRules rules;
    };
    std::vector<Seq> seqs;
    int rows = 1;
    for (const DecodeTask& t : tasks) {
        if (t.sot_seq.empty() || t.sot_seq[0] != v.sot()) return fail(Code::invalid_argument, "decode: the sot sequence must start with <|startoftranscript|>");
        const int budget = ctx - int(t.prompt.size() + t.sot_seq.size());
        if (budget < 2) return fail(Code::invalid_argument, "decode: prompt of %zu tokens leaves no room in the text context of %d", t.prompt.size(), ctx);
        Seq s{{}, 0, int(t.prompt.size()), std::min(t.sample_len, budget), {}, -1, false, 0, LogitRules(v, t)};
        s.head = t.prompt;
        s.head.insert(s.head.end(), t.sot_seq.begin(), t.sot_seq.end());
        rows = std::max(rows, int(s.head.size()) + s.max_len);
        seqs.push_back(std::move(s));
    }
    VKAI_ASSIGN_OR_RETURN(BatchCache cache, rt.new_batch_cache(n, rows));
    std::vector<int> ids, slots;
    std::vector<int32_t> toks;
    std::vector<float> logits, lg, lp;
    const size_t nv = size_t(rt.model().hp().n_vocab);
    for (;;) {
        ids.clear(), slots.clear(), toks.clear();
        for (int i = 0; i < n; ++i) {
            Seq& s = seqs[size_t(i)];
            if (s.done) continue;
            ids.push_back(i);
            slots.push_back(tasks[size_t(i)].slot);
            toks.push_back(s.fed < s.head.size() ? s.head[s.fed] : s.next);
        }
        if (ids.empty()) break;
        VKAI_TRY(rt.decode_batch(cache, ids.data(), slots.data(), toks.data(), int(ids.size()), logits));
        for (size_t j = 0; j < ids.size(); ++j) {
            Seq& s = seqs[size_t(ids[j])];
            const bool in_head = s.fed < s.head.size();
            if (in_head) ++s.fed;
            if (in_head && s.fed < s.head.size()) { // still forcing; P(no speech) at <|startoftranscript|>
                if (int(s.fed) == s.sot_at + 1) {
                    lg.assign(logits.begin() + long(j * nv), logits.begin() + long((j + 1) * nv));
                    log_softmax(lg, lp);
                    s.no_speech = std::exp(double(lp[size_t(v.nospeech())]));
                }
                continue;
            }
            lg.assign(logits.begin() + long(j * nv), logits.begin() + long((j + 1) * nv));
            if (in_head && int(s.fed) == s.sot_at + 1) { // the sot sequence was <|startoftranscript|> alone
                log_softmax(lg, lp);
                s.no_speech = std::exp(double(lp[size_t(v.nospeech())]));
            }
            s.rules.apply(s.cand.tokens, lg);
            const int32_t next = int32_t(std::max_element(lg.begin(), lg.end()) - lg.begin());
            s.cand.sum_logprob += lg[size_t(next)] - logsumexp(lg.data(), lg.size());
            if (next == v.eot()) {
                s.done = s.cand.done = true;
                continue;
            }
            s.cand.tokens.push_back(next);
            s.next = next;
            if (int(s.cand.tokens.size()) == s.max_len) s.done = true;
        }
    }
    std::vector<DecodeResult> out;
    for (const Seq& s : seqs) {
        DecodeResult r;
        r.tokens = s.cand.tokens;
        r.sum_logprob = s.cand.sum_logprob;
        r.avg_logprob = s.cand.sum_logprob / double(s.cand.tokens.size() + 1);
        r.no_speech_prob = s.no_speech;
        r.text = v.decode(r.tokens);
        r.compression_ratio = compression_ratio(r.text);
        r.temperature = 0;
        out.push_back(std::move(r));
    }
    return out;
}

} // namespace vkai::whisper
