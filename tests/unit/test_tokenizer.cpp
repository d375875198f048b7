// Tokenizer test vectors: every ../shared/data/vocab/ggml-vocab-*.gguf that has .inp/.out must match
// exactly, and llama-bpe through a vocabulary built here from llama3.2-encoder.json + llama3.2-vocab.bpe.
#include "base/text.h"
#include "formats/gguf.h"
#include "llm/tokenizer.h"
#include "../support/test_data.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace vkai;

namespace {

std::string read_text(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::vector<std::string> split(const std::string& s, const std::string& sep) {
    std::vector<std::string> out;
    size_t pos = 0;
    for (size_t hit; (hit = s.find(sep, pos)) != std::string::npos; pos = hit + sep.size()) out.push_back(s.substr(pos, hit - pos));
    out.push_back(s.substr(pos));
    return out;
}

struct Case {
    std::string input;
    std::vector<int32_t> ids;
};

// .inp: inputs separated by "\n__ggml_vocab_test__\n" (the file ends with one, leaving an empty last
// input); .out: one line of space-separated ids per input (the last line is empty likewise).
std::vector<Case> load_cases(const std::string& vocab) {
    const auto inputs = split(read_text(test::data_path("vocab/ggml-vocab-" + vocab + ".gguf.inp")), "\n__ggml_vocab_test__\n");
    const auto lines = split(read_text(test::data_path("vocab/ggml-vocab-" + vocab + ".gguf.out")), "\n");
    EXPECT_EQ(inputs.size(), lines.size()) << vocab << ": .inp and .out disagree on the number of cases";
    std::vector<Case> cases;
    for (size_t i = 0; i < inputs.size() && i < lines.size(); ++i) {
        Case c;
        c.input = inputs[i];
        std::istringstream ls(lines[i]);
        for (long long id; ls >> id;) c.ids.push_back(int32_t(id));
        cases.push_back(std::move(c));
    }
    return cases;
}

std::string ids_str(const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t id : ids) {
        if (!s.empty()) s += ' ';
        s += std::to_string(id);
    }
    return s;
}

// Runs all cases, reports each mismatch with its input and the first differing index.
void check_vectors(const llm::Tokenizer& tok, const std::string& vocab) {
    const auto cases = load_cases(vocab);
    ASSERT_FALSE(cases.empty());
    int passed = 0;
    for (size_t i = 0; i < cases.size(); ++i) {
        const auto got = tok.encode(cases[i].input, false, false);
        const auto& want = cases[i].ids;
        if (got == want) {
            ++passed;
            continue;
        }
        size_t k = 0;
        while (k < got.size() && k < want.size() && got[k] == want[k]) ++k;
        ADD_FAILURE() << vocab << " case " << i << " input \"" << printable(cases[i].input, 200) << "\"\n  first difference at index " << k
                      << "\n  got:  " << ids_str(got) << "\n  want: " << ids_str(want);
    }
    std::printf("[ vectors  ] %s: %d/%zu pass\n", vocab.c_str(), passed, cases.size());
}

Result<llm::Tokenizer> load_vocab(const std::string& vocab) {
    VKAI_ASSIGN_OR_RETURN(auto model, gguf::open(test::data_path("vocab/ggml-vocab-" + vocab + ".gguf")));
    return llm::Tokenizer::load(model.gguf);
}

class Vectors : public ::testing::TestWithParam<const char*> {};

TEST_P(Vectors, MatchReference) {
    const std::string vocab = GetParam();
    if (!test::have_data("vocab/ggml-vocab-" + vocab + ".gguf")) GTEST_SKIP() << "no shared data for " << vocab;
    auto tok = load_vocab(vocab);
    ASSERT_TRUE(tok.ok()) << tok.status().message();
    check_vectors(*tok, vocab);
}

INSTANTIATE_TEST_SUITE_P(Vocab, Vectors, ::testing::Values("llama-spm", "gpt-2", "mpt", "starcoder", "refact", "bert-bge"),
                         [](const auto& param_info) {
                             std::string s = param_info.param;
                             for (char& c : s)
                                 if (c == '-') c = '_';
                             return s;
                         });

TEST(Vectors, Qwen2) {
    GTEST_SKIP() << "ggml-vocab-qwen2.gguf is not in ../shared/data/vocab (only its .inp/.out): nothing to load";
}

// Llama 3 vocabulary from the tiktoken-style files: 128000 byte-level tokens (encoder.json: string ->
// id) and the merges in rank order, plus the 256 special tokens the model appends.
Result<std::vector<uint8_t>> build_llama3_gguf() {
    const std::string enc_text = read_text(test::data_path("vocab/llama3.2-encoder.json"));
    const auto enc = nlohmann::json::parse(enc_text, nullptr, false);
    if (enc.is_discarded() || !enc.is_object()) return fail(Code::corrupt, "llama3.2-encoder.json is not a JSON object");
    std::vector<std::string> tokens(enc.size());
    for (auto it = enc.begin(); it != enc.end(); ++it) {
        const int64_t id = it.value().get<int64_t>();
        if (id < 0 || size_t(id) >= tokens.size()) return fail(Code::corrupt, "llama3.2-encoder.json: id %lld out of range", (long long)id);
        tokens[size_t(id)] = it.key();
    }
    std::vector<int32_t> types(tokens.size(), 1);
    const char* named[] = {"<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
                           "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>", "<|start_header_id|>", "<|end_header_id|>",
                           "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"};
    for (int i = 0; i < 256; ++i) {
        tokens.push_back(i < 11 ? named[i] : strf("<|reserved_special_token_%d|>", i - 8));
        types.push_back(3);
    }
    std::vector<std::string> merges;
    std::istringstream bpe(read_text(test::data_path("vocab/llama3.2-vocab.bpe")));
    for (std::string line; std::getline(bpe, line);) {
        if (merges.empty() && line.rfind("#version", 0) == 0) continue;
        if (!line.empty()) merges.push_back(line);
    }
    gguf::Writer w;
    w.set_string("general.architecture", "llama");
    w.set_string("tokenizer.ggml.model", "gpt2");
    w.set_string("tokenizer.ggml.pre", "llama-bpe");
    w.set_string_array("tokenizer.ggml.tokens", tokens);
    w.set_array("tokenizer.ggml.token_type", gguf::ValueType::i32, types.data(), types.size());
    w.set_string_array("tokenizer.ggml.merges", merges);
    w.set_u32("tokenizer.ggml.bos_token_id", 128000);
    w.set_u32("tokenizer.ggml.eos_token_id", 128009);
    w.set_bool("tokenizer.ggml.add_bos_token", true);
    return w.write_to_memory();
}

TEST(Vectors, LlamaBpeFromEncoderJson) {
    if (!test::have_data("vocab/llama3.2-encoder.json") || !test::have_data("vocab/llama3.2-vocab.bpe"))
        GTEST_SKIP() << "no llama3.2-encoder.json / llama3.2-vocab.bpe in shared data";
    auto bytes = build_llama3_gguf();
    ASSERT_TRUE(bytes.ok()) << bytes.status().message();
    auto file = gguf::parse(*bytes, "llama3-built.gguf");
    ASSERT_TRUE(file.ok()) << file.status().message();
    auto tok = llm::Tokenizer::load(*file);
    ASSERT_TRUE(tok.ok()) << tok.status().message();
    EXPECT_EQ(tok->n_vocab(), 128256);
    check_vectors(*tok, "llama-bpe");

    // Special tokens: parsed only when asked; BOS added per the model flag; eot ends generation.
    const auto with = tok->encode("<|start_header_id|>user<|end_header_id|>", true, true);
    EXPECT_EQ(with, (std::vector<int32_t>{128000, 128006, 882, 128007}));
    const auto without = tok->encode("<|eot_id|>", false, false);
    EXPECT_GT(without.size(), 1u);
    EXPECT_TRUE(tok->is_eog(128009));
    EXPECT_TRUE(tok->is_eog(128001)); // <|end_of_text|>
    EXPECT_EQ(tok->eot(), 128009);
    EXPECT_EQ(tok->bos(), 128000);
    EXPECT_FALSE(tok->is_eog(882));
    EXPECT_EQ(tok->decode(with), "user");
    EXPECT_EQ(tok->decode(with, true), "<|begin_of_text|><|start_header_id|>user<|end_header_id|>");
}

TEST(Vectors, GptNeoxLoads) {
    if (!test::have_data("vocab/ggml-vocab-gpt-neox.gguf")) GTEST_SKIP() << "no shared data";
    auto tok = load_vocab("gpt-neox");
    ASSERT_TRUE(tok.ok()) << tok.status().message();
    // No tokenizer.ggml.pre: the GPT-2 split. Runs of spaces are user-defined tokens, always matched.
    const auto ids = tok->encode("Hello world  x", false, false);
    EXPECT_EQ(tok->decode(ids), "Hello world  x");
    EXPECT_EQ(ids, (std::vector<int32_t>{12092, 1533, 50276, 89}));
}

} // namespace
