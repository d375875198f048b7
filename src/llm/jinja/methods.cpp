// Python methods templates call on values (str.strip, str.split, dict.items, ...) and the global
// functions of transformers' chat-template environment (range, dict, namespace, raise_exception,
// strftime_now). The sandbox's rule holds: nothing here mutates a list or dict.
#include "llm/jinja/internal.h"
#include "llm/unicode.h"

#include <cmath>
#include <cstring>
#include <ctime>
#include <iterator>

namespace vkai::jinja {

namespace {

Status need_str(const Value* v, const char* what) {
    if (!v || !v->is_string()) return fail(Code::invalid_argument, "%s must be a str, not %s", what, v ? type_name(*v) : "nothing");
    return Status();
}

// Byte offset to code point index (Python indexes strings by code point).
int64_t cp_index(std::string_view s, size_t byte) { return int64_t(utf8_length(s.substr(0, byte))); }

// ---- str ----

Result<Value> m_strip(Interp&, const Value& self, Args& a) { return Value(py_strip(self.str(), a.get(0, "chars"), true, true)); }
Result<Value> m_lstrip(Interp&, const Value& self, Args& a) { return Value(py_strip(self.str(), a.get(0, "chars"), true, false)); }
Result<Value> m_rstrip(Interp&, const Value& self, Args& a) { return Value(py_strip(self.str(), a.get(0, "chars"), false, true)); }
Result<Value> m_upper(Interp&, const Value& self, Args&) { return Value(py_upper(self.str())); }
Result<Value> m_lower(Interp&, const Value& self, Args&) { return Value(py_lower(self.str())); }
Result<Value> m_title(Interp&, const Value& self, Args&) { return Value(py_title(self.str())); }
Result<Value> m_capitalize(Interp&, const Value& self, Args&) { return Value(py_capitalize(self.str())); }

Result<Value> split_impl(Interp& in, const Value& self, Args& a, bool from_right) {
    const std::string& s = self.str();
    const Value* sep = a.get(0, "sep");
    const Value* maxv = a.get(1, "maxsplit");
    int64_t maxsplit = maxv && maxv->is_number() ? maxv->as_int() : -1;
    VKAI_TRY(in.charge(s.size() / 16));
    std::vector<std::string> parts;
    if (!sep || sep->is_none()) {
        // Runs of whitespace separate; leading and trailing whitespace give no empty parts.
        std::vector<std::pair<size_t, size_t>> words; // byte ranges
        size_t i = 0, start = std::string::npos;
        while (i < s.size()) {
            size_t j = i;
            uint32_t cp = unicode::decode(s, j);
            bool sp = cp != unicode::kInvalid && is_py_space(cp);
            if (!sp && start == std::string::npos) start = i;
            if (sp && start != std::string::npos) {
                words.emplace_back(start, i);
                start = std::string::npos;
            }
            i = j;
        }
        if (start != std::string::npos) words.emplace_back(start, s.size());
        if (maxsplit < 0 || size_t(maxsplit) >= words.size()) {
            for (auto& w : words) parts.push_back(s.substr(w.first, w.second - w.first));
        } else if (!from_right) {
            for (int64_t k = 0; k < maxsplit; ++k) parts.push_back(s.substr(words[size_t(k)].first, words[size_t(k)].second - words[size_t(k)].first));
            parts.push_back(s.substr(words[size_t(maxsplit)].first)); // the rest keeps its trailing space
        } else {
            size_t keep = words.size() - size_t(maxsplit);
            parts.push_back(s.substr(0, words[keep - 1].second)); // the head keeps its leading space
            for (size_t k = keep; k < words.size(); ++k) parts.push_back(s.substr(words[k].first, words[k].second - words[k].first));
        }
    } else {
        VKAI_TRY(need_str(sep, "separator"));
        const std::string& d = sep->str();
        if (d.empty()) return fail(Code::invalid_argument, "empty separator");
        std::vector<size_t> hits;
        for (size_t p = s.find(d); p != std::string::npos; p = s.find(d, p + d.size())) hits.push_back(p);
        if (maxsplit >= 0 && size_t(maxsplit) < hits.size()) {
            if (from_right) hits.erase(hits.begin(), hits.end() - maxsplit);
            else hits.resize(size_t(maxsplit));
        }
        size_t pos = 0;
        for (size_t h : hits) {
            parts.push_back(s.substr(pos, h - pos));
            pos = h + d.size();
        }
        parts.push_back(s.substr(pos));
    }
    VKAI_TRY(in.check_items(parts.size()));
    List out;
    out.reserve(parts.size());
    for (auto& p : parts) out.emplace_back(std::move(p));
    return Value::list(std::move(out));
}

Result<Value> m_split(Interp& in, const Value& self, Args& a) { return split_impl(in, self, a, false); }
Result<Value> m_rsplit(Interp& in, const Value& self, Args& a) { return split_impl(in, self, a, true); }

Result<Value> m_splitlines(Interp&, const Value& self, Args& a) {
    const Value* keep = a.get(0, "keepends");
    bool keepends = keep && keep->truthy();
    const std::string& s = self.str();
    List out;
    size_t start = 0;
    for (size_t i = 0; i < s.size();) {
        size_t j = i;
        uint32_t cp = unicode::decode(s, j);
        bool br = cp == '\n' || cp == '\r' || cp == 0x0b || cp == 0x0c || (cp >= 0x1c && cp <= 0x1e) || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
        if (br) {
            if (cp == '\r' && j < s.size() && s[j] == '\n') ++j;
            out.emplace_back(s.substr(start, (keepends ? j : i) - start));
            start = j;
        }
        i = j;
    }
    if (start < s.size()) out.emplace_back(s.substr(start));
    return Value::list(std::move(out));
}

Result<Value> affix_impl(const Value& self, Args& a, bool starts) {
    const Value* p = a.get(0, starts ? "prefix" : "suffix");
    if (!p) return fail(Code::invalid_argument, "%s() takes at least 1 argument", starts ? "startswith" : "endswith");
    std::string_view s = self.str();
    const Value* startv = a.get(1, "start");
    if (startv && startv->is_number()) {
        int64_t st = startv->as_int();
        auto off = utf8_offsets(s);
        int64_t n = int64_t(off.size()) - 1;
        if (st < 0) st = std::max<int64_t>(0, st + n);
        if (st > n) return Value(false);
        s = s.substr(off[size_t(st)]);
    }
    auto test = [&](const Value& x) -> Result<bool> {
        if (!x.is_string()) return fail(Code::invalid_argument, "%s first arg must be str or a tuple of str, not %s", starts ? "startswith" : "endswith", type_name(x));
        const std::string& t = x.str();
        if (t.size() > s.size()) return false;
        return starts ? s.compare(0, t.size(), t) == 0 : s.compare(s.size() - t.size(), t.size(), t) == 0;
    };
    if (p->is_list()) {
        for (const Value& x : p->items()) {
            VKAI_ASSIGN_OR_RETURN(bool ok, test(x));
            if (ok) return Value(true);
        }
        return Value(false);
    }
    VKAI_ASSIGN_OR_RETURN(bool ok, test(*p));
    return Value(ok);
}

Result<Value> m_startswith(Interp&, const Value& self, Args& a) { return affix_impl(self, a, true); }
Result<Value> m_endswith(Interp&, const Value& self, Args& a) { return affix_impl(self, a, false); }

Result<Value> m_replace(Interp& in, const Value& self, Args& a) {
    const Value* o = a.get(0, "old");
    const Value* n = a.get(1, "new");
    VKAI_TRY(need_str(o, "replace() argument 1"));
    VKAI_TRY(need_str(n, "replace() argument 2"));
    const Value* c = a.get(2, "count");
    int64_t count = c && c->is_number() ? c->as_int() : -1;
    const std::string& s = self.str();
    const std::string& from = o->str();
    const std::string& to = n->str();
    std::string out;
    int64_t done = 0;
    if (from.empty()) { // Python inserts between every code point
        auto off = utf8_offsets(s);
        for (size_t i = 0; i + 1 < off.size() + 1; ++i) {
            if (count < 0 || done < count) {
                out += to;
                ++done;
            }
            if (i + 1 < off.size()) out.append(s, off[i], off[i + 1] - off[i]);
            VKAI_TRY(in.check_size(out.size()));
        }
        return Value(std::move(out));
    }
    size_t pos = 0;
    for (size_t h = s.find(from); h != std::string::npos && (count < 0 || done < count); h = s.find(from, pos)) {
        out.append(s, pos, h - pos);
        out += to;
        pos = h + from.size();
        ++done;
        VKAI_TRY(in.check_size(out.size()));
    }
    out.append(s, pos, std::string::npos);
    VKAI_TRY(in.charge(out.size() / 64));
    return Value(std::move(out));
}

Result<Value> m_count(Interp&, const Value& self, Args& a) {
    if (self.is_list()) {
        const Value* x = a.get(0, "value");
        int64_t n = 0;
        for (const Value& v : self.items())
            if (x && equals(v, *x)) ++n;
        return Value(n);
    }
    const Value* sub = a.get(0, "sub");
    VKAI_TRY(need_str(sub, "count() argument"));
    const std::string& s = self.str();
    if (sub->str().empty()) return Value(int64_t(utf8_length(s)) + 1);
    int64_t n = 0;
    for (size_t p = s.find(sub->str()); p != std::string::npos; p = s.find(sub->str(), p + sub->str().size())) ++n;
    return Value(n);
}

Result<Value> find_impl(const Value& self, Args& a, bool from_right, bool raise) {
    const Value* sub = a.get(0, "sub");
    VKAI_TRY(need_str(sub, "find() argument"));
    const std::string& s = self.str();
    size_t p = from_right ? s.rfind(sub->str()) : s.find(sub->str());
    if (p == std::string::npos) {
        if (raise) return fail(Code::invalid_argument, "substring not found");
        return Value(int64_t(-1));
    }
    return Value(cp_index(s, p));
}

Result<Value> m_find(Interp&, const Value& self, Args& a) { return find_impl(self, a, false, false); }
Result<Value> m_rfind(Interp&, const Value& self, Args& a) { return find_impl(self, a, true, false); }

Result<Value> m_index(Interp&, const Value& self, Args& a) {
    if (self.is_list()) {
        const Value* x = a.get(0, "value");
        for (size_t i = 0; x && i < self.items().size(); ++i)
            if (equals(self.items()[i], *x)) return Value(int64_t(i));
        return fail(Code::invalid_argument, "%s is not in list", x ? to_repr(*x).c_str() : "value");
    }
    return find_impl(self, a, false, true);
}

Result<Value> m_join(Interp& in, const Value& self, Args& a) {
    const Value* seq = a.get(0, "iterable");
    if (!seq) return fail(Code::invalid_argument, "join() takes exactly one argument");
    VKAI_ASSIGN_OR_RETURN(List items, iterate(in, *seq));
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
        if (!items[i].is_string())
            return fail(Code::invalid_argument, "sequence item %zu: expected str instance, %s found", i, type_name(items[i]));
        if (i) out += self.str();
        out += items[i].str();
        VKAI_TRY(in.check_size(out.size()));
    }
    return Value(std::move(out));
}

template <bool (*Pred)(uint32_t)>
Result<Value> m_is(Interp&, const Value& self, Args&) {
    const std::string& s = self.str();
    if (s.empty()) return Value(false);
    for (size_t i = 0; i < s.size();)
        if (!Pred(unicode::decode(s, i))) return Value(false);
    return Value(true);
}

bool cp_digit(uint32_t c) { return c >= '0' && c <= '9'; }
bool cp_alpha(uint32_t c) { return c >= 0x80 ? unicode::category(c) == unicode::Cat::letter : ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); }
bool cp_alnum(uint32_t c) { return cp_digit(c) || cp_alpha(c); }
bool cp_space(uint32_t c) { return c != unicode::kInvalid && is_py_space(c); }

