// Syntax tree of a parsed template: expressions and statements, as the parser builds them and the
// interpreter walks them. Every node keeps its source line for error messages.
#pragma once

#include "llm/jinja/value.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace vkai::jinja::ast {

enum class ExprKind : uint8_t {
    literal,  // value
    name,     // name
    list,     // args: items
    tuple,    // args: items
    dict,     // args: key0, value0, key1, value1, ...
    getattr,  // args[0].name
    getitem,  // args[0][args[1]]
    slice,    // args[0][args[1]:args[2]:args[3]] (missing parts are null)
    call,     // args[0](args[1..], kwargs)
    filter,   // args[0] | name(args[1..], kwargs); args[0] is null inside {% filter %}
    test,     // args[0] is [not] name(args[1..], kwargs)
    neg,      // -args[0]
    pos,      // +args[0]
    not_,     // not args[0]
    and_,     // args[0] and args[1]
    or_,      // args[0] or args[1]
    binary,   // args[0] op args[1]
    concat,   // args[0] ~ args[1] ~ ...
    compare,  // args[0] ops[0] args[1] ops[1] args[2] ... (chained like Python)
    cond,     // args[1] if args[0] else args[2] (args[2] null: undefined)
};

enum class BinOp : uint8_t { add, sub, mul, div, floordiv, mod, pow };
enum class CmpOp : uint8_t { eq, ne, lt, le, gt, ge, in, not_in };

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
    ExprKind kind = ExprKind::literal;
    int line = 0;
    Value value;      // literal
    std::string name; // name, attribute, filter or test name
    std::vector<ExprPtr> args;
    std::vector<std::pair<std::string, ExprPtr>> kwargs;
    std::vector<CmpOp> ops;
    BinOp op = BinOp::add;
    bool negated = false; // "is not"
};

enum class StmtKind : uint8_t {
    text,         // text
    print,        // {{ expr }}
    if_,          // branches (cond, body) + else_body
    for_,         // for targets in expr [if cond]: body; else_body
    set,          // targets = expr (attr: targets = {namespace, attribute})
    set_block,    // {% set name %}body{% endset %}, then expr (a filter chain on null) if any
    macro,        // name(params) body
    call_block,   // {% call(params) expr %}body{% endcall %}
    filter_block, // expr is a filter chain applied to the body's output
    with,         // params are the assignments; body
    break_,
    continue_,
    block,        // a plain sequence ({% generation %})
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
    StmtKind kind = StmtKind::text;
    int line = 0;
    std::string text;
    std::string name;
    std::vector<std::string> targets;
    bool attr_target = false; // set ns.attr = ...
    ExprPtr expr;
    ExprPtr cond;
    std::vector<std::pair<ExprPtr, Body>> branches;
    Body body;
    Body else_body;
    std::vector<std::pair<std::string, ExprPtr>> params; // name, default (null: required)
};

struct Program {
    Body body;
};

} // namespace vkai::jinja::ast
