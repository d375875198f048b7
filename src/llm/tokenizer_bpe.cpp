// Byte-level BPE ("gpt2" vocabularies): pre-tokenize, map each piece's bytes to their tokens, then
// apply merges lowest rank first (leftmost on ties) with a priority queue: O(n log n) per piece.
#include "llm/tokenizer_impl.h"
#include "llm/unicode.h"

#include <algorithm>

namespace vkai::llm {

namespace {

struct Symbol {
    int32_t id; // -1: a byte without a token
    ptrdiff_t prev, next; // linked list over live symbols
    bool alive;
};

struct Candidate {
    int32_t rank;
    ptrdiff_t left, right;
    int32_t left_id, right_id, result;
};

struct CandidateOrder {
    bool operator()(const Candidate& a, const Candidate& b) const {
        if (a.rank != b.rank) return a.rank > b.rank;
        return a.left > b.left;
    }
};

// Scratch buffers reused across the pieces of one encode call.
struct Workspace {
    std::vector<Symbol> sym;
    std::vector<Candidate> heap;
    std::string mapped;
};

void emit_unknown_bytes(const Vocab& v, std::vector<int32_t>& out) {
    if (v.unk >= 0) out.push_back(v.unk);
}

void bpe_piece(const Vocab& v, bool ignore_merges, std::string_view piece, Workspace& ws, std::vector<int32_t>& out) {
    if (piece.size() == 1) {
        const int32_t id = v.byte_tokens[uint8_t(piece[0])];
        if (id >= 0) out.push_back(id);
        else emit_unknown_bytes(v, out);
        return;
    }
    if (ignore_merges) {
        // The whole piece, spelled in the byte alphabet, may be a token of its own.
        ws.mapped.clear();
        for (char ch : piece) unicode::append_utf8(ws.mapped, byte_to_codepoint(uint8_t(ch)));
        const int32_t id = v.find(ws.mapped);
        if (id >= 0) {
            out.push_back(id);
            return;
        }
    }
    auto& sym = ws.sym;
    sym.clear();
    for (size_t i = 0; i < piece.size(); ++i)
        sym.push_back(Symbol{v.byte_tokens[uint8_t(piece[i])], ptrdiff_t(i) - 1, i + 1 < piece.size() ? ptrdiff_t(i) + 1 : -1, true});

    auto& heap = ws.heap; // a binary heap ordered by CandidateOrder (top = lowest rank)
    heap.clear();
    auto try_pair = [&](ptrdiff_t l, ptrdiff_t r) {
        if (l < 0 || r < 0) return;
        const int32_t a = sym[size_t(l)].id, b = sym[size_t(r)].id;
        if (a < 0 || b < 0) return;
        auto it = v.merges.find((uint64_t(uint32_t(a)) << 32) | uint32_t(b));
        if (it == v.merges.end()) return;
        heap.push_back(Candidate{it->second.first, l, r, a, b, it->second.second});
        std::push_heap(heap.begin(), heap.end(), CandidateOrder{});
    };
    for (size_t i = 1; i < sym.size(); ++i) try_pair(ptrdiff_t(i) - 1, ptrdiff_t(i));

    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), CandidateOrder{});
        const Candidate c = heap.back();
        heap.pop_back();
        Symbol& l = sym[size_t(c.left)];
        Symbol& r = sym[size_t(c.right)];
        if (!l.alive || !r.alive || l.next != c.right || l.id != c.left_id || r.id != c.right_id)
            continue; // the pair changed since it was queued
        l.id = c.result;
        l.next = r.next;
        if (r.next >= 0) sym[size_t(r.next)].prev = c.left;
        r.alive = false;
        try_pair(l.prev, c.left);
        try_pair(c.left, l.next);
    }

    for (ptrdiff_t i = 0; i >= 0; i = sym[size_t(i)].next) {
        if (sym[size_t(i)].id >= 0) out.push_back(sym[size_t(i)].id);
        else emit_unknown_bytes(v, out);
    }
}

} // namespace

void encode_bpe(const Vocab& v, std::string_view text, std::vector<int32_t>& out) {
    std::string normalized;
    if (v.pretok->nfc() && !unicode::nfc_quick_check(text)) {
        normalized = unicode::to_nfc(text);
        text = normalized;
    }
    std::vector<std::string_view> pieces;
    v.pretok->split(text, pieces);
    Workspace ws;
    for (std::string_view p : pieces)
        if (!p.empty()) bpe_piece(v, v.pretok->ignore_merges(), p, ws, out);
}

} // namespace vkai::llm