Result<Value> case_test(const Value& self, bool upper) {
    bool cased = false;
    for (unsigned char c : self.str()) {
        if (c >= 'a' && c <= 'z') {
            if (upper) return Value(false);
            cased = true;
        } else if (c >= 'A' && c <= 'Z') {
            if (!upper) return Value(false);
            cased = true;
        }
    }
    return Value(cased);
}

Result<Value> m_isupper(Interp&, const Value& self, Args&) { return case_test(self, true); }
Result<Value> m_islower(Interp&, const Value& self, Args&) { return case_test(self, false); }

Result<Value> m_removeprefix(Interp&, const Value& self, Args& a) {
    const Value* p = a.get(0, "prefix");
    VKAI_TRY(need_str(p, "removeprefix() argument"));
    const std::string& s = self.str();
    return s.compare(0, p->str().size(), p->str()) == 0 ? Value(s.substr(p->str().size())) : self;
}

Result<Value> m_removesuffix(Interp&, const Value& self, Args& a) {
    const Value* p = a.get(0, "suffix");
    VKAI_TRY(need_str(p, "removesuffix() argument"));
    const std::string& s = self.str();
    size_t n = p->str().size();
    return !p->str().empty() && s.size() >= n && s.compare(s.size() - n, n, p->str()) == 0 ? Value(s.substr(0, s.size() - n)) : self;
}

