// UTF-8 and Unicode helpers for the tokenizers: lenient decoding of untrusted bytes, general-category
// classes, lowercase and canonical decomposition (tables in unicode_data.cpp, Unicode 14 like PCRE2 10.42).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vkai::unicode {

constexpr uint32_t kReplacement = 0xFFFD;
constexpr uint32_t kInvalid = 0xFFFFFFFF; // what decode() returns for a byte that starts no valid sequence

// Length of the well-formed UTF-8 sequence starting at s[i] (1..4), or 0 when the bytes there are not
// one (overlong forms, surrogates, values above U+10FFFF and truncated sequences are all invalid).
size_t valid_len(std::string_view s, size_t i);
// Decodes the code point at s[i] and advances i past it; an invalid byte yields kInvalid and advances 1.
uint32_t decode(std::string_view s, size_t& i);
void append_utf8(std::string& out, uint32_t cp); // cp must be a scalar value (not checked beyond 0x10FFFF)
bool is_valid(std::string_view s);
// Invalid bytes replaced by U+FFFD, one per byte: for output channels that require valid text (JSON).
std::string sanitize(std::string_view s);
// Number of bytes at the end of s that start a UTF-8 sequence which is valid so far but incomplete
// (0..3): a streaming decoder holds them back until the next token completes them.
size_t incomplete_tail(std::string_view s);

// Coarse general-category classes (Mn is separate from the other marks: BERT strips it).
enum class Cat : uint8_t { other = 0, letter, mark_nonspacing, mark_other, number, punctuation, symbol, separator };
Cat category(uint32_t cp);
bool is_white_space(uint32_t cp); // the Unicode White_Space property
// Full lowercase mapping appended as UTF-8 (U+0130 becomes two code points, like Python and Rust).
void append_lower(std::string& out, uint32_t cp);
uint32_t to_lower_simple(uint32_t cp);
// Full canonical decomposition (Hangul included), appended as UTF-8 with each mark's class filter:
// when drop_nonspacing_marks, Mn code points are left out (BERT's accent stripping).
// Canonical reordering is not applied: the tokenizers only use this to strip marks.
void append_decomposed(std::string& out, uint32_t cp, bool drop_nonspacing_marks);
// Canonical combining class (0 for starters).
uint8_t combining_class(uint32_t cp);
// True when NFC certainly leaves s unchanged (the usual case: a cheap scan, no allocation).
bool nfc_quick_check(std::string_view s);
// Unicode Normalization Form C. Bytes that are not valid UTF-8 pass through unchanged and block
// composition across them.
std::string to_nfc(std::string_view s);
// CJK ideograph blocks that BERT surrounds with spaces.
bool is_cjk_ideograph(uint32_t cp);
const char* table_version();

namespace detail {
struct LowerRun {
    uint32_t first;
    uint16_t count;
    uint8_t stride;
    int32_t delta;
};
struct Decomposition {
    uint32_t cp, first, second;
};
struct Composition {
    uint32_t first, second, composite;
};
extern const char* const kUnicodeVersion;
extern const uint32_t kCategoryRuns[];
extern const size_t kCategoryRunCount;
extern const LowerRun kLowerRuns[];
extern const size_t kLowerRunCount;
extern const Decomposition kDecompositions[];
extern const size_t kDecompositionCount;
extern const uint32_t kCombiningRuns[];
extern const size_t kCombiningRunCount;
extern const Composition kCompositions[];
extern const size_t kCompositionCount;
extern const uint32_t kNfcUnstableEdges[];
extern const size_t kNfcUnstableEdgeCount;
} // namespace detail

} // namespace vkai::unicode
