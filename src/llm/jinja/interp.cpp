// Tree-walking interpreter: statements, expressions, scopes and macros, with jinja2's scoping (each
// loop iteration and macro call gets its own scope; namespaces carry state out of loops) and every
// step counted against the render limits.
#include "llm/jinja/internal.h"

#include <algorithm>
#include <cstring>

namespace vkai::jinja {

namespace {

using namespace ast;

Status located(const Status& st, int line) {
    if (st.message().rfind(kRaisedPrefix, 0) == 0 || st.message().rfind("chat template line ", 0) == 0) return st;
    return Status(st.code(), "chat template line " + std::to_string(line) + ": " + st.message());
}

Status undefined_error(const Value& v, int line) {
    std::string hint = v.hint().empty() ? std::string("value is undefined") : v.hint();
    return fail(Code::invalid_argument, "chat template line %d: %s", line, hint.c_str());
}

Result<Value> loop_cycle(Interp&, const Value& self, Args& args) {
    if (args.pos.empty()) return fail(Code::invalid_argument, "loop.cycle() needs at least one value");
    return args.pos[size_t(self.as_int()) % args.pos.size()];
}

} // namespace

const Value* Scope::find(std::string_view name) const {
    for (const auto& v : vars)
        if (v.first == name) return &v.second;
    return nullptr;
}

void Scope::set(const std::string& name, Value v) {
    for (auto& e : vars)
        if (e.first == name) {
            e.second = std::move(v);
            return;
        }
    vars.emplace_back(name, std::move(v));
}

std::string callable_repr(const Callable& c) {
    switch (c.type) {
    case Callable::Type::macro: return "<Macro '" + c.name + "'>";
    case Callable::Type::caller: return "<Macro 'caller'>";
    case Callable::Type::method: return "<built-in method " + c.name + " of " + type_name(c.self) + " object>";
    case Callable::Type::builtin: break;
    }
    return "<built-in function " + c.name + ">";
}

Interp::Interp(std::shared_ptr<const Program> prog, const Limits& lim, int64_t now_unix)
    : prog_(std::move(prog)), lim_(lim), now_(now_unix) {
    // Truncated conversions (value.h) must always fail the size checks.
    lim_.max_value_bytes = std::min(lim_.max_value_bytes, kMaxTextBytes / 2);
}

Status Interp::charge(uint64_t n) {
    steps_ += n;
    if (steps_ > lim_.max_steps)
        return fail(Code::invalid_argument, "chat template exceeded %llu evaluation steps; the template is too expensive or loops forever",
                    (unsigned long long)lim_.max_steps);
    if ((steps_ & 4095) < n || n >= 4096) {
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        if (secs > lim_.max_seconds)
            return fail(Code::invalid_argument, "chat template ran longer than %.1f s; giving up", lim_.max_seconds);
    }
    return Status();
}

Status Interp::check_size(size_t n) const {
    if (n > lim_.max_value_bytes)
        return fail(Code::invalid_argument, "chat template built a value of %zu bytes, more than the limit of %zu", n, lim_.max_value_bytes);
    return Status();
}

Status Interp::add_alloc(size_t n) {
    allocated_ += n;
    if (allocated_ > lim_.max_alloc_bytes)
        return fail(Code::invalid_argument, "chat template built more than %zu bytes of values in one render", lim_.max_alloc_bytes);
    return Status();
}

Status Interp::account(const Value& v) {
    size_t n = v.approx_size();
    if (n == 0) return Status();
    VKAI_TRY(charge(n / 64));
    VKAI_TRY(check_size(n));
    return add_alloc(n);
}

Status Interp::emit(std::string_view s) {
    if (out_->size() + s.size() > lim_.max_output_bytes)
        return fail(Code::invalid_argument, "chat template output exceeds %zu bytes", lim_.max_output_bytes);
    out_->append(s);
    return Status();
}

Value Interp::lookup(std::string_view name, const std::shared_ptr<Scope>& scope) const {
    for (const Scope* s = scope.get(); s; s = s->parent.get())
        if (const Value* v = s->find(name)) return *v;
    Value g = global_function(name);
    if (!g.is_undefined()) return g;
    return Value::undefined("'" + std::string(name) + "' is undefined");
}

Result<std::string> Interp::run(const Value& context) {
    start_ = std::chrono::steady_clock::now();
    auto globals = std::make_shared<Scope>();
    for (const auto& kv : context.dict().entries)
        if (kv.first.is_string()) globals->set(kv.first.str(), kv.second);
    root_ = std::make_shared<Scope>();
    root_->parent = globals;
    std::string out;
    out_ = &out;
    VKAI_TRY(exec_body(prog_->body, root_));
    return out;
}

Result<std::string> Interp::capture(const Body& body, const std::shared_ptr<Scope>& scope) {
    std::string buf;
    std::string* saved = out_;
    out_ = &buf;
    Status st = exec_body(body, scope);
    out_ = saved;
    VKAI_TRY(st);
    VKAI_TRY(check_size(buf.size()));
    VKAI_TRY(charge(buf.size() / 64));
    VKAI_TRY(add_alloc(buf.size()));
    return buf;
}

Status Interp::exec_body(const Body& body, const std::shared_ptr<Scope>& scope) {
    for (const auto& s : body) {
        VKAI_TRY(exec(*s, scope));
        if (flow_ != Flow::normal) break;
    }
    return Status();
}

Status Interp::exec(const Stmt& s, const std::shared_ptr<Scope>& scope) {
    VKAI_TRY(charge(1));
    switch (s.kind) {
    case StmtKind::text: return emit(s.text);
    case StmtKind::print: {
        VKAI_ASSIGN_OR_RETURN(Value v, eval(*s.expr, scope));
        if (v.is_undefined()) return Status();
        if (v.is_string()) return emit(v.str());
        std::string text = to_str(v);
        VKAI_TRY(charge(text.size() / 64));
        VKAI_TRY(check_size(text.size()));
        return emit(text);
    }
    case StmtKind::if_: {
        for (const auto& [cond, body] : s.branches) {
            VKAI_ASSIGN_OR_RETURN(Value c, eval(*cond, scope));
            if (c.truthy()) return exec_body(body, scope);
        }
        return exec_body(s.else_body, scope);
    }
    case StmtKind::for_: return exec_for(s, scope);
    case StmtKind::set: return exec_set(s, scope);
    case StmtKind::set_block: {
        auto inner = std::make_shared<Scope>();
        inner->parent = scope;
        VKAI_ASSIGN_OR_RETURN(std::string text, capture(s.body, inner));
        Value v(std::move(text));
        if (s.expr) {
            VKAI_ASSIGN_OR_RETURN(v, eval_filter(*s.expr, scope, &v));
        }
        scope->set(s.targets[0], std::move(v));
        return Status();
    }
    case StmtKind::macro: {
        auto c = std::make_shared<Callable>();
        c->type = Callable::Type::macro;
        c->name = s.name;
        c->def = &s;
        c->program = prog_;
        scope->set(s.name, Value::callable(std::move(c)));
        return Status();
    }
    case StmtKind::call_block: {
        auto caller = std::make_shared<Callable>();
        caller->type = Callable::Type::caller;
        caller->name = "caller";
        caller->def = &s;
        caller->scope = scope;
        caller->program = prog_;
        const Expr& call = *s.expr;
        VKAI_ASSIGN_OR_RETURN(Value fn, eval(*call.args[0], scope));
        if (!fn.is_callable() || fn.fn().type != Callable::Type::macro)
            return fail(Code::invalid_argument, "chat template line %d: {%% call %%} needs a macro", s.line);
        Args args;
        VKAI_TRY(eval_args(call, 1, scope, args));
        args.kw.emplace_back("\x01" "caller", Value::callable(std::move(caller)));
        VKAI_ASSIGN_OR_RETURN(Value out, call_macro(fn.fn(), args, s.line));
        return emit(out.str());
    }
    case StmtKind::filter_block: {
        auto inner = std::make_shared<Scope>();
        inner->parent = scope;
        VKAI_ASSIGN_OR_RETURN(std::string text, capture(s.body, inner));
        Value v(std::move(text));
        VKAI_ASSIGN_OR_RETURN(Value out, eval_filter(*s.expr, scope, &v));
        return emit(to_str(out));
    }
    case StmtKind::with: {
        auto inner = std::make_shared<Scope>();
        inner->parent = scope;
        for (const auto& [name, e] : s.params) {
            VKAI_ASSIGN_OR_RETURN(Value v, eval(*e, scope));
            inner->set(name, std::move(v));
        }
        return exec_body(s.body, inner);
    }
    case StmtKind::break_: flow_ = Flow::break_; return Status();
    case StmtKind::continue_: flow_ = Flow::continue_; return Status();
    case StmtKind::block: return exec_body(s.body, scope);
    }
    return Status();
}

namespace {

Status unpack(const std::vector<std::string>& targets, const Value& v, Scope& scope, int line) {
    if (targets.size() == 1) {
        scope.set(targets[0], v);
        return Status();
    }
    List parts;
    if (v.is_list()) {
        parts = v.items();
    } else if (v.is_iterator()) {
        parts = v.consume();
    } else if (v.is_string()) {
        auto off = utf8_offsets(v.str());
        for (size_t i = 0; i + 1 < off.size(); ++i) parts.emplace_back(v.str().substr(off[i], off[i + 1] - off[i]));
    } else {
        return fail(Code::invalid_argument, "chat template line %d: cannot unpack non-iterable %s object", line, type_name(v));
    }
    if (parts.size() != targets.size())
        return fail(Code::invalid_argument, "chat template line %d: cannot unpack %zu values into %zu names", line, parts.size(), targets.size());
    for (size_t i = 0; i < targets.size(); ++i) scope.set(targets[i], parts[i]);
    return Status();
}

} // namespace

Status Interp::exec_for(const Stmt& s, const std::shared_ptr<Scope>& scope) {
    VKAI_ASSIGN_OR_RETURN(Value seq, eval(*s.expr, scope));
    auto items_r = iterate(*this, seq);
    if (!items_r.ok()) return located(items_r.status(), s.line);
    List items = std::move(items_r).value();
    if (s.cond) { // "for x in xs if cond": filtered before the loop, so loop.length counts survivors
        List kept;
        for (const Value& item : items) {
            auto tmp = std::make_shared<Scope>();
            tmp->parent = scope;
            VKAI_TRY(unpack(s.targets, item, *tmp, s.line));
            VKAI_ASSIGN_OR_RETURN(Value c, eval(*s.cond, tmp));
            if (c.truthy()) kept.push_back(item);
        }
        items = std::move(kept);
    }
    if (items.empty()) {
        auto inner = std::make_shared<Scope>();
        inner->parent = scope;
        return exec_body(s.else_body, inner);
    }
    auto cycle = std::make_shared<Callable>();
    cycle->type = Callable::Type::method;
    cycle->name = "cycle";
    cycle->fn = loop_cycle;
    const int64_t n = int64_t(items.size());
    for (int64_t i = 0; i < n; ++i) {
        if (++iterations_ > lim_.max_iterations)
            return fail(Code::invalid_argument, "chat template line %d: more than %llu loop iterations", s.line,
                        (unsigned long long)lim_.max_iterations);
        auto inner = std::make_shared<Scope>();
        inner->parent = scope;
        VKAI_TRY(unpack(s.targets, items[size_t(i)], *inner, s.line));
        auto loop = std::make_shared<Dict>();
        loop->set("index", Value(i + 1));
        loop->set("index0", Value(i));
        loop->set("revindex", Value(n - i));
        loop->set("revindex0", Value(n - i - 1));
        loop->set("first", Value(i == 0));
        loop->set("last", Value(i == n - 1));
        loop->set("length", Value(n));
        loop->set("depth", Value(1));
        loop->set("depth0", Value(0));
        loop->set("previtem", i > 0 ? items[size_t(i - 1)] : Value::undefined("there is no previous item"));
        loop->set("nextitem", i + 1 < n ? items[size_t(i + 1)] : Value::undefined("there is no next item"));
        auto c = std::make_shared<Callable>(*cycle);
        c->self = Value(i);
        loop->set("cycle", Value::callable(std::move(c)));
        inner->set("loop", Value::dict(std::move(loop)));
        VKAI_TRY(exec_body(s.body, inner));
        if (flow_ == Flow::break_) {
            flow_ = Flow::normal;
            break;
        }
        flow_ = Flow::normal;
    }
    return Status();
}

Status Interp::exec_set(const Stmt& s, const std::shared_ptr<Scope>& scope) {
    VKAI_ASSIGN_OR_RETURN(Value v, eval(*s.expr, scope));
    if (s.attr_target) {
        Value ns = lookup(s.targets[0], scope);
        if (!ns.is_dict() || !ns.dict().is_namespace)
            return fail(Code::invalid_argument, "chat template line %d: cannot assign attribute on non-namespace object '%s'", s.line,
                        s.targets[0].c_str());
        if (v.depth() >= kNamespaceDepth)
            return fail(Code::invalid_argument, "chat template line %d: values stored in a namespace may nest at most %u levels (no namespaces)",
                        s.line, kNamespaceDepth - 1);
        ns.dict_mut().set(Value(s.targets[1]), std::move(v));
        return Status();
    }
    return unpack(s.targets, v, *scope, s.line);
}

Status Interp::eval_args(const Expr& e, size_t first, const std::shared_ptr<Scope>& scope, Args& out) {
    for (size_t i = first; i < e.args.size(); ++i) {
        VKAI_ASSIGN_OR_RETURN(Value v, eval(*e.args[i], scope));
        out.pos.push_back(std::move(v));
    }
    for (const auto& [name, x] : e.kwargs) {
        VKAI_ASSIGN_OR_RETURN(Value v, eval(*x, scope));
        out.kw.emplace_back(name, std::move(v));
    }
    return Status();
}

Result<Value> Interp::call_macro(const Callable& c, Args& args, int line) {
    if (depth_ >= lim_.max_depth)
        return fail(Code::invalid_argument, "chat template line %d: macro calls nested deeper than %u", line, lim_.max_depth);
    const Stmt& def = *c.def;
    auto scope = std::make_shared<Scope>();
    scope->parent = c.type == Callable::Type::caller ? c.scope : root_;
    if (args.pos.size() > def.params.size())
        return fail(Code::invalid_argument, "chat template line %d: macro '%s' takes not more than %zu argument(s)", line, c.name.c_str(),
                    def.params.size());
    std::vector<bool> given(def.params.size(), false);
    for (size_t i = 0; i < args.pos.size(); ++i) {
        scope->set(def.params[i].first, args.pos[i]);
        given[i] = true;
    }
    for (auto& [name, v] : args.kw) {
        if (name == "\x01" "caller") {
            scope->set("caller", v);
            continue;
        }
        size_t k = 0;
        while (k < def.params.size() && def.params[k].first != name) ++k;
        if (k == def.params.size())
            return fail(Code::invalid_argument, "chat template line %d: macro '%s' has no argument '%s'", line, c.name.c_str(), name.c_str());
        if (given[k]) return fail(Code::invalid_argument, "chat template line %d: macro '%s' got argument '%s' twice", line, c.name.c_str(), name.c_str());
        scope->set(name, v);
        given[k] = true;
    }
    ++depth_;
    for (size_t k = 0; k < def.params.size(); ++k) {
        if (given[k]) continue;
        if (def.params[k].second) {
            auto d = eval(*def.params[k].second, scope);
            if (!d.ok()) {
                --depth_;
                return d.status();
            }
            scope->set(def.params[k].first, std::move(d).value());
        } else {
            scope->set(def.params[k].first, Value::undefined("'" + def.params[k].first + "' was not passed to macro '" + c.name + "'"));
        }
    }
    scope->set("varargs", Value::tuple({}));
    scope->set("kwargs", Value::empty_dict());
    auto text = capture(def.body, scope);
    --depth_;
    if (!text.ok()) return text.status();
    return Value(std::move(text).value());
}

Result<Value> Interp::call(const Value& fn, Args& args, int line) {
    VKAI_TRY(charge(1));
    if (fn.is_undefined()) return undefined_error(fn, line);
    if (!fn.is_callable()) return fail(Code::invalid_argument, "chat template line %d: '%s' object is not callable", line, type_name(fn));
    const Callable& c = fn.fn();
    if (c.type == Callable::Type::macro || c.type == Callable::Type::caller) return call_macro(c, args, line);
    VKAI_TRY(charge(c.self.approx_size() / 64)); // methods walk their receiver
    auto r = c.fn(*this, c.self, args);
    if (!r.ok()) return located(r.status(), line);
    Status st = account(*r);
    if (!st.ok()) return located(st, line);
    return r;
}

Result<Value> Interp::eval_call(const Expr& e, const std::shared_ptr<Scope>& scope) {
    VKAI_ASSIGN_OR_RETURN(Value fn, eval(*e.args[0], scope));
    Args args;
    VKAI_TRY(eval_args(e, 1, scope, args));
    return call(fn, args, e.line);
}

Result<Value> Interp::eval_filter(const Expr& e, const std::shared_ptr<Scope>& scope, const Value* base) {
    Value v;
    if (e.args[0]) {
        VKAI_ASSIGN_OR_RETURN(v, e.args[0]->kind == ExprKind::filter ? eval_filter(*e.args[0], scope, base) : eval(*e.args[0], scope));
    } else if (base) {
        v = *base;
    }
    Args args;
    VKAI_TRY(eval_args(e, 1, scope, args));
    VKAI_TRY(charge(v.approx_size() / 64)); // filters walk their input
    auto r = apply_filter(*this, e.name, v, args);
    if (!r.ok()) return located(r.status(), e.line);
    Status st = account(*r);
    if (!st.ok()) return located(st, e.line);
    return r;
}

Result<Value> Interp::eval_compare(const Expr& e, const std::shared_ptr<Scope>& scope) {
    VKAI_ASSIGN_OR_RETURN(Value left, eval(*e.args[0], scope));
    for (size_t i = 0; i < e.ops.size(); ++i) {
        VKAI_ASSIGN_OR_RETURN(Value right, eval(*e.args[i + 1], scope));
        bool r = false;
        CmpOp op = e.ops[i];
        if (op == CmpOp::eq || op == CmpOp::ne) {
            VKAI_TRY(charge((left.approx_size() + right.approx_size()) / 64));
            r = equals(left, right) == (op == CmpOp::eq);
        } else if (op == CmpOp::in || op == CmpOp::not_in) {
            auto c = contains(*this, right, left);
            if (!c.ok()) return located(c.status(), e.line);
            r = *c == (op == CmpOp::in);
        } else {
            if (left.is_undefined()) return undefined_error(left, e.line);
            if (right.is_undefined()) return undefined_error(right, e.line);
            bool ok = true;
            const Value& a = op == CmpOp::lt || op == CmpOp::le ? left : right;
            const Value& b = op == CmpOp::lt || op == CmpOp::le ? right : left;
            bool lt = less_than(a, b, ok);
            if (!ok) {
                static const char* names[] = {"==", "!=", "<", "<=", ">", ">="};
                return fail(Code::invalid_argument, "chat template line %d: '%s' not supported between instances of '%s' and '%s'", e.line,
                            names[int(op)], type_name(left), type_name(right));
            }
            r = (op == CmpOp::lt || op == CmpOp::gt) ? lt : (lt || equals(a, b));
        }
        if (!r) return Value(false);
        left = std::move(right);
    }
    return Value(true);
}

Result<Value> Interp::eval(const Expr& e, const std::shared_ptr<Scope>& scope) {
    VKAI_TRY(charge(1));
    auto r = eval_node(e, scope);
    if (r.ok() && r->depth() > kMaxValueDepth)
        return fail(Code::invalid_argument, "chat template line %d: value nested deeper than %u levels", e.line, kMaxValueDepth);
    return r;
}

Result<Value> Interp::eval_node(const Expr& e, const std::shared_ptr<Scope>& scope) {
    switch (e.kind) {
    case ExprKind::literal: return e.value;
    case ExprKind::name: return lookup(e.name, scope);
    case ExprKind::list:
    case ExprKind::tuple: {
        List items;
        items.reserve(e.args.size());
        for (const auto& a : e.args) {
            VKAI_ASSIGN_OR_RETURN(Value v, eval(*a, scope));
            items.push_back(std::move(v));
        }
        VKAI_TRY(check_items(items.size()));
        return e.kind == ExprKind::list ? Value::list(std::move(items)) : Value::tuple(std::move(items));
    }
    case ExprKind::dict: {
        auto d = std::make_shared<Dict>();
        for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
            VKAI_ASSIGN_OR_RETURN(Value k, eval(*e.args[i], scope));
            VKAI_ASSIGN_OR_RETURN(Value v, eval(*e.args[i + 1], scope));
            if (!is_hashable(k)) return fail(Code::invalid_argument, "chat template line %d: unhashable type: '%s'", e.line, type_name(k));
            d->set(std::move(k), std::move(v));
        }
        return Value::dict(std::move(d));
    }
    case ExprKind::getattr: {
        VKAI_ASSIGN_OR_RETURN(Value obj, eval(*e.args[0], scope));
        if (obj.is_undefined()) return undefined_error(obj, e.line);
        return get_attr(obj, e.name);
    }
    case ExprKind::getitem: {
        VKAI_ASSIGN_OR_RETURN(Value obj, eval(*e.args[0], scope));
        if (obj.is_undefined()) return undefined_error(obj, e.line);
        VKAI_ASSIGN_OR_RETURN(Value key, eval(*e.args[1], scope));
        auto r = get_item(obj, key);
        if (!r.ok()) return located(r.status(), e.line);
        return r;
    }
    case ExprKind::slice: {
        VKAI_ASSIGN_OR_RETURN(Value obj, eval(*e.args[0], scope));
        if (obj.is_undefined()) return undefined_error(obj, e.line);
        Value parts[3];
        for (int k = 0; k < 3; ++k)
            if (e.args[size_t(k) + 1]) {
                VKAI_ASSIGN_OR_RETURN(parts[k], eval(*e.args[size_t(k) + 1], scope));
            }
        auto r = slice(*this, obj, parts[0], parts[1], parts[2]);
        if (!r.ok()) return located(r.status(), e.line);
        return r;
    }
    case ExprKind::call: return eval_call(e, scope);
    case ExprKind::filter: return eval_filter(e, scope, nullptr);
    case ExprKind::test: {
        VKAI_ASSIGN_OR_RETURN(Value v, eval(*e.args[0], scope));
        Args args;
        VKAI_TRY(eval_args(e, 1, scope, args));
        auto r = apply_test(*this, e.name, v, args);
        if (!r.ok()) return located(r.status(), e.line);
        return Value(*r != e.negated);
    }
    case ExprKind::neg:
    case ExprKind::pos: {
        VKAI_ASSIGN_OR_RETURN(Value v, eval(*e.args[0], scope));
        if (v.is_undefined()) return undefined_error(v, e.line);
        if (!v.is_number())
            return fail(Code::invalid_argument, "chat template line %d: bad operand type for unary %c: '%s'", e.line,
                        e.kind == ExprKind::neg ? '-' : '+', type_name(v));
        if (e.kind == ExprKind::pos) return v.is_bool() ? Value(v.as_int()) : v;
        if (v.is_float()) return Value(-v.as_float());
        if (v.as_int() == INT64_MIN) return fail(Code::invalid_argument, "chat template line %d: integer overflow", e.line);
        return Value(-v.as_int());
    }
    case ExprKind::not_: {
        VKAI_ASSIGN_OR_RETURN(Value v, eval(*e.args[0], scope));
        return Value(!v.truthy());
    }
    case ExprKind::and_:
    case ExprKind::or_: {
        VKAI_ASSIGN_OR_RETURN(Value a, eval(*e.args[0], scope));
        if (a.truthy() == (e.kind == ExprKind::or_)) return a;
        return eval(*e.args[1], scope);
    }
    case ExprKind::binary: {
        VKAI_ASSIGN_OR_RETURN(Value a, eval(*e.args[0], scope));
        VKAI_ASSIGN_OR_RETURN(Value b, eval(*e.args[1], scope));
        if (a.is_undefined()) return undefined_error(a, e.line);
        if (b.is_undefined()) return undefined_error(b, e.line);
        auto r = binary_op(*this, e.op, a, b);
        if (!r.ok()) return located(r.status(), e.line);
        Status st = account(*r);
        if (!st.ok()) return located(st, e.line);
        return r;
    }
    case ExprKind::concat: {
        std::string s;
        for (const auto& a : e.args) {
            VKAI_ASSIGN_OR_RETURN(Value v, eval(*a, scope));
            s += to_str(v);
            if (s.size() > lim_.max_value_bytes) return located(check_size(s.size()), e.line);
        }
        Value v(std::move(s));
        Status st = account(v);
        if (!st.ok()) return located(st, e.line);
        return v;
    }
    case ExprKind::compare: return eval_compare(e, scope);
    case ExprKind::cond: {
        VKAI_ASSIGN_OR_RETURN(Value c, eval(*e.args[0], scope));
        if (c.truthy()) return eval(*e.args[1], scope);
        if (e.args[2]) return eval(*e.args[2], scope);
        return Value::undefined("the inline if-expression evaluated to false and has no else");
    }
    }
    return Value();
}

Result<Template> Template::parse(std::string_view text, const Options& opt, const Limits& lim) {
    if (text.size() > lim.max_template_bytes)
        return fail(Code::invalid_argument, "chat template is %zu bytes, more than the limit of %zu", text.size(), lim.max_template_bytes);
    VKAI_ASSIGN_OR_RETURN(std::vector<Token> tokens, lex(text, opt));
    VKAI_ASSIGN_OR_RETURN(std::shared_ptr<ast::Program> prog, parse_tokens(std::move(tokens), lim.max_depth));
    Template t;
    t.prog_ = std::move(prog);
    return t;
}

Result<std::string> Template::render(const Value& context, const Limits& lim, int64_t now_unix) const {
    if (!prog_) return fail(Code::invalid_argument, "rendering an empty template");
    Interp in(prog_, lim, now_unix);
    return in.run(context);
}

} // namespace vkai::jinja