// str.format with {}, {0} and {name} fields and !s/!r conversions; format specs are not supported.
Result<Value> m_format(Interp& in, const Value& self, Args& a) {
    const std::string& f = self.str();
    std::string out;
    size_t auto_idx = 0;
    for (size_t i = 0; i < f.size(); ++i) {
        char c = f[i];
        if (c == '}') {
            if (i + 1 < f.size() && f[i + 1] == '}') ++i;
            else return fail(Code::invalid_argument, "Single '}' encountered in format string");
            out += '}';
            continue;
        }
        if (c != '{') {
            out += c;
            continue;
        }
        if (i + 1 < f.size() && f[i + 1] == '{') {
            out += '{';
            ++i;
            continue;
        }
        size_t end = f.find('}', i);
        if (end == std::string::npos) return fail(Code::invalid_argument, "Single '{' encountered in format string");
        std::string field = f.substr(i + 1, end - i - 1);
        i = end;
        bool repr = false;
        if (size_t bang = field.find('!'); bang != std::string::npos) {
            repr = field.substr(bang + 1) == "r";
            field.resize(bang);
        }
        if (field.find(':') != std::string::npos) return fail(Code::unsupported, "format specs in str.format are not supported");
        const Value* v = nullptr;
        if (field.empty()) v = auto_idx < a.pos.size() ? &a.pos[auto_idx++] : nullptr;
        else if (field.find_first_not_of("0123456789") == std::string::npos) {
            size_t k = std::strtoul(field.c_str(), nullptr, 10);
            v = k < a.pos.size() ? &a.pos[k] : nullptr;
        } else v = a.kwarg(field);
        if (!v) return fail(Code::invalid_argument, "format field '%s' has no value", field.c_str());
        out += repr ? to_repr(*v) : to_str(*v);
        VKAI_TRY(in.check_size(out.size()));
    }
    return Value(std::move(out));
}

