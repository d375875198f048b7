// Builtin filters ({{ x | trim }}) and tests ({% if x is defined %}) with jinja2's semantics,
// including how each treats undefined values, and transformers' tojson (json.dumps, ensure_ascii off).
#include "llm/jinja/internal.h"
#include "llm/unicode.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace vkai::jinja {

namespace {

Status undefined_err(const Value& v) {
    return Status(Code::invalid_argument, v.hint().empty() ? std::string("value is undefined") : v.hint());
}

const Value* arg(Args& a, size_t i, std::string_view name) { return a.get(i, name); }

bool flag(Args& a, size_t i, std::string_view name, bool def = false) {
    const Value* v = a.get(i, name);
    return v ? v->truthy() : def;
}

// Attribute path "a.b.0" as jinja2's make_attrgetter reads it (integers index lists).
Result<Value> attr_path(const Value& v, const std::string& path) {
    Value cur = v;
    size_t start = 0;
    while (start <= path.size()) {
        size_t dot = path.find('.', start);
        std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        bool numeric = !part.empty() && part.find_first_not_of("0123456789") == std::string::npos;
        if (cur.is_undefined()) return cur;
        if (numeric) {
            VKAI_ASSIGN_OR_RETURN(cur, get_item(cur, Value(int64_t(std::strtoll(part.c_str(), nullptr, 10)))));
        } else {
            VKAI_ASSIGN_OR_RETURN(cur, get_item(cur, Value(part)));
        }
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return cur;
}

// Sort key comparison: strings compare case-insensitively unless asked (jinja2's ignore_case).
Result<bool> key_less(const Value& a, const Value& b, bool case_sensitive) {
    bool ok = true;
    bool r;
    if (!case_sensitive && a.is_string() && b.is_string()) r = py_lower(a.str()) < py_lower(b.str());
    else r = less_than(a, b, ok);
    if (!ok) return fail(Code::invalid_argument, "'<' not supported between instances of '%s' and '%s'", type_name(a), type_name(b));
    return r;
}

Result<List> sorted(List items, std::vector<Value> keys, bool reverse, bool case_sensitive) {
    std::vector<size_t> idx(items.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    Status err;
    std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) {
        if (!err.ok()) return false;
        auto r = reverse ? key_less(keys[y], keys[x], case_sensitive) : key_less(keys[x], keys[y], case_sensitive);
        if (!r.ok()) {
            err = r.status();
            return false;
        }
        return *r;
    });
    VKAI_TRY(err);
    List out;
    out.reserve(items.size());
    for (size_t i : idx) out.push_back(std::move(items[i]));
    return out;
}

std::string html_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&#34;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    }
    return out;
}

// Python int(str): optional sign and whitespace, digits with single underscores, any base 2..36.
bool parse_int(std::string s, int base, int64_t& out) {
    s = py_strip(s, nullptr, true, true);
    if (s.empty()) return false;
    bool neg = false;
    size_t i = 0;
    if (s[0] == '+' || s[0] == '-') neg = s[i++] == '-';
    if (base == 16 && s.compare(i, 2, "0x") == 0) i += 2;
    if (i >= s.size()) return false;
    unsigned __int128 v = 0;
    bool prev_digit = false;
    for (; i < s.size(); ++i) {
        char c = s[i];
        if (c == '_' && prev_digit && i + 1 < s.size()) {
            prev_digit = false;
            continue;
        }
        int d = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'z' ? (c | 0x20) - 'a' + 10 : 99;
        if (d >= base) return false;
        v = v * unsigned(base) + unsigned(d);
        if (v > (unsigned __int128)INT64_MAX + 1) return false;
        prev_digit = true;
    }
    if (!prev_digit) return false;
    if (!neg && v > (unsigned __int128)INT64_MAX) return false;
    out = neg ? int64_t(-(__int128)v) : int64_t(v);
    return true;
}

bool parse_float(std::string s, double& out) {
    s = py_strip(s, nullptr, true, true);
    if (s.empty()) return false;
    char* end = nullptr;
    out = std::strtod(s.c_str(), &end);
    return end == s.c_str() + s.size();
}

// ---- filters ----

Result<Value> f_trim(Interp&, const Value& v, Args& a) {
    return Value(py_strip(to_str(v), arg(a, 0, "chars"), true, true));
}

