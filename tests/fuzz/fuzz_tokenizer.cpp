// libFuzzer target for tokenizers. First byte picks the mode:
//   even: the input (after byte 0) is a GGUF; load its tokenizer and encode/decode a fixed text.
//   odd:  the input is text, encoded and decoded with real vocabularies (SPM, BPE, WordPiece),
//         checking that decode(encode(x)) stays valid and streaming detokenization agrees.
// Vocab files come from $VKAI_DATA (default ../shared/data).
#include "formats/gguf.h"
#include "llm/tokenizer.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

using namespace vkai;

namespace {

struct Loaded {
    gguf::Model model;
    llm::Tokenizer tok;
};

std::vector<Loaded>& vocabs() {
    static std::vector<Loaded> v = [] {
        std::vector<Loaded> out;
        const char* root = std::getenv("VKAI_DATA");
        const std::string dir = std::string(root ? root : "../shared/data") + "/vocab/";
        for (const char* f : {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-bert-bge.gguf"}) {
            auto m = gguf::open(dir + f);
            if (!m.ok()) continue;
            auto t = llm::Tokenizer::load(m->gguf);
            if (!t.ok()) continue;
            out.push_back({std::move(m).value(), std::move(t).value()});
        }
        return out;
    }();
    return v;
}

void exercise(const llm::Tokenizer& tok, std::string_view text, bool special) {
    std::vector<int32_t> ids = tok.encode(text, special, special);
    std::string whole = tok.decode(ids);
    llm::Detokenizer d(tok);
    std::string streamed;
    for (int32_t id : ids) streamed += d.push(id);
    streamed += d.flush();
    if (streamed != whole) __builtin_trap(); // the streaming detokenizer must agree with decode
    for (int32_t id : ids) (void)tok.token_to_piece(id);
    (void)tok.token_to_piece(-1);
    (void)tok.token_to_piece(tok.n_vocab());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    if ((data[0] & 1) == 0) {
        auto f = gguf::parse({data + 1, size - 1}, "fuzz.gguf");
        if (!f.ok()) return 0;
        auto tok = llm::Tokenizer::load(*f);
        if (!tok.ok()) return 0;
        exercise(*tok, "Hello world! <s> 123 \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80  tabs\tand\nnewlines", true);
        return 0;
    }
    for (const auto& v : vocabs()) exercise(v.tok, rest, (data[0] & 2) != 0);
    return 0;
}
