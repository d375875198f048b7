// Tokenizer loading from GGUF metadata (validated as untrusted input), special-token matching,
// encode dispatch, decode and the streaming detokenizer.
#include "llm/tokenizer.h"

#include "base/check.h"
#include "base/log.h"
#include "base/text.h"
#include "formats/gguf.h"
#include "llm/tokenizer_impl.h"
#include "llm/unicode.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace vkai::llm {

const char* vocab_type_name(VocabType t) {
    switch (t) {
    case VocabType::spm: return "llama";
    case VocabType::bpe: return "gpt2";
    case VocabType::wpm: return "bert";
    }
    return "?";
}

// ---- GPT-2 byte alphabet ----

static bool byte_is_printable(unsigned b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174; }

uint32_t byte_to_codepoint(uint8_t b) {
    if (byte_is_printable(b)) return b;
    uint32_t n = 0; // non-printable bytes take U+0100.. in byte order
    for (unsigned k = 0; k < b; ++k) n += !byte_is_printable(k);
    return 256 + n;
}

int byte_from_codepoint(uint32_t cp) {
    if (cp < 256) return byte_is_printable(cp) ? int(cp) : -1;
    if (cp >= 256 + 68) return -1; // 68 bytes are not printable
    uint32_t n = cp - 256;
    for (unsigned b = 0; b < 256; ++b)
        if (!byte_is_printable(b) && n-- == 0) return int(b);
    return -1;
}

// ---- special-token matcher ----

void SpecialMatcher::add(std::string_view text, int32_t id, bool always) {
    if (text.empty()) return;
    uint32_t node = 0;
    for (char ch : text) {
        const uint64_t key = (uint64_t(node) << 8) | uint8_t(ch);
        auto it = edges_.find(key);
        if (it == edges_.end()) {
            const uint32_t child = uint32_t(terminals_.size());
            terminals_.push_back(Terminal{});
            it = edges_.emplace(key, child).first;
        }
        node = it->second;
    }
    if (terminals_[node].id >= 0) return; // duplicate text: the first id wins
    terminals_[node] = Terminal{id, always};
    first_byte_[uint8_t(text[0])] = true;
    ++n_terminals_;
}

int32_t SpecialMatcher::match(std::string_view text, size_t pos, bool parse_special, size_t& len) const {
    if (pos >= text.size() || !first_byte_[uint8_t(text[pos])]) return -1;
    uint32_t node = 0;
    int32_t best = -1;
    for (size_t i = pos; i < text.size(); ++i) {
        auto it = edges_.find((uint64_t(node) << 8) | uint8_t(text[i]));
        if (it == edges_.end()) break;
        node = it->second;
        const Terminal& t = terminals_[node];
        if (t.id >= 0 && (t.always || parse_special)) {
            best = t.id;
            len = i + 1 - pos;
        }
    }
    return best;
}

// ---- loading ----

