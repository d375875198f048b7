// Python operators on Jinja values: arithmetic with Python's int/float rules (checked for overflow),
// membership, subscripts and slices by code point, attribute lookup, iteration and len().
#include "llm/jinja/internal.h"

#include <cmath>

namespace vkai::jinja {

namespace {

Status type_error(const char* op, const Value& a, const Value& b) {
    return fail(Code::invalid_argument, "unsupported operand type(s) for %s: '%s' and '%s'", op, type_name(a), type_name(b));
}

Result<Value> repeat(Interp& in, const Value& seq, int64_t n) {
    if (n <= 0) return seq.is_string() ? Value("") : seq.is_tuple() ? Value::tuple({}) : Value::list({});
    size_t unit = seq.is_string() ? seq.str().size() : seq.items().size() * sizeof(Value);
    if (unit && uint64_t(n) > uint64_t(SIZE_MAX / 2) / unit) return fail(Code::invalid_argument, "repetition too large");
    VKAI_TRY(in.check_size(unit * size_t(n)));
    VKAI_TRY(in.charge(unit * size_t(n) / 64));
    unit = seq.is_string() ? unit : seq.items().size();
    if (seq.is_string()) {
        std::string s;
        s.reserve(unit * size_t(n));
        for (int64_t i = 0; i < n; ++i) s += seq.str();
        return Value(std::move(s));
    }
    List l;
    l.reserve(unit * size_t(n));
    for (int64_t i = 0; i < n; ++i) l.insert(l.end(), seq.items().begin(), seq.items().end());
    return seq.is_tuple() ? Value::tuple(std::move(l)) : Value::list(std::move(l));
}

// Python's floor division and modulo (results take the divisor's sign).
int64_t floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

} // namespace

Result<Value> binary_op(Interp& in, ast::BinOp op, const Value& a, const Value& b) {
    using ast::BinOp;
    bool nums = a.is_number() && b.is_number();
    bool ints = nums && !a.is_float() && !b.is_float();
    switch (op) {
    case BinOp::add:
        if (ints) {
            int64_t r;
            if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) return fail(Code::invalid_argument, "integer overflow in +");
            return Value(r);
        }
        if (nums) return Value(a.as_float() + b.as_float());
        // Both operands passed the size limit, so the result is at most twice it; the interpreter
        // accounts for it (and rejects it if too large) right after.
        if (a.is_string() && b.is_string()) return Value(a.str() + b.str());
        if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
            List l = a.items();
            l.insert(l.end(), b.items().begin(), b.items().end());
            return a.is_tuple() ? Value::tuple(std::move(l)) : Value::list(std::move(l));
        }
        if (a.is_string())
            return fail(Code::invalid_argument, "can only concatenate str (not \"%s\") to str", type_name(b));
        if (a.is_list())
            return fail(Code::invalid_argument, "can only concatenate %s (not \"%s\") to %s", type_name(a), type_name(b), type_name(a));
        return type_error("+", a, b);
    case BinOp::sub:
        if (ints) {
            int64_t r;
            if (__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) return fail(Code::invalid_argument, "integer overflow in -");
            return Value(r);
        }
        if (nums) return Value(a.as_float() - b.as_float());
        return type_error("-", a, b);
    case BinOp::mul:
        if (ints) {
            int64_t r;
            if (__builtin_mul_overflow(a.as_int(), b.as_int(), &r)) return fail(Code::invalid_argument, "integer overflow in *");
            return Value(r);
        }
        if (nums) return Value(a.as_float() * b.as_float());
        if ((a.is_string() || a.is_list()) && b.is_number() && !b.is_float()) return repeat(in, a, b.as_int());
        if ((b.is_string() || b.is_list()) && a.is_number() && !a.is_float()) return repeat(in, b, a.as_int());
        return type_error("*", a, b);
    case BinOp::div:
        if (!nums) return type_error("/", a, b);
        if (b.as_float() == 0) return fail(Code::invalid_argument, "division by zero");
        return Value(a.as_float() / b.as_float());
    case BinOp::floordiv:
        if (!nums) return type_error("//", a, b);
        if (ints) {
            if (b.as_int() == 0) return fail(Code::invalid_argument, "integer division or modulo by zero");
            if (a.as_int() == INT64_MIN && b.as_int() == -1) return fail(Code::invalid_argument, "integer overflow in //");
            return Value(floordiv(a.as_int(), b.as_int()));
        }
        if (b.as_float() == 0) return fail(Code::invalid_argument, "float floor division by zero");
        return Value(std::floor(a.as_float() / b.as_float()));
    case BinOp::mod:
        if (a.is_string()) return percent_format(in, a.str(), b);
        if (!nums) return type_error("%", a, b);
        if (ints) {
            if (b.as_int() == 0) return fail(Code::invalid_argument, "integer division or modulo by zero");
            if (b.as_int() == -1) return Value(int64_t(0));
            int64_t r = a.as_int() % b.as_int();
            if (r != 0 && ((r < 0) != (b.as_int() < 0))) r += b.as_int();
            return Value(r);
        }
        if (b.as_float() == 0) return fail(Code::invalid_argument, "float modulo");
        {
            double r = std::fmod(a.as_float(), b.as_float());
            if (r != 0 && ((r < 0) != (b.as_float() < 0))) r += b.as_float();
            return Value(r);
        }
    case BinOp::pow:
        if (!nums) return type_error("** or pow()", a, b);
        if (ints && b.as_int() >= 0) {
            int64_t base = a.as_int(), e = b.as_int(), r = 1;
            while (e > 0) {
                if (e & 1) {
                    if (__builtin_mul_overflow(r, base, &r)) return fail(Code::invalid_argument, "integer overflow in **");
                }
                e >>= 1;
                if (e > 0 && __builtin_mul_overflow(base, base, &base)) return fail(Code::invalid_argument, "integer overflow in **");
            }
            return Value(r);
        }
        if (a.as_float() == 0 && b.as_float() < 0) return fail(Code::invalid_argument, "0.0 cannot be raised to a negative power");
        return Value(std::pow(a.as_float(), b.as_float()));
    }
    return Value();
}

