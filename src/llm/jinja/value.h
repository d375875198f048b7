// Values of the Jinja interpreter: Python-like dynamic values (None, bool, int, float, str, list, tuple,
// dict, namespace, callables) with Python semantics for printing, equality, ordering and truthiness.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vkai::jinja {

class Value;
using List = std::vector<Value>;
struct Dict;
struct Callable; // defined by the interpreter (internal.h): builtins, macros, bound methods

// iterator: what jinja2's generator filters (map, select, unique, items, reverse, ...) return: always
// true, no len(), not subscriptable, and used up by the first iteration, as in Python.
enum class Kind : uint8_t { undefined, none, boolean, integer, floating, string, list, dict, callable, iterator };

// Copies are cheap: strings, lists and dicts are shared (immutable once built, except namespaces,
// which templates change with {% set ns.x = ... %}, matching Python's reference semantics).
class Value {
public:
    Value() = default; // undefined (a name the context does not have)
    Value(bool b) : kind_(Kind::boolean), b_(b) {}
    Value(int v) : kind_(Kind::integer), i_(v) {}
    Value(int64_t v) : kind_(Kind::integer), i_(v) {}
    Value(double v) : kind_(Kind::floating), f_(v) {}
    Value(std::string s);
    Value(std::string_view s) : Value(std::string(s)) {}
    Value(const char* s) : Value(std::string(s)) {}

    static Value none();
    // hint: what jinja2 would say when the value is used ("'foo' is undefined").
    static Value undefined(std::string hint);
    static Value list(List items);
    static Value tuple(List items); // prints as (a, b); otherwise a list
    static Value dict(std::shared_ptr<Dict> d);
    static Value empty_dict();
    static Value callable(std::shared_ptr<const Callable> c);
    static Value markup(std::string s); // a string that escape() leaves alone
    // type: Python's name for it ("generator", "list_reverseiterator").
    static Value iterator(List items, const char* type);

    Kind kind() const { return kind_; }
    bool is_undefined() const { return kind_ == Kind::undefined; }
    bool is_none() const { return kind_ == Kind::none; }
    bool is_bool() const { return kind_ == Kind::boolean; }
    bool is_int() const { return kind_ == Kind::integer; }
    bool is_float() const { return kind_ == Kind::floating; }
    bool is_number() const { return kind_ == Kind::integer || kind_ == Kind::floating || kind_ == Kind::boolean; }
    bool is_string() const { return kind_ == Kind::string; }
    bool is_list() const { return kind_ == Kind::list; }
    bool is_tuple() const { return kind_ == Kind::list && tuple_; }
    bool is_dict() const { return kind_ == Kind::dict; }
    bool is_callable() const { return kind_ == Kind::callable; }
    bool is_markup() const { return kind_ == Kind::string && markup_; }
    bool is_iterator() const { return kind_ == Kind::iterator; }

    bool as_bool() const { return b_; }
    int64_t as_int() const { return kind_ == Kind::boolean ? int64_t(b_) : i_; }
    double as_float() const { return kind_ == Kind::floating ? f_ : double(as_int()); }
    const std::string& str() const;   // string (empty for other kinds)
    const List& items() const;        // list/tuple (empty for other kinds)
    const Dict& dict() const;         // dict (an empty one for other kinds)
    Dict& dict_mut() const;           // namespaces only (the interpreter checks)
    const Callable& fn() const;       // callable only
    const std::string& hint() const;  // undefined only; iterator: its Python type name
    List consume() const;             // iterator: its items the first time, then nothing
    const void* identity() const { return consumed_.get(); } // iterator: which one (Python 'is')

    // Nesting of containers (0 for scalars). A namespace counts as kNamespaceDepth whatever it holds,
    // and may only hold shallower values: so no namespace contains a namespace, values cannot form
    // cycles, and recursion over a value (printing, comparing, freeing) stays bounded.
    uint32_t depth() const { return depth_; }

    bool truthy() const; // Python bool(): 0, "", [], {}, None, undefined are false
    // Bytes the value itself holds (string bytes, or the item slots of a container, not what the
    // items point to): the unit of the interpreter's work and memory accounting.
    size_t approx_size() const;

private:
    Kind kind_ = Kind::undefined;
    bool tuple_ = false;
    bool markup_ = false;
    bool b_ = false;
    uint32_t depth_ = 0;
    int64_t i_ = 0;
    double f_ = 0;
    std::shared_ptr<const std::string> s_; // string, or the undefined hint
    std::shared_ptr<const List> l_;
    std::shared_ptr<Dict> d_;
    std::shared_ptr<const Callable> c_;
    std::shared_ptr<bool> consumed_;       // iterator
};

constexpr uint32_t kNamespaceDepth = 64;
constexpr uint32_t kMaxValueDepth = 1000; // the interpreter refuses to build deeper values

// An insertion-ordered dict (Python 3.7+ order: tojson and iteration keep the source order).
// Lookup is linear: template dicts are small.
struct Dict {
    std::vector<std::pair<Value, Value>> entries;
    bool is_namespace = false;

    const Value* find(const Value& key) const;
    const Value* find(std::string_view key) const;
    void set(Value key, Value value); // replaces in place or appends
    size_t size() const { return entries.size(); }
};

// Python semantics used across the interpreter.
bool equals(const Value& a, const Value& b); // ==: 1 == 1.0 == True; lists/dicts deep
// <: numbers with numbers, strings by code point, lists lexicographically; false plus ok=false when
// Python would raise TypeError.
bool less_than(const Value& a, const Value& b, bool& ok);
bool is_hashable(const Value& v); // usable as a dict key (no lists, dicts, namespaces)
const char* type_name(const Value& v); // Python's name: "str", "int", "list", "dict", ...

// Text of containers stops growing past this (a truncated text always exceeds the render limits,
// so it is rejected, never used): converting a huge value cannot exhaust memory.
constexpr size_t kMaxTextBytes = size_t(64) << 20;
std::string to_str(const Value& v);  // str(): what {{ v }} prints
std::string to_repr(const Value& v); // repr(): how str() of a list shows its items
std::string float_repr(double d);    // Python's shortest round-trip repr: 1.0, 0.1, 1e+16, nan, inf

struct JsonOptions {
    int indent = -1;                 // < 0: one line
    std::string item_sep = ", ";     // Python json.dumps separators
    std::string key_sep = ": ";
    bool ensure_ascii = false;       // transformers passes ensure_ascii=False
    bool sort_keys = false;
};
// json.dumps with the given options; false (and err set) for values JSON cannot hold (undefined,
// callables, non-string keys that Python would also reject).
bool to_json(const Value& v, const JsonOptions& opt, std::string& out, std::string& err, int depth = 0);

// Python str operations by code point (strings hold UTF-8; invalid bytes count as one code point).
size_t utf8_length(std::string_view s);
bool is_ascii(std::string_view s);
// Byte offsets of the code points of s (plus s.size() at the end): for indexing and slicing.
std::vector<size_t> utf8_offsets(std::string_view s);
bool is_py_space(uint32_t cp); // Python str.isspace()

} // namespace vkai::jinja
