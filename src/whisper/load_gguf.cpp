#include "whisper/load_gguf.h"

#include "base/text.h"
#include "llm/tokenizer_impl.h" // byte_to_codepoint / byte_from_codepoint: the GPT-2 byte alphabet
#include "llm/unicode.h"
#include "whisper/mel.h"

#include <cstring>

namespace vkai::whisper {

namespace {

constexpr const char* kFilterKey = "whisper.mel_filters";
constexpr const char* kTokensKey = "tokenizer.ggml.tokens";

// One hparam: the GGUF specification's key, whisper.cpp's name (read as an alternative), bounds as
// the .bin reader's (far above any released model).
struct HKey {
    const char* key;
    const char* alt;
    int32_t whisper_bin::HParams::*field;
    int32_t max;
};
const HKey kKeys[] = {
    {"whisper.encoder.context_length", "whisper.n_audio_ctx", &whisper_bin::HParams::n_audio_ctx, 1 << 16},
    {"whisper.encoder.embedding_length", "whisper.n_audio_state", &whisper_bin::HParams::n_audio_state, 1 << 15},
    {"whisper.encoder.attention.head_count", "whisper.n_audio_head", &whisper_bin::HParams::n_audio_head, 1 << 10},
    {"whisper.encoder.layer_count", "whisper.n_audio_layer", &whisper_bin::HParams::n_audio_layer, 1 << 10},
    {"whisper.decoder.context_length", "whisper.n_text_ctx", &whisper_bin::HParams::n_text_ctx, 1 << 16},
    {"whisper.decoder.embedding_length", "whisper.n_text_state", &whisper_bin::HParams::n_text_state, 1 << 15},
    {"whisper.decoder.attention.head_count", "whisper.n_text_head", &whisper_bin::HParams::n_text_head, 1 << 10},
    {"whisper.decoder.layer_count", "whisper.n_text_layer", &whisper_bin::HParams::n_text_layer, 1 << 10},
    {"whisper.encoder.mels_count", "whisper.n_mels", &whisper_bin::HParams::n_mels, 1024},
};
constexpr const char* kVocabKey = "whisper.vocab_size";
constexpr const char* kVocabAlt = "whisper.n_vocab";
constexpr int32_t kMaxVocab = 1 << 20;

Result<int32_t> read_hparam(const gguf::File& g, const char* key, const char* alt, int32_t lo, int32_t max, const std::string& name) {
    const char* used = g.find(key) || !g.find(alt) ? key : alt;
    auto v = g.get_int(used);
    if (!v.ok()) {
        if (v.status().code() == Code::not_found)
            return fail(Code::corrupt, "%s: whisper GGUF without the hparam '%s' (or '%s')", name.c_str(), key, alt);
        return v.status();
    }
    if (*v < lo || *v > max) return fail(Code::corrupt, "%s: hparam '%s' = %lld, expected %d..%d", name.c_str(), used, (long long)*v, lo, max);
    return int32_t(*v);
}

// Raw token bytes -> GPT-2 byte alphabet (valid UTF-8), and back.
std::string bytes_to_alphabet(std::string_view raw) {
    std::string out;
    out.reserve(raw.size() * 2);
    for (char c : raw) unicode::append_utf8(out, llm::byte_to_codepoint(uint8_t(c)));
    return out;
}

Result<std::string> alphabet_to_bytes(std::string_view s, size_t index, const std::string& name) {
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        const uint32_t cp = unicode::decode(s, i);
        const int b = cp == unicode::kInvalid ? -1 : llm::byte_from_codepoint(cp);
        if (b < 0)
            return fail(Code::corrupt, "%s: %s[%zu] holds %s, which is not a character of the GPT-2 byte alphabet (whisper GGUF tokens store bytes that way)",
                        name.c_str(), kTokensKey, index, cp == unicode::kInvalid ? "invalid UTF-8" : strf("U+%04X", cp).c_str());
        out += char(uint8_t(b));
    }
    return out;
}

} // namespace

bool is_gguf(std::span<const uint8_t> bytes) { return bytes.size() >= 4 && std::memcmp(bytes.data(), "GGUF", 4) == 0; }

bool has_gguf_extension(const std::string& path) { return path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0; }

