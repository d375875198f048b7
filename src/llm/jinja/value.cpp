// Python semantics of Jinja values: construction, equality and ordering, str()/repr() formatting and
// json.dumps, so rendered prompts match what HF transformers' jinja2 environment prints.
#include "llm/jinja/value.h"

#include "llm/jinja/internal.h"
#include "llm/unicode.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace vkai::jinja {

namespace {

const std::string& empty_string() {
    static const std::string s;
    return s;
}

} // namespace

Value::Value(std::string s) : kind_(Kind::string), s_(std::make_shared<const std::string>(std::move(s))) {}

Value Value::none() {
    Value v;
    v.kind_ = Kind::none;
    return v;
}

Value Value::undefined(std::string hint) {
    Value v;
    v.s_ = std::make_shared<const std::string>(std::move(hint));
    return v;
}

namespace {

uint32_t nested_depth(const List& items) {
    uint32_t d = 0;
    for (const Value& x : items) d = std::max(d, x.depth());
    return std::min<uint32_t>(d, kMaxValueDepth * 2) + 1;
}

} // namespace

Value Value::list(List items) {
    Value v;
    v.kind_ = Kind::list;
    v.depth_ = nested_depth(items);
    v.l_ = std::make_shared<const List>(std::move(items));
    return v;
}

Value Value::tuple(List items) {
    Value v = list(std::move(items));
    v.tuple_ = true;
    return v;
}

Value Value::dict(std::shared_ptr<Dict> d) {
    Value v;
    v.kind_ = Kind::dict;
    if (d->is_namespace) {
        v.depth_ = kNamespaceDepth;
    } else {
        uint32_t depth = 0;
        for (const auto& e : d->entries) depth = std::max({depth, e.first.depth(), e.second.depth()});
        v.depth_ = std::min<uint32_t>(depth, kMaxValueDepth * 2) + 1;
    }
    v.d_ = std::move(d);
    return v;
}

Value Value::empty_dict() { return dict(std::make_shared<Dict>()); }

Value Value::callable(std::shared_ptr<const Callable> c) {
    Value v;
    v.kind_ = Kind::callable;
    v.c_ = std::move(c);
    return v;
}

Value Value::markup(std::string s) {
    Value v(std::move(s));
    v.markup_ = true;
    return v;
}

Value Value::iterator(List items, const char* type) {
    Value v;
    v.kind_ = Kind::iterator;
    v.depth_ = nested_depth(items);
    v.l_ = std::make_shared<const List>(std::move(items));
    v.s_ = std::make_shared<const std::string>(type);
    v.consumed_ = std::make_shared<bool>(false);
    return v;
}

List Value::consume() const {
    if (kind_ != Kind::iterator || *consumed_) return {};
    *consumed_ = true;
    return *l_;
}

const std::string& Value::str() const { return kind_ == Kind::string && s_ ? *s_ : empty_string(); }

const List& Value::items() const {
    static const List empty;
    return kind_ == Kind::list && l_ ? *l_ : empty;
}

const Dict& Value::dict() const {
    static const Dict empty;
    return kind_ == Kind::dict && d_ ? *d_ : empty;
}

Dict& Value::dict_mut() const { return *d_; }

const Callable& Value::fn() const { return *c_; }

const std::string& Value::hint() const { return (kind_ == Kind::undefined || kind_ == Kind::iterator) && s_ ? *s_ : empty_string(); }

bool Value::truthy() const {
    switch (kind_) {
    case Kind::undefined:
    case Kind::none: return false;
    case Kind::boolean: return b_;
    case Kind::integer: return i_ != 0;
    case Kind::floating: return f_ != 0.0;
    case Kind::string: return !str().empty();
    case Kind::list: return !items().empty();
    case Kind::dict: return d_->is_namespace || d_->size() != 0; // Python objects are truthy
    case Kind::callable:
    case Kind::iterator: return true;
    }
    return false;
}

size_t Value::approx_size() const {
    switch (kind_) {
    case Kind::string: return str().size();
    case Kind::list:
    case Kind::iterator: return l_->size() * sizeof(Value);
    case Kind::dict: return d_->size() * 2 * sizeof(Value);
    default: return 0;
    }
}

