// The template parser's class (internal): statements are parsed in parser.cpp, expressions in
// parse_expr.cpp. Recursive descent with a bound on nesting (max_depth) so hostile templates cannot
// exhaust the stack.
#pragma once

#include "llm/jinja/internal.h"

#include <initializer_list>

namespace vkai::jinja::detail {

using ast::BinOp;
using ast::Body;
using ast::CmpOp;
using ast::Expr;
using ast::ExprKind;
using ast::ExprPtr;
using ast::Program;
using ast::Stmt;
using ast::StmtKind;

class Parser {
public:
    Parser(std::vector<Token> t, uint32_t max_depth) : t_(std::move(t)), max_depth_(max_depth) {}

    Result<std::shared_ptr<Program>> run() {
        auto prog = std::make_shared<Program>();
        std::string end;
        VKAI_TRY(parse_body(prog->body, {}, end));
        return prog;
    }

private:
    // ---- helpers ----
    const Token& cur() const { return t_[i_]; }
    const Token& peek(size_t k = 1) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
    void next() {
        if (i_ + 1 < t_.size()) ++i_;
    }
    bool is_op(const char* op) const { return cur().type == Tok::op && cur().text == op; }
    bool is_name(const char* n) const { return cur().type == Tok::name && cur().text == n; }
    bool skip_op(const char* op) {
        if (!is_op(op)) return false;
        next();
        return true;
    }
    bool skip_name(const char* n) {
        if (!is_name(n)) return false;
        next();
        return true;
    }
    std::string describe(const Token& t) const {
        switch (t.type) {
        case Tok::data: return "template text";
        case Tok::var_begin: return "'{{'";
        case Tok::var_end: return "'}}'";
        case Tok::block_begin: return "'{%'";
        case Tok::block_end: return "'%}'";
        case Tok::eof: return "end of template";
        case Tok::string: return "string literal";
        case Tok::integer:
        case Tok::floating: return "number";
        default: return "'" + t.text + "'";
        }
    }
    Status err(const std::string& msg) const {
        return fail(Code::invalid_argument, "chat template line %d: %s", cur().line, msg.c_str());
    }
    Status expect_op(const char* op) {
        if (skip_op(op)) return Status();
        return err(std::string("expected '") + op + "', got " + describe(cur()));
    }
    Status expect_block_end() {
        if (cur().type == Tok::block_end) {
            next();
            return Status();
        }
        return err("expected end of statement block ('%}'), got " + describe(cur()));
    }
    Status enter() {
        if (++depth_ > max_depth_) return err("template nesting deeper than " + std::to_string(max_depth_));
        return Status();
    }
    ExprPtr node(ExprKind k, int line) {
        auto e = std::make_unique<Expr>();
        e->kind = k;
        e->line = line;
        return e;
    }
    // Counts the links of a left-associative chain (a + b + c, x.y.z, v|f|g) as nesting levels and
    // gives them back when the chain is complete: the tree's depth stays bounded either way.
    struct Chain {
        Parser& p;
        uint32_t n = 0;
        ~Chain() { p.depth_ -= n; }
        Status link() {
            ++n;
            if (++p.depth_ > p.max_depth_) return p.err("expression nested deeper than " + std::to_string(p.max_depth_));
            return Status();
        }
    };

    Result<std::string> expect_name() {
        if (cur().type != Tok::name) return err("expected a name, got " + describe(cur()));
        std::string n = cur().text;
        next();
        return n;
    }
    // Filter and test names may be dotted in jinja2 ("a.b"); none of the builtins is, so such a name
    // only fails when it is used.
    Result<std::string> expect_dotted_name() {
        VKAI_ASSIGN_OR_RETURN(std::string n, expect_name());
        while (skip_op(".")) {
            VKAI_ASSIGN_OR_RETURN(std::string part, expect_name());
            n += "." + part;
        }
        return n;
    }

    // ---- statements ----
    Status parse_body(Body& body, std::initializer_list<const char*> ends, std::string& which_end);
    Status parse_statement(Body& body);
    Status parse_if(Body& body, int line);
    Status parse_for(Body& body, int line);
    Status parse_set(Body& body, int line);
    Status parse_macro(Body& body, int line);
    Status parse_call_block(Body& body, int line);
    Status parse_filter_block(Body& body, int line);
    Status parse_with(Body& body, int line);
    Status parse_params(std::vector<std::pair<std::string, ExprPtr>>& params);
    Status parse_targets(std::vector<std::string>& names);
    Status finish_block(Body& body, const char* end_tag);

    // ---- expressions ----
    Result<ExprPtr> parse_tuple(bool with_condexpr = true);
    Result<ExprPtr> parse_expression(bool with_condexpr = true);
    Result<ExprPtr> parse_or();
    Result<ExprPtr> parse_and();
    Result<ExprPtr> parse_not();
    Result<ExprPtr> parse_compare();
    Result<ExprPtr> parse_math1();
    Result<ExprPtr> parse_concat();
    Result<ExprPtr> parse_math2();
    Result<ExprPtr> parse_pow();
    Result<ExprPtr> parse_unary(bool with_filter = true);
    Result<ExprPtr> parse_primary();
    Result<ExprPtr> parse_postfix(ExprPtr e);
    Result<ExprPtr> parse_filter_expr(ExprPtr e);
    Result<ExprPtr> parse_filter(ExprPtr base);
    Result<ExprPtr> parse_subscript(ExprPtr base);
    Status parse_call_args(Expr& call);

    std::vector<Token> t_;
    size_t i_ = 0;
    uint32_t max_depth_;
    uint32_t depth_ = 0; // nesting of the tree being built (chains count each link)
    int loop_depth_ = 0;
};

} // namespace vkai::jinja::detail