Result<bool> contains(Interp& in, const Value& container, const Value& item) {
    VKAI_TRY(in.charge(container.approx_size() / 64));
    switch (container.kind()) {
    case Kind::undefined: return false; // iterating an undefined value yields nothing
    case Kind::iterator:
        for (const Value& v : container.consume())
            if (equals(v, item)) return true;
        return false;
    case Kind::string:
        if (!item.is_string())
            return fail(Code::invalid_argument, "'in <string>' requires string as left operand, not %s", type_name(item));
        return container.str().find(item.str()) != std::string::npos;
    case Kind::list:
        for (const Value& v : container.items())
            if (equals(v, item)) return true;
        return false;
    case Kind::dict:
        if (container.dict().is_namespace) break;
        if (!is_hashable(item)) return fail(Code::invalid_argument, "unhashable type: '%s'", type_name(item));
        return container.dict().find(item) != nullptr;
    default: break;
    }
    return fail(Code::invalid_argument, "argument of type '%s' is not iterable", type_name(container));
}

namespace {

// Python index normalization: negative counts from the end; false when out of range.
bool norm_index(int64_t i, size_t n, size_t& out) {
    if (i < 0) i += int64_t(n);
    if (i < 0 || uint64_t(i) >= n) return false;
    out = size_t(i);
    return true;
}

} // namespace

Value get_attr(const Value& obj, std::string_view name) {
    // jinja2 tries Python attributes first (so d.items is the method), then items (d.key).
    Value m = get_method(obj, name);
    if (!m.is_undefined()) return m;
    if (obj.is_dict()) {
        if (const Value* v = obj.dict().find(name)) return *v;
    }
    return Value::undefined("'" + std::string(type_name(obj)) + " object' has no attribute '" + std::string(name) + "'");
}

Result<Value> get_item(const Value& obj, const Value& key) {
    if (obj.is_dict() && !obj.dict().is_namespace) {
        if (!is_hashable(key)) return fail(Code::invalid_argument, "unhashable type: '%s'", type_name(key));
        if (const Value* v = obj.dict().find(key)) return *v;
    } else if ((obj.is_list() || obj.is_string()) && key.is_number() && !key.is_float()) {
        size_t i = 0;
        if (obj.is_list()) {
            if (norm_index(key.as_int(), obj.items().size(), i)) return obj.items()[i];
        } else if (is_ascii(obj.str())) {
            if (norm_index(key.as_int(), obj.str().size(), i)) return Value(obj.str().substr(i, 1));
        } else {
            auto off = utf8_offsets(obj.str());
            if (norm_index(key.as_int(), off.size() - 1, i)) return Value(obj.str().substr(off[i], off[i + 1] - off[i]));
        }
        return Value::undefined(std::string(type_name(obj)) + " object has no element " + std::to_string(key.as_int()));
    }
    if (key.is_string()) return get_attr(obj, key.str()); // jinja2 falls back to attributes for string keys
    return Value::undefined("'" + std::string(type_name(obj)) + " object' has no attribute " + to_repr(key));
}

