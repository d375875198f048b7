// Recursive-descent parser from tokens to the syntax tree, with jinja2's operator precedence:
// cond-expr < or < and < not < comparisons < + - < ~ < * / // % < ** < unary < filters/tests < postfix.
// Nesting is bounded (max_depth) so hostile templates cannot exhaust the stack.
#include "llm/jinja/internal.h"

#include <initializer_list>

namespace vkai::jinja {

namespace {

using namespace ast;

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
    Result<std::string> expect_name() {
        if (cur().type != Tok::name) return err("expected a name, got " + describe(cur()));
        std::string n = cur().text;
        next();
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
    uint32_t depth_ = 0;
    int loop_depth_ = 0;
};

Status Parser::parse_body(Body& body, std::initializer_list<const char*> ends, std::string& which_end) {
    VKAI_TRY(enter());
    while (true) {
        const Token& t = cur();
        if (t.type == Tok::eof) {
            if (ends.size() == 0) break;
            return err(std::string("unexpected end of template; expected '") + *ends.begin() + "'");
        }
        if (t.type == Tok::data) {
            auto s = std::make_unique<Stmt>();
            s->kind = StmtKind::text;
            s->line = t.line;
            s->text = t.text;
            body.push_back(std::move(s));
            next();
            continue;
        }
        if (t.type == Tok::var_begin) {
            int line = t.line;
            next();
            VKAI_ASSIGN_OR_RETURN(ExprPtr e, parse_tuple());
            if (cur().type != Tok::var_end) return err("expected end of print statement ('}}'), got " + describe(cur()));
            next();
            auto s = std::make_unique<Stmt>();
            s->kind = StmtKind::print;
            s->line = line;
            s->expr = std::move(e);
            body.push_back(std::move(s));
            continue;
        }
        if (t.type != Tok::block_begin) return err("unexpected " + describe(t));
        if (peek().type == Tok::name) {
            for (const char* e : ends) {
                if (peek().text == e) {
                    next(); // leave the end tag's name current for the caller
                    which_end = e;
                    --depth_;
                    return Status();
                }
            }
        }
        next();
        VKAI_TRY(parse_statement(body));
    }
    --depth_;
    return Status();
}

Status Parser::parse_statement(Body& body) {
    if (cur().type != Tok::name) return err("expected a statement name after '{%', got " + describe(cur()));
    std::string n = cur().text;
    int line = cur().line;
    next();
    if (n == "if") return parse_if(body, line);
    if (n == "for") return parse_for(body, line);
    if (n == "set") return parse_set(body, line);
    if (n == "macro") return parse_macro(body, line);
    if (n == "call") return parse_call_block(body, line);
    if (n == "filter") return parse_filter_block(body, line);
    if (n == "with") return parse_with(body, line);
    if (n == "break" || n == "continue") {
        if (loop_depth_ == 0) return err("'" + n + "' outside of a for loop");
        auto s = std::make_unique<Stmt>();
        s->kind = n == "break" ? StmtKind::break_ : StmtKind::continue_;
        s->line = line;
        body.push_back(std::move(s));
        return expect_block_end();
    }
    if (n == "generation") {
        // transformers' {% generation %} marks assistant text for training masks; it renders as is.
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::block;
        s->line = line;
        VKAI_TRY(expect_block_end());
        VKAI_TRY(finish_block(s->body, "endgeneration"));
        body.push_back(std::move(s));
        return Status();
    }
    if (n == "include" || n == "import" || n == "from" || n == "extends" || n == "block")
        return fail(Code::unsupported, "chat template line %d: '%s' needs other template files, which chat templates cannot have", line, n.c_str());
    if (n.rfind("end", 0) == 0 || n == "elif" || n == "else") return fail(Code::invalid_argument, "chat template line %d: unexpected '%s'", line, n.c_str());
    return fail(Code::invalid_argument, "chat template line %d: unknown tag '%s'", line, n.c_str());
}

// Parses a body up to {% end_tag %} and consumes that tag.
Status Parser::finish_block(Body& body, const char* end_tag) {
    std::string which;
    VKAI_TRY(parse_body(body, {end_tag}, which));
    next(); // the end tag's name
    return expect_block_end();
}

Status Parser::parse_if(Body& body, int line) {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::if_;
    s->line = line;
    VKAI_ASSIGN_OR_RETURN(ExprPtr cond, parse_tuple());
    VKAI_TRY(expect_block_end());
    while (true) {
        Body b;
        std::string which;
        VKAI_TRY(parse_body(b, {"elif", "else", "endif"}, which));
        s->branches.emplace_back(std::move(cond), std::move(b));
        next();
        if (which == "elif") {
            VKAI_ASSIGN_OR_RETURN(cond, parse_tuple());
            VKAI_TRY(expect_block_end());
            continue;
        }
        VKAI_TRY(expect_block_end());
        if (which == "else") VKAI_TRY(finish_block(s->else_body, "endif"));
        break;
    }
    body.push_back(std::move(s));
    return Status();
}

Status Parser::parse_targets(std::vector<std::string>& names) {
    bool paren = skip_op("(");
    do {
        if (paren && is_op(")")) break;
        VKAI_ASSIGN_OR_RETURN(std::string n, expect_name());
        names.push_back(std::move(n));
    } while (skip_op(","));
    if (paren) VKAI_TRY(expect_op(")"));
    return Status();
}

Status Parser::parse_for(Body& body, int line) {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::for_;
    s->line = line;
    VKAI_TRY(parse_targets(s->targets));
    if (!skip_name("in")) return err("expected 'in' in for loop, got " + describe(cur()));
    VKAI_ASSIGN_OR_RETURN(s->expr, parse_tuple(false));
    if (skip_name("if")) {
        VKAI_ASSIGN_OR_RETURN(s->cond, parse_expression());
    }
    if (is_name("recursive")) return fail(Code::unsupported, "chat template line %d: recursive for loops are not supported", line);
    VKAI_TRY(expect_block_end());
    ++loop_depth_;
    std::string which;
    Status st = parse_body(s->body, {"else", "endfor"}, which);
    --loop_depth_;
    VKAI_TRY(st);
    next();
    VKAI_TRY(expect_block_end());
    if (which == "else") VKAI_TRY(finish_block(s->else_body, "endfor"));
    body.push_back(std::move(s));
    return Status();
}

Status Parser::parse_set(Body& body, int line) {
    auto s = std::make_unique<Stmt>();
    s->line = line;
    VKAI_ASSIGN_OR_RETURN(std::string first, expect_name());
    if (skip_op(".")) {
        VKAI_ASSIGN_OR_RETURN(std::string attr, expect_name());
        s->targets = {first, attr};
        s->attr_target = true;
    } else {
        s->targets.push_back(first);
        while (skip_op(",")) {
            if (is_op("=")) break;
            VKAI_ASSIGN_OR_RETURN(std::string n, expect_name());
            s->targets.push_back(std::move(n));
        }
    }
    if (skip_op("=")) {
        s->kind = StmtKind::set;
        VKAI_ASSIGN_OR_RETURN(s->expr, parse_tuple());
        body.push_back(std::move(s));
        return expect_block_end();
    }
    if (s->attr_target || s->targets.size() != 1) return err("expected '=' in set statement, got " + describe(cur()));
    s->kind = StmtKind::set_block;
    if (is_op("|")) {
        VKAI_ASSIGN_OR_RETURN(s->expr, parse_filter(nullptr));
    }
    VKAI_TRY(expect_block_end());
    int saved = loop_depth_;
    loop_depth_ = 0; // break/continue must not jump out of a capture
    Status st = finish_block(s->body, "endset");
    loop_depth_ = saved;
    VKAI_TRY(st);
    body.push_back(std::move(s));
    return Status();
}

Status Parser::parse_params(std::vector<std::pair<std::string, ExprPtr>>& params) {
    VKAI_TRY(expect_op("("));
    while (!is_op(")")) {
        if (!params.empty()) VKAI_TRY(expect_op(","));
        if (is_op(")")) break;
        VKAI_ASSIGN_OR_RETURN(std::string n, expect_name());
        ExprPtr def;
        if (skip_op("=")) {
            VKAI_ASSIGN_OR_RETURN(def, parse_expression());
        } else if (!params.empty() && params.back().second) {
            return err("non-default argument '" + n + "' follows a default argument");
        }
        params.emplace_back(std::move(n), std::move(def));
    }
    next();
    return Status();
}

Status Parser::parse_macro(Body& body, int line) {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::macro;
    s->line = line;
    VKAI_ASSIGN_OR_RETURN(s->name, expect_name());
    VKAI_TRY(parse_params(s->params));
    VKAI_TRY(expect_block_end());
    int saved = loop_depth_;
    loop_depth_ = 0; // break/continue cannot cross a macro boundary
    Status st = finish_block(s->body, "endmacro");
    loop_depth_ = saved;
    VKAI_TRY(st);
    body.push_back(std::move(s));
    return Status();
}

Status Parser::parse_call_block(Body& body, int line) {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::call_block;
    s->line = line;
    if (is_op("(")) VKAI_TRY(parse_params(s->params));
    VKAI_ASSIGN_OR_RETURN(s->expr, parse_expression());
    if (s->expr->kind != ExprKind::call) return err("{% call %} needs a macro call");
    VKAI_TRY(expect_block_end());
    int saved = loop_depth_;
    loop_depth_ = 0;
    Status st = finish_block(s->body, "endcall");
    loop_depth_ = saved;
    VKAI_TRY(st);
    body.push_back(std::move(s));
    return Status();
}

Status Parser::parse_filter_block(Body& body, int line) {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::filter_block;
    s->line = line;
    VKAI_ASSIGN_OR_RETURN(s->expr, parse_filter(nullptr));
    VKAI_TRY(expect_block_end());
    VKAI_TRY(finish_block(s->body, "endfilter"));
    body.push_back(std::move(s));
    return Status();
}

Status Parser::parse_with(Body& body, int line) {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::with;
    s->line = line;
    while (cur().type != Tok::block_end) {
        if (!s->params.empty()) VKAI_TRY(expect_op(","));
        VKAI_ASSIGN_OR_RETURN(std::string n, expect_name());
        VKAI_TRY(expect_op("="));
        VKAI_ASSIGN_OR_RETURN(ExprPtr e, parse_expression());
        s->params.emplace_back(std::move(n), std::move(e));
    }
    VKAI_TRY(expect_block_end());
    VKAI_TRY(finish_block(s->body, "endwith"));
    body.push_back(std::move(s));
    return Status();
}

// ---- expressions ----

Result<ExprPtr> Parser::parse_tuple(bool with_condexpr) {
    int line = cur().line;
    VKAI_ASSIGN_OR_RETURN(ExprPtr first, parse_expression(with_condexpr));
    if (!is_op(",")) return first;
    auto t = node(ExprKind::tuple, line);
    t->args.push_back(std::move(first));
    while (skip_op(",")) {
        if (cur().type == Tok::var_end || cur().type == Tok::block_end || is_op(")") || is_op("=") || is_name("if")) break;
        VKAI_ASSIGN_OR_RETURN(ExprPtr e, parse_expression(with_condexpr));
        t->args.push_back(std::move(e));
    }
    return t;
}

Result<ExprPtr> Parser::parse_expression(bool with_condexpr) {
    VKAI_TRY(enter());
    VKAI_ASSIGN_OR_RETURN(ExprPtr e, parse_or());
    while (with_condexpr && is_name("if")) {
        int line = cur().line;
        next();
        auto c = node(ExprKind::cond, line);
        VKAI_ASSIGN_OR_RETURN(ExprPtr test, parse_or());
        ExprPtr other;
        if (skip_name("else")) {
            VKAI_ASSIGN_OR_RETURN(other, parse_expression());
        }
        c->args.push_back(std::move(test));
        c->args.push_back(std::move(e));
        c->args.push_back(std::move(other));
        e = std::move(c);
    }
    --depth_;
    return e;
}

Result<ExprPtr> Parser::parse_or() {
    VKAI_ASSIGN_OR_RETURN(ExprPtr e, parse_and());
    while (is_name("or")) {
        auto n = node(ExprKind::or_, cur().line);
        next();
        VKAI_ASSIGN_OR_RETURN(ExprPtr r, parse_and());
        n->args.push_back(std::move(e));
        n->args.push_back(std::move(r));
        e = std::move(n);
    }
    return e;
}

Result<ExprPtr> Parser::parse_and() {
    VKAI_ASSIGN_OR_RETURN(ExprPtr e, parse_not());
    while (is_name("and")) {
        auto n = node(ExprKind::and_, cur().line);
        next();
        VKAI_ASSIGN_OR_RETURN(ExprPtr r, parse_not());
        n->args.push_back(std::move(e));
        n->args.push_back(std::move(r));
        e = std::move(n);
    }
    return e;
}

Result<ExprPtr> Parser::parse_not() {
    if (is_name("not")) {
        auto n = node(ExprKind::not_, cur().line);
        next();
        VKAI_TRY(enter());
        VKAI_ASSIGN_OR_RETURN(ExprPtr e, parse_not());
        --depth_;
        n->args.push_back(std::move(e));
        return n;
    }
    return parse_compare();
}

Result<ExprPtr> Parser::parse_compare() {
    int line = cur().line;
    VKAI_ASSIGN_OR_RETURN(ExprPtr e, parse_math1());
    ExprPtr cmp;
    while (true) {
        CmpOp op;
        if (is_op("==")) op = CmpOp::eq;
        else if (is_op("!=")) op = CmpOp::ne;
        else if (is_op("<")) op = CmpOp::lt;
        else if (is_op("<=")) op = CmpOp::le;
        else if (is_op(">")) op = CmpOp::gt;
        else if (is_op(">=")) op = CmpOp::ge;
        else if (is_name("in")) op = CmpOp::in;
        else if (is_name("not") && peek().type == Tok::name && peek().text == "in") {
            next();
            op = CmpOp::not_in;
        } else break;
        next();
        if (!cmp) {
            cmp = node(ExprKind::compare, line);
            cmp->args.push_back(std::move(e));
        }
        VKAI_ASSIGN_OR_RETURN(ExprPtr r, parse_math1());
        cmp->ops.push_back(op);
        cmp->args.push_back(std::move(r));
    }
    return cmp ? std::move(cmp) : std::move(e);
}

Result<ExprPtr> Parser::parse_math1() {
    VKAI_ASSIGN_OR_RETURN(ExprPtr e, parse_concat());
    while (is_op("+") || is_op("-")) {
        auto n = node(ExprKind::binary, cur().line);
        n->op = is_op("+") ? BinOp::add : BinOp::sub;
        next();
        VKAI_ASSIGN_OR_RETURN(ExprPtr r, parse_concat());
        n->args.push_back(std::move(e));
        n->args.push_back(std::move(r));
        e = std::move(n);
    }
    return e;
}

Result<ExprPtr> Parser::parse_concat() {
    int line = cur().line;
    VKAI_ASSIGN_OR_RETURN(ExprPtr e, parse_math2());
    if (!is_op("~")) return e;
    auto n = node(ExprKind::concat, line);
    n->args.push_back(std::move(e));
    while (skip_op("~")) {
        VKAI_ASSIGN_OR_RETURN(ExprPtr r, parse_math2());
        n->args.push_back(std::move(r));
    }
    return n;
}

Result<ExprPtr> Parser::parse_math2() {
    VKAI_ASSIGN_OR_RETURN(ExprPtr e, parse_pow());
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
        auto n = node(ExprKind::binary, cur().line);
        n->op = is_op("*") ? BinOp::mul : is_op("/") ? BinOp::div : is_op("//") ? BinOp::floordiv : BinOp::mod;
        next();
        VKAI_ASSIGN_OR_RETURN(ExprPtr r, parse_pow());
        n->args.push_back(std::move(e));
        n->args.push_back(std::move(r));
        e = std::move(n);
    }
    return e;
}

Result<ExprPtr> Parser::parse_pow() {
    VKAI_ASSIGN_OR_RETURN(ExprPtr e, parse_unary());
    while (is_op("**")) {
        auto n = node(ExprKind::binary, cur().line);
        n->op = BinOp::pow;
        next();
        VKAI_ASSIGN_OR_RETURN(ExprPtr r, parse_unary());
        n->args.push_back(std::move(e));
        n->args.push_back(std::move(r));
        e = std::move(n);
    }
    return e;
}

Result<ExprPtr> Parser::parse_unary(bool with_filter) {
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
        auto n = node(is_op("-") ? ExprKind::neg : ExprKind::pos, cur().line);
        next();
        VKAI_TRY(enter());
        VKAI_ASSIGN_OR_RETURN(ExprPtr operand, parse_unary(false));
        --depth_;
        n->args.push_back(std::move(operand));
        e = std::move(n);
    } else {
        VKAI_ASSIGN_OR_RETURN(e, parse_primary());
    }
    VKAI_ASSIGN_OR_RETURN(e, parse_postfix(std::move(e)));
    if (with_filter) {
        VKAI_ASSIGN_OR_RETURN(e, parse_filter_expr(std::move(e)));
    }
    return e;
}