Result<Value> f_length(Interp&, const Value& v, Args&) {
    VKAI_ASSIGN_OR_RETURN(int64_t n, length(v));
    return Value(n);
}

Result<Value> f_lower(Interp&, const Value& v, Args&) { return Value(py_lower(to_str(v))); }
Result<Value> f_upper(Interp&, const Value& v, Args&) { return Value(py_upper(to_str(v))); }
Result<Value> f_capitalize(Interp&, const Value& v, Args&) { return Value(py_capitalize(to_str(v))); }

// jinja2's title filter: words start after runs of whitespace, '-', '(', '{', '[' or '<'.
Result<Value> f_title(Interp&, const Value& v, Args&) {
    std::string s = to_str(v), out;
    bool start = true;
    for (size_t i = 0; i < s.size();) {
        size_t j = i;
        uint32_t cp = unicode::decode(s, j);
        bool sep = cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || (cp != unicode::kInvalid && is_py_space(cp));
        std::string_view one(s.data() + i, j - i);
        if (sep) out += one;
        else out += start ? py_upper(one) : py_lower(one);
        start = sep;
        i = j;
    }
    return Value(std::move(out));
}

Result<Value> f_string(Interp&, const Value& v, Args&) { return v.is_string() ? v : Value(to_str(v)); }
Result<Value> f_safe(Interp&, const Value& v, Args&) { return Value::markup(to_str(v)); }
Result<Value> f_escape(Interp&, const Value& v, Args&) { return v.is_markup() ? v : Value::markup(html_escape(to_str(v))); }

Result<Value> f_default(Interp&, const Value& v, Args& a) {
    bool boolean = flag(a, 1, "boolean");
    if (v.is_undefined() || (boolean && !v.truthy())) {
        const Value* d = arg(a, 0, "default_value");
        return d ? *d : Value("");
    }
    return v;
}

Result<Value> f_list(Interp& in, const Value& v, Args&) {
    VKAI_ASSIGN_OR_RETURN(List l, iterate(in, v));
    return Value::list(std::move(l));
}

Result<Value> f_first(Interp& in, const Value& v, Args&) {
    VKAI_ASSIGN_OR_RETURN(List l, iterate(in, v));
    if (l.empty()) return Value::undefined("No first item, sequence was empty.");
    return l.front();
}

Result<Value> f_last(Interp& in, const Value& v, Args&) {
    if (v.is_iterator()) return fail(Code::invalid_argument, "'%s' object is not reversible", type_name(v));
    VKAI_ASSIGN_OR_RETURN(List l, iterate(in, v));
    if (l.empty()) return Value::undefined("No last item, sequence was empty.");
    return l.back();
}

Result<Value> f_join(Interp& in, const Value& v, Args& a) {
    VKAI_ASSIGN_OR_RETURN(List l, iterate(in, v));
    const Value* sep = arg(a, 0, "d");
    const Value* attribute = arg(a, 1, "attribute");
    std::string d = sep ? to_str(*sep) : std::string();
    std::string out;
    for (size_t i = 0; i < l.size(); ++i) {
        if (i) out += d;
        Value item = l[i];
        if (attribute) {
            VKAI_ASSIGN_OR_RETURN(item, attr_path(item, to_str(*attribute)));
        }
        out += to_str(item);
        VKAI_TRY(in.check_size(out.size()));
    }
    VKAI_TRY(in.charge(out.size() / 64));
    return Value(std::move(out));
}

Result<Value> f_replace(Interp& in, const Value& v, Args& a) {
    Value s(to_str(v));
    Value m = get_method(s, "replace");
    return in.call(m, a, 0);
}

Result<Value> f_int(Interp&, const Value& v, Args& a) {
    const Value* d = arg(a, 0, "default");
    const Value* b = arg(a, 1, "base");
    Value def = d ? *d : Value(int64_t(0));
    int base = b && b->is_number() ? int(b->as_int()) : 10;
    if (v.is_undefined()) return undefined_err(v);
    if (v.is_bool() || v.is_int()) return Value(v.as_int());
    if (v.is_float()) {
        double f = v.as_float();
        if (!std::isfinite(f) || std::fabs(f) >= 9.2e18) return def;
        return Value(int64_t(f));
    }
    if (v.is_string()) {
        int64_t i;
        if (base >= 2 && base <= 36 && parse_int(v.str(), base, i)) return Value(i);
        double f;
        if (parse_float(v.str(), f) && std::isfinite(f) && std::fabs(f) < 9.2e18) return Value(int64_t(f));
    }
    return def;
}