const Value* Dict::find(const Value& key) const {
    for (const auto& e : entries)
        if (equals(e.first, key)) return &e.second;
    return nullptr;
}

const Value* Dict::find(std::string_view key) const {
    for (const auto& e : entries)
        if (e.first.is_string() && e.first.str() == key) return &e.second;
    return nullptr;
}

void Dict::set(Value key, Value value) {
    for (auto& e : entries)
        if (equals(e.first, key)) {
            e.second = std::move(value);
            return;
        }
    entries.emplace_back(std::move(key), std::move(value));
}

bool equals(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return a.as_float() == b.as_float();
        return a.as_int() == b.as_int();
    }
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
    case Kind::undefined:
    case Kind::none: return true;
    case Kind::string: return a.str() == b.str();
    case Kind::list: {
        if (&a.items() == &b.items()) return true; // the same object (Python compares items by identity first too)
        if (a.is_tuple() != b.is_tuple() || a.items().size() != b.items().size()) return false;
        for (size_t i = 0; i < a.items().size(); ++i)
            if (!equals(a.items()[i], b.items()[i])) return false;
        return true;
    }
    case Kind::dict: {
        const Dict& x = a.dict();
        const Dict& y = b.dict();
        if (&x == &y) return true;
        if (x.is_namespace || y.is_namespace) return false;
        if (x.size() != y.size()) return false;
        for (const auto& e : x.entries) {
            const Value* o = y.find(e.first);
            if (!o || !equals(e.second, *o)) return false;
        }
        return true;
    }
    case Kind::callable: return &a.fn() == &b.fn();
    case Kind::iterator: return a.identity() == b.identity();
    default: return false;
    }
}

bool less_than(const Value& a, const Value& b, bool& ok) {
    ok = true;
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return a.as_float() < b.as_float();
        return a.as_int() < b.as_int();
    }
    if (a.is_string() && b.is_string()) return a.str() < b.str(); // UTF-8 byte order is code point order
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
        const List& x = a.items();
        const List& y = b.items();
        for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (equals(x[i], y[i])) continue;
            return less_than(x[i], y[i], ok);
        }
        return x.size() < y.size();
    }
    ok = false;
    return false;
}

bool is_hashable(const Value& v) {
    if (v.is_dict()) return false;
    if (v.is_list()) {
        if (!v.is_tuple()) return false;
        for (const Value& x : v.items())
            if (!is_hashable(x)) return false;
    }
    return true;
}

const char* type_name(const Value& v) {
    switch (v.kind()) {
    case Kind::undefined: return "Undefined";
    case Kind::none: return "NoneType";
    case Kind::boolean: return "bool";
    case Kind::integer: return "int";
    case Kind::floating: return "float";
    case Kind::string: return "str";
    case Kind::list: return v.is_tuple() ? "tuple" : "list";
    case Kind::dict: return v.dict().is_namespace ? "Namespace" : "dict";
    case Kind::callable: return "function";
    case Kind::iterator: return v.hint().c_str();
    }
    return "object";
}

std::string float_repr(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
    if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
    // Shortest digits that read back exactly (what Python's repr does), via %e at rising precision.
    char buf[64];
    for (int prec = 1; prec <= 17; ++prec) {
        std::snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
        if (std::strtod(buf, nullptr) == d) break;
    }
    std::string s(buf);
    bool neg = s[0] == '-';
    if (neg) s.erase(0, 1);
    size_t epos = s.find('e');
    int exp10 = std::atoi(s.c_str() + epos + 1);
    std::string digits;
    for (size_t i = 0; i < epos; ++i)
        if (s[i] != '.') digits += s[i];
    while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
    int decpt = exp10 + 1; // digits d1d2... stand for 0.d1d2... * 10^decpt
    int nd = int(digits.size());
    std::string out = neg ? "-" : "";
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            out += "0." + std::string(size_t(-decpt), '0') + digits;
        } else if (decpt >= nd) {
            out += digits + std::string(size_t(decpt - nd), '0') + ".0";
        } else {
            out += digits.substr(0, size_t(decpt)) + "." + digits.substr(size_t(decpt));
        }
    } else {
        out += digits.substr(0, 1);
        if (nd > 1) out += "." + digits.substr(1);
        char e[16];
        std::snprintf(e, sizeof e, "e%c%02d", decpt - 1 < 0 ? '-' : '+', std::abs(decpt - 1));
        out += e;
    }
    return out;
}

