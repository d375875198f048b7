// Declarations shared by the lexer, parser, interpreter and builtins of the Jinja engine (not part of
// the public interface: include llm/jinja/jinja.h instead).
#pragma once

#include "base/status.h"
#include "llm/jinja/ast.h"
#include "llm/jinja/jinja.h"
#include "llm/jinja/value.h"

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vkai::jinja {

constexpr int kMaxJsonDepth = 256;

// ---- lexer ----

enum class Tok : uint8_t {
    data,        // template text
    var_begin,   // {{
    var_end,     // }}
    block_begin, // {%
    block_end,   // %}
    name,
    string,
    integer,
    floating,
    op,          // operators and punctuation: + - * / // % ** ~ == != < <= > >= = . : | , ( ) [ ] { }
    eof,
};

struct Token {
    Tok type;
    int line;
    std::string text; // data, name, operator, decoded string literal
    int64_t i = 0;
    double f = 0;
};

Result<std::vector<Token>> lex(std::string_view src, const Options& opt);

// ---- parser ----

Result<std::shared_ptr<ast::Program>> parse_tokens(std::vector<Token> tokens, uint32_t max_depth);

// ---- interpreter ----

struct Args {
    std::vector<Value> pos;
    std::vector<std::pair<std::string, Value>> kw;
    const Value* kwarg(std::string_view name) const;
    // Positional i, else keyword name, else null.
    const Value* get(size_t i, std::string_view name) const;
};

class Interp;
using BuiltinFn = Result<Value> (*)(Interp& in, const Value& self, Args& args);

struct Scope {
    std::shared_ptr<Scope> parent;
    std::vector<std::pair<std::string, Value>> vars;
    const Value* find(std::string_view name) const;
    void set(const std::string& name, Value v);
};

struct Callable {
    enum class Type : uint8_t { builtin, macro, caller, method };
    Type type = Type::builtin;
    std::string name;
    BuiltinFn fn = nullptr;                      // builtin, method
    Value self;                                  // method: the receiver
    const ast::Stmt* def = nullptr;              // macro, caller: the definition
    std::shared_ptr<Scope> scope;                // caller: the scope at the call site
    std::shared_ptr<const ast::Program> program; // keeps def alive
};

std::string callable_repr(const Callable& c);

class Interp {
public:
    Interp(std::shared_ptr<const ast::Program> prog, const Limits& lim, int64_t now_unix);
    Result<std::string> run(const Value& context);

    // Work accounting for builtins: every call costs a step; n more for O(n) work.
    Status charge(uint64_t n);
    // Before (or while) building a string of n bytes or a list of n items: against max_value_bytes.
    Status check_size(size_t bytes) const;
    Status check_items(size_t n) const { return check_size(n * sizeof(Value)); }
    // After a builtin or operator produced v: its size counts as work and towards max_alloc_bytes.
    Status account(const Value& v);
    Status add_alloc(size_t bytes);
    Result<Value> call(const Value& fn, Args& args, int line);
    int64_t now() const { return now_; }

private:
    friend struct InterpAccess;
    Status exec_body(const ast::Body& body, const std::shared_ptr<Scope>& scope);
    Status exec(const ast::Stmt& s, const std::shared_ptr<Scope>& scope);
    Status exec_for(const ast::Stmt& s, const std::shared_ptr<Scope>& scope);
    Status exec_set(const ast::Stmt& s, const std::shared_ptr<Scope>& scope);
    Result<Value> eval(const ast::Expr& e, const std::shared_ptr<Scope>& scope);
    Result<Value> eval_node(const ast::Expr& e, const std::shared_ptr<Scope>& scope);
    Result<Value> eval_call(const ast::Expr& e, const std::shared_ptr<Scope>& scope);
    Result<Value> eval_filter(const ast::Expr& e, const std::shared_ptr<Scope>& scope, const Value* base);
    Result<Value> eval_compare(const ast::Expr& e, const std::shared_ptr<Scope>& scope);
    Status eval_args(const ast::Expr& e, size_t first, const std::shared_ptr<Scope>& scope, Args& out);
    Result<Value> call_macro(const Callable& c, Args& args, int line);
    Result<std::string> capture(const ast::Body& body, const std::shared_ptr<Scope>& scope);
    Status emit(std::string_view s);
    Value lookup(std::string_view name, const std::shared_ptr<Scope>& scope) const;

    std::shared_ptr<const ast::Program> prog_;
    Limits lim_;
    int64_t now_;
    std::shared_ptr<Scope> root_;
    std::string* out_ = nullptr;
    uint64_t steps_ = 0;
    uint64_t iterations_ = 0;
    uint64_t allocated_ = 0;
    uint32_t depth_ = 0;
    enum class Flow : uint8_t { normal, break_, continue_ } flow_ = Flow::normal;
    std::chrono::steady_clock::time_point start_;
};

// ---- builtins (builtins.cpp, filters.cpp) ----

// Errors from these carry no line: the interpreter adds it.
Result<Value> apply_filter(Interp& in, std::string_view name, const Value& v, Args& args);
Result<bool> apply_test(Interp& in, std::string_view name, const Value& v, Args& args);
// obj.name for str/list/dict methods ("strip", "items", ...): a bound method, or undefined.
Value get_method(const Value& obj, std::string_view name);
// Global functions: range, dict, namespace, raise_exception, strftime_now, lipsum-free subset.
Value global_function(std::string_view name);

// Python operators on values (operators.cpp): binary arithmetic, ~, in, subscripts.
Result<Value> binary_op(Interp& in, ast::BinOp op, const Value& a, const Value& b);
Result<bool> contains(Interp& in, const Value& container, const Value& item);
Result<Value> get_item(const Value& obj, const Value& key);
Value get_attr(const Value& obj, std::string_view name);
Result<Value> slice(Interp& in, const Value& obj, const Value& start, const Value& stop, const Value& step);
// Values iteration yields: list items, dict keys, string characters. Error for non-iterables.
Result<List> iterate(Interp& in, const Value& v);
Result<int64_t> length(const Value& v);

// Python's printf-style "fmt % args" (str % tuple, str % dict, str % value): %s %r %d %i %f %x %o %c
// %e %g and %%, with flags, width and precision.
Result<Value> percent_format(Interp& in, const std::string& fmt, const Value& args);

// String helpers shared by filters and methods.
std::string py_strip(std::string_view s, const Value* chars, bool left, bool right);
std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
std::string py_title(std::string_view s);
std::string py_capitalize(std::string_view s);

} // namespace vkai::jinja