Result<Value> f_float(Interp&, const Value& v, Args& a) {
    const Value* d = arg(a, 0, "default");
    if (v.is_undefined()) return undefined_err(v);
    if (v.is_number()) return Value(v.as_float());
    double f;
    if (v.is_string() && parse_float(v.str(), f)) return Value(f);
    return d ? *d : Value(0.0);
}

Result<Value> f_abs(Interp&, const Value& v, Args&) {
    if (!v.is_number()) return fail(Code::invalid_argument, "bad operand type for abs(): '%s'", type_name(v));
    if (v.is_float()) return Value(std::fabs(v.as_float()));
    if (v.as_int() == INT64_MIN) return fail(Code::invalid_argument, "integer overflow in abs()");
    return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
}

Result<Value> f_round(Interp&, const Value& v, Args& a) {
    if (!v.is_number()) return fail(Code::invalid_argument, "type %s doesn't define __round__ method", type_name(v));
    const Value* p = arg(a, 0, "precision");
    const Value* m = arg(a, 1, "method");
    int64_t prec = p && p->is_number() ? p->as_int() : 0;
    std::string method = m ? to_str(*m) : "common";
    if (method != "common" && method != "ceil" && method != "floor")
        return fail(Code::invalid_argument, "method must be common, ceil or floor");
    if (prec < -300 || prec > 300) return fail(Code::invalid_argument, "round(): precision out of range");
    double x = v.as_float();
    if (method == "common") {
        if (!v.is_float()) return v.is_bool() ? Value(v.as_int()) : v; // Python: round(int, n) stays an int
        if (!std::isfinite(x)) return v;
        if (prec >= 0) { // correctly rounded, ties to even on the exact binary value (Python's round)
            char buf[512];
            std::snprintf(buf, sizeof buf, "%.*f", int(std::min<int64_t>(prec, 100)), x);
            return Value(std::strtod(buf, nullptr));
        }
        double f = std::pow(10.0, double(-prec));
        return Value(std::nearbyint(x / f) * f);
    }
    double f = std::pow(10.0, double(prec));
    return Value((method == "ceil" ? std::ceil(x * f) : std::floor(x * f)) / f);
}

Result<Value> f_tojson(Interp& in, const Value& v, Args& a) {
    // transformers' tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
    JsonOptions opt;
    opt.ensure_ascii = flag(a, 0, "ensure_ascii");
    const Value* ind = arg(a, 1, "indent");
    if (ind && !ind->is_none()) {
        if (!ind->is_number() || ind->is_float()) return fail(Code::invalid_argument, "tojson: indent must be an integer");
        opt.indent = int(std::clamp<int64_t>(ind->as_int(), 0, 64));
        opt.item_sep = ",";
    }
    const Value* sep = arg(a, 2, "separators");
    if (sep && !sep->is_none()) {
        if (!sep->is_list() || sep->items().size() != 2 || !sep->items()[0].is_string() || !sep->items()[1].is_string())
            return fail(Code::invalid_argument, "tojson: separators must be a (item, key) pair of strings");
        opt.item_sep = sep->items()[0].str();
        opt.key_sep = sep->items()[1].str();
    }
    opt.sort_keys = flag(a, 3, "sort_keys");
    std::string out, err;
    if (!to_json(v, opt, out, err)) return Status(Code::invalid_argument, err);
    VKAI_TRY(in.check_size(out.size()));
    VKAI_TRY(in.charge(out.size() / 64));
    return Value(std::move(out));
}

Result<Value> f_items(Interp&, const Value& v, Args&) {
    if (v.is_undefined()) return Value::iterator({}, "generator");
    if (!v.is_dict() || v.dict().is_namespace) return fail(Code::invalid_argument, "Can only get item pairs from a mapping.");
    List out;
    for (const auto& e : v.dict().entries) out.push_back(Value::tuple({e.first, e.second}));
    return Value::iterator(std::move(out), "generator");
}