namespace {

std::string str_repr(const std::string& s) {
    bool has_single = s.find('\'') != std::string::npos;
    bool has_double = s.find('"') != std::string::npos;
    char q = has_single && !has_double ? '"' : '\'';
    std::string out(1, q);
    for (unsigned char c : s) {
        if (c == '\\') out += "\\\\";
        else if (c == q) { out += '\\'; out += char(c); }
        else if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c == '\t') out += "\\t";
        else if (c < 0x20 || c == 0x7f) {
            char b[8];
            std::snprintf(b, sizeof b, "\\x%02x", c);
            out += b;
        } else out += char(c);
    }
    out += q;
    return out;
}

// str()/repr() of containers stop growing at kMaxTextBytes: callers that keep the text check it
// against their own (smaller) limits, so a truncated text never passes as a real one.
void append_text(std::string& out, const Value& v, bool repr);

void append_seq(std::string& out, const Value& v) {
    bool t = v.is_tuple();
    out += t ? '(' : '[';
    const List& l = v.items();
    for (size_t i = 0; i < l.size() && out.size() <= kMaxTextBytes; ++i) {
        if (i) out += ", ";
        append_text(out, l[i], true);
    }
    if (t && l.size() == 1) out += ',';
    out += t ? ')' : ']';
}

void append_dict(std::string& out, const Dict& d) {
    out += '{';
    for (size_t i = 0; i < d.entries.size() && out.size() <= kMaxTextBytes; ++i) {
        if (i) out += ", ";
        append_text(out, d.entries[i].first, true);
        out += ": ";
        append_text(out, d.entries[i].second, true);
    }
    out += '}';
}

void append_text(std::string& out, const Value& v, bool repr) {
    if (out.size() > kMaxTextBytes) return;
    switch (v.kind()) {
    case Kind::string: out += repr ? str_repr(v.str()) : v.str(); return;
    case Kind::undefined: out += repr ? "Undefined" : ""; return;
    case Kind::list: append_seq(out, v); return;
    case Kind::dict:
        if (v.dict().is_namespace) out += "<Namespace ";
        append_dict(out, v.dict());
        if (v.dict().is_namespace) out += '>';
        return;
    case Kind::none: out += "None"; return;
    case Kind::boolean: out += v.as_bool() ? "True" : "False"; return;
    case Kind::integer: out += std::to_string(v.as_int()); return;
    case Kind::floating: out += float_repr(v.as_float()); return;
    case Kind::callable: out += callable_repr(v.fn()); return;
    case Kind::iterator: out += "<" + v.hint() + " object>"; return;
    }
}

} // namespace

std::string to_str(const Value& v) {
    if (v.is_string()) return v.str();
    std::string out;
    append_text(out, v, false);
    return out;
}

std::string to_repr(const Value& v) {
    std::string out;
    append_text(out, v, true);
    return out;
}

namespace {

void json_string(std::string& out, std::string_view s, bool ensure_ascii) {
    out += '"';
    for (size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80 && ensure_ascii) {
            uint32_t cp = unicode::decode(s, i);
            if (cp == unicode::kInvalid) cp = unicode::kReplacement;
            char b[16];
            if (cp >= 0x10000) {
                uint32_t v = cp - 0x10000;
                std::snprintf(b, sizeof b, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
            } else {
                std::snprintf(b, sizeof b, "\\u%04x", cp);
            }
            out += b;
            continue;
        }
        ++i;
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (c < 0x20) {
                char b[8];
                std::snprintf(b, sizeof b, "\\u%04x", c);
                out += b;
            } else out += char(c);
        }
    }
    out += '"';
}