Result<Value> slice(Interp& in, const Value& obj, const Value& start, const Value& stop, const Value& step) {
    auto as_index = [](const Value& v, bool& present, int64_t& out) -> Status {
        present = !(v.is_undefined() || v.is_none());
        if (!present) return Status();
        if (!v.is_number() || v.is_float())
            return fail(Code::invalid_argument, "slice indices must be integers or None, not %s", type_name(v));
        out = v.as_int();
        return Status();
    };
    bool has_start, has_stop, has_step;
    int64_t a = 0, b = 0, st = 1;
    VKAI_TRY(as_index(start, has_start, a));
    VKAI_TRY(as_index(stop, has_stop, b));
    VKAI_TRY(as_index(step, has_step, st));
    if (!has_step) st = 1;
    if (st == 0) return fail(Code::invalid_argument, "slice step cannot be zero");
    // jinja2 compiles slices to a plain Python subscript, so slicing a non-sequence is an error.
    if (!obj.is_list() && !obj.is_string()) return fail(Code::invalid_argument, "'%s' object is not subscriptable", type_name(obj));
    std::vector<size_t> off;
    bool ascii = obj.is_string() && is_ascii(obj.str());
    if (obj.is_string() && !ascii) off = utf8_offsets(obj.str());
    int64_t n = obj.is_list() ? int64_t(obj.items().size()) : ascii ? int64_t(obj.str().size()) : int64_t(off.size() - 1);
    // Python's slice.indices()
    auto clamp = [&](bool present, int64_t v, int64_t def) {
        if (!present) return def;
        if (v < 0) {
            v += n;
            if (v < 0) v = st < 0 ? -1 : 0;
        } else if (v >= n) {
            v = st < 0 ? n - 1 : n;
        }
        return v;
    };
    int64_t lo = clamp(has_start, a, st < 0 ? n - 1 : 0);
    int64_t hi = clamp(has_stop, b, st < 0 ? -1 : n);
    std::vector<size_t> idx;
    for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st) idx.push_back(size_t(i));
    VKAI_TRY(in.charge(idx.size() / 16));
    if (obj.is_list()) {
        List l;
        l.reserve(idx.size());
        for (size_t i : idx) l.push_back(obj.items()[i]);
        return obj.is_tuple() ? Value::tuple(std::move(l)) : Value::list(std::move(l));
    }
    const std::string& s = obj.str();
    if (ascii && st == 1) return Value(idx.empty() ? std::string() : s.substr(idx.front(), idx.size()));
    std::string out;
    for (size_t i : idx) {
        if (ascii) out += s[i];
        else out.append(s, off[i], off[i + 1] - off[i]);
    }
    return Value(std::move(out));
}

Result<List> iterate(Interp& in, const Value& v) {
    switch (v.kind()) {
    case Kind::undefined: return List{};
    case Kind::list: return v.items();
    case Kind::iterator: return v.consume();
    case Kind::dict: {
        if (v.dict().is_namespace) break;
        List keys;
        keys.reserve(v.dict().size());
        for (const auto& e : v.dict().entries) keys.push_back(e.first);
        return keys;
    }
    case Kind::string: {
        const std::string& s = v.str();
        VKAI_TRY(in.charge(s.size() / 16));
        VKAI_TRY(in.check_items(utf8_length(s)));
        List chars;
        auto off = utf8_offsets(s);
        chars.reserve(off.size());
        for (size_t i = 0; i + 1 < off.size(); ++i) chars.emplace_back(s.substr(off[i], off[i + 1] - off[i]));
        return chars;
    }
    default: break;
    }
    return fail(Code::invalid_argument, "'%s' object is not iterable", type_name(v));
}

Result<int64_t> length(const Value& v) {
    switch (v.kind()) {
    case Kind::undefined: return int64_t(0);
    case Kind::string: return int64_t(utf8_length(v.str()));
    case Kind::list: return int64_t(v.items().size());
    case Kind::dict:
        if (v.dict().is_namespace) break;
        return int64_t(v.dict().size());
    default: break;
    }
    return fail(Code::invalid_argument, "object of type '%s' has no len()", type_name(v));
}

} // namespace vkai::jinja
