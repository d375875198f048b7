// Pre-tokenizers of byte-level BPE vocabularies, chosen by tokenizer.ggml.pre: the split regexes the
// models publish in their tokenizer.json, run with PCRE2 in Unicode mode (JIT when available).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "llm/tokenizer_impl.h"
#include "llm/unicode.h"

#include <cstring>

namespace vkai::llm {

namespace {

// GPT-2's pattern (also the ByteLevel pre-tokenizer's built-in one).
constexpr const char* kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// cl100k-style pattern of Llama 3 (numbers in groups of up to 3).
constexpr const char* kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2: as Llama 3 but every digit alone.
constexpr const char* kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Mistral tekken (Nemo, Pixtral): o200k-style case-aware words, single digits.
constexpr const char* kTekken =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// OpenAI o200k (GPT-4o, Llama 4).
constexpr const char* kO200k =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kSingleDigits = R"(\p{N})";
// DeepSeek LLM: a sequence of splits (cased letters, ASCII and CJK punctuation, CJK runs, digits).
constexpr const char* kDeepseekLetters =
    "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+";
constexpr const char* kDeepseekPunct = "\\s?[!-/:-~！-／：-～‘-‟　-。]+";
constexpr const char* kDeepseekCjk = "[一-龥ࠀ-一가-퟿]+";
// DeepSeek V3: digits in threes, CJK/kana runs, then a words/punctuation pattern.
constexpr const char* kDeepseek3Words =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// BLOOM / Poro: everything up to whitespace or sentence punctuation.
constexpr const char* kBloom = R"( ?[^(\s|.,!?…。，、।۔،)]+)";

struct PreSpec {
    const char* names; // space-separated tokenizer.ggml.pre values
    std::vector<const char*> regexes;
    bool ignore_merges;
    bool nfc; // the reference normalizes text to NFC first
};

const std::vector<PreSpec>& pre_specs() {
    static const std::vector<PreSpec> specs = {
        {"default gpt-2 gpt2 olmo jais trillion phi-2 granite", {kGpt2}, false, false},
        // GPT-NeoX's tokenizer (also MPT's) normalizes to NFC before splitting.
        {"mpt gpt-neox", {kGpt2}, false, true},
        // tiktoken-derived vocabularies look the whole piece up first (ignore_merges in tokenizer.json).
        {"llama3 llama-v3 llama-bpe falcon3 chatglm-bpe chatglm4 dbrx smaug-bpe", {kLlama3}, true, false},
        {"qwen2 qwen3 stablelm2 megrez deepseek-r1-qwen", {kQwen2}, false, true},
        {"starcoder refact smollm codeshell exaone minerva-7b", {kSingleDigits, kGpt2}, false, false},
        {"command-r", {kSingleDigits, kGpt2}, false, true},
        {"falcon", {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"}, false, false},
        {"tekken pixtral", {kTekken}, true, false},
        {"gpt-4o llama4", {kO200k}, true, false},
        {"deepseek-llm", {"[\r\n]", kDeepseekLetters, kDeepseekPunct, R"(\s+$)", kDeepseekCjk, kSingleDigits}, false, false},
        {"deepseek-coder", {"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kDeepseekCjk, kSingleDigits}, false, false},
        {"deepseek-v3", {R"(\p{N}{1,3})", "[一-龥぀-ゟ゠-ヿ]+", kDeepseek3Words}, false, false},
        {"bloom poro-chat gpt3-finnish", {kBloom}, false, false},
        {"viking", {kBloom, kSingleDigits}, false, false},
    };
    return specs;
}

bool name_in(const char* names, std::string_view name) {
    std::string_view all(names);
    size_t pos = 0;
    while (pos < all.size()) {
        size_t end = all.find(' ', pos);
        if (end == std::string_view::npos) end = all.size();
        if (all.substr(pos, end - pos) == name) return true;
        pos = end + 1;
    }
    return false;
}

} // namespace

struct PreTokenizer::Regex {
    pcre2_code* code = nullptr;
    bool jit = false;
    ~Regex() {
        if (code) pcre2_code_free(code);
    }
};

Result<PreTokenizer> PreTokenizer::create(std::string_view name) {
    const PreSpec* spec = nullptr;
    for (const PreSpec& s : pre_specs())
        if (name_in(s.names, name)) spec = &s;
    if (!spec) {
        std::string known;
        for (const PreSpec& s : pre_specs()) known += std::string(known.empty() ? "" : " ") + s.names;
        return fail(Code::unsupported, "tokenizer.ggml.pre '%.*s' is not a known pre-tokenizer; known: %s", int(name.size()),
                    name.data(), known.c_str());
    }
    PreTokenizer p;
    p.ignore_merges_ = spec->ignore_merges;
    p.nfc_ = spec->nfc;
    for (const char* pattern : spec->regexes) {
        auto re = std::make_shared<Regex>();
        int err = 0;
        PCRE2_SIZE err_off = 0;
        re->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern), PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err,
                                 &err_off, nullptr);
        if (!re->code) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            return fail(Code::internal, "pre-tokenizer '%.*s': regex does not compile at offset %zu: %s", int(name.size()),
                        name.data(), size_t(err_off), reinterpret_cast<const char*>(msg));
        }
        re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
        p.regexes_.push_back(std::move(re));
    }
    return p;
}

namespace {

// Per-call PCRE2 state: match data per regex and a JIT stack larger than the 32 KiB default.
struct MatchState {
    pcre2_match_context* mctx = nullptr;
    pcre2_jit_stack* stack = nullptr;
    MatchState() {
        mctx = pcre2_match_context_create(nullptr);
        stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr);
        if (mctx && stack) pcre2_jit_stack_assign(mctx, nullptr, stack);
    }
    ~MatchState() {
        if (stack) pcre2_jit_stack_free(stack);
        if (mctx) pcre2_match_context_free(mctx);
    }
    MatchState(const MatchState&) = delete;
    MatchState& operator=(const MatchState&) = delete;
};

} // namespace

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& out) const {
    // Step 0: valid UTF-8 runs, and each invalid byte on its own (PCRE2 in UTF mode rejects them; a
    // one-byte piece >= 0x80 is always such a byte and skips the regexes).
    std::vector<std::string_view> cur, next;
    size_t run = 0;
    for (size_t i = 0; i < text.size();) {
        const size_t n = unicode::valid_len(text, i);
        if (n) {
            i += n;
            continue;
        }
        if (i > run) cur.push_back(text.substr(run, i - run));
        cur.push_back(text.substr(i, 1));
        run = ++i;
    }
    if (run < text.size()) cur.push_back(text.substr(run));

    MatchState state;
    for (const auto& re : regexes_) {
        pcre2_match_data* md = pcre2_match_data_create_from_pattern(re->code, nullptr);
        next.clear();
        for (std::string_view piece : cur) {
            if (!md || (piece.size() == 1 && uint8_t(piece[0]) >= 0x80)) {
                next.push_back(piece);
                continue;
            }
            const auto* subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
            size_t last = 0, offset = 0;
            while (offset <= piece.size()) {
                const int rc = re->jit ? pcre2_jit_match(re->code, subject, piece.size(), offset, 0, md, state.mctx)
                                       : pcre2_match(re->code, subject, piece.size(), offset, PCRE2_NO_UTF_CHECK, md, state.mctx);
                if (rc < 0) break; // no match, or a resource limit: the rest stays one piece
                const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
                const size_t s = ov[0], e = ov[1];
                if (s < last || e < s || e > piece.size()) break; // cannot happen; never trust blindly
                if (e == s) {
                    // An empty match splits nothing: step over one character.
                    size_t n = unicode::valid_len(piece, s);
                    offset = s + (n ? n : 1);
                    continue;
                }
                if (s > last) next.push_back(piece.substr(last, s - last));
                next.push_back(piece.substr(s, e - s));
                last = offset = e;
            }
            if (last < piece.size()) next.push_back(piece.substr(last));
        }
        if (md) pcre2_match_data_free(md);
        cur.swap(next);
    }
    out.insert(out.end(), cur.begin(), cur.end());
}

} // namespace vkai::llm
