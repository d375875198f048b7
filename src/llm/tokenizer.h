// Tokenizers built from GGUF metadata (tokenizer.ggml.*): SentencePiece BPE ("llama"), byte-level BPE
// with a named pre-tokenizer ("gpt2") and WordPiece ("bert"), plus a streaming detokenizer.
#pragma once

#include "base/status.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vkai::gguf {
class File;
}

namespace vkai::llm {

// tokenizer.ggml.token_type values (the GGUF convention).
enum class TokenType : uint8_t { undefined = 0, normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6 };

enum class VocabType : uint8_t { spm, bpe, wpm };
const char* vocab_type_name(VocabType t); // "llama", "gpt2", "bert" (the tokenizer.ggml.model names)

struct Vocab; // the loaded tables (tokenizer_impl.h)

// Default-constructed it is empty: using it before load() is a programmer error (asserts).
class Tokenizer {
public:
    // Reads tokenizer.ggml.* from a parsed GGUF. The metadata is untrusted: counts, ids, element types
    // and byte-token names are checked and give corrupt/unsupported errors naming the key.
    static Result<Tokenizer> load(const gguf::File& file);

    // add_special: BOS/EOS (CLS/SEP for WordPiece) as the model's add_bos/add_eos flags say.
    // parse_special: control tokens written in the text ("<|im_start|>") become their ids; without it
    // they are tokenized as plain text. User-defined tokens (type 4) are always matched, as the
    // reference tokenizers do with added non-special tokens.
    std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

    // The bytes a token stands for (byte-level and byte-fallback decoded, U+2581 as space). Control
    // tokens give their text. Not necessarily valid UTF-8 on its own.
    std::string token_to_piece(int32_t id) const;
    // Concatenated pieces; control/unknown tokens are left out unless render_special, and the space
    // that SentencePiece ("llama") prefixes to the text is removed again, so decode(encode(x)) == x.
    std::string decode(std::span<const int32_t> ids, bool render_special = false) const;

    int32_t n_vocab() const;
    VocabType type() const;
    const std::string& pre() const; // tokenizer.ggml.pre ("" when absent)
    const std::string& token_text(int32_t id) const; // the vocabulary string; "" for an invalid id
    TokenType token_type(int32_t id) const;           // undefined for an invalid id
    int32_t find(std::string_view text) const;        // id of a vocabulary string, -1 when absent

    // Special ids; -1 when the model has none.
    int32_t bos() const;
    int32_t eos() const;
    int32_t eot() const; // end of turn (<|eot_id|>, <|im_end|>, ...)
    int32_t unk() const;
    int32_t pad() const;
    bool add_bos() const;
    bool add_eos() const;
    // End of generation: eos, eot, eom and other end-of-turn control tokens the vocabulary names.
    bool is_eog(int32_t id) const;

private:
    friend class Detokenizer;
    const Vocab& vocab() const;
    std::shared_ptr<const Vocab> v_; // immutable after load: copies are cheap and thread-safe
};

// Turns generated ids into text piece by piece. push() never returns a UTF-8 sequence cut in the
// middle: an incomplete tail is held until the next token completes it (or flush()). Bytes that can
// never form valid UTF-8 pass through unchanged, so the concatenated output equals decode().
class Detokenizer {
public:
    explicit Detokenizer(const Tokenizer& tok, bool render_special = false); // shares the tables; tok may go away
    std::string push(int32_t id);
    std::string flush(); // whatever is held back, even if incomplete
    void reset();

private:
    std::shared_ptr<const Vocab> v_;
    bool render_special_;
    bool started_ = false; // some text was produced (the SentencePiece prefix space is gone)
    std::string pending_;
};

} // namespace vkai::llm