namespace {

constexpr const char* kUnderscore = "\xE2\x96\x81"; // U+2581, SentencePiece's visible space

// An optional token id key. -1 and 0xFFFFFFFF (written by converters for "none") mean absent.
Status read_id(const gguf::File& f, const char* key, int32_t n_vocab, int32_t& out) {
    if (!f.find(key)) return Status::success();
    auto v = f.get_int(key);
    if (!v.ok()) return v.status();
    if (*v == -1 || *v == int64_t(0xFFFFFFFF)) return Status::success();
    if (*v < 0 || *v >= n_vocab)
        return fail(Code::corrupt, "%s: %s = %lld is out of range for a vocabulary of %d tokens", f.name.c_str(), key,
                    (long long)*v, n_vocab);
    out = int32_t(*v);
    return Status::success();
}

Status read_flag(const gguf::File& f, const char* key, bool& out) {
    if (!f.find(key)) return Status::success();
    auto v = f.get_bool(key);
    if (!v.ok()) return v.status();
    out = *v;
    return Status::success();
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// "<0xNN>" -> NN, or -1.
int parse_byte_token(std::string_view s) {
    if (s.size() != 6 || s.substr(0, 3) != "<0x" || s[5] != '>') return -1;
    const int hi = hex_digit(s[3]), lo = hex_digit(s[4]);
    return (hi < 0 || lo < 0) ? -1 : hi * 16 + lo;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
    std::string out;
    size_t pos = 0;
    for (size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
        out.append(s, pos, hit - pos);
        out.append(to);
    }
    out.append(s, pos);
    s.swap(out);
}

std::string make_piece(const Vocab& v, int32_t id) {
    const std::string& text = v.tokens[size_t(id)];
    const TokenType t = v.types[size_t(id)];
    if (t == TokenType::control || t == TokenType::unknown || t == TokenType::user_defined) return text;
    switch (v.type) {
    case VocabType::spm: {
        if (t == TokenType::byte) {
            const int b = parse_byte_token(text);
            return b >= 0 ? std::string(1, char(b)) : text;
        }
        std::string s = text;
        replace_all(s, kUnderscore, " ");
        return s;
    }
    case VocabType::bpe: {
        std::string s;
        for (size_t i = 0; i < text.size();) {
            const size_t start = i;
            const uint32_t cp = unicode::decode(text, i);
            const int b = cp == unicode::kInvalid ? -1 : byte_from_codepoint(cp);
            if (b >= 0) s += char(b);
            else s.append(text, start, i - start); // outside the byte alphabet: keep as written
        }
        return s;
    }
    case VocabType::wpm:
        if (v.wpm_word_marker) {
            std::string s = text;
            replace_all(s, kUnderscore, " ");
            return s;
        }
        if (text.size() >= 2 && text[0] == '#' && text[1] == '#') return text.substr(2);
        return " " + text;
    }
    return text;
}

Status load_merges(const gguf::File& f, Vocab& v) {
    auto arr = f.get_array("tokenizer.ggml.merges", gguf::ValueType::string);
    if (!arr.ok()) {
        if (arr.status().code() == Code::not_found)
            return fail(Code::corrupt, "%s: tokenizer.ggml.merges is missing; a 'gpt2' (BPE) vocabulary needs its merges",
                        f.name.c_str());
        return arr.status();
    }
    const gguf::Value& m = **arr;
    v.merges.reserve(m.items.size());
    size_t skipped = 0;
    std::string joined;
    for (size_t r = 0; r < m.items.size(); ++r) {
        std::string_view s = m.items[r].str;
        const size_t sp = s.size() > 1 ? s.find(' ', 1) : std::string_view::npos;
        if (sp == std::string_view::npos)
            return fail(Code::corrupt, "%s: tokenizer.ggml.merges[%zu] = '%s' is not two tokens separated by a space",
                        f.name.c_str(), r, printable(s, 60).c_str());
        const std::string_view a = s.substr(0, sp), b = s.substr(sp + 1);
        joined.assign(a);
        joined.append(b);
        const int32_t ia = v.find(a), ib = v.find(b), ij = v.find(joined);
        if (ia < 0 || ib < 0 || ij < 0) {
            ++skipped; // refers to strings the vocabulary lacks: it can never apply
            continue;
        }
        v.merges.emplace((uint64_t(uint32_t(ia)) << 32) | uint32_t(ib), std::make_pair(int32_t(r), ij));
    }
    if (skipped)
        VKAI_LOG_WARN("%s: %zu of %zu tokenizer merges name tokens that are not in the vocabulary; ignored", f.name.c_str(),
                      skipped, m.items.size());
    return Status::success();
}

// End-of-turn control tokens of common chat formats, in the order preferred for eot(); all of them
// and the end-of-text tokens after them count as end of generation.
constexpr const char* kEndOfTurn[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|end_of_turn|>", "<EOT>", "<|return|>"};
constexpr const char* kEndOfText[] = {"<|endoftext|>", "<|end_of_text|>", "<|eom_id|>", "<|call|>", "</s>"};

} // namespace

Result<Tokenizer> Tokenizer::load(const gguf::File& f) {
    auto model = f.get_string("tokenizer.ggml.model");
    if (!model.ok()) {
        if (model.status().code() == Code::not_found)
            return fail(Code::not_found, "%s: no tokenizer.ggml.model: the file has no tokenizer", f.name.c_str());
        return model.status();
    }
    auto v = std::make_shared<Vocab>();
    if (*model == "llama") v->type = VocabType::spm;
    else if (*model == "gpt2") v->type = VocabType::bpe;
    else if (*model == "bert") v->type = VocabType::wpm;
    else
        return fail(Code::unsupported, "%s: tokenizer.ggml.model '%s' is not supported (supported: llama, gpt2, bert)",
                    f.name.c_str(), printable(*model, 40).c_str());

    VKAI_ASSIGN_OR_RETURN(const gguf::Value* toks, f.get_array("tokenizer.ggml.tokens", gguf::ValueType::string));
    if (toks->items.empty()) return fail(Code::corrupt, "%s: tokenizer.ggml.tokens is empty", f.name.c_str());
    if (toks->items.size() >= size_t(INT32_MAX))
        return fail(Code::corrupt, "%s: tokenizer.ggml.tokens has %zu entries; at most %d are supported", f.name.c_str(),
                    toks->items.size(), INT32_MAX - 1);
    const size_t n = toks->items.size();
    const int32_t n_vocab = int32_t(n);
    v->tokens.reserve(n);
    for (const auto& item : toks->items) v->tokens.emplace_back(item.str);

    // Scores: one float per token (SentencePiece merges by them).
    if (const gguf::Value* sc = f.find("tokenizer.ggml.scores")) {
        if (sc->type != gguf::ValueType::array || (sc->elem_type != gguf::ValueType::f32 && sc->elem_type != gguf::ValueType::f64))
            return fail(Code::corrupt, "%s: tokenizer.ggml.scores must be an array of f32, got %s%s%s", f.name.c_str(),
                        gguf::value_type_name(sc->type), sc->type == gguf::ValueType::array ? " of " : "",
                        sc->type == gguf::ValueType::array ? gguf::value_type_name(sc->elem_type) : "");
        if (sc->count != n)
            return fail(Code::corrupt, "%s: tokenizer.ggml.scores has %llu entries but tokenizer.ggml.tokens has %zu",
                        f.name.c_str(), (unsigned long long)sc->count, n);
        v->scores.resize(n);
        for (size_t i = 0; i < n; ++i) {
            const float x = float(sc->float_at(i));
            v->scores[i] = std::isnan(x) ? -INFINITY : x; // NaN would break the merge queue's ordering
        }
    } else if (v->type == VocabType::spm) {
        return fail(Code::corrupt, "%s: tokenizer.ggml.scores is missing; a SentencePiece ('llama') vocabulary needs a score per token",
                    f.name.c_str());
    } else {
        v->scores.assign(n, 0.0f);
    }

    // Token types (normal when absent).
    v->types.assign(n, TokenType::normal);
    if (const gguf::Value* tt = f.find("tokenizer.ggml.token_type")) {
        const bool int_elems = tt->type == gguf::ValueType::array && tt->elem_type != gguf::ValueType::string &&
                               tt->elem_type != gguf::ValueType::array && tt->elem_type != gguf::ValueType::f32 &&
                               tt->elem_type != gguf::ValueType::f64 && tt->elem_type != gguf::ValueType::boolean;
        if (!int_elems)
            return fail(Code::corrupt, "%s: tokenizer.ggml.token_type must be an array of i32, got %s%s%s", f.name.c_str(),
                        gguf::value_type_name(tt->type), tt->type == gguf::ValueType::array ? " of " : "",
                        tt->type == gguf::ValueType::array ? gguf::value_type_name(tt->elem_type) : "");
        if (tt->count != n)
            return fail(Code::corrupt, "%s: tokenizer.ggml.token_type has %llu entries but tokenizer.ggml.tokens has %zu",
                        f.name.c_str(), (unsigned long long)tt->count, n);
        for (size_t i = 0; i < n; ++i) {
            const int64_t t = tt->int_at(i);
            if (t < 0 || t > 6)
                return fail(Code::corrupt, "%s: tokenizer.ggml.token_type[%zu] = %lld is not a token type (0..6)", f.name.c_str(),
                            i, (long long)t);
            v->types[i] = TokenType(t);
        }
    }

    // String -> id (first id wins on duplicates). Built after `tokens` is final: the keys view it.
    v->ids.reserve(n);
    for (size_t i = 0; i < n; ++i)
        if (!v->tokens[i].empty()) v->ids.emplace(std::string_view(v->tokens[i]), int32_t(i));

    // Byte tokens.
    v->byte_tokens.fill(-1);
    if (v->type == VocabType::spm) {
        const bool have_types = f.find("tokenizer.ggml.token_type") != nullptr;
        for (size_t i = 0; i < n; ++i) {
            const bool typed_byte = v->types[i] == TokenType::byte;
            if (!typed_byte && have_types) continue;
            const int b = parse_byte_token(v->tokens[i]);
            if (b < 0) {
                if (typed_byte)
                    return fail(Code::corrupt, "%s: token %zu has type byte but its text '%s' is not of the form <0xNN>",
                                f.name.c_str(), i, printable(v->tokens[i], 40).c_str());
                continue;
            }
            if (v->byte_tokens[size_t(b)] < 0) v->byte_tokens[size_t(b)] = int32_t(i);
            v->types[i] = TokenType::byte;
        }
    } else if (v->type == VocabType::bpe) {
        for (unsigned b = 0; b < 256; ++b) {
            std::string s;
            unicode::append_utf8(s, byte_to_codepoint(uint8_t(b)));
            v->byte_tokens[b] = v->find(s);
        }
    }

    // Special ids and flags, with per-type defaults.
    VKAI_TRY(read_id(f, "tokenizer.ggml.bos_token_id", n_vocab, v->bos));
    VKAI_TRY(read_id(f, "tokenizer.ggml.eos_token_id", n_vocab, v->eos));
    VKAI_TRY(read_id(f, "tokenizer.ggml.eot_token_id", n_vocab, v->eot));
    VKAI_TRY(read_id(f, "tokenizer.ggml.eom_token_id", n_vocab, v->eom));
    VKAI_TRY(read_id(f, "tokenizer.ggml.unknown_token_id", n_vocab, v->unk));
    VKAI_TRY(read_id(f, "tokenizer.ggml.seperator_token_id", n_vocab, v->sep)); // sic: the GGUF key's spelling
    if (Status st = read_id(f, "tokenizer.ggml.padding_token_id", n_vocab, v->pad); !st.ok()) {
        VKAI_LOG_WARN("%s; padding id ignored", st.message().c_str()); // unused by generation: not fatal
        v->pad = -1;
    }
    if (v->type == VocabType::wpm) {
        int32_t cls = -1;
        VKAI_TRY(read_id(f, "tokenizer.ggml.cls_token_id", n_vocab, cls));
        if (v->bos < 0) v->bos = cls;
        if (v->eos < 0) v->eos = v->sep;
        if (v->unk < 0) v->unk = v->find("[UNK]");
    }
    if (v->type == VocabType::spm) {
        // SentencePiece conventions when the keys are absent.
        if (v->unk < 0 && !f.find("tokenizer.ggml.unknown_token_id") && n_vocab > 0) v->unk = 0;
        if (v->bos < 0 && !f.find("tokenizer.ggml.bos_token_id") && n_vocab > 1) v->bos = 1;
        if (v->eos < 0 && !f.find("tokenizer.ggml.eos_token_id") && n_vocab > 2) v->eos = 2;
    }
    v->add_bos = v->type != VocabType::bpe;
    v->add_eos = v->type == VocabType::wpm;
    v->add_space_prefix = v->type == VocabType::spm;
    VKAI_TRY(read_flag(f, "tokenizer.ggml.add_bos_token", v->add_bos));
    VKAI_TRY(read_flag(f, "tokenizer.ggml.add_eos_token", v->add_eos));
    VKAI_TRY(read_flag(f, "tokenizer.ggml.add_space_prefix", v->add_space_prefix));
    v->strip_first_space = (v->type == VocabType::spm && v->add_space_prefix) || v->type == VocabType::wpm;

    if (v->type == VocabType::bpe) {
        VKAI_TRY(load_merges(f, *v));
        auto pre = f.find("tokenizer.ggml.pre") ? f.get_string("tokenizer.ggml.pre") : Result<std::string_view>("default");
        if (!pre.ok()) return pre.status();
        v->pre = std::string(*pre);
        auto pt = PreTokenizer::create(v->pre);
        if (!pt.ok()) return Status(pt.status()).with_context(f.name);
        v->pretok = std::make_unique<PreTokenizer>(std::move(pt).value());
    } else if (const gguf::Value* pre = f.find("tokenizer.ggml.pre"); pre && pre->type == gguf::ValueType::string) {
        v->pre = std::string(pre->str);
    }
    if (v->type == VocabType::wpm) {
        // Uncased vocabularies (BERT uncased, BGE, MiniLM) have no capitalised entries.
        size_t marked = 0, hashed = 0;
        for (const std::string& t : v->tokens) {
            marked += t.rfind(kUnderscore, 0) == 0;
            hashed += t.rfind("##", 0) == 0;
        }
        v->wpm_word_marker = marked > hashed;
        const char* upper_a = v->wpm_word_marker ? "\xE2\x96\x81" "A" : "A";
        const char* upper_the = v->wpm_word_marker ? "\xE2\x96\x81" "The" : "The";
        v->lowercase = v->find(upper_a) < 0 && v->find(upper_the) < 0;
    }

    // Tokens matched in text before the algorithm runs.
    for (size_t i = 0; i < n; ++i) {
        const TokenType t = v->types[i];
        if (t == TokenType::user_defined) v->specials.add(v->tokens[i], int32_t(i), true);
        else if (t == TokenType::control || t == TokenType::unknown) v->specials.add(v->tokens[i], int32_t(i), false);
    }
    // End of generation: the named ids plus the end-of-turn/end-of-text control tokens present.
    auto control_id = [&](const char* text) {
        const int32_t id = v->find(text);
        return id >= 0 && v->types[size_t(id)] == TokenType::control ? id : -1;
    };
    for (const char* name : kEndOfTurn) {
        const int32_t id = control_id(name);
        if (id < 0) continue;
        if (v->eot < 0) v->eot = id;
        v->eog.push_back(id);
    }
    for (const char* name : kEndOfText)
        if (const int32_t id = control_id(name); id >= 0) v->eog.push_back(id);
    for (int32_t id : {v->eos, v->eot, v->eom})
        if (id >= 0) v->eog.push_back(id);
    std::sort(v->eog.begin(), v->eog.end());
    v->eog.erase(std::unique(v->eog.begin(), v->eog.end()), v->eog.end());

    v->pieces.reserve(n);
    for (size_t i = 0; i < n; ++i) v->pieces.push_back(make_piece(*v, int32_t(i)));

    Tokenizer tok;
    tok.v_ = std::move(v);
    return tok;
}

// ---- encode ----

const Vocab& Tokenizer::vocab() const {
    VKAI_ASSERT(v_ != nullptr, "Tokenizer used before Tokenizer::load()");
    return *v_;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
    const Vocab& v = vocab();
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 4);
    if (add_special && v.add_bos && v.bos >= 0) out.push_back(v.bos);

    bool after_special = true; // start of text counts as "after a special token" for the SPM prefix
    std::string buf;
    auto encode_text = [&](std::string_view frag) {
        if (frag.empty()) return;
        switch (v.type) {
        case VocabType::spm:
            buf.clear();
            if (v.add_space_prefix && after_special) buf += ' ';
            buf.append(frag);
            replace_all(buf, " ", kUnderscore);
            encode_spm(v, buf, out);
            break;
        case VocabType::bpe:
            if (v.add_space_prefix && after_special) {
                buf.clear();
                buf += ' ';
                buf.append(frag);
                encode_bpe(v, buf, out);
            } else {
                encode_bpe(v, frag, out);
            }
            break;
        case VocabType::wpm: encode_wpm(v, frag, out); break;
        }
        after_special = false;
    };

    size_t start = 0;
    if (!v.specials.empty()) {
        for (size_t pos = 0; pos < text.size();) {
            size_t len = 0;
            const int32_t id = v.specials.match(text, pos, parse_special, len);
            if (id < 0) {
                ++pos;
                continue;
            }
            encode_text(text.substr(start, pos - start));
            out.push_back(id);
            after_special = true;
            pos += len;
            start = pos;
        }
    }
    encode_text(text.substr(start));

    if (add_special && v.add_eos && v.eos >= 0) out.push_back(v.eos);
    return out;
}

// ---- decode ----

// Appends the text of one token; `started` tracks whether a text token was seen (prefix-space rule).
static void append_piece(const Vocab& v, int32_t id, bool render_special, bool& started, std::string& out) {
    if (id < 0 || id >= v.n()) return;
    const TokenType t = v.types[size_t(id)];
    if (t == TokenType::control || t == TokenType::unknown) {
        if (render_special) {
            out += v.tokens[size_t(id)];
            started = true; // "<s> Hello": the space is text once something precedes it
        }
        return;
    }
    std::string_view p = v.pieces[size_t(id)];
    if (!started && v.strip_first_space && !p.empty() && p[0] == ' ') p.remove_prefix(1);
    started = true;
    out.append(p);
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_special) const {
    std::string out;
    bool started = false;
    for (int32_t id : ids) append_piece(vocab(), id, render_special, started, out);
    return out;
}

std::string Tokenizer::token_to_piece(int32_t id) const {
    const Vocab& v = vocab();
    return id >= 0 && id < v.n() ? v.pieces[size_t(id)] : std::string();
}

int32_t Tokenizer::n_vocab() const { return vocab().n(); }
VocabType Tokenizer::type() const { return vocab().type; }
const std::string& Tokenizer::pre() const { return vocab().pre; }
const std::string& Tokenizer::token_text(int32_t id) const {
    static const std::string empty;
    const Vocab& v = vocab();
    return id >= 0 && id < v.n() ? v.tokens[size_t(id)] : empty;
}
TokenType Tokenizer::token_type(int32_t id) const {
    const Vocab& v = vocab();
    return id >= 0 && id < v.n() ? v.types[size_t(id)] : TokenType::undefined;
}
int32_t Tokenizer::find(std::string_view text) const { return vocab().find(text); }
int32_t Tokenizer::bos() const { return vocab().bos; }
int32_t Tokenizer::eos() const { return vocab().eos; }
int32_t Tokenizer::eot() const { return vocab().eot; }
int32_t Tokenizer::unk() const { return vocab().unk; }
int32_t Tokenizer::pad() const { return vocab().pad; }
bool Tokenizer::add_bos() const { return vocab().add_bos; }
bool Tokenizer::add_eos() const { return vocab().add_eos; }
bool Tokenizer::is_eog(int32_t id) const {
    const Vocab& v = vocab();
    return std::binary_search(v.eog.begin(), v.eog.end(), id);
}

// ---- streaming ----

Detokenizer::Detokenizer(const Tokenizer& tok, bool render_special) : v_(tok.v_), render_special_(render_special) {
    VKAI_ASSERT(v_ != nullptr, "Detokenizer built from a Tokenizer before Tokenizer::load()");
}

std::string Detokenizer::push(int32_t id) {
    append_piece(*v_, id, render_special_, started_, pending_);
    const size_t keep = unicode::incomplete_tail(pending_);
    std::string ready = pending_.substr(0, pending_.size() - keep);
    pending_.erase(0, pending_.size() - keep);
    return ready;
}

std::string Detokenizer::flush() {
    std::string rest;
    rest.swap(pending_);
    return rest;
}

void Detokenizer::reset() {
    pending_.clear();
    started_ = false;
}

} // namespace vkai::llm
