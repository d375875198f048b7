// An incremental validator for prefixes of a JSON text (RFC 8259), byte by byte. It answers "can
// these bytes still be continued into valid JSON?" without building a value, so the sampler can mask
// tokens whose text would make the output invalid (response_format json_object). The state is a few
// bytes plus the container stack: cheap to copy per candidate token.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vkai::server {

class JsonPrefix {
public:
    // object_only: the top-level value must be an object (json_object mode).
    explicit JsonPrefix(bool object_only = true, int max_depth = 64) : object_only_(object_only), max_depth_(max_depth) {}

    // Feeds bytes; false (and the state becomes dead) when they cannot start/continue valid JSON.
    bool push(std::string_view bytes);
    bool push_byte(uint8_t c);
    // The top-level value is complete (only whitespace may follow).
    bool complete() const { return st_ == St::done; }
    bool dead() const { return st_ == St::dead; }

private:
    enum class St : uint8_t {
        value,        // expecting a value (after '[', ':', ',' in an array, or at the start)
        arr_first,    // after '[': a value or ']'
        obj_first,    // after '{': a key or '}'
        obj_key,      // after ',' in an object: a key
        colon,        // after a key
        after_value,  // after a value inside a container: ',' or the closer
        str,          // inside a string
        str_esc,      // after a backslash
        str_hex,      // in \uXXXX (hex_left_ digits to go)
        str_utf8,     // inside a multi-byte UTF-8 sequence (utf8_left_ continuation bytes to go)
        num_sign,     // after '-'
        num_zero,     // a leading 0
        num_int,      // integer digits
        num_dot,      // after '.'
        num_frac,     // fraction digits
        num_e,        // after 'e'/'E'
        num_esign,    // after the exponent sign
        num_exp,      // exponent digits
        literal,      // inside true/false/null
        done,
        dead,
    };
    bool value_start(uint8_t c);
    bool end_value(); // a scalar or container just ended
    bool after_scalar(uint8_t c); // a byte that ends a number
    bool open(char kind);
    bool close(char kind);

    bool object_only_;
    int max_depth_;
    St st_ = St::value;
    bool key_ = false;          // the current string is an object key
    uint8_t hex_left_ = 0, utf8_left_ = 0;
    uint8_t utf8_lo_ = 0x80, utf8_hi_ = 0xBF; // allowed range of the next continuation byte
    const char* lit_ = nullptr; // the literal being matched and how far
    uint8_t lit_pos_ = 0;
    std::string stack_;         // '{' or '[' per open container
};

} // namespace vkai::server
