// Python str semantics the filters and methods share: strip, case mapping by code point, title case
// and printf-style formatting ("%s-%d" % (a, b)), on UTF-8 strings.
#include "llm/jinja/internal.h"
#include "llm/unicode.h"

#include <cmath>
#include <cstdio>
#include <mutex>
#include <unordered_map>

namespace vkai::jinja {

namespace {

bool in_chars(uint32_t cp, std::string_view chars) {
    for (size_t i = 0; i < chars.size();)
        if (unicode::decode(chars, i) == cp) return true;
    return false;
}

bool is_letter(uint32_t c) {
    return c >= 0x80 ? c != unicode::kInvalid && unicode::category(c) == unicode::Cat::letter : ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

// Simple uppercase mapping, built by inverting the lowercase table (the first code point that
// lowercases to c wins, which picks the capital letter over compatibility forms).
const std::unordered_map<uint32_t, uint32_t>& upper_table() {
    static std::unordered_map<uint32_t, uint32_t> table;
    static std::once_flag once;
    std::call_once(once, [] {
        for (uint32_t cp = 0x80; cp < 0x20000; ++cp) {
            if (cp >= 0xD800 && cp <= 0xDFFF) continue;
            uint32_t lo = unicode::to_lower_simple(cp);
            if (lo != cp && lo >= 0x80) table.emplace(lo, cp);
        }
    });
    return table;
}

} // namespace

std::string py_strip(std::string_view s, const Value* chars, bool left, bool right) {
    bool ws = !chars || chars->is_none() || chars->is_undefined();
    std::string_view set = ws ? std::string_view() : std::string_view(chars->str());
    auto strip_cp = [&](uint32_t cp) { return ws ? cp != unicode::kInvalid && is_py_space(cp) : in_chars(cp, set); };
    size_t begin = 0, end = s.size();
    if (left) {
        while (begin < end) {
            size_t j = begin;
            if (!strip_cp(unicode::decode(s, j))) break;
            begin = j;
        }
    }
    if (right) {
        // Walk forward remembering where the trailing run of strippable code points starts.
        size_t keep_end = begin;
        for (size_t i = begin; i < end;) {
            size_t j = i;
            uint32_t cp = unicode::decode(s, j);
            if (!strip_cp(cp)) keep_end = j;
            i = j;
        }
        end = keep_end;
    }
    return std::string(s.substr(begin, end - begin));
}

std::string py_upper(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            out += char(c >= 'a' && c <= 'z' ? c - 32 : c);
            ++i;
            continue;
        }
        size_t j = i;
        uint32_t cp = unicode::decode(s, j);
        const auto& t = upper_table();
        auto it = cp == unicode::kInvalid ? t.end() : t.find(cp);
        if (it == t.end()) out.append(s, i, j - i);
        else unicode::append_utf8(out, it->second);
        i = j;
    }
    return out;
}

std::string py_lower(std::string_view s) {
    if (is_ascii(s)) {
        std::string out(s);
        for (char& c : out)
            if (c >= 'A' && c <= 'Z') c = char(c + 32);
        return out;
    }
    std::string out;
    for (size_t i = 0; i < s.size();) {
        size_t j = i;
        uint32_t cp = unicode::decode(s, j);
        if (cp == unicode::kInvalid) out += s[i];
        else unicode::append_lower(out, cp);
        i = j;
    }
    return out;
}

// str.title(): a cased character after an uncased one starts a word (upper), others go lower.
std::string py_title(std::string_view s) {
    std::string out;
    bool prev_cased = false;
    for (size_t i = 0; i < s.size();) {
        size_t j = i;
        uint32_t cp = unicode::decode(s, j);
        bool cased = is_letter(cp);
        std::string_view one = s.substr(i, j - i);
        if (cased) out += prev_cased ? py_lower(one) : py_upper(one);
        else out += one;
        prev_cased = cased;
        i = j;
    }
    return out;
}

std::string py_capitalize(std::string_view s) {
    if (s.empty()) return std::string();
    size_t j = 0;
    unicode::decode(s, j);
    return py_upper(s.substr(0, j)) + py_lower(s.substr(j));
}