// ---- dict ----

Result<Value> m_get(Interp&, const Value& self, Args& a) {
    const Value* k = a.get(0, "key");
    if (!k) return fail(Code::invalid_argument, "get expected at least 1 argument, got 0");
    if (!is_hashable(*k)) return fail(Code::invalid_argument, "unhashable type: '%s'", type_name(*k));
    if (const Value* v = self.dict().find(*k)) return *v;
    const Value* d = a.get(1, "default");
    return d ? *d : Value::none();
}

Result<Value> m_items(Interp&, const Value& self, Args&) {
    List out;
    for (const auto& e : self.dict().entries) out.push_back(Value::tuple({e.first, e.second}));
    return Value::list(std::move(out));
}

Result<Value> m_keys(Interp&, const Value& self, Args&) {
    List out;
    for (const auto& e : self.dict().entries) out.push_back(e.first);
    return Value::list(std::move(out));
}

Result<Value> m_values(Interp&, const Value& self, Args&) {
    List out;
    for (const auto& e : self.dict().entries) out.push_back(e.second);
    return Value::list(std::move(out));
}

struct MethodEntry {
    const char* name;
    BuiltinFn fn;
};

const MethodEntry kStrMethods[] = {
    {"strip", m_strip}, {"lstrip", m_lstrip}, {"rstrip", m_rstrip}, {"split", m_split}, {"rsplit", m_rsplit},
    {"splitlines", m_splitlines}, {"startswith", m_startswith}, {"endswith", m_endswith}, {"replace", m_replace},
    {"upper", m_upper}, {"lower", m_lower}, {"title", m_title}, {"capitalize", m_capitalize}, {"count", m_count},
    {"find", m_find}, {"rfind", m_rfind}, {"index", m_index}, {"join", m_join}, {"isdigit", m_is<cp_digit>},
    {"isalpha", m_is<cp_alpha>}, {"isalnum", m_is<cp_alnum>}, {"isspace", m_is<cp_space>}, {"isupper", m_isupper},
    {"islower", m_islower}, {"removeprefix", m_removeprefix}, {"removesuffix", m_removesuffix}, {"format", m_format},
};
const MethodEntry kDictMethods[] = {{"get", m_get}, {"items", m_items}, {"keys", m_keys}, {"values", m_values}};
const MethodEntry kListMethods[] = {{"index", m_index}, {"count", m_count}};