Result<Value> f_dictsort(Interp&, const Value& v, Args& a) {
    if (!v.is_dict() || v.dict().is_namespace) return fail(Code::invalid_argument, "You can only sort by either \"key\" or \"value\"");
    bool cs = flag(a, 0, "case_sensitive");
    const Value* by = arg(a, 1, "by");
    bool by_value = by && to_str(*by) == "value";
    List items;
    std::vector<Value> keys;
    for (const auto& e : v.dict().entries) {
        items.push_back(Value::tuple({e.first, e.second}));
        keys.push_back(by_value ? e.second : e.first);
    }
    VKAI_ASSIGN_OR_RETURN(List out, sorted(std::move(items), std::move(keys), flag(a, 2, "reverse"), cs));
    return Value::list(std::move(out));
}

Result<Value> f_sort(Interp& in, const Value& v, Args& a) {
    VKAI_ASSIGN_OR_RETURN(List items, iterate(in, v));
    const Value* attribute = arg(a, 2, "attribute");
    std::vector<Value> keys;
    for (const Value& item : items) {
        if (attribute) {
            VKAI_ASSIGN_OR_RETURN(Value k, attr_path(item, to_str(*attribute)));
            keys.push_back(std::move(k));
        } else {
            keys.push_back(item);
        }
    }
    VKAI_TRY(in.charge(items.size() * 4));
    VKAI_ASSIGN_OR_RETURN(List out, sorted(std::move(items), std::move(keys), flag(a, 0, "reverse"), flag(a, 1, "case_sensitive")));
    return Value::list(std::move(out));
}

Result<Value> f_reverse(Interp& in, const Value& v, Args&) {
    if (v.is_string()) {
        auto off = utf8_offsets(v.str());
        std::string out;
        for (size_t i = off.size() - 1; i > 0; --i) out.append(v.str(), off[i - 1], off[i] - off[i - 1]);
        return Value(std::move(out));
    }
    VKAI_ASSIGN_OR_RETURN(List l, iterate(in, v));
    std::reverse(l.begin(), l.end());
    // Python's reversed(): an iterator over sequences and dicts; other iterables become a list.
    if (v.is_list()) return Value::iterator(std::move(l), "list_reverseiterator");
    if (v.is_dict()) return Value::iterator(std::move(l), "dict_reversekeyiterator");
    return Value::list(std::move(l));
}

Result<Value> f_unique(Interp& in, const Value& v, Args& a) {
    VKAI_ASSIGN_OR_RETURN(List items, iterate(in, v));
    bool cs = flag(a, 0, "case_sensitive");
    const Value* attribute = arg(a, 1, "attribute");
    List out;
    std::vector<Value> seen;
    VKAI_TRY(in.charge(items.size() * items.size() / 16));
    for (const Value& item : items) {
        Value k = item;
        if (attribute) {
            VKAI_ASSIGN_OR_RETURN(k, attr_path(item, to_str(*attribute)));
        }
        if (!cs && k.is_string()) k = Value(py_lower(k.str()));
        bool dup = false;
        for (const Value& s : seen)
            if (equals(s, k)) dup = true;
        if (dup) continue;
        seen.push_back(std::move(k));
        out.push_back(item);
    }
    return Value::iterator(std::move(out), "generator");
}

Result<Value> minmax(Interp& in, const Value& v, Args& a, bool want_max) {
    VKAI_ASSIGN_OR_RETURN(List items, iterate(in, v));
    if (items.empty()) return Value::undefined(std::string("No aggregated item, sequence was empty."));
    bool cs = flag(a, 0, "case_sensitive");
    const Value* attribute = arg(a, 1, "attribute");
    Value best, best_key;
    for (size_t i = 0; i < items.size(); ++i) {
        Value k = items[i];
        if (attribute) {
            VKAI_ASSIGN_OR_RETURN(k, attr_path(items[i], to_str(*attribute)));
        }
        if (i == 0) {
            best = items[i];
            best_key = k;
            continue;
        }
        VKAI_ASSIGN_OR_RETURN(bool lt, want_max ? key_less(best_key, k, cs) : key_less(k, best_key, cs));
        if (lt) {
            best = items[i];
            best_key = k;
        }
    }
    return best;
}

Result<Value> f_max(Interp& in, const Value& v, Args& a) { return minmax(in, v, a, true); }
Result<Value> f_min(Interp& in, const Value& v, Args& a) { return minmax(in, v, a, false); }

