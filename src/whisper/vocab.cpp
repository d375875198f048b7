#include "whisper/vocab.h"

#include "llm/tokenizer_impl.h"

#include <algorithm>
#include <cstdio>
#include <limits>

namespace vkai::whisper {

const char* const kLanguages[100] = {
    "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv", "it", "id", "hi", "fi", "vi",
    "he", "uk", "el", "ms", "cs", "ro", "da", "hu", "ta", "no", "th", "ur", "hr", "bg", "lt", "la", "mi", "ml", "cy", "sk",
    "te", "fa", "lv", "bn", "sr", "az", "sl", "kn", "et", "mk", "br", "eu", "is", "hy", "ne", "mn", "bs", "kk", "sq", "sw",
    "gl", "mr", "pa", "si", "km", "sn", "yo", "so", "af", "oc", "ka", "be", "tg", "sd", "gu", "am", "yi", "lo", "uz", "fo",
    "ht", "ps", "tk", "nn", "mt", "sa", "lb", "my", "bo", "tl", "mg", "as", "tt", "haw", "ln", "ha", "ba", "jw", "su", "yue",
};

namespace {
const char* const kLanguageNames[100] = {
    "english", "chinese", "german", "spanish", "russian", "korean", "french", "japanese", "portuguese", "turkish", "polish", "catalan",
    "dutch", "arabic", "swedish", "italian", "indonesian", "hindi", "finnish", "vietnamese", "hebrew", "ukrainian", "greek", "malay",
    "czech", "romanian", "danish", "hungarian", "tamil", "norwegian", "thai", "urdu", "croatian", "bulgarian", "lithuanian", "latin",
    "maori", "malayalam", "welsh", "slovak", "telugu", "persian", "latvian", "bengali", "serbian", "azerbaijani", "slovenian", "kannada",
    "estonian", "macedonian", "breton", "basque", "icelandic", "armenian", "nepali", "mongolian", "bosnian", "kazakh", "albanian",
    "swahili", "galician", "marathi", "punjabi", "sinhala", "khmer", "shona", "yoruba", "somali", "afrikaans", "occitan", "georgian",
    "belarusian", "tajik", "sindhi", "gujarati", "amharic", "yiddish", "lao", "uzbek", "faroese", "haitian creole", "pashto", "turkmen",
    "nynorsk", "maltese", "sanskrit", "luxembourgish", "myanmar", "tibetan", "tagalog", "malagasy", "assamese", "tatar", "hawaiian",
    "lingala", "hausa", "bashkir", "javanese", "sundanese", "cantonese",
};
} // namespace

const char* language_name(int index) { return index >= 0 && index < 100 ? kLanguageNames[index] : "?"; }

Result<Vocab> Vocab::create(int32_t n_vocab, std::vector<std::string> tokens) {
    Vocab v;
    v.n_vocab_ = n_vocab;
    v.multilingual_ = n_vocab >= 51865;
    v.eot_ = v.multilingual_ ? 50257 : 50256;
    v.n_lang_ = n_vocab - 51765 - (v.multilingual_ ? 1 : 0);
    if (v.n_lang_ < 1 || v.n_lang_ > 100)
        return fail(Code::unsupported, "whisper vocabulary of %d tokens: expected 51864 (English-only), 51865 (multilingual) or 51866 (large-v3)", n_vocab);
    if (int64_t(tokens.size()) > v.eot_ + 1)
        return fail(Code::corrupt, "whisper vocabulary stores %zu regular tokens, more than the %d before the special tokens", tokens.size(), v.eot_ + 1);
    v.tokens_ = std::move(tokens);
    for (int32_t i = 0; i < int32_t(v.tokens_.size()) && i < v.eot_; ++i)
        if (!v.tokens_[size_t(i)].empty()) v.ids_.emplace(v.tokens_[size_t(i)], i); // first id wins for duplicates
    VKAI_ASSIGN_OR_RETURN(auto pre, llm::PreTokenizer::create("gpt2"));
    v.pre_ = std::make_shared<llm::PreTokenizer>(std::move(pre));
    v.suppressed_ = v.compute_suppressed();
    return v;
}

int Vocab::language_index(std::string_view code) const {
    for (int i = 0; i < n_lang_; ++i)
        if (code == kLanguages[i]) return i;
    return -1;
}

std::string_view Vocab::bytes(int32_t id) const {
    if (id < 0 || id >= eot_ || size_t(id) >= tokens_.size()) return {};
    return tokens_[size_t(id)];
}

std::string Vocab::name(int32_t id) const {
    if (id < 0 || id >= n_vocab_) return "<|invalid|>";
    if (id < eot_) return std::string(bytes(id));
    if (id == eot_) return "<|endoftext|>";
    if (id == sot()) return "<|startoftranscript|>";
    if (id < translate()) return std::string("<|") + kLanguages[id - sot() - 1] + "|>";
    if (id == translate()) return "<|translate|>";
    if (id == transcribe()) return "<|transcribe|>";
    if (id == startoflm()) return "<|startoflm|>";
    if (id == startofprev()) return "<|startofprev|>";
    if (id == nospeech()) return "<|nospeech|>";
    if (id == notimestamps()) return "<|notimestamps|>";
    char buf[32];
    std::snprintf(buf, sizeof buf, "<|%.2f|>", (id - timestamp_begin()) * 0.02);
    return buf;
}

std::string Vocab::decode(const std::vector<int32_t>& ids) const {
    std::string out;
    for (int32_t id : ids) out += bytes(id);
    return out;
}

Result<std::vector<int32_t>> Vocab::encode(std::string_view text, int* dropped) const {
    std::vector<std::string_view> pieces;
    static_cast<const llm::PreTokenizer*>(pre_.get())->split(text, pieces);
    std::vector<int32_t> out;
    std::vector<std::string> parts;
    for (std::string_view piece : pieces) {
        if (auto it = ids_.find(std::string(piece)); it != ids_.end()) {
            out.push_back(it->second);
            continue;
        }
        parts.clear();
        for (char c : piece) parts.emplace_back(1, c);
        // Merge the adjacent pair whose concatenation has the lowest id until none is in the vocabulary.
        for (;;) {
            int32_t best = std::numeric_limits<int32_t>::max();
            size_t at = 0;
            for (size_t i = 0; i + 1 < parts.size(); ++i) {
                auto it = ids_.find(parts[i] + parts[i + 1]);
                if (it != ids_.end() && it->second < best) {
                    best = it->second;
                    at = i;
                }
            }
            if (best == std::numeric_limits<int32_t>::max()) break;
            parts[at] += parts[at + 1];
            parts.erase(parts.begin() + long(at) + 1);
        }
        bool all = true;
        for (const auto& p : parts) all = all && ids_.count(p);
        if (all) {
            for (const auto& p : parts) out.push_back(ids_.at(p));
            continue;
        }
        // whisper.cpp's .bin files store tokens that are not valid UTF-8 on their own (single bytes >= 0x80,
        // halves of multi-byte characters) as U+FFFD, so BPE cannot reach e.g. CJK characters through its
        // intermediate merges. Fall back to the longest stored token at each position; a byte that starts
        // no token is dropped (counted in `dropped`).
        for (size_t i = 0; i < piece.size();) {
            size_t best_len = 0;
            int32_t best_id = -1;
            for (size_t len = std::min<size_t>(piece.size() - i, 64); len >= 1; --len) {
                auto it = ids_.find(std::string(piece.substr(i, len)));
                if (it != ids_.end()) {
                    best_len = len;
                    best_id = it->second;
                    break;
                }
            }
            if (best_id < 0) {
                if (dropped) ++*dropped;
                ++i;
                continue;
            }
            out.push_back(best_id);
            i += best_len;
        }
    }
    return out;
}

std::vector<int32_t> Vocab::compute_suppressed() const {
    const Vocab& v = *this;
    std::vector<int32_t> out;
    const char* symbols[] = {"\"", "#", "(", ")", "*", "+", "/", ":", ";", "<", "=", ">", "@", "[", "\\", "]", "^", "_", "`", "{", "|", "}", "~",
                             "\xe3\x80\x8c", "\xe3\x80\x8d", "\xe3\x80\x8e", "\xe3\x80\x8f", "<<", ">>", "<<<", ">>>", "--", "---", "-(", "-[", "('",
                             "(\"", "((", "))", "(((", ")))", "[[", "]]", "{{", "}}", "\xe2\x99\xaa\xe2\x99\xaa", "\xe2\x99\xaa\xe2\x99\xaa\xe2\x99\xaa"};
    const char* misc[] = {"\xe2\x99\xa9", "\xe2\x99\xaa", "\xe2\x99\xab", "\xe2\x99\xac", "\xe2\x99\xad", "\xe2\x99\xae", "\xe2\x99\xaf"};
    auto add = [&](const std::string& s, bool first_only) {
        auto ids = v.encode(s);
        if (!ids.ok() || ids->empty()) return;
        if (ids->size() == 1 || first_only) out.push_back((*ids)[0]);
    };
    for (const std::string s : {" -", " '"}) add(s, true);
    for (const char* s : symbols) {
        add(s, false);
        add(std::string(" ") + s, false);
    }
    for (const char* s : misc) {
        add(s, true);
        add(std::string(" ") + s, true);
    }
    for (int32_t id : {v.transcribe(), v.translate(), v.sot(), v.startofprev(), v.startoflm(), v.nospeech()}) out.push_back(id);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

} // namespace vkai::whisper