// ---- globals ----

Result<Value> g_range(Interp& in, const Value&, Args& a) {
    int64_t v[3] = {0, 0, 1};
    if (a.pos.empty() || a.pos.size() > 3) return fail(Code::invalid_argument, "range expected 1 to 3 arguments, got %zu", a.pos.size());
    for (const Value& x : a.pos)
        if (!x.is_number() || x.is_float()) return fail(Code::invalid_argument, "'%s' object cannot be interpreted as an integer", type_name(x));
    if (a.pos.size() == 1) v[1] = a.pos[0].as_int();
    else for (size_t i = 0; i < a.pos.size(); ++i) v[i] = a.pos[i].as_int();
    if (v[2] == 0) return fail(Code::invalid_argument, "range() arg 3 must not be zero");
    // Computed in double so huge bounds cannot overflow; the sandbox caps ranges at 100000 items.
    double n = std::ceil((double(v[1]) - double(v[0])) / double(v[2]));
    if (n > 100000) return fail(Code::invalid_argument, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    List out;
    for (int64_t i = v[0]; v[2] > 0 ? i < v[1] : i > v[1]; i += v[2]) out.emplace_back(i);
    VKAI_TRY(in.charge(out.size() / 16));
    return Value::list(std::move(out));
}

Status fill_dict(Interp& in, Dict& d, Args& a, const char* fn) {
    if (a.pos.size() > 1) return fail(Code::invalid_argument, "%s expected at most 1 positional argument, got %zu", fn, a.pos.size());
    if (!a.pos.empty()) {
        const Value& src = a.pos[0];
        if (src.is_dict()) {
            VKAI_TRY(in.charge(src.dict().size() / 16));
            d.entries = src.dict().entries; // d is still empty: the keys are distinct already
        } else if (src.is_list()) {
            for (const Value& p : src.items()) {
                VKAI_TRY(in.charge(1 + d.size() / 32)); // Dict::set is linear
                if (!p.is_list() || p.items().size() != 2) return fail(Code::invalid_argument, "%s needs (key, value) pairs", fn);
                if (!is_hashable(p.items()[0])) return fail(Code::invalid_argument, "unhashable type: '%s'", type_name(p.items()[0]));
                d.set(p.items()[0], p.items()[1]);
            }
        } else if (!src.is_undefined()) {
            return fail(Code::invalid_argument, "'%s' object is not iterable", type_name(src));
        }
    }
    for (auto& kv : a.kw) d.set(Value(kv.first), kv.second);
    return Status();
}

Result<Value> g_dict(Interp& in, const Value&, Args& a) {
    auto d = std::make_shared<Dict>();
    VKAI_TRY(fill_dict(in, *d, a, "dict"));
    return Value::dict(std::move(d));
}

Result<Value> g_namespace(Interp& in, const Value&, Args& a) {
    auto d = std::make_shared<Dict>();
    d->is_namespace = true;
    VKAI_TRY(fill_dict(in, *d, a, "namespace"));
    for (const auto& e : d->entries)
        if (e.second.depth() >= kNamespaceDepth)
            return fail(Code::invalid_argument, "values stored in a namespace may nest at most %u levels (no namespaces)", kNamespaceDepth - 1);
    return Value::dict(std::move(d));
}

Result<Value> g_raise(Interp&, const Value&, Args& a) {
    std::string msg = a.pos.empty() ? std::string() : to_str(a.pos[0]);
    return Status(Code::invalid_argument, kRaisedPrefix + msg);
}

Result<Value> g_strftime_now(Interp& in, const Value&, Args& a) {
    const Value* f = a.get(0, "format");
    if (!f || !f->is_string()) return fail(Code::invalid_argument, "strftime_now() needs a format string");
    if (f->str().size() > 256) return fail(Code::invalid_argument, "strftime_now() format longer than 256 bytes");
    std::time_t t = in.now() >= 0 ? std::time_t(in.now()) : std::time(nullptr);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[4096];
    std::string fmt = f->str() + "\x01"; // a sentinel tells an empty result from a too small buffer
    size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
    if (n == 0) return fail(Code::invalid_argument, "strftime_now(): result too long");
    return Value(std::string(buf, n - 1));
}

struct GlobalEntry {
    const char* name;
    BuiltinFn fn;
};

const GlobalEntry kGlobals[] = {{"range", g_range}, {"dict", g_dict}, {"namespace", g_namespace},
                                {"raise_exception", g_raise}, {"strftime_now", g_strftime_now}};

Value make_callable(Callable::Type type, const char* name, BuiltinFn fn, const Value& self) {
    auto c = std::make_shared<Callable>();
    c->type = type;
    c->name = name;
    c->fn = fn;
    c->self = self;
    return Value::callable(std::move(c));
}

} // namespace

Value get_method(const Value& obj, std::string_view name) {
    const MethodEntry* begin = nullptr;
    size_t n = 0;
    if (obj.is_string()) {
        begin = kStrMethods;
        n = std::size(kStrMethods);
    } else if (obj.is_dict() && !obj.dict().is_namespace) {
        begin = kDictMethods;
        n = std::size(kDictMethods);
    } else if (obj.is_list()) {
        begin = kListMethods;
        n = std::size(kListMethods);
    }
    for (size_t i = 0; i < n; ++i)
        if (name == begin[i].name) return make_callable(Callable::Type::method, begin[i].name, begin[i].fn, obj);
    return Value();
}

Value global_function(std::string_view name) {
    for (const auto& g : kGlobals)
        if (name == g.name) return make_callable(Callable::Type::builtin, g.name, g.fn, Value());
    return Value();
}

} // namespace vkai::jinja