Result<Value> f_sum(Interp& in, const Value& v, Args& a) {
    VKAI_ASSIGN_OR_RETURN(List items, iterate(in, v));
    const Value* attribute = arg(a, 0, "attribute");
    const Value* start = arg(a, 1, "start");
    Value total = start ? *start : Value(int64_t(0));
    for (const Value& item : items) {
        Value x = item;
        if (attribute) {
            VKAI_ASSIGN_OR_RETURN(x, attr_path(item, to_str(*attribute)));
        }
        VKAI_ASSIGN_OR_RETURN(total, binary_op(in, ast::BinOp::add, total, x));
    }
    return total;
}

Result<Value> f_map(Interp& in, const Value& v, Args& a) {
    VKAI_ASSIGN_OR_RETURN(List items, iterate(in, v));
    List out;
    out.reserve(items.size());
    if (const Value* attribute = a.kwarg("attribute")) {
        const Value* def = a.kwarg("default");
        for (const Value& item : items) {
            VKAI_ASSIGN_OR_RETURN(Value x, attr_path(item, to_str(*attribute)));
            out.push_back(x.is_undefined() && def ? *def : x);
        }
        return Value::iterator(std::move(out), "generator");
    }
    if (a.pos.empty()) return fail(Code::invalid_argument, "map requires a filter argument");
    std::string name = to_str(a.pos[0]);
    Args rest;
    rest.pos.assign(a.pos.begin() + 1, a.pos.end());
    rest.kw = a.kw;
    for (const Value& item : items) {
        VKAI_TRY(in.charge(1));
        Args copy = rest;
        VKAI_ASSIGN_OR_RETURN(Value x, apply_filter(in, name, item, copy));
        out.push_back(std::move(x));
    }
    return Value::iterator(std::move(out), "generator");
}

// select / reject / selectattr / rejectattr
Result<Value> select_impl(Interp& in, const Value& v, Args& a, bool by_attr, bool keep) {
    VKAI_ASSIGN_OR_RETURN(List items, iterate(in, v));
    size_t next = 0;
    std::string attribute;
    if (by_attr) {
        if (a.pos.empty()) return fail(Code::invalid_argument, "selectattr/rejectattr need an attribute name");
        attribute = to_str(a.pos[next++]);
    }
    std::string test;
    if (next < a.pos.size()) test = to_str(a.pos[next++]);
    Args rest;
    rest.pos.assign(a.pos.begin() + long(std::min(next, a.pos.size())), a.pos.end());
    rest.kw = a.kw;
    List out;
    for (const Value& item : items) {
        VKAI_TRY(in.charge(1));
        Value x = item;
        if (by_attr) {
            VKAI_ASSIGN_OR_RETURN(x, attr_path(item, attribute));
        }
        bool ok;
        if (test.empty()) {
            ok = x.truthy();
        } else {
            Args copy = rest;
            VKAI_ASSIGN_OR_RETURN(ok, apply_test(in, test, x, copy));
        }
        if (ok == keep) out.push_back(item);
    }
    return Value::iterator(std::move(out), "generator");
}

Result<Value> f_select(Interp& in, const Value& v, Args& a) { return select_impl(in, v, a, false, true); }
Result<Value> f_reject(Interp& in, const Value& v, Args& a) { return select_impl(in, v, a, false, false); }
Result<Value> f_selectattr(Interp& in, const Value& v, Args& a) { return select_impl(in, v, a, true, true); }
Result<Value> f_rejectattr(Interp& in, const Value& v, Args& a) { return select_impl(in, v, a, true, false); }

Result<Value> f_attr(Interp&, const Value& v, Args& a) {
    const Value* n = arg(a, 0, "name");
    if (!n) return fail(Code::invalid_argument, "attr needs a name");
    return get_attr(v, to_str(*n));
}

// jinja2's indent: the first line and blank lines are left alone unless first/blank say otherwise.
Result<Value> f_indent(Interp& in, const Value& v, Args& a) {
    if (v.is_undefined()) return undefined_err(v);
    if (!v.is_string()) return fail(Code::invalid_argument, "unsupported operand type(s) for +=: '%s' and 'str'", type_name(v));
    const Value* w = arg(a, 0, "width");
    std::string ind = !w ? std::string(4, ' ') : w->is_string() ? w->str() : std::string(size_t(std::clamp<int64_t>(w->as_int(), 0, 1024)), ' ');
    bool first = flag(a, 1, "first"), blank = flag(a, 2, "blank");
    Value s(to_str(v) + "\n");
    Args none;
    VKAI_ASSIGN_OR_RETURN(Value lines_v, in.call(get_method(s, "splitlines"), none, 0));
    const List& lines = lines_v.items();
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (i) out += '\n';
        const std::string& line = lines[i].str();
        if (i > 0 && (blank || !line.empty())) out += ind;
        out += line;
        VKAI_TRY(in.check_size(out.size()));
    }
    if (first) out = ind + out;
    return Value(std::move(out));
}