Result<whisper_bin::File> parse_gguf(std::span<const uint8_t> bytes, std::string_view name_) {
    const std::string name(name_);
    VKAI_ASSIGN_OR_RETURN(gguf::File g, gguf::parse(bytes, name));
    const std::string_view arch = g.architecture();
    if (arch != "whisper")
        return fail(Code::unsupported, "%s: general.architecture is '%s', expected 'whisper' (a GGUF that is not a whisper model)", name.c_str(),
                    arch.empty() ? "(missing)" : printable(arch, 64).c_str());
    whisper_bin::File f;
    f.name = name;
    auto& h = f.hp;
    for (const HKey& k : kKeys) {
        VKAI_ASSIGN_OR_RETURN(h.*k.field, read_hparam(g, k.key, k.alt, 1, k.max, name));
    }
    if (g.find(kVocabKey) || g.find(kVocabAlt)) {
        VKAI_ASSIGN_OR_RETURN(h.n_vocab, read_hparam(g, kVocabKey, kVocabAlt, 1, kMaxVocab, name));
    } else {
        const gguf::TensorInfo* emb = g.find_tensor("decoder.token_embedding.weight");
        if (!emb) return fail(Code::corrupt, "%s: no '%s' key and no tensor decoder.token_embedding.weight to take the vocabulary size from", name.c_str(), kVocabKey);
        if (emb->ne[1] < 1 || emb->ne[1] > kMaxVocab)
            return fail(Code::corrupt, "%s: decoder.token_embedding.weight has %lld rows, expected 1..%d", name.c_str(), (long long)emb->ne[1], kMaxVocab);
        h.n_vocab = int32_t(emb->ne[1]);
    }
    // The vocabularies whisper has (vocab.h): checked here so the message names where the size came from.
    if (h.n_vocab < 51864 || h.n_vocab > 51866)
        return fail(Code::unsupported, "%s: vocabulary size %d (%s): whisper has 51864 (English-only), 51865 (multilingual) or 51866 (large-v3) tokens",
                    name.c_str(), h.n_vocab, g.find(kVocabKey) ? kVocabKey : g.find(kVocabAlt) ? kVocabAlt : "rows of decoder.token_embedding.weight");
    if (g.find("general.file_type")) {
        VKAI_ASSIGN_OR_RETURN(int64_t ft, g.get_int("general.file_type"));
        if (ft < 0 || ft > (1 << 30)) return fail(Code::corrupt, "%s: general.file_type = %lld, expected 0..%d", name.c_str(), (long long)ft, 1 << 30);
        h.ftype = int32_t(ft);
    }
    if (h.n_audio_state % h.n_audio_head || h.n_text_state % h.n_text_head)
        return fail(Code::corrupt, "%s: embedding lengths %d/%d are not multiples of the head counts %d/%d", name.c_str(), h.n_audio_state,
                    h.n_text_state, h.n_audio_head, h.n_text_head);

    if (g.find(kFilterKey)) {
        VKAI_ASSIGN_OR_RETURN(const gguf::Value* a, g.get_array(kFilterKey, gguf::ValueType::f32));
        if (a->count != uint64_t(h.n_mels) * kNFreq)
            return fail(Code::corrupt, "%s: %s has %llu values, expected n_mels (%d) rows of %d frequency bins = %llu", name.c_str(), kFilterKey,
                        (unsigned long long)a->count, h.n_mels, kNFreq, (unsigned long long)(uint64_t(h.n_mels) * kNFreq));
        f.n_fft = kNFreq;
        f.filters.resize(size_t(a->count));
        std::memcpy(f.filters.data(), a->raw, size_t(a->count) * 4);
    } else {
        f.n_fft = kNFreq;
        f.filters = mel_filterbank(h.n_mels);
    }

    const std::string model = g.get_string_or("tokenizer.ggml.model", "");
    if (!g.find(kTokensKey))
        return fail(Code::not_found, "%s: no vocabulary (%s): vkai needs whisper's tokens inside the file (tokenizer.ggml.model \"whisper\")", name.c_str(), kTokensKey);
    if (model != "whisper")
        return fail(Code::unsupported, "%s: tokenizer.ggml.model is '%s', expected 'whisper' (tokens in the GPT-2 byte alphabet, specials implied)",
                    name.c_str(), printable(model, 64).c_str());
    VKAI_ASSIGN_OR_RETURN(const gguf::Value* toks, g.get_array(kTokensKey, gguf::ValueType::string));
    // Regular tokens come before <|endoftext|> (50257 multilingual, 50256 English-only); the .bin
    // files store <|endoftext|> itself too, so one more is accepted (vocab.h).
    const uint64_t max_tokens = (h.n_vocab >= 51865 ? 50257u : 50256u) + 1;
    if (toks->count > max_tokens)
        return fail(Code::corrupt, "%s: %s has %llu entries, more than the %llu regular tokens of a %d-token whisper vocabulary", name.c_str(), kTokensKey,
                    (unsigned long long)toks->count, (unsigned long long)max_tokens, h.n_vocab);
    f.tokens.reserve(size_t(toks->count));
    for (size_t i = 0; i < toks->items.size(); ++i) {
        const std::string_view s = toks->items[i].str;
        if (s.size() > 4 * size_t(whisper_bin::kMaxTokenBytes))
            return fail(Code::corrupt, "%s: %s[%zu] is %zu bytes long, limit %u", name.c_str(), kTokensKey, i, s.size(), 4 * whisper_bin::kMaxTokenBytes);
        VKAI_ASSIGN_OR_RETURN(std::string raw, alphabet_to_bytes(s, i, name));
        f.tokens.push_back(std::move(raw));
    }

    f.tensors.reserve(g.tensors.size());
    for (const auto& t : g.tensors) {
        if (!whisper_bin::allowed_type(t.type))
            return fail(Code::unsupported, "%s: tensor '%.*s' has type %s; whisper files use F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0", name.c_str(),
                        int(t.name.size()), t.name.data(), dtype_name(t.type));
        whisper_bin::TensorInfo w;
        w.name = t.name;
        w.type = t.type;
        w.n_dims = t.n_dims;
        for (int d = 0; d < 4; ++d) w.ne[d] = t.ne[d];
        w.data = t.data;
        w.bytes = t.bytes;
        f.tensors.push_back(w);
    }
    return f;
}