Result<ExprPtr> Parser::parse_primary() {
    const Token& t = cur();
    int line = t.line;
    if (t.type == Tok::name) {
        const std::string& n = t.text;
        auto lit = node(ExprKind::literal, line);
        if (n == "true" || n == "True") lit->value = Value(true);
        else if (n == "false" || n == "False") lit->value = Value(false);
        else if (n == "none" || n == "None") lit->value = Value::none();
        else {
            auto nm = node(ExprKind::name, line);
            nm->name = n;
            next();
            return nm;
        }
        next();
        return lit;
    }
    if (t.type == Tok::string) {
        std::string s;
        while (cur().type == Tok::string) { // adjacent literals concatenate
            s += cur().text;
            next();
        }
        auto lit = node(ExprKind::literal, line);
        lit->value = Value(std::move(s));
        return lit;
    }
    if (t.type == Tok::integer || t.type == Tok::floating) {
        auto lit = node(ExprKind::literal, line);
        lit->value = t.type == Tok::integer ? Value(t.i) : Value(t.f);
        next();
        return lit;
    }
    if (skip_op("(")) {
        VKAI_TRY(enter());
        ExprPtr e;
        if (is_op(")")) {
            e = node(ExprKind::tuple, line);
        } else {
            VKAI_ASSIGN_OR_RETURN(e, parse_expression());
            if (is_op(",")) {
                auto tup = node(ExprKind::tuple, line);
                tup->args.push_back(std::move(e));
                while (skip_op(",")) {
                    if (is_op(")")) break;
                    VKAI_ASSIGN_OR_RETURN(ExprPtr item, parse_expression());
                    tup->args.push_back(std::move(item));
                }
                e = std::move(tup);
            }
        }
        VKAI_TRY(expect_op(")"));
        --depth_;
        return e;
    }
    if (skip_op("[")) {
        VKAI_TRY(enter());
        auto l = node(ExprKind::list, line);
        while (!is_op("]")) {
            if (!l->args.empty()) VKAI_TRY(expect_op(","));
            if (is_op("]")) break;
            VKAI_ASSIGN_OR_RETURN(ExprPtr item, parse_expression());
            l->args.push_back(std::move(item));
        }
        next();
        --depth_;
        return l;
    }
    if (skip_op("{")) {
        VKAI_TRY(enter());
        auto d = node(ExprKind::dict, line);
        while (!is_op("}")) {
            if (!d->args.empty()) VKAI_TRY(expect_op(","));
            if (is_op("}")) break;
            VKAI_ASSIGN_OR_RETURN(ExprPtr k, parse_expression());
            VKAI_TRY(expect_op(":"));
            VKAI_ASSIGN_OR_RETURN(ExprPtr v, parse_expression());
            d->args.push_back(std::move(k));
            d->args.push_back(std::move(v));
        }
        next();
        --depth_;
        return d;
    }
    return err("unexpected " + describe(t) + " in expression");
}

