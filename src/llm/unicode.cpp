// UTF-8 decoding/encoding and lookups in the generated Unicode tables (see unicode.h).
#include "llm/unicode.h"

#include <algorithm>
#include <vector>

namespace vkai::unicode {

// Sequence length announced by a lead byte and the allowed range of the byte after it (this rules
// out overlongs, surrogates and values above U+10FFFF); 0 for bytes that cannot start a sequence.
static size_t lead_info(uint8_t c, uint8_t& lo, uint8_t& hi) {
    lo = 0x80;
    hi = 0xBF;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
        return 4;
    }
    return 0;
}

size_t valid_len(std::string_view s, size_t i) {
    if (i >= s.size()) return 0;
    uint8_t lo, hi;
    const size_t n = lead_info(uint8_t(s[i]), lo, hi);
    if (n <= 1) return n;
    if (s.size() - i < n) return 0;
    const uint8_t second = uint8_t(s[i + 1]);
    if (second < lo || second > hi) return 0;
    for (size_t k = 2; k < n; ++k)
        if ((uint8_t(s[i + k]) & 0xC0) != 0x80) return 0;
    return n;
}

uint32_t decode(std::string_view s, size_t& i) {
    const size_t n = valid_len(s, i);
    if (n == 0) {
        ++i;
        return kInvalid;
    }
    const auto* p = reinterpret_cast<const uint8_t*>(s.data() + i);
    i += n;
    switch (n) {
    case 1: return p[0];
    case 2: return (uint32_t(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
    case 3: return (uint32_t(p[0] & 0x0F) << 12) | (uint32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    default: return (uint32_t(p[0] & 0x07) << 18) | (uint32_t(p[1] & 0x3F) << 12) | (uint32_t(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
    }
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp <= 0x10FFFF) {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        append_utf8(out, kReplacement);
    }
}

bool is_valid(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        const size_t n = valid_len(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::string sanitize(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        const size_t n = valid_len(s, i);
        if (n == 0) {
            append_utf8(out, kReplacement);
            ++i;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

size_t incomplete_tail(std::string_view s) {
    // Find the last lead byte within 3 bytes of the end; hold the tail back only if it is a valid
    // prefix of a sequence that runs past the end.
    for (size_t back = 1; back <= 3 && back <= s.size(); ++back) {
        const size_t start = s.size() - back;
        const uint8_t c = uint8_t(s[start]);
        if ((c & 0xC0) == 0x80) continue;
        uint8_t lo, hi;
        const size_t need = lead_info(c, lo, hi);
        if (need <= back) return 0; // complete (or not a lead at all)
        for (size_t k = 1; k < back; ++k) {
            const uint8_t x = uint8_t(s[start + k]);
            if (k == 1 ? (x < lo || x > hi) : (x & 0xC0) != 0x80) return 0;
        }
        return back;
    }
    return 0;
}

Cat category(uint32_t cp) {
    if (cp > 0x10FFFF) return Cat::other;
    const uint32_t* begin = detail::kCategoryRuns;
    const uint32_t* end = begin + detail::kCategoryRunCount;
    // Last run whose first code point is <= cp.
    const uint32_t key = (cp << 4) | 0xF;
    const uint32_t* it = std::upper_bound(begin, end, key);
    return it == begin ? Cat::other : Cat(*(it - 1) & 0xF);
}

bool is_white_space(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

uint32_t to_lower_simple(uint32_t cp) {
    if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    const detail::LowerRun* begin = detail::kLowerRuns;
    const detail::LowerRun* end = begin + detail::kLowerRunCount;
    const detail::LowerRun* it =
        std::upper_bound(begin, end, cp, [](uint32_t c, const detail::LowerRun& r) { return c < r.first; });
    if (it == begin) return cp;
    const detail::LowerRun& r = *(it - 1);
    const uint32_t off = cp - r.first;
    if (off % r.stride != 0 || off / r.stride >= r.count) return cp;
    return uint32_t(int64_t(cp) + r.delta);
}

void append_lower(std::string& out, uint32_t cp) {
    if (cp == 0x130) { // LATIN CAPITAL LETTER I WITH DOT ABOVE: the one multi-code-point lowercase
        out += 'i';
        append_utf8(out, 0x307);
        return;
    }
    append_utf8(out, to_lower_simple(cp));
}

static const detail::Decomposition* find_decomposition(uint32_t cp) {
    const detail::Decomposition* begin = detail::kDecompositions;
    const detail::Decomposition* end = begin + detail::kDecompositionCount;
    const detail::Decomposition* it =
        std::lower_bound(begin, end, cp, [](const detail::Decomposition& d, uint32_t c) { return d.cp < c; });
    return (it != end && it->cp == cp) ? it : nullptr;
}

static void decompose_into(std::string& out, uint32_t cp, bool drop_mn, int depth) {
    // Hangul syllables decompose algorithmically into 2 or 3 jamo (all letters, never dropped).
    constexpr uint32_t SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    constexpr uint32_t VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = 11172;
    if (cp >= SBase && cp < SBase + SCount) {
        const uint32_t s = cp - SBase;
        append_utf8(out, LBase + s / NCount);
        append_utf8(out, VBase + (s % NCount) / TCount);
        if (s % TCount) append_utf8(out, TBase + s % TCount);
        return;
    }
    // Canonical mappings nest only a few levels; the bound guards against a broken table.
    const detail::Decomposition* d = depth < 8 ? find_decomposition(cp) : nullptr;
    if (d) {
        decompose_into(out, d->first, drop_mn, depth + 1);
        if (d->second) decompose_into(out, d->second, drop_mn, depth + 1);
        return;
    }
    if (drop_mn && category(cp) == Cat::mark_nonspacing) return;
    append_utf8(out, cp);
}

void append_decomposed(std::string& out, uint32_t cp, bool drop_nonspacing_marks) {
    decompose_into(out, cp, drop_nonspacing_marks, 0);
}

uint8_t combining_class(uint32_t cp) {
    if (cp < 0x300 || cp > 0x10FFFF) return 0;
    const uint32_t* begin = detail::kCombiningRuns;
    const uint32_t* end = begin + detail::kCombiningRunCount;
    const uint32_t* it = std::upper_bound(begin, end, (cp << 8) | 0xFF);
    return it == begin ? 0 : uint8_t(*(it - 1) & 0xFF);
}

static bool nfc_unstable(uint32_t cp) {
    const uint32_t* begin = detail::kNfcUnstableEdges;
    const uint32_t* end = begin + detail::kNfcUnstableEdgeCount;
    // Runs alternate stable/unstable starting with stable at 0: odd count of edges <= cp = unstable.
    return (std::upper_bound(begin, end, cp) - begin) % 2 == 1;
}

bool nfc_quick_check(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        if (uint8_t(s[i]) < 0x80) {
            ++i;
            continue;
        }
        const uint32_t cp = decode(s, i);
        if (cp != kInvalid && nfc_unstable(cp)) return false;
    }
    return true;
}

namespace {

constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount, kSCount = 11172;
constexpr uint32_t kRawByte = 0x80000000u; // marks an invalid input byte kept as is

void decompose_cps(uint32_t cp, std::vector<uint32_t>& out, int depth) {
    if (cp >= kSBase && cp < kSBase + kSCount) {
        const uint32_t s = cp - kSBase;
        out.push_back(kLBase + s / kNCount);
        out.push_back(kVBase + (s % kNCount) / kTCount);
        if (s % kTCount) out.push_back(kTBase + s % kTCount);
        return;
    }
    const detail::Decomposition* d = depth < 8 ? find_decomposition(cp) : nullptr;
    if (!d) {
        out.push_back(cp);
        return;
    }
    decompose_cps(d->first, out, depth + 1);
    if (d->second) decompose_cps(d->second, out, depth + 1);
}

uint32_t compose_pair(uint32_t a, uint32_t b) {
    if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
        return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
    if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount)
        return a + (b - kTBase);
    const detail::Composition* begin = detail::kCompositions;
    const detail::Composition* end = begin + detail::kCompositionCount;
    const detail::Composition* it = std::lower_bound(begin, end, std::make_pair(a, b), [](const detail::Composition& c, std::pair<uint32_t, uint32_t> k) {
        return c.first != k.first ? c.first < k.first : c.second < k.second;
    });
    return (it != end && it->first == a && it->second == b) ? it->composite : 0;
}

uint8_t ccc_of(uint32_t cp) { return (cp & kRawByte) ? 0 : combining_class(cp); }

} // namespace

std::string to_nfc(std::string_view s) {
    // 1. Full canonical decomposition.
    std::vector<uint32_t> d;
    d.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        const size_t start = i;
        const uint32_t cp = decode(s, i);
        if (cp == kInvalid) d.push_back(kRawByte | uint8_t(s[start]));
        else decompose_cps(cp, d, 0);
    }
    // 2. Canonical ordering: marks between starters sorted by combining class (stable).
    for (size_t i = 0; i < d.size();) {
        if (ccc_of(d[i]) == 0) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < d.size() && ccc_of(d[j]) != 0) ++j;
        std::stable_sort(d.begin() + ptrdiff_t(i), d.begin() + ptrdiff_t(j),
                         [](uint32_t a, uint32_t b) { return ccc_of(a) < ccc_of(b); });
        i = j;
    }
    // 3. Canonical composition: each mark or starter joins the last starter unless blocked.
    std::vector<uint32_t> r;
    r.reserve(d.size());
    ptrdiff_t starter = -1;
    for (uint32_t c : d) {
        const uint8_t cc = ccc_of(c);
        if (starter >= 0 && !(c & kRawByte) && !(r[size_t(starter)] & kRawByte)) {
            const bool adjacent = size_t(starter) + 1 == r.size();
            const uint8_t prev_cc = ccc_of(r.back());
            if (adjacent || (prev_cc != 0 && prev_cc < cc)) {
                if (const uint32_t comp = compose_pair(r[size_t(starter)], c)) {
                    r[size_t(starter)] = comp;
                    continue;
                }
            }
        }
        if (cc == 0) starter = ptrdiff_t(r.size());
        r.push_back(c);
    }
    std::string out;
    out.reserve(s.size());
    for (uint32_t c : r) {
        if (c & kRawByte) out += char(c & 0xFF);
        else append_utf8(out, c);
    }
    return out;
}

bool is_cjk_ideograph(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

const char* table_version() { return detail::kUnicodeVersion; }

} // namespace vkai::unicode