Result<Value> f_center(Interp& in, const Value& v, Args& a) {
    const Value* w = arg(a, 0, "width");
    int64_t width = w && w->is_number() ? w->as_int() : 80;
    std::string s = to_str(v);
    int64_t n = int64_t(utf8_length(s));
    if (width <= n) return Value(std::move(s));
    VKAI_TRY(in.check_size(size_t(width)));
    int64_t pad = width - n;
    int64_t left = pad / 2 + (pad & width & 1); // Python's str.center puts the odd space on the left when width is odd
    return Value(std::string(size_t(left), ' ') + s + std::string(size_t(pad - left), ' '));
}

Result<Value> f_wordcount(Interp&, const Value& v, Args&) {
    std::string s = to_str(v);
    int64_t n = 0;
    bool in_word = false;
    for (unsigned char c : s) {
        bool w = c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '_';
        if (w && !in_word) ++n;
        in_word = w;
    }
    return Value(n);
}

Result<Value> f_format(Interp& in, const Value& v, Args& a) {
    if (!a.pos.empty() && !a.kw.empty()) return fail(Code::invalid_argument, "can't handle positional and keyword arguments at the same time");
    if (!a.kw.empty()) {
        auto d = std::make_shared<Dict>();
        for (auto& kv : a.kw) d->set(Value(kv.first), kv.second);
        return percent_format(in, to_str(v), Value::dict(std::move(d)));
    }
    return percent_format(in, to_str(v), Value::tuple(a.pos));
}

struct FilterEntry {
    const char* name;
    BuiltinFn fn;
};

const FilterEntry kFilters[] = {
    {"trim", f_trim}, {"length", f_length}, {"count", f_length}, {"lower", f_lower}, {"upper", f_upper},
    {"capitalize", f_capitalize}, {"title", f_title}, {"string", f_string}, {"safe", f_safe}, {"escape", f_escape},
    {"e", f_escape}, {"forceescape", f_escape}, {"default", f_default}, {"d", f_default}, {"list", f_list},
    {"first", f_first}, {"last", f_last}, {"join", f_join}, {"replace", f_replace}, {"int", f_int}, {"float", f_float},
    {"abs", f_abs}, {"round", f_round}, {"tojson", f_tojson}, {"items", f_items}, {"dictsort", f_dictsort},
    {"sort", f_sort}, {"reverse", f_reverse}, {"unique", f_unique}, {"max", f_max}, {"min", f_min}, {"sum", f_sum},
    {"map", f_map}, {"select", f_select}, {"reject", f_reject}, {"selectattr", f_selectattr},
    {"rejectattr", f_rejectattr}, {"attr", f_attr}, {"indent", f_indent}, {"center", f_center},
    {"wordcount", f_wordcount}, {"format", f_format},
};

// ---- tests ----

Result<bool> compare_test(const Value& v, Args& a, const char* op) {
    const Value* o = arg(a, 0, "other");
    if (!o) return fail(Code::invalid_argument, "test '%s' needs a value to compare with", op);
    std::string_view s(op);
    if (s == "==") return equals(v, *o);
    if (s == "!=") return !equals(v, *o);
    bool ok = true;
    bool r = s[0] == '<' ? less_than(v, *o, ok) : less_than(*o, v, ok);
    if (!ok) return fail(Code::invalid_argument, "'%s' not supported between instances of '%s' and '%s'", op, type_name(v), type_name(*o));
    if (s.size() == 2) r = r || equals(v, *o);
    return r;
}

} // namespace

Result<Value> apply_filter(Interp& in, std::string_view name, const Value& v, Args& args) {
    VKAI_TRY(in.charge(1));
    for (const auto& f : kFilters)
        if (name == f.name) return f.fn(in, v, args);
    return fail(Code::invalid_argument, "no filter named '%.*s'", int(name.size()), name.data());
}

