// Unicode helpers of the tokenizers: UTF-8 validation and the streaming tail rule, categories,
// lowercase, decomposition and NFC (expected values from Python's unicodedata, Unicode 14).
#include "llm/unicode.h"

#include <gtest/gtest.h>

using namespace vkai;

namespace {

std::string u8(std::initializer_list<uint32_t> cps) {
    std::string s;
    for (uint32_t c : cps) unicode::append_utf8(s, c);
    return s;
}

TEST(Unicode, Utf8Validation) {
    EXPECT_TRUE(unicode::is_valid(""));
    EXPECT_TRUE(unicode::is_valid("a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\xA6\x99"));
    for (const char* bad : {"\x80", "\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xED\xA0\x80", "\xF0\x80\x80\x80", "\xF4\x90\x80\x80",
                            "\xF5\x80\x80\x80", "\xFF", "\xC3", "\xE4\xB8", "\xF0\x9F\xA6", "\xC3\x28"})
        EXPECT_FALSE(unicode::is_valid(bad)) << bad;
    size_t i = 0;
    EXPECT_EQ(unicode::decode("\xF0\x9F\xA6\x99", i), 0x1F999u);
    EXPECT_EQ(i, 4u);
    i = 0;
    EXPECT_EQ(unicode::decode("\xC3(", i), unicode::kInvalid);
    EXPECT_EQ(i, 1u);
    EXPECT_EQ(unicode::sanitize("a\xFF" "b\xC3"), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
}

TEST(Unicode, IncompleteTail) {
    EXPECT_EQ(unicode::incomplete_tail(""), 0u);
    EXPECT_EQ(unicode::incomplete_tail("abc"), 0u);
    EXPECT_EQ(unicode::incomplete_tail("a\xC3"), 1u);
    EXPECT_EQ(unicode::incomplete_tail("a\xE4\xB8"), 2u);
    EXPECT_EQ(unicode::incomplete_tail("\xF0\x9F\xA6"), 3u);
    EXPECT_EQ(unicode::incomplete_tail("\xF0\x9F\xA6\x99"), 0u); // complete
    EXPECT_EQ(unicode::incomplete_tail("\xC0"), 0u);             // can never be valid: not held
    EXPECT_EQ(unicode::incomplete_tail("\xE0\x80"), 0u);         // overlong prefix
    EXPECT_EQ(unicode::incomplete_tail("\xED\xA0"), 0u);         // surrogate prefix
    EXPECT_EQ(unicode::incomplete_tail("\x80\x80"), 0u);         // stray continuations
}

TEST(Unicode, CategoriesAndCase) {
    using unicode::Cat;
    EXPECT_EQ(unicode::category('a'), Cat::letter);
    EXPECT_EQ(unicode::category(0x4E2D), Cat::letter);
    EXPECT_EQ(unicode::category(0x301), Cat::mark_nonspacing);
    EXPECT_EQ(unicode::category(0x903), Cat::mark_other);
    EXPECT_EQ(unicode::category('7'), Cat::number);
    EXPECT_EQ(unicode::category(0xBD), Cat::number);
    EXPECT_EQ(unicode::category(','), Cat::punctuation);
    EXPECT_EQ(unicode::category(0x3002), Cat::punctuation);
    EXPECT_EQ(unicode::category('$'), Cat::symbol);
    EXPECT_EQ(unicode::category(0x1F999), Cat::symbol);
    EXPECT_EQ(unicode::category(' '), Cat::separator);
    EXPECT_EQ(unicode::category(0x7), Cat::other);
    EXPECT_EQ(unicode::category(0xE000), Cat::other);   // private use
    EXPECT_EQ(unicode::category(0x10FFFF), Cat::other); // unassigned
    EXPECT_EQ(unicode::category(0x110000), Cat::other);
    EXPECT_TRUE(unicode::is_white_space(0x3000));
    EXPECT_FALSE(unicode::is_white_space(0x200B));
    EXPECT_EQ(unicode::to_lower_simple('Q'), uint32_t('q'));
    EXPECT_EQ(unicode::to_lower_simple(0x1C5), 0x1C6u); // ǅ
    EXPECT_EQ(unicode::to_lower_simple(0x3A9), 0x3C9u); // Ω
    EXPECT_EQ(unicode::to_lower_simple(0x1E9E), 0xDFu); // ẞ
    EXPECT_EQ(unicode::to_lower_simple(0x100), 0x101u);
    EXPECT_EQ(unicode::to_lower_simple(0x101), 0x101u);
    std::string s;
    unicode::append_lower(s, 0x130);
    EXPECT_EQ(s, u8({0x69, 0x307}));
}

TEST(Unicode, Decomposition) {
    std::string s;
    unicode::append_decomposed(s, 0x1D6, false); // ǖ -> u + diaeresis + macron (two levels)
    EXPECT_EQ(s, u8({0x75, 0x308, 0x304}));
    s.clear();
    unicode::append_decomposed(s, 0x1D6, true);
    EXPECT_EQ(s, "u");
    s.clear();
    unicode::append_decomposed(s, 0xAC01, true); // Hangul: algorithmic, jamo are letters
    EXPECT_EQ(s, u8({0x1100, 0x1161, 0x11A8}));
}

TEST(Unicode, Nfc) {
    struct Case {
        std::string in, want;
    };
    const Case cases[] = {
        {u8({'e', 0x301}), u8({0xE9})},
        {u8({0x1100, 0x1161, 0x11A8}), u8({0xAC01})},
        {u8({'a', 0x328, 0x301}), u8({0x105, 0x301})},
        {u8({0x212B}), u8({0xC5})},                              // singleton
        {u8({0x344}), u8({0x308, 0x301})},                       // non-starter decomposition
        {u8({0x1E0A, 0x323}), u8({0x1E0C, 0x307})},              // reordering then composition
        {u8({'q', 0x307, 0x323}), u8({'q', 0x323, 0x307})},      // reordering only
        {u8({0x958}), u8({0x915, 0x93C})},                       // composition exclusion
        {u8({0xC5, 0x301}), u8({0x1FA})},
        {u8({0x3099, 0x304B}), u8({0x3099, 0x304B})},            // mark before its base: no composition
        {u8({0x304B, 0x3099}), u8({0x304C})},
        {"plain ASCII", "plain ASCII"},
        {"e\xFF\xCC\x81", "e\xFF\xCC\x81"}, // an invalid byte blocks composition and survives
    };
    for (const Case& c : cases) {
        EXPECT_EQ(unicode::to_nfc(c.in), c.want) << c.in;
        if (unicode::nfc_quick_check(c.in)) {
            EXPECT_EQ(c.in, c.want) << "quick check passed text NFC changes";
        }
    }
    EXPECT_TRUE(unicode::nfc_quick_check("Hello, \xC3\xA9t\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87"));
    EXPECT_FALSE(unicode::nfc_quick_check(u8({'e', 0x301})));
    EXPECT_EQ(unicode::combining_class(0x301), 230);
    EXPECT_EQ(unicode::combining_class(0x323), 220);
    EXPECT_EQ(unicode::combining_class('a'), 0);
}

} // namespace