GgufWriter::GgufWriter(const whisper_bin::HParams& hp, int32_t n_fft, std::vector<float> filters, const std::vector<std::string>& tokens) {
    w_.set_string("general.architecture", "whisper");
    w_.set_u32("general.file_type", uint32_t(hp.ftype));
    w_.set_u32(kVocabKey, uint32_t(hp.n_vocab));
    for (const HKey& k : kKeys) w_.set_u32(k.key, uint32_t(hp.*k.field));
    if (n_fft != kNFreq || filters.size() != size_t(hp.n_mels) * size_t(n_fft))
        error_ = fail(Code::invalid_argument, "whisper GGUF: mel filters must be n_mels (%d) rows of %d bins, got %zu values of %d bins", hp.n_mels, kNFreq,
                      filters.size(), n_fft);
    w_.set_array(kFilterKey, gguf::ValueType::f32, filters.data(), filters.size());
    w_.set_string("tokenizer.ggml.model", "whisper");
    std::vector<std::string> enc;
    enc.reserve(tokens.size());
    for (const auto& t : tokens) enc.push_back(bytes_to_alphabet(t));
    w_.set_string_array(kTokensKey, enc);
}

Status GgufWriter::add_tensor(std::string name, DType type, std::vector<int64_t> ne, Fill fill) {
    return w_.add_tensor(name, type, std::move(ne), std::move(fill));
}

Status GgufWriter::write(const std::string& path) const {
    VKAI_TRY(error_);
    return w_.write(path);
}

Result<std::vector<uint8_t>> GgufWriter::write_to_memory() const {
    VKAI_TRY(error_);
    return w_.write_to_memory();
}

Result<std::vector<uint8_t>> to_gguf(const whisper_bin::File& f) {
    GgufWriter w(f.hp, f.n_fft, f.filters, f.tokens);
    for (const auto& t : f.tensors) {
        std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
        const uint8_t* src = t.data;
        const uint64_t n = t.bytes;
        VKAI_TRY(w.add_tensor(std::string(t.name), t.type, std::move(ne), [src, n](uint8_t* dst, uint64_t bytes) -> Status {
            if (bytes != n) return fail(Code::internal, "tensor size %llu != %llu", (unsigned long long)bytes, (unsigned long long)n);
            std::memcpy(dst, src, n);
            return {};
        }));
    }
    return w.write_to_memory();
}

} // namespace vkai::whisper