Result<ExprPtr> Parser::parse_postfix(ExprPtr e) {
    while (true) {
        if (is_op(".")) {
            int line = cur().line;
            next();
            if (cur().type == Tok::name) {
                auto n = node(ExprKind::getattr, line);
                n->name = cur().text;
                next();
                n->args.push_back(std::move(e));
                e = std::move(n);
            } else if (cur().type == Tok::integer) {
                auto n = node(ExprKind::getitem, line);
                auto k = node(ExprKind::literal, line);
                k->value = Value(cur().i);
                next();
                n->args.push_back(std::move(e));
                n->args.push_back(std::move(k));
                e = std::move(n);
            } else {
                return err("expected an attribute name after '.', got " + describe(cur()));
            }
        } else if (is_op("[")) {
            VKAI_ASSIGN_OR_RETURN(e, parse_subscript(std::move(e)));
        } else if (is_op("(")) {
            auto c = node(ExprKind::call, cur().line);
            c->args.push_back(std::move(e));
            VKAI_TRY(parse_call_args(*c));
            e = std::move(c);
        } else {
            return e;
        }
    }
}

Result<ExprPtr> Parser::parse_subscript(ExprPtr base) {
    int line = cur().line;
    next(); // [
    VKAI_TRY(enter());
    ExprPtr parts[3];
    bool is_slice = false;
    if (!is_op(":")) {
        VKAI_ASSIGN_OR_RETURN(parts[0], parse_expression());
    }
    if (skip_op(":")) {
        is_slice = true;
        if (!is_op(":") && !is_op("]")) {
            VKAI_ASSIGN_OR_RETURN(parts[1], parse_expression());
        }
        if (skip_op(":") && !is_op("]")) {
            VKAI_ASSIGN_OR_RETURN(parts[2], parse_expression());
        }
    }
    VKAI_TRY(expect_op("]"));
    --depth_;
    auto n = node(is_slice ? ExprKind::slice : ExprKind::getitem, line);
    n->args.push_back(std::move(base));
    if (is_slice) {
        for (auto& p : parts) n->args.push_back(std::move(p));
    } else {
        if (!parts[0]) return err("empty subscript");
        n->args.push_back(std::move(parts[0]));
    }
    return n;
}