Result<bool> apply_test(Interp& in, std::string_view name, const Value& v, Args& args) {
    VKAI_TRY(in.charge(1));
    static const char* unary[] = {"defined", "undefined", "none", "string", "number", "integer", "float", "boolean", "true", "false",
                                  "mapping", "iterable", "sequence", "callable", "escaped", "lower", "upper", "even", "odd"};
    for (const char* u : unary)
        if (name == u && (!args.pos.empty() || !args.kw.empty()))
            return fail(Code::invalid_argument, "test_%s() takes 1 positional argument but %zu were given", u, 1 + args.pos.size() + args.kw.size());
    if (name == "defined") return !v.is_undefined();
    if (name == "undefined") return v.is_undefined();
    if (name == "none") return v.is_none();
    if (name == "string") return v.is_string();
    if (name == "number") return v.is_number();
    if (name == "integer") return v.is_int();
    if (name == "float") return v.is_float();
    if (name == "boolean") return v.is_bool();
    if (name == "true") return v.is_bool() && v.as_bool();
    if (name == "false") return v.is_bool() && !v.as_bool();
    if (name == "mapping") return v.is_dict() && !v.dict().is_namespace;
    if (name == "iterable" || name == "sequence")
        return v.is_undefined() || v.is_string() || v.is_list() || (v.is_dict() && !v.dict().is_namespace) ||
               (v.is_iterator() && name == "iterable");
    if (name == "callable") return v.is_callable();
    if (name == "escaped") return v.is_markup();
    if (name == "lower" || name == "upper") {
        std::string s = to_str(v);
        bool cased = false;
        for (unsigned char c : s) {
            bool lo = c >= 'a' && c <= 'z', up = c >= 'A' && c <= 'Z';
            if ((name == "lower" && up) || (name == "upper" && lo)) return false;
            cased = cased || lo || up;
        }
        return cased;
    }
    if (name == "even" || name == "odd" || name == "divisibleby") {
        Value d = name == "divisibleby" ? (args.pos.empty() ? Value() : args.pos[0]) : Value(int64_t(2));
        if (!v.is_number() || !d.is_number()) return fail(Code::invalid_argument, "test '%.*s' needs numbers", int(name.size()), name.data());
        VKAI_ASSIGN_OR_RETURN(Value m, binary_op(in, ast::BinOp::mod, v, d));
        bool zero = m.as_float() == 0;
        return name == "odd" ? !zero : zero;
    }
    if (name == "eq" || name == "equalto" || name == "==") return compare_test(v, args, "==");
    if (name == "ne" || name == "!=") return compare_test(v, args, "!=");
    if (name == "lt" || name == "lessthan" || name == "<") return compare_test(v, args, "<");
    if (name == "le" || name == "<=") return compare_test(v, args, "<=");
    if (name == "gt" || name == "greaterthan" || name == ">") return compare_test(v, args, ">");
    if (name == "ge" || name == ">=") return compare_test(v, args, ">=");
    if (name == "sameas") {
        const Value* o = arg(args, 0, "other");
        if (!o) return false;
        if (v.kind() != o->kind()) return false;
        if (v.is_list() || v.is_dict() || v.is_callable()) return false; // distinct objects unless shared; be strict
        return equals(v, *o);
    }
    if (name == "in") {
        const Value* seq = arg(args, 0, "seq");
        if (!seq) return fail(Code::invalid_argument, "test 'in' needs a sequence");
        return contains(in, *seq, v);
    }
    if (name == "filter" || name == "test") {
        std::string n = to_str(v);
        if (name == "filter") {
            for (const auto& f : kFilters)
                if (n == f.name) return true;
            return false;
        }
        static const char* tests[] = {"defined", "undefined", "none", "string", "number", "integer", "float", "boolean", "true", "false",
                                      "mapping", "iterable", "sequence", "callable", "escaped", "lower", "upper", "even", "odd",
                                      "divisibleby", "eq", "equalto", "ne", "lt", "lessthan", "le", "gt", "greaterthan", "ge",
                                      "sameas", "in", "filter", "test"};
        for (const char* t : tests)
            if (n == t) return true;
        return false;
    }
    return fail(Code::invalid_argument, "no test named '%.*s'", int(name.size()), name.data());
}

} // namespace vkai::jinja
