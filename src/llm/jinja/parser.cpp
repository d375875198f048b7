// Statement parsing: template text, {{ }} and the {% %} tags (if, for, set, macro, call, filter, with,
// break/continue, generation) into the syntax tree; expressions are in parse_expr.cpp.
#include "llm/jinja/parser.h"

namespace vkai::jinja {

namespace detail {

using namespace ast;

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

} // namespace detail

Result<std::shared_ptr<ast::Program>> parse_tokens(std::vector<Token> tokens, uint32_t max_depth) {
    detail::Parser p(std::move(tokens), max_depth);
    return p.run();
}

} // namespace vkai::jinja