Status Parser::parse_call_args(Expr& call) {
    VKAI_TRY(expect_op("("));
    VKAI_TRY(enter());
    bool first = true;
    while (!is_op(")")) {
        if (!first) VKAI_TRY(expect_op(","));
        first = false;
        if (is_op(")")) break;
        if (is_op("*") || is_op("**")) return err("*args and **kwargs in calls are not supported");
        if (cur().type == Tok::name && peek().type == Tok::op && peek().text == "=") {
            std::string n = cur().text;
            next();
            next();
            VKAI_ASSIGN_OR_RETURN(ExprPtr v, parse_expression());
            call.kwargs.emplace_back(std::move(n), std::move(v));
            continue;
        }
        if (!call.kwargs.empty()) return err("positional argument follows keyword argument");
        VKAI_ASSIGN_OR_RETURN(ExprPtr v, parse_expression());
        call.args.push_back(std::move(v));
    }
    next();
    --depth_;
    return Status();
}

Result<ExprPtr> Parser::parse_filter(ExprPtr base) {
    // One or more "| name[(args)]" starting at a '|' (or at the name, inside {% filter %}).
    bool need_bar = base != nullptr;
    bool first = true;
    while (true) {
        if (need_bar || !first) {
            if (!skip_op("|")) break;
        } else {
            skip_op("|");
        }
        first = false;
        auto f = node(ExprKind::filter, cur().line);
        VKAI_ASSIGN_OR_RETURN(f->name, expect_name());
        while (is_op(".")) { // dotted filter names exist in jinja2; none are builtin
            next();
            VKAI_ASSIGN_OR_RETURN(std::string part, expect_name());
            f->name += "." + part;
        }
        f->args.push_back(std::move(base));
        if (is_op("(")) VKAI_TRY(parse_call_args(*f));
        base = std::move(f);
        if (!is_op("|")) break;
    }
    return base;
}

