// Whisper's vocabulary: the byte-level BPE tokens stored in the model file (raw bytes per id) plus
// the special tokens whisper appends after them, whose ids follow from n_vocab:
//   multilingual (n_vocab >= 51865): eot 50257; English-only (51864): eot 50256
//   sot = eot + 1, then n_lang language tokens (99, or 100 for large-v3's 51866: + "yue"),
//   translate, transcribe, startoflm, startofprev, nospeech, notimestamps, then 1501 timestamps
//   <|0.00|> .. <|30.00|> in 0.02 s steps up to n_vocab - 1.
// Encoding follows tiktoken: GPT-2 pre-tokenizer split, then BPE where the rank of a merge is the id
// of the merged token (the stored files carry no merge list; in GPT-2's vocabulary ids are merge order).
#pragma once

#include "base/status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vkai::whisper {

// Language codes in whisper's token order (index = language token - sot - 1).
extern const char* const kLanguages[100];
const char* language_name(int index); // "english", ...

class Vocab {
public:
    // tokens: the file's stored tokens (id = index); n_vocab from the hparams.
    static Result<Vocab> create(int32_t n_vocab, std::vector<std::string> tokens);

    int32_t n_vocab() const { return n_vocab_; }
    bool multilingual() const { return multilingual_; }
    int n_languages() const { return n_lang_; }
    int32_t eot() const { return eot_; }
    int32_t sot() const { return eot_ + 1; }
    int32_t language(int index) const { return eot_ + 2 + index; }
    int32_t translate() const { return eot_ + 2 + n_lang_; }
    int32_t transcribe() const { return translate() + 1; }
    int32_t startoflm() const { return translate() + 2; }
    int32_t startofprev() const { return translate() + 3; }
    int32_t nospeech() const { return translate() + 4; }
    int32_t notimestamps() const { return translate() + 5; }
    int32_t timestamp_begin() const { return translate() + 6; }
    bool is_timestamp(int32_t id) const { return id >= timestamp_begin() && id < n_vocab_; }
    bool is_special(int32_t id) const { return id >= eot_; }

    // -1 when the code is unknown or this vocabulary has no such language.
    int language_index(std::string_view code) const;

    // Bytes of a regular token ("" for specials and ids the file does not store).
    std::string_view bytes(int32_t id) const;
    // Printable name: the bytes of a regular token, "<|en|>", "<|0.48|>", "<|endoftext|>", ...
    std::string name(int32_t id) const;
    // Text of the regular tokens among ids (specials skipped), bytes concatenated.
    std::string decode(const std::vector<int32_t>& ids) const;
    // Byte-level BPE (rank = token id); pieces BPE cannot finish with the stored tokens (see vocab.cpp)
    // fall back to longest-match, and bytes no stored token starts with are dropped (counted in dropped).
    Result<std::vector<int32_t>> encode(std::string_view text, int* dropped = nullptr) const;

    // Tokens the reference decoder always suppresses: symbol-only tokens that are not speech (its
    // non_speech_tokens list) and the task/control specials. Computed once at create().
    const std::vector<int32_t>& suppressed() const { return suppressed_; }

private:
    std::vector<int32_t> compute_suppressed() const;
    int32_t n_vocab_ = 0, eot_ = 0;
    int n_lang_ = 0;
    bool multilingual_ = false;
    std::vector<std::string> tokens_;
    std::unordered_map<std::string, int32_t> ids_; // bytes -> id of regular tokens
    std::shared_ptr<const void> pre_;              // the GPT-2 pre-tokenizer (llm::PreTokenizer), built once
    std::vector<int32_t> suppressed_;
};

} // namespace vkai::whisper
