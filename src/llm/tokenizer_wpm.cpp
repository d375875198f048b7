// WordPiece ("bert" vocabularies): BERT's basic tokenizer (clean control characters, space out CJK
// ideographs, lowercase and strip accents when uncased, split on whitespace and punctuation), then
// greedy longest-match-first pieces ("##" continuations, or "▁" word starts in GGUF files); a word
// that cannot be covered is [UNK].
#include "llm/tokenizer_impl.h"
#include "llm/unicode.h"

namespace vkai::llm {

namespace {

constexpr size_t kMaxWordChars = 100; // longer words become [UNK], as in BERT

bool is_bert_control(uint32_t cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r') return false;
    return unicode::category(cp) == unicode::Cat::other;
}

bool is_bert_punct(uint32_t cp) {
    // ASCII symbols count as punctuation too ($, +, <, =, >, ^, `, |, ~ are Unicode symbols).
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
    return unicode::category(cp) == unicode::Cat::punctuation;
}

void normalize(const Vocab& v, std::string_view text, std::string& out) {
    std::string tmp;
    for (size_t i = 0; i < text.size();) {
        const uint32_t cp = unicode::decode(text, i);
        if (cp == unicode::kInvalid || cp == 0 || cp == unicode::kReplacement || is_bert_control(cp)) continue;
        if (unicode::is_white_space(cp)) {
            out += ' ';
        } else if (unicode::is_cjk_ideograph(cp)) {
            out += ' ';
            unicode::append_utf8(out, cp);
            out += ' ';
        } else if (v.lowercase) {
            // Strip accents (decompose, drop nonspacing marks), then lowercase what remains.
            tmp.clear();
            unicode::append_decomposed(tmp, cp, true);
            for (size_t k = 0; k < tmp.size();) unicode::append_lower(out, unicode::decode(tmp, k));
        } else {
            unicode::append_utf8(out, cp);
        }
    }
}

void wordpiece(const Vocab& v, std::string_view word, std::string& key, std::vector<int32_t>& out) {
    // Character boundaries (the text is valid UTF-8 after normalize()).
    std::vector<size_t> bounds;
    for (size_t i = 0; i < word.size();) {
        bounds.push_back(i);
        const size_t n = unicode::valid_len(word, i);
        i += n ? n : 1;
    }
    bounds.push_back(word.size());
    const size_t n_chars = bounds.size() - 1;
    const size_t mark = out.size();
    if (n_chars > kMaxWordChars) {
        if (v.unk >= 0) out.push_back(v.unk);
        return;
    }
    size_t b = 0; // index into bounds of the current start
    while (b < n_chars) {
        int32_t found = -1;
        size_t e = n_chars;
        for (; e > b; --e) {
            key.clear();
            if (v.wpm_word_marker && b == 0) key += "\xE2\x96\x81"; // U+2581
            if (!v.wpm_word_marker && b > 0) key += "##";
            key.append(word.substr(bounds[b], bounds[e] - bounds[b]));
            found = v.find(key);
            if (found >= 0) break;
        }
        if (found < 0) {
            out.resize(mark);
            if (v.unk >= 0) out.push_back(v.unk);
            return;
        }
        out.push_back(found);
        b = e;
    }
}

} // namespace

void encode_wpm(const Vocab& v, std::string_view text, std::vector<int32_t>& out) {
    std::string norm;
    normalize(v, text, norm);
    std::string key;
    size_t word_start = std::string::npos;
    auto end_word = [&](size_t at) {
        if (word_start != std::string::npos) wordpiece(v, std::string_view(norm).substr(word_start, at - word_start), key, out);
        word_start = std::string::npos;
    };
    for (size_t i = 0; i < norm.size();) {
        const size_t start = i;
        const uint32_t cp = unicode::decode(norm, i);
        if (cp == ' ') {
            end_word(start);
        } else if (is_bert_punct(cp)) {
            end_word(start);
            wordpiece(v, std::string_view(norm).substr(start, i - start), key, out);
        } else if (word_start == std::string::npos) {
            word_start = start;
        }
    }
    end_word(norm.size());
}

} // namespace vkai::llm
