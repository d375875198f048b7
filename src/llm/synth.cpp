#include "llm/synth.h"

#include "base/log.h"
#include "base/text.h"
#include "base/thread_pool.h"
#include "formats/gguf.h"
#include "tensor/quant.h"

#include <cctype>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

namespace vkai::llm {
namespace {

// ftype numbers as GGUF files in the wild store them in general.file_type.
struct MixRow {
    const char* name;
    DType base, more, output;
    bool k_m;
    uint32_t ftype;
};
constexpr MixRow kMixes[] = {
    {"F32", DType::F32, DType::F32, DType::F32, false, 0},
    {"F16", DType::F16, DType::F16, DType::F16, false, 1},
    {"BF16", DType::BF16, DType::BF16, DType::BF16, false, 32},
    {"Q4_0", DType::Q4_0, DType::Q4_0, DType::Q6_K, false, 2},
    {"Q4_1", DType::Q4_1, DType::Q4_1, DType::Q6_K, false, 3},
    {"Q8_0", DType::Q8_0, DType::Q8_0, DType::Q8_0, false, 7},
    {"Q5_0", DType::Q5_0, DType::Q5_0, DType::Q6_K, false, 8},
    {"Q5_1", DType::Q5_1, DType::Q5_1, DType::Q6_K, false, 9},
    {"Q2_K", DType::Q2_K, DType::Q2_K, DType::Q6_K, false, 10},
    {"Q3_K", DType::Q3_K, DType::Q3_K, DType::Q6_K, false, 11},
    {"Q4_K", DType::Q4_K, DType::Q4_K, DType::Q6_K, false, 14},
    {"Q4_K_S", DType::Q4_K, DType::Q4_K, DType::Q6_K, false, 14},
    {"Q4_K_M", DType::Q4_K, DType::Q6_K, DType::Q6_K, true, 15},
    {"Q5_K", DType::Q5_K, DType::Q5_K, DType::Q6_K, false, 16},
    {"Q5_K_S", DType::Q5_K, DType::Q5_K, DType::Q6_K, false, 16},
    {"Q5_K_M", DType::Q5_K, DType::Q6_K, DType::Q6_K, true, 17},
    {"Q6_K", DType::Q6_K, DType::Q6_K, DType::Q6_K, false, 18},
    {"IQ4_NL", DType::IQ4_NL, DType::IQ4_NL, DType::Q6_K, false, 25},
    {"IQ4_XS", DType::IQ4_XS, DType::IQ4_XS, DType::Q6_K, false, 30},
};

// Layers that K_M mixes give more bits: the first and last eighth, and every third in between.
bool more_bits_layer(int layer, int64_t n_layer) {
    const int64_t l = layer, n8 = n_layer / 8;
    return l < n8 || l >= 7 * n_layer / 8 || (l - n8) % 3 == 2;
}

DType fallback_for(DType t) {
    switch (t) {
    case DType::Q2_K:
    case DType::Q3_K: return DType::Q4_0;
    case DType::Q4_K: return DType::Q5_0;
    case DType::Q5_K: return DType::Q5_1;
    case DType::Q6_K: return DType::Q8_0;
    case DType::IQ4_XS: return DType::IQ4_NL;
    default: return DType::F16;
    }
}

// splitmix64: a fast, well-mixed generator; weights only need to look like trained ones.
struct Rng {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    float uniform() { return float(next() >> 40) * (1.0f / 16777216.0f); }
    float normal() { // Box-Muller
        float u1 = uniform() + 1e-7f, u2 = uniform();
        return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.2831853f * u2);
    }
};

uint64_t mix64(uint64_t a, uint64_t b) { return Rng{a * 0x9e3779b97f4a7c15ull ^ b}.next(); }

// A pool of quantized random rows per (type, row length): tensors are filled by picking pool rows,
// so a 7B model is written at disk speed instead of quantizing 7 billion values.
class RowPool {
public:
    static constexpr int kRows = 64;
    RowPool(uint64_t seed, ThreadPool& pool) : seed_(seed), pool_(pool) {}

