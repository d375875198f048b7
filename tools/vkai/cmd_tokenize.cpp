// vkai tokenize: the token ids of a text under a model's tokenizer (ids on one line, or one token per
// line with its piece).
#include "args.h"
#include "commands.h"

#include "base/text.h"
#include "formats/gguf.h"
#include "llm/tokenizer.h"
#include "llm/unicode.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace vkai::cli {

namespace {

Result<std::string> read_input(const std::string& path) {
    if (path == "-") {
        std::string s((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
        if (std::cin.bad()) return fail(Code::io, "reading standard input failed");
        return s;
    }
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return fail(Code::invalid_argument, "'%s' is a directory, not a text file", path.c_str());
    std::ifstream f(path, std::ios::binary);
    if (!f) return fail(Code::not_found, "cannot open text file '%s'", path.c_str());
    std::ostringstream ss;
    ss << f.rdbuf();
    if (f.bad()) return fail(Code::io, "reading '%s' failed", path.c_str());
    return ss.str();
}

// A piece as a quoted, single-line literal: valid UTF-8 stays readable, control characters and
// bytes that are not valid UTF-8 (a lone byte-fallback token) become escapes.
std::string quote_piece(std::string_view s) {
    std::string out = "'";
    for (size_t i = 0; i < s.size();) {
        const size_t n = unicode::valid_len(s, i);
        const unsigned char c = (unsigned char)s[i];
        if (n > 1) {
            out.append(s.substr(i, n));
            i += n;
            continue;
        }
        if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '\r') out += "\\r";
        else if (c == '\'') out += "\\'";
        else if (c == '\\') out += "\\\\";
        else if (c < 0x20 || c >= 0x7f) out += strf("\\x%02x", c);
        else out += char(c);
        ++i;
    }
    return out + "'";
}

} // namespace

int cmd_tokenize(int argc, char** argv) {
    Args args("tokenize", "-m MODEL (-p TEXT | -f FILE) [--ids] [--no-special]",
              {
                  {"model", "m", "FILE", "GGUF file with a tokenizer (a model or a vocab-only file)"},
                  {"prompt", "p", "TEXT", "text to tokenize"},
                  {"file", "f", "FILE", "read the text from FILE ('-' for standard input)"},
                  {"ids", "", "", "print only the ids, on one line separated by spaces"},
                  {"no-special", "", "", "add no BOS/EOS and treat special-token text as plain text"},
              });
    Status st = args.parse(argc, argv);
    if (!st.ok()) return report("tokenize", st);
    if (args.help_requested()) {
        std::printf("%s", args.help().c_str());
        return 0;
    }
    if (!args.positional().empty())
        return report("tokenize", fail(Code::invalid_argument, "unexpected argument '%s' (the text goes after -p)",
                                       args.positional()[0].c_str()));
    if (!args.has("model")) return report("tokenize", fail(Code::invalid_argument, "missing -m MODEL"));
    if (args.has("prompt") == args.has("file"))
        return report("tokenize", fail(Code::invalid_argument, "give the text with exactly one of -p TEXT or -f FILE"));

    std::string text;
    if (args.has("prompt")) {
        text = args.get("prompt");
    } else {
        auto r = read_input(args.get("file"));
        if (!r.ok()) return report("tokenize", r.status());
        text = std::move(r).value();
    }

    const std::string path = args.get("model");
    auto model = gguf::open(path);
    if (!model.ok()) return report("tokenize", model.status());
    auto tok = llm::Tokenizer::load(model->gguf);
    if (!tok.ok()) return report("tokenize", tok.status());

    const bool special = !args.has("no-special");
    const std::vector<int32_t> ids = tok->encode(text, special, special);
    if (args.has("ids")) {
        std::string line;
        for (int32_t id : ids) {
            if (!line.empty()) line += ' ';
            line += std::to_string(id);
        }
        std::printf("%s\n", line.c_str());
    } else {
        for (int32_t id : ids) std::printf("%7d %s\n", id, quote_piece(tok->token_to_piece(id)).c_str());
    }
    return std::fflush(stdout) == 0 ? 0 : report("tokenize", fail(Code::io, "writing the output failed"));
}

} // namespace vkai::cli
