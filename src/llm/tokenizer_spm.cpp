// SentencePiece BPE ("llama" vocabularies): start from single characters, repeatedly merge the
// adjacent pair whose concatenation is the highest-scoring vocabulary entry, fall back to <0xNN> bytes.
#include "llm/tokenizer_impl.h"
#include "llm/unicode.h"

#include <queue>

namespace vkai::llm {

namespace {

struct Symbol {
    size_t start = 0, len = 0; // bytes of the normalized text; len 0 once merged into its left neighbour
    ptrdiff_t prev = -1, next = -1;
};

struct Candidate {
    float score;
    ptrdiff_t left, right;
    size_t len; // combined length when queued: detects pairs that changed since
};

// Highest score first; on ties the leftmost pair, as SentencePiece does.
struct CandidateOrder {
    bool operator()(const Candidate& a, const Candidate& b) const {
        if (a.score != b.score) return a.score < b.score;
        return a.left > b.left;
    }
};

bool mergeable(TokenType t) { return t == TokenType::normal || t == TokenType::user_defined || t == TokenType::undefined; }

} // namespace

void encode_spm(const Vocab& v, std::string_view text, std::vector<int32_t>& out) {
    std::vector<Symbol> sym;
    sym.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        const size_t n = unicode::valid_len(text, i);
        const size_t len = n ? n : 1; // an invalid byte is a symbol of its own (byte fallback later)
        Symbol s;
        s.start = i;
        s.len = len;
        s.prev = ptrdiff_t(sym.size()) - 1;
        s.next = i + len < text.size() ? ptrdiff_t(sym.size()) + 1 : -1;
        sym.push_back(s);
        i += len;
    }

    std::priority_queue<Candidate, std::vector<Candidate>, CandidateOrder> queue;
    auto try_pair = [&](ptrdiff_t l, ptrdiff_t r) {
        if (l < 0 || r < 0) return;
        const size_t len = sym[size_t(l)].len + sym[size_t(r)].len;
        const int32_t id = v.find(text.substr(sym[size_t(l)].start, len));
        if (id < 0 || !mergeable(v.types[size_t(id)])) return;
        queue.push(Candidate{v.scores[size_t(id)], l, r, len});
    };
    for (size_t i = 1; i < sym.size(); ++i) try_pair(ptrdiff_t(i) - 1, ptrdiff_t(i));

    while (!queue.empty()) {
        const Candidate c = queue.top();
        queue.pop();
        Symbol& l = sym[size_t(c.left)];
        Symbol& r = sym[size_t(c.right)];
        if (l.len == 0 || r.len == 0 || l.next != c.right || l.len + r.len != c.len) continue; // stale
        l.len += r.len;
        r.len = 0;
        l.next = r.next;
        if (r.next >= 0) sym[size_t(r.next)].prev = c.left;
        try_pair(l.prev, c.left);
        try_pair(c.left, l.next);
    }

    for (ptrdiff_t i = sym.empty() ? -1 : 0; i >= 0; i = sym[size_t(i)].next) {
        const std::string_view piece = text.substr(sym[size_t(i)].start, sym[size_t(i)].len);
        const int32_t id = v.find(piece);
        if (id >= 0 && v.types[size_t(id)] != TokenType::control && v.types[size_t(id)] != TokenType::unknown) {
            out.push_back(id);
            continue;
        }
        // Not in the vocabulary: its UTF-8 bytes as byte tokens, or one <unk> when there are none.
        bool all_bytes = true;
        for (char ch : piece) all_bytes = all_bytes && v.byte_tokens[uint8_t(ch)] >= 0;
        if (all_bytes) {
            for (char ch : piece) out.push_back(v.byte_tokens[uint8_t(ch)]);
        } else if (v.unk >= 0) {
            out.push_back(v.unk);
        }
    }
}

} // namespace vkai::llm