bool json_key(const Value& k, std::string& key) {
    switch (k.kind()) {
    case Kind::string: key = k.str(); return true;
    case Kind::none: key = "null"; return true;
    case Kind::boolean: key = k.as_bool() ? "true" : "false"; return true;
    case Kind::integer: key = std::to_string(k.as_int()); return true;
    case Kind::floating: key = float_repr(k.as_float()); return true;
    default: return false;
    }
}

void newline_indent(std::string& out, const JsonOptions& opt, int level) {
    out += '\n';
    out.append(size_t(opt.indent) * size_t(level), ' ');
}

} // namespace

bool to_json(const Value& v, const JsonOptions& opt, std::string& out, std::string& err, int depth) {
    if (depth > kMaxJsonDepth) {
        err = "tojson: nesting deeper than " + std::to_string(kMaxJsonDepth);
        return false;
    }
    if (out.size() > kMaxTextBytes) {
        err = "tojson: output larger than " + std::to_string(kMaxTextBytes) + " bytes";
        return false;
    }
    switch (v.kind()) {
    case Kind::none: out += "null"; return true;
    case Kind::boolean: out += v.as_bool() ? "true" : "false"; return true;
    case Kind::integer: out += std::to_string(v.as_int()); return true;
    case Kind::floating: {
        double d = v.as_float();
        if (std::isnan(d)) out += "NaN";
        else if (std::isinf(d)) out += d < 0 ? "-Infinity" : "Infinity";
        else out += float_repr(d);
        return true;
    }
    case Kind::string: json_string(out, v.str(), opt.ensure_ascii); return true;
    case Kind::list: {
        const List& l = v.items();
        if (l.empty()) { out += "[]"; return true; }
        out += '[';
        for (size_t i = 0; i < l.size(); ++i) {
            if (i) out += opt.item_sep;
            if (opt.indent >= 0) newline_indent(out, opt, depth + 1);
            if (!to_json(l[i], opt, out, err, depth + 1)) return false;
        }
        if (opt.indent >= 0) newline_indent(out, opt, depth);
        out += ']';
        return true;
    }
    case Kind::dict: {
        const Dict& d = v.dict();
        if (d.is_namespace) {
            err = "Object of type Namespace is not JSON serializable";
            return false;
        }
        if (d.entries.empty()) { out += "{}"; return true; }
        std::vector<std::pair<std::string, const Value*>> kv;
        kv.reserve(d.entries.size());
        for (const auto& e : d.entries) {
            std::string key;
            if (!json_key(e.first, key)) {
                err = std::string("keys must be str, int, float, bool or None, not ") + type_name(e.first);
                return false;
            }
            kv.emplace_back(std::move(key), &e.second);
        }
        if (opt.sort_keys)
            std::stable_sort(kv.begin(), kv.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        out += '{';
        for (size_t i = 0; i < kv.size(); ++i) {
            if (i) out += opt.item_sep;
            if (opt.indent >= 0) newline_indent(out, opt, depth + 1);
            json_string(out, kv[i].first, opt.ensure_ascii);
            out += opt.key_sep;
            if (!to_json(*kv[i].second, opt, out, err, depth + 1)) return false;
        }
        if (opt.indent >= 0) newline_indent(out, opt, depth);
        out += '}';
        return true;
    }
    case Kind::undefined: err = "Object of type Undefined is not JSON serializable"; return false;
    case Kind::callable: err = "Object of type function is not JSON serializable"; return false;
    case Kind::iterator: err = "Object of type " + v.hint() + " is not JSON serializable"; return false;
    }
    return false;
}

size_t utf8_length(std::string_view s) {
    if (is_ascii(s)) return s.size();
    size_t n = 0;
    for (size_t i = 0; i < s.size(); ++n) unicode::decode(s, i);
    return n;
}

bool is_ascii(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    return true;
}

std::vector<size_t> utf8_offsets(std::string_view s) {
    std::vector<size_t> off;
    off.reserve(s.size() + 1);
    for (size_t i = 0; i < s.size();) {
        off.push_back(i);
        unicode::decode(s, i);
    }
    off.push_back(s.size());
    return off;
}

bool is_py_space(uint32_t cp) {
    if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x1f);
    return cp == 0x85 || unicode::is_white_space(cp);
}

} // namespace vkai::jinja
