// Tokenizer properties (decode(encode(x)) == x on random Unicode and random bytes, streaming detokenizer
// equals decode and never splits a UTF-8 sequence), special tokens, and hostile metadata.
#include "base/log.h"
#include "base/text.h"
#include "base/timer.h"
#include "formats/gguf.h"
#include "llm/tokenizer.h"
#include "llm/unicode.h"
#include "../support/test_data.h"

#include <gtest/gtest.h>

#include <random>
#include <utility>

using namespace vkai;

namespace {

Result<llm::Tokenizer> load_path(const std::string& rel) {
    VKAI_ASSIGN_OR_RETURN(auto model, gguf::open(test::data_path(rel)));
    return llm::Tokenizer::load(model.gguf);
}

// Random text mixing the scripts and whitespace shapes tokenizers trip over.
std::string random_text(std::mt19937_64& rng, int n_items) {
    static const char* const pieces[] = {"\u00e9", "\u00fc", "e\u0301", "\u00df", "\u0130", "\u4e2d\u6587", "\u65e5\u672c\u8a9e",
                                         "\ud55c\uad6d\uc5b4", "\U0001F600", "\U0001F999", "\U0001F636\u200D\U0001F32B\uFE0F",
                                         "\u043f\u0440\u0438\u0432\u0435\u0442", "\u1780\u17b6\u1793\u17cb", "\u0627\u0644\u0639\u0631\u0628\u064a\u0629",
                                         "'s", "'LL", "...", "<s>", "</s>", "<|endoftext|>", "\u00bd", "\u2163", "\u3000"};
    std::uniform_int_distribution<int> kind(0, 9);
    std::string s;
    for (int i = 0; i < n_items; ++i) {
        switch (kind(rng)) {
        case 0: s += std::string(1 + rng() % 5, ' '); break;
        case 1: s += std::string(1 + rng() % 3, '\n'); break;
        case 2: s += (rng() % 2) ? "\t" : "\r\n"; break;
        case 3:
            for (int k = 0, n = 1 + int(rng() % 4); k < n; ++k) s += char('0' + rng() % 10);
            break;
        case 4:
        case 5:
            for (int k = 0, n = 1 + int(rng() % 8); k < n; ++k) s += char((rng() % 2 ? 'a' : 'A') + rng() % 26);
            break;
        case 6: s += "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"[rng() % 32]; break;
        case 7: {
            uint32_t cp;
            do cp = 0x80 + uint32_t(rng() % 0x2FF80); while (cp >= 0xD800 && cp <= 0xDFFF);
            unicode::append_utf8(s, cp);
            break;
        }
        default: s += pieces[rng() % (sizeof(pieces) / sizeof(pieces[0]))]; break;
        }
    }
    return s;
}

// Feeds ids one at a time; checks each chunk is whole UTF-8 when the full text is, and the total.
void check_streaming(const llm::Tokenizer& tok, const std::vector<int32_t>& ids, const std::string& want) {
    llm::Detokenizer d(tok);
    std::string got;
    const bool valid = unicode::is_valid(want);
    for (int32_t id : ids) {
        const std::string chunk = d.push(id);
        if (valid) {
            ASSERT_TRUE(unicode::is_valid(chunk)) << "chunk '" << printable(chunk, 40) << "' splits a UTF-8 sequence";
        }
        got += chunk;
    }
    got += d.flush();
    ASSERT_EQ(got, want);
}

// nfc: the vocabulary normalizes text to NFC first, so that is what comes back.
void round_trip(const std::string& rel, uint64_t seed, bool nfc = false) {
    if (!test::have_data(rel)) GTEST_SKIP() << "no shared data " << rel;
    auto tok = load_path(rel);
    ASSERT_TRUE(tok.ok()) << tok.status().message();
    std::mt19937_64 rng(seed);
    for (int iter = 0; iter < 300; ++iter) {
        const std::string text = random_text(rng, 1 + int(rng() % 40));
        const auto ids = tok->encode(text, false, false);
        const std::string back = tok->decode(ids);
        ASSERT_EQ(back, nfc ? unicode::to_nfc(text) : text) << rel << " iteration " << iter << " text \"" << printable(text, 200) << "\"";
        check_streaming(*tok, ids, back);
        // BOS/EOS are control tokens: left out of decode, so adding them changes nothing.
        ASSERT_EQ(tok->decode(tok->encode(text, true, false)), back);
    }
    // Arbitrary bytes (invalid UTF-8 included) survive byte fallback / byte-level BPE. Some byte-level
    // vocabularies lack tokens for bytes that never occur in UTF-8 (0xC0, 0xF5..0xFF): those cannot.
    std::vector<char> alphabet;
    for (int b = 0; b < 256; ++b) {
        const std::string one(1, char(b));
        if (tok->decode(tok->encode(one, false, false)) == one) alphabet.push_back(char(b));
    }
    ASSERT_GE(alphabet.size(), 240u);
    for (int iter = 0; iter < 200; ++iter) {
        std::string bytes(rng() % 64, '\0');
        for (char& c : bytes) c = alphabet[rng() % alphabet.size()];
        const auto ids = tok->encode(bytes, false, false);
        const std::string want = nfc ? unicode::to_nfc(bytes) : bytes;
        ASSERT_EQ(tok->decode(ids), want) << rel << " bytes \"" << printable(bytes, 200) << "\"";
        check_streaming(*tok, ids, want);
    }
}

TEST(TokenizerRoundTrip, SentencePiece) { round_trip("vocab/ggml-vocab-llama-spm.gguf", 1); }
TEST(TokenizerRoundTrip, SentencePieceTinyVocab) { round_trip("llm/stories260K.gguf", 2); } // mostly byte fallback
TEST(TokenizerRoundTrip, Gpt2) { round_trip("vocab/ggml-vocab-gpt-2.gguf", 3); }
TEST(TokenizerRoundTrip, StarcoderSplitDigits) { round_trip("vocab/ggml-vocab-starcoder.gguf", 4); }
TEST(TokenizerRoundTrip, MptUserDefinedSpacesNfc) { round_trip("vocab/ggml-vocab-mpt.gguf", 5, true); }

TEST(Tokenizer, SpecialTokensAndFlags) {
    if (!test::have_data("vocab/ggml-vocab-llama-spm.gguf")) GTEST_SKIP() << "no shared data";
    auto tok = load_path("vocab/ggml-vocab-llama-spm.gguf");
    ASSERT_TRUE(tok.ok()) << tok.status().message();
    EXPECT_EQ(tok->type(), llm::VocabType::spm);
    EXPECT_EQ(tok->n_vocab(), 32000);
    EXPECT_EQ(tok->bos(), 1);
    EXPECT_EQ(tok->eos(), 2);
    EXPECT_TRUE(tok->is_eog(2));
    EXPECT_FALSE(tok->is_eog(1));
    EXPECT_EQ(tok->encode("Hello", true, true), (std::vector<int32_t>{1, 15043}));
    EXPECT_EQ(tok->encode("Hello", false, false), (std::vector<int32_t>{15043}));
    // "</s>" is a control token: one id only when parsing specials; text after it gets the space prefix.
    // (A literal U+2581 in the text reads as a space in SentencePiece: the one thing that does not round-trip.)
    EXPECT_EQ(tok->encode("a</s>b", false, true), (std::vector<int32_t>{263, 2, 289}));
    const auto plain = tok->encode("a</s>b", false, false);
    EXPECT_GT(plain.size(), 3u);
    EXPECT_EQ(tok->decode(plain), "a</s>b");
    EXPECT_EQ(tok->token_to_piece(13), "\n"); // <0x0A>
    EXPECT_EQ(tok->token_to_piece(15043), " Hello");
    EXPECT_EQ(tok->token_to_piece(-1), "");
    EXPECT_EQ(tok->token_to_piece(32000), "");
    EXPECT_EQ(tok->decode(std::vector<int32_t>{1, 15043, 2}, true), "<s> Hello</s>");
    EXPECT_EQ(tok->decode(std::vector<int32_t>{-5, 15043, 99999}), "Hello"); // invalid ids are skipped
}

TEST(Tokenizer, WordPieceDecode) {
    if (!test::have_data("vocab/ggml-vocab-bert-bge.gguf")) GTEST_SKIP() << "no shared data";
    auto tok = load_path("vocab/ggml-vocab-bert-bge.gguf");
    ASSERT_TRUE(tok.ok()) << tok.status().message();
    const auto ids = tok->encode("Hello World", true, false);
    EXPECT_EQ(ids, (std::vector<int32_t>{101, 7592, 2088, 102})); // [CLS] hello world [SEP]
    EXPECT_EQ(tok->decode(ids), "hello world");
}

TEST(Tokenizer, StreamingHoldsPartialUtf8) {
    if (!test::have_data("llm/stories260K.gguf")) GTEST_SKIP() << "no shared data";
    auto tok = load_path("llm/stories260K.gguf");
    ASSERT_TRUE(tok.ok()) << tok.status().message();
    // U+1F999 as four byte tokens: nothing comes out until the last one.
    llm::Detokenizer d(*tok);
    const int32_t b0 = tok->find("<0xF0>"), b1 = tok->find("<0x9F>"), b2 = tok->find("<0xA6>"), b3 = tok->find("<0x99>");
    ASSERT_GE(std::min({b0, b1, b2, b3}), 0);
    EXPECT_EQ(d.push(b0), "");
    EXPECT_EQ(d.push(b1), "");
    EXPECT_EQ(d.push(b2), "");
    EXPECT_EQ(d.push(b3), "\U0001F999");
    // A lead byte followed by a byte that cannot continue it: both pass through at once.
    EXPECT_EQ(d.push(b0), "");
    EXPECT_EQ(d.push(tok->find("<0x41>")), "\xF0" "A");
    EXPECT_EQ(d.push(b0), "");
    EXPECT_EQ(d.flush(), "\xF0");
}

TEST(Tokenizer, LongInputsStayFast) {
    // Not a timing assertion (timings are logged by hand in docs/perf.md): it prints MB/s and would
    // take minutes if any step were quadratic.
    if (!test::have_data("vocab/ggml-vocab-gpt-2.gguf")) GTEST_SKIP() << "no shared data";
    std::mt19937_64 rng(7);
    std::string text;
    while (text.size() < (1u << 20)) text += random_text(rng, 50);
    const std::string word(200000, 'a');
    const std::string spaces = std::string(200000, ' ') + "x";
    for (const char* rel : {"vocab/ggml-vocab-gpt-2.gguf", "vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-bert-bge.gguf"}) {
        auto tok = load_path(rel);
        ASSERT_TRUE(tok.ok()) << tok.status().message();
        for (const std::string* t : {&std::as_const(text), &word, &spaces}) {
            const double t0 = now_s();
            const auto ids = tok->encode(*t, false, false);
            const double dt = now_s() - t0;
            EXPECT_FALSE(ids.empty());
            std::printf("[ speed    ] %-34s %8zu bytes -> %7zu tokens, %6.1f MB/s\n", rel, t->size(), ids.size(), t->size() / 1e6 / dt);
        }
    }
}

// ---- hostile metadata ----

struct SpmSpec {
    std::vector<std::string> tokens{"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b", "\xE2\x96\x81" "a", "ab"};
    std::vector<float> scores{0, 0, 0, -1, -2, -3, -1.5f, -0.5f};
    std::vector<int32_t> types{2, 3, 3, 1, 1, 1, 1, 1};
};

Result<llm::Tokenizer> load_built(const gguf::Writer& w) {
    VKAI_ASSIGN_OR_RETURN(auto bytes, w.write_to_memory());
    VKAI_ASSIGN_OR_RETURN(auto file, gguf::parse(bytes, "built.gguf"));
    return llm::Tokenizer::load(file);
}

gguf::Writer spm_writer(const SpmSpec& s) {
    gguf::Writer w;
    w.set_string("tokenizer.ggml.model", "llama");
    w.set_string_array("tokenizer.ggml.tokens", s.tokens);
    w.set_array("tokenizer.ggml.scores", gguf::ValueType::f32, s.scores.data(), s.scores.size());
    w.set_array("tokenizer.ggml.token_type", gguf::ValueType::i32, s.types.data(), s.types.size());
    return w;
}

void expect_error(const gguf::Writer& w, Code code, const char* needle) {
    auto tok = load_built(w);
    ASSERT_FALSE(tok.ok()) << "loaded a vocabulary that should fail with '" << needle << "'";
    EXPECT_EQ(tok.status().code(), code) << tok.status().message();
    EXPECT_NE(tok.status().message().find(needle), std::string::npos) << tok.status().message();
}

TEST(TokenizerMetadata, MinimalVocabWorks) {
    SpmSpec s;
    auto tok = load_built(spm_writer(s));
    ASSERT_TRUE(tok.ok()) << tok.status().message();
    // "ab" outscores "▁a": ▁|a|b -> ▁|ab.
    EXPECT_EQ(tok->encode("ab", false, false), (std::vector<int32_t>{3, 7}));
    EXPECT_EQ(tok->encode("ab", true, false), (std::vector<int32_t>{1, 3, 7}));
    EXPECT_EQ(tok->encode("c", false, false), (std::vector<int32_t>{3, 0})); // no byte tokens: <unk>
}

TEST(TokenizerMetadata, LengthMismatches) {
    SpmSpec s;
    s.scores.pop_back();
    expect_error(spm_writer(s), Code::corrupt, "tokenizer.ggml.scores has 7 entries but tokenizer.ggml.tokens has 8");
    SpmSpec t;
    t.types.resize(3);
    expect_error(spm_writer(t), Code::corrupt, "tokenizer.ggml.token_type has 3 entries");
}

TEST(TokenizerMetadata, SpecialIdsOutOfRange) {
    for (const char* key : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
                            "tokenizer.ggml.unknown_token_id"}) {
        gguf::Writer w = spm_writer(SpmSpec{});
        w.set_u32(key, 8);
        expect_error(w, Code::corrupt, key);
        gguf::Writer w2 = spm_writer(SpmSpec{});
        w2.set_i32(key, -7);
        expect_error(w2, Code::corrupt, "out of range");
    }
    gguf::Writer none = spm_writer(SpmSpec{});
    none.set_u32("tokenizer.ggml.eos_token_id", 0xFFFFFFFFu); // converters' "none"
    none.set_u32("tokenizer.ggml.padding_token_id", 1000);      // unused: warned and ignored
    auto tok = load_built(none);
    ASSERT_TRUE(tok.ok()) << tok.status().message();
    EXPECT_EQ(tok->eos(), -1);
    EXPECT_EQ(tok->pad(), -1);
    gguf::Writer wrong = spm_writer(SpmSpec{});
    wrong.set_string("tokenizer.ggml.bos_token_id", "1");
    expect_error(wrong, Code::corrupt, "bos_token_id");
}