Result<Value> percent_format(Interp& in, const std::string& fmt, const Value& args) {
    const bool mapping = args.is_dict() && !args.dict().is_namespace;
    List positional = args.is_tuple() ? args.items() : List{};
    if (!args.is_tuple() && !mapping) positional.push_back(args);
    size_t next = 0;
    std::string out;
    for (size_t i = 0; i < fmt.size(); ++i) {
        if (fmt[i] != '%') {
            out += fmt[i];
            continue;
        }
        if (++i >= fmt.size()) return fail(Code::invalid_argument, "incomplete format");
        const Value* v = nullptr;
        if (fmt[i] == '(') {
            size_t close = fmt.find(')', i);
            if (close == std::string::npos || !mapping) return fail(Code::invalid_argument, "format requires a mapping");
            v = args.dict().find(std::string_view(fmt).substr(i + 1, close - i - 1));
            if (!v) return fail(Code::invalid_argument, "format key '%s' missing", fmt.substr(i + 1, close - i - 1).c_str());
            i = close + 1;
        }
        std::string spec = "%";
        while (i < fmt.size() && std::string_view("-+ #0").find(fmt[i]) != std::string_view::npos) spec += fmt[i++];
        int width = 0, prec = -1;
        while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9' && width < 10000) width = width * 10 + (fmt[i++] - '0');
        if (i < fmt.size() && fmt[i] == '.') {
            prec = 0;
            ++i;
            while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9' && prec < 10000) prec = prec * 10 + (fmt[i++] - '0');
        }
        if (i >= fmt.size()) return fail(Code::invalid_argument, "incomplete format");
        char conv = fmt[i];
        if (conv == '%') {
            out += '%';
            continue;
        }
        if (!v) {
            if (next >= positional.size()) return fail(Code::invalid_argument, "not enough arguments for format string");
            v = &positional[next++];
        }
        std::string body;
        char buf[512];
        width = std::min(width, 4096);
        prec = std::min(prec, 100);
        switch (conv) {
        case 's':
        case 'r':
        case 'a': {
            body = conv == 's' ? to_str(*v) : to_repr(*v);
            if (prec >= 0 && size_t(prec) < utf8_length(body)) body = body.substr(0, utf8_offsets(body)[size_t(prec)]);
            bool left = spec.find('-') != std::string::npos;
            size_t n = utf8_length(body);
            if (size_t(width) > n) body = left ? body + std::string(size_t(width) - n, ' ') : std::string(size_t(width) - n, ' ') + body;
            break;
        }
        case 'd':
        case 'i':
        case 'x':
        case 'X':
        case 'o':
        case 'c': {
            if (!v->is_number()) return fail(Code::invalid_argument, "%%%c format: a real number is required, not %s", conv, type_name(*v));
            int64_t n = v->is_float() ? int64_t(std::trunc(v->as_float())) : v->as_int();
            if (conv == 'c') {
                unicode::append_utf8(body, uint32_t(n) & 0x1FFFFF);
                break;
            }
            std::string f = spec + std::to_string(width) + (conv == 'i' ? "lld" : std::string("ll") + conv);
            std::snprintf(buf, sizeof buf, f.c_str(), (long long)n);
            body = buf;
            break;
        }
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G': {
            if (!v->is_number()) return fail(Code::invalid_argument, "must be real number, not %s", type_name(*v));
            std::string f = spec + std::to_string(width) + "." + std::to_string(prec < 0 ? 6 : prec) + conv;
            std::snprintf(buf, sizeof buf, f.c_str(), v->as_float());
            body = buf;
            break;
        }
        default: return fail(Code::invalid_argument, "unsupported format character '%c'", conv);
        }
        out += body;
        VKAI_TRY(in.check_size(out.size()));
    }
    if (!mapping && next < positional.size()) return fail(Code::invalid_argument, "not all arguments converted during string formatting");
    return Value(std::move(out));
}

} // namespace vkai::jinja