    const std::vector<uint8_t>& rows(DType type, int64_t n, float stddev) {
        auto key = std::make_tuple(uint32_t(type), n, stddev);
        auto it = cache_.find(key);
        if (it != cache_.end()) return it->second;
        const uint64_t rb = *row_bytes(type, uint64_t(n));
        std::vector<uint8_t> data(rb * kRows);
        pool_.run(kRows, [&](int64_t r, int) {
            Rng rng{mix64(seed_, uint64_t(r) * 131 + uint64_t(n) + uint32_t(type) * 7919)};
            std::vector<float> row(size_t(n), 0.0f);
            for (auto& x : row) x = rng.normal() * stddev;
            quantize_row(type, row.data(), data.data() + rb * uint64_t(r), n);
        });
        return cache_.emplace(key, std::move(data)).first->second;
    }

private:
    uint64_t seed_;
    ThreadPool& pool_;
    std::map<std::tuple<uint32_t, int64_t, float>, std::vector<uint8_t>> cache_;
};

struct Vocab {
    gguf::Model model;
    uint64_t n_tokens = 0;
};

Result<Vocab> open_vocab(const std::string& path) {
    Vocab v;
    VKAI_ASSIGN_OR_RETURN(v.model, gguf::open(path));
    auto tokens = v.model.gguf.get_array("tokenizer.ggml.tokens", gguf::ValueType::string);
    if (!tokens.ok())
        return fail(Code::invalid_argument, "vocab file '%s' has no tokenizer (tokenizer.ggml.tokens): %s", path.c_str(), tokens.status().message().c_str());
    v.n_tokens = (*tokens)->count;
    if (v.n_tokens == 0) return fail(Code::invalid_argument, "vocab file '%s' has an empty token list", path.c_str());
    return v;
}

// Copies tokenizer.* keys; pads tokens/scores/token_type with unused tokens up to n_vocab.
Status copy_tokenizer(const gguf::File& src, uint64_t n_vocab, gguf::Writer& w) {
    for (const auto& kv : src.kvs) {
        if (kv.key.substr(0, 10) != "tokenizer.") continue;
        const gguf::Value& v = kv.value;
        const bool per_token = kv.key == "tokenizer.ggml.tokens" || kv.key == "tokenizer.ggml.scores" || kv.key == "tokenizer.ggml.token_type";
        if (!per_token || v.count >= n_vocab) {
            w.set_value(kv.key, v);
            continue;
        }
        if (kv.key == "tokenizer.ggml.tokens") {
            std::vector<std::string> toks;
            toks.reserve(n_vocab);
            for (const auto& it : v.items) toks.emplace_back(it.str);
            for (uint64_t i = v.count; i < n_vocab; ++i) toks.push_back(strf("<|vkai_unused_%llu|>", (unsigned long long)i));
            w.set_string_array(kv.key, toks);
        } else if (v.type == gguf::ValueType::array && (v.elem_type == gguf::ValueType::f32 || v.elem_type == gguf::ValueType::i32)) {
            const bool is_f = v.elem_type == gguf::ValueType::f32;
            std::vector<uint8_t> raw(n_vocab * 4, 0);
            std::memcpy(raw.data(), v.raw, v.count * 4);
            for (uint64_t i = v.count; i < n_vocab; ++i) {
                if (is_f) {
                    float s = -1e9f; // never preferred by a score-driven tokenizer
                    std::memcpy(raw.data() + i * 4, &s, 4);
                } else {
                    int32_t t = 5; // token type "unused"
                    std::memcpy(raw.data() + i * 4, &t, 4);
                }
            }
            w.set_array(kv.key, v.elem_type, raw.data(), n_vocab);
        } else {
            return fail(Code::corrupt, "vocab key %.*s has unexpected type %s", int(kv.key.size()), kv.key.data(), gguf::value_type_name(v.elem_type));
        }
    }
    return {};
}

void write_hparams(const HParams& hp, gguf::Writer& w) {
    const std::string a = hp.arch + ".";
    w.set_u32(a + "context_length", uint32_t(hp.n_ctx_train));
    w.set_u32(a + "embedding_length", uint32_t(hp.n_embd));
    w.set_u32(a + "block_count", uint32_t(hp.n_layer));
    w.set_u32(a + "feed_forward_length", uint32_t(hp.n_ff));
    w.set_u32(a + "attention.head_count", uint32_t(hp.n_head));
    w.set_u32(a + "attention.head_count_kv", uint32_t(hp.n_head_kv));
    w.set_f32(a + "attention.layer_norm_rms_epsilon", hp.norm_eps);
    w.set_f32(a + "rope.freq_base", hp.rope_freq_base);
    w.set_u32(a + "rope.dimension_count", uint32_t(hp.head_dim));
    w.set_u32(a + "vocab_size", uint32_t(hp.n_vocab));
    if (hp.n_swa > 0) w.set_u32(a + "attention.sliding_window", uint32_t(hp.n_swa));
    if (hp.n_expert > 0) {
        w.set_u32(a + "expert_count", uint32_t(hp.n_expert));
        w.set_u32(a + "expert_used_count", uint32_t(hp.n_expert_used));
        w.set_u32(a + "expert_feed_forward_length", uint32_t(hp.n_ff_exp));
    }
    if (hp.head_dim * hp.n_head != hp.n_embd) {
        w.set_u32(a + "attention.key_length", uint32_t(hp.head_dim));
        w.set_u32(a + "attention.value_length", uint32_t(hp.head_dim));
    }
}

} // namespace