TEST(TokenizerMetadata, BadByteTokens) {
    for (const char* bad : {"<0xZZ>", "<0x-1>", "<0x1>", "<0x100>", "0x41", ""}) {
        SpmSpec s;
        s.tokens.push_back(bad);
        s.scores.push_back(0);
        s.types.push_back(6);
        expect_error(spm_writer(s), Code::corrupt, "is not of the form <0xNN>");
    }
    SpmSpec ok;
    ok.tokens.push_back("<0x41>");
    ok.scores.push_back(0);
    ok.types.push_back(6);
    auto tok = load_built(spm_writer(ok));
    ASSERT_TRUE(tok.ok()) << tok.status().message();
    EXPECT_EQ(tok->token_to_piece(8), "A");
    EXPECT_EQ(tok->encode("bA", false, false), (std::vector<int32_t>{3, 5, 8})); // ▁ b <0x41>
}

TEST(TokenizerMetadata, WrongElementTypes) {
    SpmSpec s;
    {
        gguf::Writer w = spm_writer(s);
        std::vector<int32_t> ids{1, 2, 3};
        w.set_array("tokenizer.ggml.tokens", gguf::ValueType::i32, ids.data(), ids.size());
        expect_error(w, Code::corrupt, "tokenizer.ggml.tokens");
    }
    {
        gguf::Writer w = spm_writer(s);
        w.set_string_array("tokenizer.ggml.scores", s.tokens);
        expect_error(w, Code::corrupt, "tokenizer.ggml.scores must be an array of f32, got array of string");
    }
    {
        gguf::Writer w = spm_writer(s);
        w.set_array("tokenizer.ggml.token_type", gguf::ValueType::f32, s.scores.data(), s.scores.size());
        expect_error(w, Code::corrupt, "tokenizer.ggml.token_type must be an array of i32, got array of f32");
    }
    {
        gguf::Writer w = spm_writer(s);
        w.set_u32("tokenizer.ggml.scores", 3);
        expect_error(w, Code::corrupt, "tokenizer.ggml.scores must be an array of f32, got u32");
    }
    {
        gguf::Writer w = spm_writer(s);
        std::vector<int32_t> types(s.types);
        types[4] = 9;
        w.set_array("tokenizer.ggml.token_type", gguf::ValueType::i32, types.data(), types.size());
        expect_error(w, Code::corrupt, "token_type[4] = 9");
    }
    {
        gguf::Writer w = spm_writer(s);
        w.set_u32("tokenizer.ggml.add_bos_token", 1);
        expect_error(w, Code::corrupt, "add_bos_token");
    }
}

