// Expression parsing with jinja2's operator precedence: cond-expr < or < and < not < comparisons
// < + - < ~ < * / // % < ** < unary < filters/tests < postfix (attributes, subscripts, calls).
#include "llm/jinja/parser.h"

namespace vkai::jinja::detail {

using namespace ast;

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
    Chain chain{*this};
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
        VKAI_TRY(chain.link());
    }
    --depth_;
    return e;
}

Result<ExprPtr> Parser::parse_or() {
    Chain chain{*this};
    VKAI_ASSIGN_OR_RETURN(ExprPtr e, parse_and());
    while (is_name("or")) {
        auto n = node(ExprKind::or_, cur().line);
        next();
        VKAI_ASSIGN_OR_RETURN(ExprPtr r, parse_and());
        n->args.push_back(std::move(e));
        n->args.push_back(std::move(r));
        e = std::move(n);
        VKAI_TRY(chain.link());
    }
    return e;
}

Result<ExprPtr> Parser::parse_and() {
    Chain chain{*this};
    VKAI_ASSIGN_OR_RETURN(ExprPtr e, parse_not());
    while (is_name("and")) {
        auto n = node(ExprKind::and_, cur().line);
        next();
        VKAI_ASSIGN_OR_RETURN(ExprPtr r, parse_not());
        n->args.push_back(std::move(e));
        n->args.push_back(std::move(r));
        e = std::move(n);
        VKAI_TRY(chain.link());
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
    Chain chain{*this};
    VKAI_ASSIGN_OR_RETURN(ExprPtr e, parse_concat());
    while (is_op("+") || is_op("-")) {
        auto n = node(ExprKind::binary, cur().line);
        n->op = is_op("+") ? BinOp::add : BinOp::sub;
        next();
        VKAI_ASSIGN_OR_RETURN(ExprPtr r, parse_concat());
        n->args.push_back(std::move(e));
        n->args.push_back(std::move(r));
        e = std::move(n);
        VKAI_TRY(chain.link());
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
    Chain chain{*this};
    VKAI_ASSIGN_OR_RETURN(ExprPtr e, parse_pow());
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
        auto n = node(ExprKind::binary, cur().line);
        n->op = is_op("*") ? BinOp::mul : is_op("/") ? BinOp::div : is_op("//") ? BinOp::floordiv : BinOp::mod;
        next();
        VKAI_ASSIGN_OR_RETURN(ExprPtr r, parse_pow());
        n->args.push_back(std::move(e));
        n->args.push_back(std::move(r));
        e = std::move(n);
        VKAI_TRY(chain.link());
    }
    return e;
}

Result<ExprPtr> Parser::parse_pow() {
    Chain chain{*this};
    VKAI_ASSIGN_OR_RETURN(ExprPtr e, parse_unary());
    while (is_op("**")) {
        auto n = node(ExprKind::binary, cur().line);
        n->op = BinOp::pow;
        next();
        VKAI_ASSIGN_OR_RETURN(ExprPtr r, parse_unary());
        n->args.push_back(std::move(e));
        n->args.push_back(std::move(r));
        e = std::move(n);
        VKAI_TRY(chain.link());
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
    Chain chain{*this};
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
        VKAI_TRY(chain.link());
            } else if (cur().type == Tok::integer) {
                auto n = node(ExprKind::getitem, line);
                auto k = node(ExprKind::literal, line);
                k->value = Value(cur().i);
                next();
                n->args.push_back(std::move(e));
                n->args.push_back(std::move(k));
                e = std::move(n);
        VKAI_TRY(chain.link());
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
        VKAI_TRY(chain.link());
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
    Chain chain{*this};
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
        VKAI_ASSIGN_OR_RETURN(f->name, expect_dotted_name());
        f->args.push_back(std::move(base));
        if (is_op("(")) VKAI_TRY(parse_call_args(*f));
        base = std::move(f);
        VKAI_TRY(chain.link());
        if (!is_op("|")) break;
    }
    return base;
}

Result<ExprPtr> Parser::parse_filter_expr(ExprPtr e) {
    Chain chain{*this};
    while (true) {
        if (is_op("|")) {
            auto f = node(ExprKind::filter, cur().line);
            next();
            VKAI_ASSIGN_OR_RETURN(f->name, expect_dotted_name());
            f->args.push_back(std::move(e));
            if (is_op("(")) VKAI_TRY(parse_call_args(*f));
            e = std::move(f);
        VKAI_TRY(chain.link());
        } else if (is_name("is")) {
            auto t = node(ExprKind::test, cur().line);
            next();
            if (skip_name("not")) t->negated = true;
            VKAI_ASSIGN_OR_RETURN(t->name, expect_dotted_name());
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
        VKAI_TRY(chain.link());
        } else if (is_op("(")) {
            auto c = node(ExprKind::call, cur().line);
            c->args.push_back(std::move(e));
            VKAI_TRY(parse_call_args(*c));
            e = std::move(c);
        VKAI_TRY(chain.link());
        } else {
            return e;
        }
    }
}

} // namespace vkai::jinja::detail
