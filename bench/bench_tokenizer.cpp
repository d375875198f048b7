// Tokenizer throughput: MB/s of encode and decode on a large mixed text (English prose, code,
// accented Latin, CJK, emoji, whitespace runs), for each vocab type available in the shared data.
//   vkai-bench-tokenizer [--mb N] [--json]     (VKAI_DATA overrides ../shared/data)
#include "base/mapped_file.h"
#include "base/timer.h"
#include "formats/gguf.h"
#include "llm/tokenizer.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace vkai;

namespace {

std::string make_text(size_t bytes) {
    std::string story;
    auto f = read_file("tests/data/story.txt");
    story = f.ok() ? *f : "Once upon a time, there was a little dog named Max.\n";
    const char* extra[] = {
        "int main(int argc, char** argv) {\n    for (int i = 0; i < argc; ++i) printf(\"%s\\n\", argv[i]);\n}\n",
        "Café crème brûlée, naïve résumé — über Straße.\n",
        "\xe4\xbb\x8a\xe5\xa4\xa9\xe5\xa4\xa9\xe6\xb0\x94\xe5\xbe\x88\xe5\xa5\xbd\xe3\x80\x82\xe6\x88\x91\xe4\xbb\xac\xe5\x8e\xbb\xe5\x85\xac\xe5\x9b\xad\xe5\x90\xa7\xef\xbc\x81\n",
        "Emoji \xf0\x9f\x98\x80\xf0\x9f\x90\xb6\xf0\x9f\x8c\x8d and numbers 1234567890 3.14159\n",
        "    indented     text\t\twith\ttabs   and   runs      of spaces\n\n\n",
    };
    std::string out;
    size_t i = 0;
    while (out.size() < bytes) {
        out += story;
        out += extra[i++ % 5];
    }
    out.resize(bytes);
    // Do not end inside a UTF-8 sequence.
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
    return out;
}

} // namespace

int main(int argc, char** argv) {
    size_t mb = 4;
    bool json = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--mb") && i + 1 < argc) mb = size_t(std::atoi(argv[++i]));
        else if (!std::strcmp(argv[i], "--json")) json = true;
        else {
            std::fprintf(stderr, "usage: vkai-bench-tokenizer [--mb N] [--json]\n");
            return 2;
        }
    }
    const char* root = std::getenv("VKAI_DATA");
    const std::string dir = std::string(root ? root : "../shared/data") + "/vocab/";
    const std::string text = make_text(mb << 20);
    if (!json) std::printf("text: %.1f MB mixed prose/code/Unicode\n%-28s %8s %12s %12s %12s\n", double(text.size()) / 1e6, "vocab", "type", "tokens", "encode MB/s", "decode MB/s");
    for (const char* name : {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-starcoder.gguf", "ggml-vocab-mpt.gguf", "ggml-vocab-bert-bge.gguf"}) {
        auto m = gguf::open(dir + name);
        if (!m.ok()) continue;
        auto tok = llm::Tokenizer::load(m->gguf);
        if (!tok.ok()) {
            std::fprintf(stderr, "%s: %s\n", name, tok.status().message().c_str());
            continue;
        }
        double t0 = now_s();
        std::vector<int32_t> ids = tok->encode(text, false, false);
        const double enc = now_s() - t0;
        t0 = now_s();
        std::string back = tok->decode(ids);
        const double dec = now_s() - t0;
        const double mbs = double(text.size()) / 1e6;
        if (json)
            std::printf("{\"vocab\": \"%s\", \"type\": \"%s\", \"bytes\": %zu, \"tokens\": %zu, \"encode_mb_s\": %.2f, \"decode_mb_s\": %.2f}\n", name,
                        llm::vocab_type_name(tok->type()), text.size(), ids.size(), mbs / enc, mbs / dec);
        else
            std::printf("%-28s %8s %12zu %12.2f %12.2f\n", name, llm::vocab_type_name(tok->type()), ids.size(), mbs / enc, mbs / dec);
    }
    return 0;
}