TEST(TokenizerMetadata, ModelAndBpeErrors) {
    {
        gguf::Writer w;
        w.set_string("general.architecture", "llama");
        expect_error(w, Code::not_found, "no tokenizer.ggml.model");
    }
    {
        gguf::Writer w = spm_writer(SpmSpec{});
        w.set_string("tokenizer.ggml.model", "rwkv");
        expect_error(w, Code::unsupported, "'rwkv' is not supported");
    }
    {
        gguf::Writer w = spm_writer(SpmSpec{});
        w.set_string_array("tokenizer.ggml.tokens", {});
        w.set_array("tokenizer.ggml.scores", gguf::ValueType::f32, nullptr, 0);
        w.set_array("tokenizer.ggml.token_type", gguf::ValueType::i32, nullptr, 0);
        expect_error(w, Code::corrupt, "tokenizer.ggml.tokens is empty");
    }
    std::vector<std::string> toks{"a", "b", "ab", "\xC4\xA0"};
    {
        gguf::Writer w;
        w.set_string("tokenizer.ggml.model", "gpt2");
        w.set_string_array("tokenizer.ggml.tokens", toks);
        expect_error(w, Code::corrupt, "tokenizer.ggml.merges is missing");
    }
    {
        gguf::Writer w;
        w.set_string("tokenizer.ggml.model", "gpt2");
        w.set_string_array("tokenizer.ggml.tokens", toks);
        w.set_string_array("tokenizer.ggml.merges", {"a b", "ab"});
        expect_error(w, Code::corrupt, "tokenizer.ggml.merges[1] = 'ab' is not two tokens");
    }
    {
        gguf::Writer w;
        w.set_string("tokenizer.ggml.model", "gpt2");
        w.set_string("tokenizer.ggml.pre", "no-such-pre");
        w.set_string_array("tokenizer.ggml.tokens", toks);
        w.set_string_array("tokenizer.ggml.merges", {"a b"});
        expect_error(w, Code::unsupported, "'no-such-pre' is not a known pre-tokenizer");
    }
    {
        // Merges naming unknown tokens are skipped; bytes without a token become nothing (no unk).
        gguf::Writer w;
        w.set_string("tokenizer.ggml.model", "gpt2");
        w.set_string_array("tokenizer.ggml.tokens", toks);
        w.set_string_array("tokenizer.ggml.merges", {"a b", "x y"});
        auto tok = load_built(w);
        ASSERT_TRUE(tok.ok()) << tok.status().message();
        EXPECT_EQ(tok->encode("ab ab", false, false), (std::vector<int32_t>{2, 3, 2})); // ab Ġ ab
        EXPECT_EQ(tok->decode(tok->encode("ab ab", false, false)), "ab ab");
        EXPECT_TRUE(tok->encode("zz\xff", false, false).empty());
    }
}

