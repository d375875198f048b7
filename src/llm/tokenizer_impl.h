// Internal tables of a loaded tokenizer, shared by the per-algorithm encoders (tokenizer_*.cpp).
#pragma once

#include "llm/tokenizer.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vkai::llm {

// Splits text into pieces with a sequence of regexes (PCRE2, Unicode mode): each regex is applied to
// every piece of the previous step, and both its matches and the text between them become pieces
// (the "Isolated" split of the reference tokenizers).
class PreTokenizer {
public:
    // name: tokenizer.ggml.pre. unsupported for an unknown name (the message lists the known ones).
    static Result<PreTokenizer> create(std::string_view name);
    // Appends the pieces of text to out. Bytes that are not valid UTF-8 become one-byte pieces.
    void split(std::string_view text, std::vector<std::string_view>& out) const;
    // The reference tokenizer looks a whole piece up in the vocabulary before merging (tiktoken style).
    bool ignore_merges() const { return ignore_merges_; }
    // The reference tokenizer normalizes text to NFC before splitting.
    bool nfc() const { return nfc_; }

    struct Regex; // a compiled PCRE2 pattern
private:
    std::vector<std::shared_ptr<const Regex>> regexes_;
    bool ignore_merges_ = false;
    bool nfc_ = false;
};

// Matches control and user-defined tokens in text: leftmost, longest, with a byte trie.
class SpecialMatcher {
public:
    void add(std::string_view text, int32_t id, bool always);
    bool empty() const { return n_terminals_ == 0; }
    // Longest token starting at text[pos] (that is `always`, or any when parse_special); -1 when none.
    int32_t match(std::string_view text, size_t pos, bool parse_special, size_t& len) const;

private:
    struct Terminal {
        int32_t id = -1;
        bool always = false;
    };
    std::unordered_map<uint64_t, uint32_t> edges_; // (node << 8 | byte) -> child node
    std::vector<Terminal> terminals_{Terminal{}};    // one per node; node 0 is the root
    std::array<bool, 256> first_byte_{};
    size_t n_terminals_ = 0;
};

struct Vocab {
    VocabType type = VocabType::spm;
    std::string pre;
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<TokenType> types;
    std::vector<std::string> pieces;                    // decoded bytes of each token (token_to_piece)
    std::unordered_map<std::string_view, int32_t> ids; // views into `tokens` (first id wins)
    std::array<int32_t, 256> byte_tokens;              // <0xNN> (SPM) or the byte's own token (BPE); -1
    std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges; // (left << 32 | right) -> (rank, result)
    std::unique_ptr<PreTokenizer> pretok;
    SpecialMatcher specials;

    int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, pad = -1, sep = -1;
    bool add_bos = false, add_eos = false;
    bool add_space_prefix = false; // SPM: prepend ' ' to text at the start and after special tokens
    bool strip_first_space = false; // decode: drop the space that encode added (SPM prefix, WordPiece join)
    bool lowercase = false;         // WordPiece: uncased vocabulary (lowercase + strip accents)
    // WordPiece spelling: GGUF converters write word starts as "▁word" and continuations bare; the
    // original vocab.txt spelling is "word" and "##cont". Detected from the tokens.
    bool wpm_word_marker = false;
    std::vector<int32_t> eog;       // sorted

    int32_t n() const { return int32_t(tokens.size()); }
    int32_t find(std::string_view s) const {
        auto it = ids.find(s);
        return it == ids.end() ? -1 : it->second;
    }
};

// Encoders for one fragment of raw text (no special tokens inside), appending ids.
void encode_spm(const Vocab& v, std::string_view text, std::vector<int32_t>& out);
void encode_bpe(const Vocab& v, std::string_view text, std::vector<int32_t>& out);
void encode_wpm(const Vocab& v, std::string_view text, std::vector<int32_t>& out);

// GPT-2 byte-level alphabet: every byte maps to a printable code point (bytes that are printable
// Latin-1 map to themselves, the others to U+0100 onwards in byte order).
uint32_t byte_to_codepoint(uint8_t b);
int byte_from_codepoint(uint32_t cp); // -1 when cp is not in the alphabet

} // namespace vkai::llm
