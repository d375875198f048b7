// llm presets (shapes match the published parameter counts) and vkai synth (file round trip).
#include "formats/gguf.h"
#include "llm/presets.h"
#include "llm/synth.h"
#include "support/test_data.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <unistd.h>

using namespace vkai;

static uint64_t count_params(const llm::HParams& hp) {
    uint64_t n = 0;
    for (const auto& t : llm::tensor_specs(hp)) {
        uint64_t e = 1;
        for (int64_t x : t.ne) e *= uint64_t(x);
        n += e;
    }
    return n;
}

TEST(Presets, ParameterCountsMatchPublishedModels) {
    // Totals from the models' own safetensors indexes.
    EXPECT_EQ(count_params(llm::find_preset("mistral-7b")->hp), 7241732096ull);
    EXPECT_EQ(count_params(llm::find_preset("llama3-8b")->hp), 8030261248ull);
    EXPECT_EQ(count_params(llm::find_preset("qwen3-4b")->hp), 4022468096ull);
    EXPECT_EQ(count_params(llm::find_preset("qwen2.5-0.5b")->hp), 494032768ull);
    EXPECT_EQ(count_params(llm::find_preset("phi3-mini")->hp), 3821079552ull);
    EXPECT_EQ(llm::find_preset("nope"), nullptr);
}

TEST(Synth, TypeMixes) {
    const llm::HParams& hp = llm::find_preset("qwen2.5-0.5b")->hp;
    auto mix = llm::parse_type_mix("q4_k_m");
    ASSERT_TRUE(mix.ok()) << mix.status().message();
    auto specs = llm::tensor_specs(hp);
    for (const auto& s : specs) {
        DType t = llm::tensor_type(*mix, s, hp);
        EXPECT_EQ(s.ne[0] % dtype_info(t).block, 0) << s.name;
        if (s.ne.size() == 1) {
            EXPECT_EQ(t, DType::F32) << s.name;
        }
    }
    // 896-wide rows cannot hold 256-element blocks: they fall back to a 32-block type.
    llm::TensorSpec q{"blk.0.attn_q.weight", {896, 896}, llm::TensorRole::attn_q, 0};
    EXPECT_EQ(llm::tensor_type(*mix, q, hp), DType::Q5_0);
    // ffn_down rows are 4864 = 19 * 256 wide: layer 0 is a more-bits layer in a K_M mix.
    llm::TensorSpec down{"blk.0.ffn_down.weight", {4864, 896}, llm::TensorRole::ffn_down, 0};
    EXPECT_EQ(llm::tensor_type(*mix, down, hp), DType::Q6_K);
    EXPECT_FALSE(llm::parse_type_mix("Q9_X").ok());
}

TEST(Synth, TinyModelRoundTrips) {
    const std::string vocab = test::data_path("vocab/ggml-vocab-llama-spm.gguf");
    if (!test::have_data("vocab/ggml-vocab-llama-spm.gguf")) GTEST_SKIP() << "no shared data";
    char tmpl[] = "/tmp/vkai-synth-XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    close(fd);
    const std::string out = tmpl;

    llm::SynthOptions opt;
    opt.hp = llm::find_preset("tiny")->hp;
    opt.hp.n_vocab = 32000 + 64; // forces padding of the 32000-token vocab
    opt.name = "test";
    opt.type = "Q4_K_M";
    opt.vocab_path = vocab;
    opt.threads = 2;
    auto rep = llm::synth_model(opt, out);
    ASSERT_TRUE(rep.ok()) << rep.status().message();
    EXPECT_EQ(rep->vocab_padding, 64);

    auto m = gguf::open(out);
    ASSERT_TRUE(m.ok()) << m.status().message();
    const gguf::File& f = m->gguf;
    EXPECT_EQ(f.architecture(), "llama");
    EXPECT_EQ(*f.get_uint("llama.block_count"), 2u);
    EXPECT_EQ(*f.get_uint("llama.embedding_length"), 256u);
    EXPECT_EQ(*f.get_uint("general.file_type"), 15u);
    auto toks = f.get_array("tokenizer.ggml.tokens", gguf::ValueType::string);
    ASSERT_TRUE(toks.ok());
    EXPECT_EQ((*toks)->count, 32064u);
    EXPECT_EQ(f.get_string_or("tokenizer.ggml.model", ""), "llama");

    auto specs = llm::tensor_specs(opt.hp);
    ASSERT_EQ(f.tensors.size(), specs.size());
    auto mix = llm::parse_type_mix("Q4_K_M");
    for (size_t i = 0; i < specs.size(); ++i) {
        const gguf::TensorInfo& t = f.tensors[i];
        EXPECT_EQ(t.name, specs[i].name);
        for (size_t d = 0; d < specs[i].ne.size(); ++d) EXPECT_EQ(t.ne[d], specs[i].ne[d]) << t.name;
        EXPECT_EQ(t.type, llm::tensor_type(*mix, specs[i], opt.hp)) << t.name;
    }
    const gguf::TensorInfo* norm = f.find_tensor("blk.0.attn_norm.weight");
    ASSERT_NE(norm, nullptr);
    const float* w = reinterpret_cast<const float*>(norm->data);
    EXPECT_GT(w[0], 0.5f);
    EXPECT_LT(w[0], 1.5f);
    std::remove(out.c_str());
}

TEST(Synth, BadVocabIsAnError) {
    llm::SynthOptions opt;
    opt.hp = llm::find_preset("tiny")->hp;
    opt.type = "Q8_0";
    opt.vocab_path = "/nonexistent/vocab.gguf";
    auto rep = llm::synth_model(opt, "/tmp/vkai-never-written.gguf");
    EXPECT_FALSE(rep.ok());
    EXPECT_NE(rep.status().message().find("/nonexistent/vocab.gguf"), std::string::npos);
}