// Random byte flips in small vocab files: whatever the parser accepts, loading and encoding must not
// crash (run under ASan/UBSan in CI).
TEST(TokenizerMetadata, MutatedFilesNeverCrash) {
    SpmSpec spm;
    for (int b = 0; b < 256; b += 17) {
        spm.tokens.push_back(strf("<0x%02X>", b));
        spm.scores.push_back(0);
        spm.types.push_back(6);
    }
    gguf::Writer w1 = spm_writer(spm);
    w1.set_u32("tokenizer.ggml.bos_token_id", 1);
    gguf::Writer w2;
    w2.set_string("tokenizer.ggml.model", "gpt2");
    w2.set_string("tokenizer.ggml.pre", "llama-bpe");
    w2.set_string_array("tokenizer.ggml.tokens", {"a", "b", "ab", "\xC4\xA0", "<|x|>"});
    std::vector<int32_t> types{1, 1, 1, 1, 3};
    w2.set_array("tokenizer.ggml.token_type", gguf::ValueType::i32, types.data(), types.size());
    w2.set_string_array("tokenizer.ggml.merges", {"a b", "\xC4\xA0 a"});
    std::mt19937_64 rng(11);
    int loaded = 0;
    const LogLevel saved = log_level();
    set_log_level(LogLevel::error); // mutated merges warn on every load
    for (const gguf::Writer* w : {&w1, &w2}) {
        auto base = w->write_to_memory();
        ASSERT_TRUE(base.ok()) << base.status().message();
        for (int iter = 0; iter < 3000; ++iter) {
            std::vector<uint8_t> bytes = *base;
            for (int k = 0, n = 1 + int(rng() % 4); k < n; ++k) bytes[rng() % bytes.size()] = uint8_t(rng());
            auto file = gguf::parse(bytes, "mutated.gguf");
            if (!file.ok()) continue;
            auto tok = llm::Tokenizer::load(*file);
            if (!tok.ok()) {
                EXPECT_FALSE(tok.status().message().empty());
                continue;
            }
            ++loaded;
            const auto ids = tok->encode("ab <s>\xC4\xA0" "a <|x|> \xF0\x9F\xA6\x99 zz", true, true);
            for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok->n_vocab());
            (void)tok->decode(ids, true);
        }
    }
    set_log_level(saved);
    EXPECT_GT(loaded, 100);
}

} // namespace