Result<TypeMix> parse_type_mix(std::string_view name) {
    std::string up(name);
    for (auto& c : up) c = char(std::toupper((unsigned char)c));
    for (const auto& m : kMixes) {
        if (up != m.name) continue;
        if (!can_quantize(m.base) || !can_quantize(m.more) || !can_quantize(m.output))
            return fail(Code::unsupported, "type %s: vkai cannot quantize to it yet", m.name);
        return TypeMix{m.name, m.base, m.more, m.output, m.k_m, m.ftype};
    }
    std::string known;
    for (const auto& m : kMixes) known += std::string(known.empty() ? "" : ", ") + m.name;
    return fail(Code::invalid_argument, "unknown type '%.*s'; known: %s", int(name.size()), name.data(), known.c_str());
}

DType tensor_type(const TypeMix& mix, const TensorSpec& spec, const HParams& hp) {
    // Norms, biases and MoE routers stay f32, as in real files (routing is a discontinuous choice).
    if (spec.ne.size() == 1 || spec.role == TensorRole::ffn_router) return DType::F32;
    DType t = mix.base;
    if (spec.role == TensorRole::output) t = mix.output;
    if (mix.k_m && (spec.role == TensorRole::attn_v || spec.role == TensorRole::ffn_down) && more_bits_layer(spec.layer, hp.n_layer))
        t = mix.more_bits;
    if (spec.ne[0] % dtype_info(t).block != 0) t = fallback_for(t);
    return t;
}

Result<SynthReport> synth_model(const SynthOptions& opt, const std::string& out_path) {
    VKAI_ASSIGN_OR_RETURN(TypeMix mix, parse_type_mix(opt.type));
    VKAI_ASSIGN_OR_RETURN(Vocab vocab, open_vocab(opt.vocab_path));

    HParams hp = opt.hp;
    SynthReport rep;
    if (hp.n_vocab == 0) hp.n_vocab = int64_t(vocab.n_tokens);
    if (vocab.n_tokens > uint64_t(hp.n_vocab))
        return fail(Code::invalid_argument, "vocab '%s' has %llu tokens, more than the model's n_vocab %lld; use a smaller vocab",
                    opt.vocab_path.c_str(), (unsigned long long)vocab.n_tokens, (long long)hp.n_vocab);
    rep.n_vocab = hp.n_vocab;
    rep.vocab_padding = hp.n_vocab - int64_t(vocab.n_tokens);

    gguf::Writer w;
    w.set_string("general.architecture", hp.arch);
    w.set_string("general.name", opt.name);
    w.set_u32("general.file_type", mix.file_type);
    w.set_u32("general.quantization_version", 2);
    w.set_string("vkai.synth.type", mix.name);
    w.set_u64("vkai.synth.seed", opt.seed);
    if (rep.vocab_padding) w.set_u64("vkai.synth.vocab_tokens", vocab.n_tokens);
    write_hparams(hp, w);
    VKAI_TRY(copy_tokenizer(vocab.model.gguf, uint64_t(hp.n_vocab), w));

    ThreadPool pool(opt.threads);
    auto rows = std::make_shared<RowPool>(opt.seed, pool);
    const std::vector<TensorSpec> specs = tensor_specs(hp);
    for (size_t ti = 0; ti < specs.size(); ++ti) {
        const TensorSpec& s = specs[ti];
        const DType type = tensor_type(mix, s, hp);
        int64_t nrows = 1;
        for (size_t d = 1; d < s.ne.size(); ++d) nrows *= s.ne[d];
        rep.n_params += uint64_t(nrows * s.ne[0]);
        rep.tensor_bytes += *row_bytes(type, uint64_t(s.ne[0])) * uint64_t(nrows);
        const uint64_t seed = mix64(opt.seed, ti);
        const TensorRole role = s.role;
        const int64_t n = s.ne[0];
        VKAI_TRY(w.add_tensor(s.name, type, s.ne, [rows, type, n, nrows, seed, role](uint8_t* dst, uint64_t bytes) -> Status {
            const uint64_t rb = *row_bytes(type, uint64_t(n));
            if (rb * uint64_t(nrows) != bytes) return fail(Code::internal, "synth: tensor size mismatch");
            if (role == TensorRole::norm || role == TensorRole::bias) {
                // 1-D: norms near 1, biases near 0, always f32.
                Rng rng{seed};
                float* f = reinterpret_cast<float*>(dst);
                for (int64_t i = 0; i < n; ++i) f[i] = role == TensorRole::norm ? 1.0f + 0.05f * rng.normal() : 0.02f * rng.normal();
                return {};
            }
            const std::vector<uint8_t>& pool_rows = rows->rows(type, n, 0.02f);
            for (int64_t r = 0; r < nrows; ++r) {
                uint64_t pick = mix64(seed, uint64_t(r)) % RowPool::kRows;
                std::memcpy(dst + rb * uint64_t(r), pool_rows.data() + rb * pick, rb);
            }
            return {};
        }));
    }
    VKAI_TRY(w.write(out_path));
    return rep;
}

} // namespace vkai::llm