Result<ExprPtr> Parser::parse_filter_expr(ExprPtr e) {
    while (true) {
        if (is_op("|")) {
            auto f = node(ExprKind::filter, cur().line);
            next();
            VKAI_ASSIGN_OR_RETURN(f->name, expect_name());
            f->args.push_back(std::move(e));
            if (is_op("(")) VKAI_TRY(parse_call_args(*f));
            e = std::move(f);
        } else if (is_name("is")) {
            auto t = node(ExprKind::test, cur().line);
            next();
            if (skip_name("not")) t->negated = true;
            VKAI_ASSIGN_OR_RETURN(t->name, expect_name());
            t->args.push_back(std::move(e));
            if (is_op("(")) {
                VKAI_TRY(parse_call_args(*t));
            } else {
                const Token& c = cur();
                bool arg_start = c.type == Tok::name || c.type == Tok::string || c.type == Tok::integer || c.type == Tok::floating ||
                                 (c.type == Tok::op && (c.text == "(" || c.text == "[" || c.text == "{"));
                if (arg_start && !is_name("else") && !is_name("or") && !is_name("and")) {
                    if (is_name("is")) return err("cannot chain multiple tests with 'is'");
                    VKAI_ASSIGN_OR_RETURN(ExprPtr a, parse_primary());
                    VKAI_ASSIGN_OR_RETURN(a, parse_postfix(std::move(a)));
                    t->args.push_back(std::move(a));
                }
            }
            e = std::move(t);
        } else if (is_op("(")) {
            auto c = node(ExprKind::call, cur().line);
            c->args.push_back(std::move(e));
            VKAI_TRY(parse_call_args(*c));
            e = std::move(c);
        } else {
            return e;
        }
    }
}

} // namespace

Result<std::shared_ptr<ast::Program>> parse_tokens(std::vector<Token> tokens, uint32_t max_depth) {
    Parser p(std::move(tokens), max_depth);
    return p.run();
}

} // namespace vkai::jinja
