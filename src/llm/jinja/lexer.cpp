// Template lexer: splits text from {{ }}, {% %} and {# #} tags, applies whitespace control (-, +,
// trim_blocks, lstrip_blocks) the way jinja2's lexer does, and tokenizes the expressions inside tags.
#include "llm/jinja/internal.h"
#include "llm/unicode.h"

namespace vkai::jinja {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

// Length of the Python-whitespace code point at s[i], 0 if there is none.
size_t space_at(std::string_view s, size_t i) {
    if (i >= s.size()) return 0;
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) return is_py_space(c) ? 1 : 0;
    size_t j = i;
    uint32_t cp = unicode::decode(s, j);
    return cp != unicode::kInvalid && is_py_space(cp) ? j - i : 0;
}

// Python str.rstrip() with no arguments.
std::string_view rstrip_space(std::string_view s) {
    size_t end = 0;
    for (size_t i = 0; i < s.size();) {
        size_t n = space_at(s, i);
        if (n) { i += n; continue; }
        unicode::decode(s, i);
        end = i;
    }
    return s.substr(0, end);
}

bool all_space(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        size_t n = space_at(s, i);
        if (!n) return false;
        i += n;
    }
    return true;
}

// Normalizes \r\n and \r to \n (jinja2 does this to the whole source) and drops one trailing newline.
std::string normalize(std::string_view src, bool keep_trailing_newline) {
    std::string out;
    out.reserve(src.size());
    for (size_t i = 0; i < src.size(); ++i) {
        if (src[i] == '\r') {
            out += '\n';
            if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
        } else {
            out += src[i];
        }
    }
    if (!keep_trailing_newline && !out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

class Lexer {
public:
    Lexer(std::string src, const Options& opt) : s_(std::move(src)), opt_(opt) {}
    Result<std::vector<Token>> run();

private:
    Status lex_tag(char kind, size_t after_open);
    Status lex_comment(size_t after_open);
    Status lex_raw(size_t after_begin);
    Status lex_string(char quote);
    void lex_number();
    void advance(size_t n);
    void skip_space();
    void emit(Tok t, std::string text = {}) { out_.push_back(Token{t, line_, std::move(text)}); }
    Status error(const char* what) { return fail(Code::invalid_argument, "chat template line %d: %s", line_, what); }
    // Text before a tag at position p, with the tag's whitespace control applied.
    void emit_data_before(size_t p, char kind, char sign);
    // Whatever follows a tag end: "-" strips all whitespace, trim_blocks eats one newline after %} / #}.
    void after_tag_end(char sign, bool is_block);
    bool raw_begin_at(size_t p, size_t& after) const;

    std::string s_;
    Options opt_;
    size_t pos_ = 0;
    int line_ = 1;
    bool line_starting_ = true;
    std::vector<Token> out_;
};

void Lexer::advance(size_t n) {
    for (size_t i = 0; i < n && pos_ < s_.size(); ++i, ++pos_)
        if (s_[pos_] == '\n') ++line_;
}

void Lexer::skip_space() {
    while (size_t n = space_at(s_, pos_)) advance(n);
}

void Lexer::emit_data_before(size_t p, char kind, char sign) {
    std::string_view text(s_.data() + pos_, p - pos_);
    int start_line = line_;
    if (sign == '-') {
        text = rstrip_space(text);
    } else if (sign != '+' && opt_.lstrip_blocks && kind != '{') {
        size_t nl = text.rfind('\n');
        size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
        if ((l_pos > 0 || line_starting_) && l_pos < text.size() && all_space(text.substr(l_pos))) text = text.substr(0, l_pos);
    }
    if (!text.empty()) out_.push_back(Token{Tok::data, start_line, std::string(text)});
    advance(p - pos_);
}

void Lexer::after_tag_end(char sign, bool is_block) {
    if (sign == '-') {
        size_t before = pos_;
        skip_space();
        line_starting_ = pos_ > before ? s_[pos_ - 1] == '\n' : false;
        return;
    }
    line_starting_ = false;
    if (sign != '+' && is_block && opt_.trim_blocks && pos_ < s_.size() && s_[pos_] == '\n') {
        advance(1);
        line_starting_ = true;
    }
}

bool Lexer::raw_begin_at(size_t p, size_t& after) const {
    // {%[-+]? \s* raw \s* -?%}
    size_t i = p + 2;
    if (i < s_.size() && (s_[i] == '-' || s_[i] == '+')) ++i;
    while (size_t n = space_at(s_, i)) i += n;
    if (s_.compare(i, 3, "raw") != 0 || (i + 3 < s_.size() && is_name_char(s_[i + 3]))) return false;
    i += 3;
    while (size_t n = space_at(s_, i)) i += n;
    if (s_.compare(i, 3, "-%}") == 0) {
        i += 3;
        while (size_t n = space_at(s_, i)) i += n;
    } else if (s_.compare(i, 2, "%}") == 0) {
        i += 2;
    } else {
        return false;
    }
    after = i;
    return true;
}

Status Lexer::lex_raw(size_t after_begin) {
    advance(after_begin - pos_);
    // Find {%[-+]? \s* endraw \s* [-+]?%}
    for (size_t p = s_.find("{%", pos_); p != std::string::npos; p = s_.find("{%", p + 1)) {
        size_t i = p + 2;
        char sign = 0;
        if (i < s_.size() && (s_[i] == '-' || s_[i] == '+')) sign = s_[i++];
        while (size_t n = space_at(s_, i)) i += n;
        if (s_.compare(i, 6, "endraw") != 0) continue;
        i += 6;
        while (size_t n = space_at(s_, i)) i += n;
        char end_sign = 0;
        if (i < s_.size() && (s_[i] == '-' || s_[i] == '+')) end_sign = s_[i++];
        if (s_.compare(i, 2, "%}") != 0) continue;
        emit_data_before(p, '%', sign);
        advance(i + 2 - pos_);
        after_tag_end(end_sign, true);
        return Status();
    }
    return error("missing end of raw directive ({% endraw %})");
}

Status Lexer::lex_comment(size_t after_open) {
    size_t end = s_.find("#}", after_open);
    if (end == std::string::npos) return error("missing end of comment tag (#})");
    char sign = end > after_open && (s_[end - 1] == '-' || s_[end - 1] == '+') ? s_[end - 1] : 0;
    advance(end + 2 - pos_);
    after_tag_end(sign, true);
    return Status();
}

Status Lexer::lex_string(char quote) {
    advance(1);
    std::string v;
    while (true) {
        if (pos_ >= s_.size()) return error("unterminated string literal");
        char c = s_[pos_];
        if (c == quote) {
            advance(1);
            break;
        }
        if (c != '\\') {
            v += c;
            advance(1);
            continue;
        }
        if (pos_ + 1 >= s_.size()) return error("unterminated string literal");
        char e = s_[pos_ + 1];
        advance(2);
        // Python's unicode-escape decoding (what jinja2 applies to string literals).
        auto hex = [&](int n, uint32_t& cp) {
            cp = 0;
            for (int k = 0; k < n; ++k) {
                if (pos_ >= s_.size()) return false;
                char h = s_[pos_];
                int d = is_digit(h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
                if (d < 0) return false;
                cp = cp * 16 + uint32_t(d);
                advance(1);
            }
            return true;
        };
        uint32_t cp = 0;
        switch (e) {
        case 'n': v += '\n'; break;
        case 't': v += '\t'; break;
        case 'r': v += '\r'; break;
        case '\\': v += '\\'; break;
        case '\'': v += '\''; break;
        case '"': v += '"'; break;
        case 'a': v += '\a'; break;
        case 'b': v += '\b'; break;
        case 'f': v += '\f'; break;
        case 'v': v += '\v'; break;
        case '\n': break; // line continuation
        case 'x':
            if (!hex(2, cp)) return error("truncated \\x escape in string literal");
            unicode::append_utf8(v, cp);
            break;
        case 'u':
        case 'U':
            if (!hex(e == 'u' ? 4 : 8, cp) || cp > 0x10FFFF) return error("bad \\u escape in string literal");
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = unicode::kReplacement;
            unicode::append_utf8(v, cp);
            break;
        default:
            if (e >= '0' && e <= '7') {
                cp = uint32_t(e - '0');
                for (int k = 0; k < 2 && pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '7'; ++k) {
                    cp = cp * 8 + uint32_t(s_[pos_] - '0');
                    advance(1);
                }
                unicode::append_utf8(v, cp);
            } else {
                v += '\\'; // unknown escapes stay as written
                v += e;
            }
        }
    }
    out_.push_back(Token{Tok::string, line_, std::move(v)});
    return Status();
}

void Lexer::lex_number() {
    auto digits = [&](size_t i) { // (\d+_)*\d+ starting at i; returns the end (== i when none)
        size_t j = i;
        while (j < s_.size() && is_digit(s_[j])) {
            ++j;
            if (j + 1 < s_.size() && s_[j] == '_' && is_digit(s_[j + 1])) ++j;
        }
        return j;
    };
    size_t start = pos_;
    size_t end = digits(pos_);
    bool is_float = false;
    if (end + 1 < s_.size() && s_[end] == '.' && is_digit(s_[end + 1])) {
        end = digits(end + 1);
        is_float = true;
    }
    if (end < s_.size() && (s_[end] == 'e' || s_[end] == 'E')) {
        size_t k = end + 1;
        if (k < s_.size() && (s_[k] == '+' || s_[k] == '-')) ++k;
        size_t e = digits(k);
        if (e > k) {
            end = e;
            is_float = true;
        }
    }
    std::string text;
    for (size_t i = start; i < end; ++i)
        if (s_[i] != '_') text += s_[i];
    Token t{is_float ? Tok::floating : Tok::integer, line_, text};
    if (is_float) {
        t.f = std::strtod(text.c_str(), nullptr);
    } else {
        errno = 0;
        unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
        // Python ints have no limit; a literal beyond int64 becomes a float rather than wrapping.
        if (errno == ERANGE || v > uint64_t(INT64_MAX)) {
            t.type = Tok::floating;
            t.f = std::strtod(text.c_str(), nullptr);
        } else {
            t.i = int64_t(v);
        }
    }
    out_.push_back(std::move(t));
    advance(end - pos_);
}

Status Lexer::lex_tag(char kind, size_t after_open) {
    emit(kind == '{' ? Tok::var_begin : Tok::block_begin);
    advance(after_open - pos_);
    std::vector<char> balance;
    static const char* kOps[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=",
                                 ".", ":", "|", ",", "(", ")", "[", "]", "{", "}", ";"};
    while (true) {
        skip_space();
        if (pos_ >= s_.size()) return error(kind == '{' ? "missing end of print tag (}})" : "missing end of block tag (%})");
        if (balance.empty()) {
            // The end tag wins over operators while brackets are balanced (as in jinja2).
            const char* close = kind == '{' ? "}}" : "%}";
            char sign = 0;
            size_t p = pos_;
            if ((s_[p] == '-' || (s_[p] == '+' && kind == '%')) && s_.compare(p + 1, 2, close) == 0) sign = s_[p++];
            if (s_.compare(p, 2, close) == 0) {
                emit(kind == '{' ? Tok::var_end : Tok::block_end);
                advance(p + 2 - pos_);
                after_tag_end(sign, kind == '%');
                return Status();
            }
        }
        char c = s_[pos_];
        if (is_name_start(c)) {
            size_t e = pos_;
            while (e < s_.size() && is_name_char(s_[e])) ++e;
            emit(Tok::name, s_.substr(pos_, e - pos_));
            advance(e - pos_);
            continue;
        }
        if (is_digit(c)) {
            lex_number();
            continue;
        }
        if (c == '\'' || c == '"') {
            VKAI_TRY(lex_string(c));
            continue;
        }
        bool matched = false;
        for (const char* op : kOps) {
            size_t n = std::char_traits<char>::length(op);
            if (s_.compare(pos_, n, op) != 0) continue;
            if (n == 1 && (c == '(' || c == '[' || c == '{')) balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
            if (n == 1 && (c == ')' || c == ']' || c == '}')) {
                if (balance.empty()) return fail(Code::invalid_argument, "chat template line %d: unexpected '%c'", line_, c);
                if (balance.back() != c)
                    return fail(Code::invalid_argument, "chat template line %d: unexpected '%c', expected '%c'", line_, c, balance.back());
                balance.pop_back();
            }
            emit(Tok::op, op);
            advance(n);
            matched = true;
            break;
        }
        if (!matched) {
            unsigned char u = static_cast<unsigned char>(c);
            return u >= 0x20 && u < 0x7f ? fail(Code::invalid_argument, "chat template line %d: unexpected character '%c'", line_, c)
                                         : fail(Code::invalid_argument, "chat template line %d: unexpected byte 0x%02x", line_, u);
        }
    }
}

Result<std::vector<Token>> Lexer::run() {
    while (pos_ < s_.size()) {
        size_t p = pos_;
        char kind = 0;
        for (p = s_.find('{', pos_); p != std::string::npos; p = s_.find('{', p + 1)) {
            if (p + 1 < s_.size() && (s_[p + 1] == '{' || s_[p + 1] == '%' || s_[p + 1] == '#')) {
                kind = s_[p + 1];
                break;
            }
        }
        if (!kind) {
            emit_data_before(s_.size(), 0, '+');
            break;
        }
        char sign = p + 2 < s_.size() && (s_[p + 2] == '-' || s_[p + 2] == '+') ? s_[p + 2] : 0;
        size_t after_open = p + 2 + (sign ? 1 : 0);
        size_t raw_after = 0;
        if (kind == '%' && raw_begin_at(p, raw_after)) {
            emit_data_before(p, kind, sign);
            VKAI_TRY(lex_raw(raw_after));
            continue;
        }
        emit_data_before(p, kind, sign);
        if (kind == '#') {
            VKAI_TRY(lex_comment(after_open));
        } else {
            VKAI_TRY(lex_tag(kind == '{' ? '{' : '%', after_open));
        }
    }
    out_.push_back(Token{Tok::eof, line_, {}});
    return std::move(out_);
}

} // namespace

const Value* Args::kwarg(std::string_view name) const {
    for (const auto& kv : kw)
        if (kv.first == name) return &kv.second;
    return nullptr;
}

const Value* Args::get(size_t i, std::string_view name) const {
    if (i < pos.size()) return &pos[i];
    return kwarg(name);
}

Result<std::vector<Token>> lex(std::string_view src, const Options& opt) {
    Lexer lx(normalize(src, opt.keep_trailing_newline), opt);
    return lx.run();
}

} // namespace vkai::jinja
