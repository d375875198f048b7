#include "server/json_prefix.h"

namespace vkai::server {

namespace {
bool is_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
bool is_hex(uint8_t c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
} // namespace

bool JsonPrefix::push(std::string_view bytes) {
    for (char c : bytes)
        if (!push_byte(uint8_t(c))) return false;
    return true;
}

bool JsonPrefix::open(char kind) {
    if (int(stack_.size()) >= max_depth_) return false;
    stack_.push_back(kind);
    st_ = kind == '{' ? St::obj_first : St::arr_first;
    return true;
}

bool JsonPrefix::close(char kind) {
    if (stack_.empty() || stack_.back() != kind) return false;
    stack_.pop_back();
    return end_value();
}

bool JsonPrefix::end_value() {
    st_ = stack_.empty() ? St::done : St::after_value;
    return true;
}

bool JsonPrefix::value_start(uint8_t c) {
    if (object_only_ && stack_.empty() && c != '{') return false;
    switch (c) {
    case '{': return open('{');
    case '[': return open('[');
    case '"': st_ = St::str, key_ = false; return true;
    case '-': st_ = St::num_sign; return true;
    case '0': st_ = St::num_zero; return true;
    case 't': lit_ = "true", lit_pos_ = 1, st_ = St::literal; return true;
    case 'f': lit_ = "false", lit_pos_ = 1, st_ = St::literal; return true;
    case 'n': lit_ = "null", lit_pos_ = 1, st_ = St::literal; return true;
    default:
        if (c >= '1' && c <= '9') {
            st_ = St::num_int;
            return true;
        }
        return false;
    }
}

bool JsonPrefix::after_scalar(uint8_t c) {
    end_value();
    return push_byte(c);
}

bool JsonPrefix::push_byte(uint8_t c) {
    bool ok = true;
    switch (st_) {
    case St::dead: return false;
    case St::done: ok = is_ws(c); break;
    case St::value: ok = is_ws(c) || value_start(c); break;
    case St::arr_first: ok = is_ws(c) || (c == ']' ? close('[') : value_start(c)); break;
    case St::obj_first:
        if (is_ws(c)) break;
        if (c == '}') ok = close('{');
        else if (c == '"') st_ = St::str, key_ = true;
        else ok = false;
        break;
    case St::obj_key:
        if (is_ws(c)) break;
        if (c == '"') st_ = St::str, key_ = true;
        else ok = false;
        break;
    case St::colon:
        if (is_ws(c)) break;
        if (c == ':') st_ = St::value;
        else ok = false;
        break;
    case St::after_value:
        if (is_ws(c)) break;
        if (c == ',') st_ = stack_.back() == '{' ? St::obj_key : St::value;
        else if (c == '}') ok = close('{');
        else if (c == ']') ok = close('[');
        else ok = false;
        break;
    case St::str:
        if (c == '"') {
            if (key_) st_ = St::colon;
            else end_value();
        } else if (c == '\\') {
            st_ = St::str_esc;
        } else if (c < 0x20) {
            ok = false;
        } else if (c >= 0x80) {
            // UTF-8 lead byte: how many continuation bytes follow and the range of the first one
            // (excludes overlongs, surrogates and code points above U+10FFFF).
            utf8_lo_ = 0x80, utf8_hi_ = 0xBF;
            if (c >= 0xC2 && c <= 0xDF) utf8_left_ = 1;
            else if (c == 0xE0) utf8_left_ = 2, utf8_lo_ = 0xA0;
            else if (c == 0xED) utf8_left_ = 2, utf8_hi_ = 0x9F;
            else if (c >= 0xE1 && c <= 0xEF) utf8_left_ = 2;
            else if (c == 0xF0) utf8_left_ = 3, utf8_lo_ = 0x90;
            else if (c >= 0xF1 && c <= 0xF3) utf8_left_ = 3;
            else if (c == 0xF4) utf8_left_ = 3, utf8_hi_ = 0x8F;
            else ok = false;
            if (ok) st_ = St::str_utf8;
        }
        break;
    case St::str_utf8:
        if (c < utf8_lo_ || c > utf8_hi_) {
            ok = false;
            break;
        }
        utf8_lo_ = 0x80, utf8_hi_ = 0xBF;
        if (--utf8_left_ == 0) st_ = St::str;
        break;
    case St::str_esc:
        if (c == 'u') st_ = St::str_hex, hex_left_ = 4;
        else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') st_ = St::str;
        else ok = false;
        break;
    case St::str_hex:
        if (!is_hex(c)) ok = false;
        else if (--hex_left_ == 0) st_ = St::str;
        break;
    case St::num_sign:
        if (c == '0') st_ = St::num_zero;
        else if (c >= '1' && c <= '9') st_ = St::num_int;
        else ok = false;
        break;
    case St::num_zero:
        if (c == '.') st_ = St::num_dot;
        else if (c == 'e' || c == 'E') st_ = St::num_e;
        else ok = after_scalar(c);
        break;
    case St::num_int:
        if (is_digit(c)) break;
        if (c == '.') st_ = St::num_dot;
        else if (c == 'e' || c == 'E') st_ = St::num_e;
        else ok = after_scalar(c);
        break;
    case St::num_dot:
        if (is_digit(c)) st_ = St::num_frac;
        else ok = false;
        break;
    case St::num_frac:
        if (is_digit(c)) break;
        if (c == 'e' || c == 'E') st_ = St::num_e;
        else ok = after_scalar(c);
        break;
    case St::num_e:
        if (c == '+' || c == '-') st_ = St::num_esign;
        else if (is_digit(c)) st_ = St::num_exp;
        else ok = false;
        break;
    case St::num_esign:
        if (is_digit(c)) st_ = St::num_exp;
        else ok = false;
        break;
    case St::num_exp:
        if (!is_digit(c)) ok = after_scalar(c);
        break;
    case St::literal:
        if (uint8_t(lit_[lit_pos_]) != c) {
            ok = false;
            break;
        }
        if (lit_[++lit_pos_] == 0) end_value();
        break;
    }
    if (!ok) st_ = St::dead;
    return ok;
}

} // namespace vkai::server
