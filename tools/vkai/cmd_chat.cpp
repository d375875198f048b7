// vkai chat: an interactive conversation using the model's chat template. Each turn renders the
// whole conversation and re-evaluates only the tokens after the longest prefix already in the KV
// cache. Ctrl-C stops the reply being generated (twice at the prompt quits); /reset starts over.
#include "args.h"
#include "commands.h"
#include "model_options.h"

#include "base/log.h"
#include "llm/chat_template.h"
#include "llm/generate.h"

#include <atomic>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <iostream>
#include <string>
#include <unistd.h>

namespace vkai::cli {
namespace {

std::atomic<bool> g_interrupted{false};

void on_sigint(int) { g_interrupted.store(true); }

// Reads one user message: a line, continued while it ends with '\', or a block between two lines
// holding only """ . Returns false at end of input.
bool read_message(std::string& out, bool tty) {
    out.clear();
    std::string line;
    bool block = false;
    for (;;) {
        if (tty) std::fputs(out.empty() && !block ? "> " : ". ", stdout), std::fflush(stdout);
        if (!std::getline(std::cin, line)) {
            if (g_interrupted.exchange(false)) {
                std::cin.clear();
                return true; // the caller sees an empty message and decides
            }
            return !out.empty();
        }
        if (line == "\"\"\"") {
            if (block) return true;
            block = true;
            continue;
        }
        if (block) {
            out += line + "\n";
            continue;
        }
        if (!line.empty() && line.back() == '\\') {
            line.pop_back();
            out += line + "\n";
            continue;
        }
        out += line;
        return true;
    }
}

llm::TemplateHints hints_of(const llm::Model& m) {
    llm::TemplateHints h;
    h.arch = m.hp().arch;
    h.model_name = m.gguf().get_string_or("general.name", "");
    const llm::Tokenizer& tok = m.tokenizer();
    for (int32_t i = 0; i < tok.n_vocab(); ++i)
        if (tok.token_type(i) == llm::TokenType::control) h.special_tokens.push_back(tok.token_text(i));
    return h;
}

} // namespace

int cmd_chat(int argc, char** argv) {
    std::vector<Option> opts = model_options();
    for (auto& o : sampling_options()) opts.push_back(o);
    opts.push_back({"system", "", "TEXT", "system prompt"});
    opts.push_back({"chat-template", "", "NAME|FILE", "template to use instead of the model's: a built-in name or a Jinja file"});
    opts.push_back({"n-predict", "n", "N", "most tokens per reply (default: until the model ends its turn)"});
    opts.push_back({"think", "", "", "enable_thinking=true for templates that have it (Qwen3)"});
    opts.push_back({"no-think", "", "", "enable_thinking=false"});
    opts.push_back({"ignore-eos", "", "", "keep generating after the model ends its turn"});
    Args args("chat", "-m MODEL [options]   (type /reset to start over, /exit or Ctrl-D to quit)", opts);
    Status st = args.parse(argc, argv);
    if (!st.ok()) return report("chat", st);
    if (args.help_requested()) {
        std::printf("%s", args.help().c_str());
        return 0;
    }
    auto sp = sampling_params(args);
    if (!sp.ok()) return report("chat", sp.status());
    auto n_predict = args.get_int("n-predict", -1);
    if (!n_predict.ok()) return report("chat", n_predict.status());
    auto lm = load_model(args);
    if (!lm.ok()) return report("chat", lm.status());
    const llm::Model& model = *lm->model;
    llm::Context& ctx = *lm->ctx;
    const llm::Tokenizer& tok = model.tokenizer();

    // The template: --chat-template, else the model's own, else a built-in chosen from the file.
    std::string source, text;
    if (args.has("chat-template")) {
        const std::string t = args.get("chat-template");
        if (const char* b = llm::builtin_template(t)) {
            text = b;
            source = t;
        } else {
            auto f = read_file(t);
            if (!f.ok()) return report("chat", fail(Code::invalid_argument, "--chat-template '%s' is neither a built-in template nor a readable file", t.c_str()));
            text = *f;
            source = t;
        }
    } else {
        text = llm::choose_template(std::string(model.gguf().get_string_or("tokenizer.chat_template", "")), hints_of(model), &source);
    }
    auto tmpl = llm::ChatTemplate::parse(text);
    if (!tmpl.ok()) return report("chat", Status(tmpl.status()).with_context("chat template (" + source + ")"));
    VKAI_LOG_INFO("chat template: %s", source.c_str());

    llm::ChatOptions copt;
    copt.add_generation_prompt = true;
    if (tok.bos() >= 0) copt.bos_token = tok.token_text(tok.bos());
    if (tok.eos() >= 0) copt.eos_token = tok.token_text(tok.eos());
    if (args.has("think")) copt.enable_thinking = true;
    if (args.has("no-think")) copt.enable_thinking = false;

    std::vector<llm::Message> conv;
    if (args.has("system")) conv.push_back({"system", args.get("system")});
    std::vector<int32_t> cached; // tokens whose K/V are in the cache, positions 0..n-1

    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; // no SA_RESTART: a read at the prompt returns so Ctrl-C is seen
    sigaction(SIGINT, &sa, nullptr);

    const bool tty = isatty(STDIN_FILENO);
    bool warned = false;
    std::string msg;
    while (read_message(msg, tty)) {
        if (msg.empty()) {
            if (!warned && tty) std::fputs("\n(Ctrl-C again or /exit to quit)\n", stdout);
            if (warned) break;
            warned = true;
            continue;
        }
        warned = false;
        if (msg == "/exit" || msg == "/quit") break;
        if (msg == "/reset") {
            conv.resize(args.has("system") ? 1 : 0);
            ctx.kv().clear();
            cached.clear();
            std::fputs("(conversation reset)\n", stdout);
            continue;
        }
        conv.push_back({"user", msg});
        auto prompt_text = tmpl->render(conv, copt);
        if (!prompt_text.ok()) {
            conv.pop_back();
            std::fprintf(stderr, "vkai chat: %s\n", prompt_text.status().message().c_str());
            continue;
        }
        std::vector<int32_t> ids = tok.encode(*prompt_text, false, true);
        // Reuse the cached prefix; evaluate the rest.
        size_t common = 0;
        while (common < cached.size() && common < ids.size() && cached[common] == ids[common]) ++common;
        if (common == ids.size()) --common; // at least one token to evaluate for fresh logits
        ctx.kv().remove(0, int32_t(common));
        cached.resize(common);
        std::vector<int32_t> fresh(ids.begin() + std::ptrdiff_t(common), ids.end());
        if (int64_t(ids.size()) >= ctx.kv().n_cells()) {
            conv.pop_back();
            std::fprintf(stderr, "vkai chat: the conversation (%zu tokens) no longer fits the context (%lld); /reset or use a larger -c\n", ids.size(), (long long)ctx.kv().n_cells());
            continue;
        }

        llm::GenerateParams gp;
        gp.sampling = *sp;
        gp.max_tokens = *n_predict;
        gp.ignore_eos = args.has("ignore-eos");
        std::string reply;
        g_interrupted.store(false);
        auto res = llm::generate(ctx, fresh, gp, [&](std::string_view t) {
            std::fwrite(t.data(), 1, t.size(), stdout);
            std::fflush(stdout);
            reply += t;
            return !g_interrupted.load();
        }, int32_t(common));
        std::fputs("\n", stdout);
        if (!res.ok()) {
            conv.pop_back();
            std::fprintf(stderr, "vkai chat: %s\n", res.status().message().c_str());
            ctx.kv().clear();
            cached.clear();
            continue;
        }
        if (g_interrupted.exchange(false)) std::fputs("(stopped)\n", stdout);
        cached.insert(cached.end(), fresh.begin(), fresh.end());
        // The last generated token is not in the cache (it was sampled, not evaluated).
        if (!res->tokens.empty()) cached.insert(cached.end(), res->tokens.begin(), res->tokens.end() - 1);
        conv.push_back({"assistant", reply});
        if (tty) std::fprintf(stderr, "[%lld tokens, %.1f tok/s]\n", (long long)res->n_generated, res->generate_s > 0 ? double(res->n_generated) / res->generate_s : 0.0);
    }
    return 0;
}

} // namespace vkai::cli
