// Whisper models in GGUF (src/whisper/load_gguf.h): synth writes the same weights to .bin and .gguf,
// both load to the same model and transcribe jfk.wav to the same greedy tokens; a .bin converted to
// GGUF round-trips; truncated and corrupted whisper GGUFs give errors that name the key or tensor.
#include "cpu/cpu_backend.h"
#include "formats/gguf.h"
#include "support/test_data.h"
#include "support/wav16.h"
#include "whisper/load_gguf.h"
#include "whisper/synth.h"
#include "whisper/transcribe.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <set>
#include <unistd.h>

namespace vkai::whisper {
namespace {

std::string tmp_path(const std::string& leaf) {
    return (std::filesystem::temp_directory_path() / ("vkai-wgguf-" + std::to_string(::getpid()) + "-" + leaf)).string();
}

std::vector<uint8_t> read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

SynthOptions test_options(int layers = 1) {
    SynthOptions opt;
    opt.hp = find_synth_preset("whisper-test")->hp;
    opt.hp.n_audio_layer = opt.hp.n_text_layer = layers;
    opt.vocab_path = test::data_path("whisper/for-tests-ggml-tiny.bin");
    opt.type = "Q8_0";
    opt.seed = 5;
    return opt;
}

// The same synth weights written as .bin and as .gguf (file bytes).
struct Pair {
    std::vector<uint8_t> bin, gguf;
};
const Pair& pair() {
    static const Pair p = [] {
        Pair r;
        const std::string b = tmp_path("m.bin"), g = tmp_path("m.gguf");
        auto rb = synth_model(test_options(), b);
        auto rg = synth_model(test_options(), g);
        EXPECT_TRUE(rb.ok()) << rb.status().message();
        EXPECT_TRUE(rg.ok()) << rg.status().message();
        r.bin = read_all(b);
        r.gguf = read_all(g);
        std::remove(b.c_str());
        std::remove(g.c_str());
        return r;
    }();
    return p;
}

std::vector<int32_t> greedy_tokens(const Model& m) {
    cpu::CpuBackend be(1);
    auto rt = Runtime::create(m, be);
    EXPECT_TRUE(rt.ok()) << rt.status().message();
    if (!rt.ok()) return {};
    const auto audio = test::read_wav16_mono(test::data_path("whisper/jfk.wav"));
    auto mel = log_mel(audio, m.filters(), m.hp().n_mels, be.pool());
    EXPECT_TRUE(mel.ok());
    TranscribeOptions opt;
    opt.beam_size = 1;
    opt.temperatures = {0.0f};
    opt.language = "en";
    auto tr = transcribe(**rt, *mel, int64_t(audio.size()), opt);
    EXPECT_TRUE(tr.ok()) << tr.status().message();
    std::vector<int32_t> all;
    if (tr.ok())
        for (const auto& s : tr->segments) all.insert(all.end(), s.tokens.begin(), s.tokens.end());
    return all;
}

void expect_same_model(const Model& a, const Model& b) {
    EXPECT_EQ(std::memcmp(&a.hp(), &b.hp(), sizeof(a.hp())), 0);
    EXPECT_EQ(a.filters(), b.filters());
    ASSERT_EQ(a.vocab().n_vocab(), b.vocab().n_vocab());
    for (int32_t id = 0; id < a.vocab().n_vocab(); ++id) ASSERT_EQ(a.vocab().bytes(id), b.vocab().bytes(id)) << "token " << id;
    EXPECT_EQ(a.weight_bytes(), b.weight_bytes());
    auto same = [](const Tensor& x, const Tensor& y, const char* what) {
        ASSERT_EQ(x.type, y.type) << what;
        ASSERT_EQ(tensor_bytes(x), tensor_bytes(y)) << what;
        EXPECT_EQ(std::memcmp(x.data, y.data, tensor_bytes(x)), 0) << what;
    };
    same(a.w().conv1_w, b.w().conv1_w, "conv1");
    same(a.w().tok_emb, b.w().tok_emb, "token_embedding");
    same(a.w().enc_pos, b.w().enc_pos, "encoder positions");
    same(a.w().dec[0].cross.q_w, b.w().dec[0].cross.q_w, "cross query");
    same(a.w().enc[0].fc2_w, b.w().enc[0].fc2_w, "encoder mlp.2");
}

TEST(whisper_gguf, synth_gguf_and_bin_transcribe_identically) {
    const Pair& p = pair();
    ASSERT_TRUE(is_gguf(p.gguf));
    ASSERT_FALSE(is_gguf(p.bin));
    auto mb = Model::from_bytes(p.bin, "m.bin");
    auto mg = Model::from_bytes(p.gguf, "m.gguf");
    ASSERT_TRUE(mb.ok()) << mb.status().message();
    ASSERT_TRUE(mg.ok()) << mg.status().message();
    expect_same_model(**mb, **mg);
    const auto tb = greedy_tokens(**mb), tg = greedy_tokens(**mg);
    EXPECT_FALSE(tb.empty());
    EXPECT_EQ(tb, tg);

    // The file says what it is: the specification's keys, our filters and tokens.
    auto g = gguf::parse(p.gguf, "m.gguf");
    ASSERT_TRUE(g.ok());
    EXPECT_EQ(g->architecture(), "whisper");
    EXPECT_EQ(*g->get_int("whisper.encoder.mels_count"), 80);
    EXPECT_EQ(*g->get_int("whisper.encoder.embedding_length"), 64);
    EXPECT_EQ(*g->get_int("whisper.decoder.layer_count"), 1);
    EXPECT_EQ(*g->get_int("whisper.vocab_size"), 51865);
    EXPECT_EQ((*g->get_array("whisper.mel_filters", gguf::ValueType::f32))->count, 80u * 201u);
    const gguf::Value* toks = *g->get_array("tokenizer.ggml.tokens", gguf::ValueType::string);
    EXPECT_EQ(toks->count, 50257u);
    const auto& v = (*mb)->vocab();
    int32_t the = -1;
    for (int32_t id = 0; id < v.eot() && the < 0; ++id)
        if (v.bytes(id) == " the") the = id;
    ASSERT_GE(the, 0);
    EXPECT_EQ(toks->items[size_t(the)].str, "\xc4\xa0the") << "' the' in the GPT-2 byte alphabet (U+0120 = space)";
}

TEST(whisper_gguf, bin_converted_to_gguf_round_trips) {
    const Pair& p = pair();
    auto f = whisper_bin::parse(p.bin, "m.bin");
    ASSERT_TRUE(f.ok());
    auto bytes = to_gguf(*f);
    ASSERT_TRUE(bytes.ok()) << bytes.status().message();
    auto back = parse_gguf(*bytes, "conv.gguf");
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->tokens, f->tokens);
    EXPECT_EQ(back->filters, f->filters);
    ASSERT_EQ(back->tensors.size(), f->tensors.size());
    for (size_t i = 0; i < f->tensors.size(); ++i) {
        const auto& a = f->tensors[i];
        const auto* b = back->find_tensor(a.name);
        ASSERT_NE(b, nullptr) << a.name;
        EXPECT_EQ(a.type, b->type);
        EXPECT_EQ(a.n_dims, b->n_dims);
        EXPECT_EQ(std::memcmp(a.ne, b->ne, sizeof a.ne), 0) << a.name;
        ASSERT_EQ(a.bytes, b->bytes);
        EXPECT_EQ(std::memcmp(a.data, b->data, a.bytes), 0) << a.name;
    }
}

// Rebuilds a GGUF from a parsed one: keys in `drop` left out, `edit` may set keys, tensors pass
// through `tensor` (which may rename, retype or skip them by returning false).
struct TensorEdit {
    std::string name;
    DType type;
    std::vector<int64_t> ne;
};
std::vector<uint8_t> rebuild(const std::vector<uint8_t>& src, const std::set<std::string>& drop, const std::function<void(gguf::Writer&)>& edit = {},
                             const std::function<bool(TensorEdit&)>& tensor = {}) {
    auto g = gguf::parse(src, "src.gguf");
    EXPECT_TRUE(g.ok());
    gguf::Writer w;
    for (const auto& kv : g->kvs)
        if (!drop.count(std::string(kv.key)) && kv.key != "general.alignment") w.set_value(kv.key, kv.value);
    if (edit) edit(w);
    for (const auto& t : g->tensors) {
        TensorEdit te{std::string(t.name), t.type, std::vector<int64_t>(t.ne, t.ne + t.n_dims)};
        if (tensor && !tensor(te)) continue;
        const uint8_t* data = t.data;
        EXPECT_TRUE(w.add_tensor(te.name, te.type, te.ne, [data](uint8_t* dst, uint64_t n) -> Status {
                         std::memcpy(dst, data, n); // same or fewer bytes than the source tensor in these tests
                         return {};
                     }).ok());
    }
    auto out = w.write_to_memory();
    EXPECT_TRUE(out.ok()) << out.status().message();
    return out.ok() ? *out : std::vector<uint8_t>();
}

// Loads a private exact-size copy (ASan sees reads past the end); returns the error message or "".
std::string load_error(const std::vector<uint8_t>& bytes) {
    std::vector<uint8_t> copy(bytes);
    auto m = Model::from_bytes(copy, "bad.gguf");
    if (m.ok()) return "";
    EXPECT_EQ(m.status().message().rfind("bad.gguf", 0), 0u) << m.status().message();
    EXPECT_NE(m.status().code(), Code::internal) << m.status().message();
    return m.status().message();
}

void expect_load_error(const std::vector<uint8_t>& bytes, const std::string& needle) {
    const std::string m = load_error(bytes);
    EXPECT_FALSE(m.empty()) << "loaded, expected an error naming " << needle;
    EXPECT_NE(m.find(needle), std::string::npos) << "expected '" << needle << "' in: " << m;
}

TEST(whisper_gguf, bad_keys_name_the_key) {
    const auto& good = pair().gguf;
    ASSERT_EQ(load_error(good), "");
    expect_load_error(rebuild(good, {"general.architecture"}), "general.architecture");
    expect_load_error(rebuild(good, {}, [](gguf::Writer& w) { w.set_string("general.architecture", "llama"); }), "'llama', expected 'whisper'");
    for (const char* k : {"whisper.encoder.context_length", "whisper.encoder.embedding_length", "whisper.encoder.attention.head_count",
                          "whisper.encoder.layer_count", "whisper.decoder.context_length", "whisper.decoder.embedding_length",
                          "whisper.decoder.attention.head_count", "whisper.decoder.layer_count", "whisper.encoder.mels_count"}) {
        SCOPED_TRACE(k);
        expect_load_error(rebuild(good, {k}), k);
        expect_load_error(rebuild(good, {}, [k](gguf::Writer& w) { w.set_u32(k, 0); }), k);
        expect_load_error(rebuild(good, {}, [k](gguf::Writer& w) { w.set_u32(k, 0xffffffffu); }), k);
        expect_load_error(rebuild(good, {}, [k](gguf::Writer& w) { w.set_string(k, "64"); }), k);
    }
    // whisper.cpp's hparam names are accepted in place of the specification's.
    EXPECT_EQ(load_error(rebuild(good, {"whisper.encoder.mels_count"}, [](gguf::Writer& w) { w.set_i32("whisper.n_mels", 80); })), "");
    // Heads that do not divide the width; a layer count the tensors do not have; a wrong vocabulary size.
    expect_load_error(rebuild(good, {}, [](gguf::Writer& w) { w.set_u32("whisper.encoder.attention.head_count", 3); }), "head counts");
    expect_load_error(rebuild(good, {}, [](gguf::Writer& w) { w.set_u32("whisper.encoder.layer_count", 2); }), "encoder.blocks.1.");
    expect_load_error(rebuild(good, {}, [](gguf::Writer& w) { w.set_u32("whisper.vocab_size", 51866); }), "decoder.token_embedding.weight");
    expect_load_error(rebuild(good, {}, [](gguf::Writer& w) { w.set_u32("whisper.vocab_size", 1000); }), "whisper.vocab_size");
    // Without whisper.vocab_size the embedding's rows give it.
    EXPECT_EQ(load_error(rebuild(good, {"whisper.vocab_size"})), "");

    // Mel filters: wrong count or type is an error; absent means computed.
    expect_load_error(rebuild(good, {}, [](gguf::Writer& w) {
                          std::vector<float> f(80 * 200);
                          w.set_array("whisper.mel_filters", gguf::ValueType::f32, f.data(), f.size());
                      }),
                      "201 frequency bins");
    expect_load_error(rebuild(good, {}, [](gguf::Writer& w) {
                          std::vector<float> f(80 * 201 + 1);
                          w.set_array("whisper.mel_filters", gguf::ValueType::f32, f.data(), f.size());
                      }),
                      "whisper.mel_filters");
    expect_load_error(rebuild(good, {}, [](gguf::Writer& w) {
                          std::vector<int32_t> f(80 * 201);
                          w.set_array("whisper.mel_filters", gguf::ValueType::i32, f.data(), f.size());
                      }),
                      "whisper.mel_filters");
    EXPECT_EQ(load_error(rebuild(good, {"whisper.mel_filters"})), "");

    // Tokens: missing, another tokenizer, characters outside the byte alphabet, too many.
    expect_load_error(rebuild(good, {"tokenizer.ggml.tokens"}), "tokenizer.ggml.tokens");
    expect_load_error(rebuild(good, {}, [](gguf::Writer& w) { w.set_string("tokenizer.ggml.model", "gpt2"); }), "tokenizer.ggml.model");
    expect_load_error(rebuild(good, {}, [](gguf::Writer& w) { w.set_string_array("tokenizer.ggml.tokens", {"a", " the"}); }), "tokenizer.ggml.tokens[1]");
    expect_load_error(rebuild(good, {}, [](gguf::Writer& w) { w.set_string_array("tokenizer.ggml.tokens", {"\xe4\xb8\xad"}); }), "U+4E2D");
    expect_load_error(rebuild(good, {}, [](gguf::Writer& w) { w.set_string_array("tokenizer.ggml.tokens", std::vector<std::string>(51866, "a")); }),
                      "tokenizer.ggml.tokens has 51866 entries");
    expect_load_error(rebuild(good, {}, [](gguf::Writer& w) { w.set_string_array("tokenizer.ggml.tokens", std::vector<std::string>(50259, "a")); }),
                      "more than the 50258 regular tokens");
}

TEST(whisper_gguf, bad_tensors_name_the_tensor) {
    const auto& good = pair().gguf;
    expect_load_error(rebuild(good, {}, {}, [](TensorEdit& t) { return t.name != "decoder.ln.bias"; }), "'decoder.ln.bias' is missing");
    expect_load_error(rebuild(good, {}, {}, [](TensorEdit& t) {
                          if (t.name == "encoder.blocks.0.mlp.0.weight") std::swap(t.ne[0], t.ne[1]);
                          return true;
                      }),
                      "encoder.blocks.0.mlp.0.weight");
    expect_load_error(rebuild(good, {}, {}, [](TensorEdit& t) {
                          if (t.name == "encoder.ln_post.weight") t.ne = {32};
                          return true;
                      }),
                      "encoder.ln_post.weight");
    // A type whisper files do not use (Q4_K over a 256-multiple row: mlp.0 is 64 x 256, so use tok_emb rows of 64 -> not possible; take BF16).
    expect_load_error(rebuild(good, {}, {}, [](TensorEdit& t) {
                          if (t.name == "decoder.ln.weight") t.type = DType::BF16;
                          return true;
                      }),
                      "'decoder.ln.weight' has type BF16");
}

// Truncation at every length of the header (a model with a short stored vocabulary and computed
// filters keeps the header small enough to try them all), then at sampled lengths into the data.
TEST(whisper_gguf, truncated_at_every_header_length) {
    const auto& good = pair().gguf;
    const auto small = rebuild(good, {"whisper.mel_filters"}, [](gguf::Writer& w) {
        std::vector<std::string> t;
        for (int i = 0; i < 300; ++i) t.push_back(std::string(1, char('!' + i % 90)));
        w.set_string_array("tokenizer.ggml.tokens", t);
    });
    ASSERT_EQ(load_error(small), "");
    auto g = gguf::parse(small, "small.gguf");
    ASSERT_TRUE(g.ok());
    const size_t header = size_t(g->data_offset);
    ASSERT_GT(header, 1000u);
    for (size_t n = 0; n <= header + 64; ++n) {
        std::vector<uint8_t> cut(small.begin(), small.begin() + std::ptrdiff_t(n));
        ASSERT_NE(load_error(cut), "") << "truncated at " << n << " of " << small.size();
    }
    for (size_t k = 1; k < 64; ++k) {
        const size_t n = header + (small.size() - header) * k / 64;
        std::vector<uint8_t> cut(small.begin(), small.begin() + std::ptrdiff_t(n));
        EXPECT_NE(load_error(cut), "") << "truncated at " << n;
    }
    // The full-vocabulary file at sampled lengths too.
    for (size_t k = 0; k < 64; ++k) {
        const size_t n = good.size() * k / 64;
        std::vector<uint8_t> cut(good.begin(), good.begin() + std::ptrdiff_t(n));
        EXPECT_NE(load_error(cut), "") << "truncated at " << n;
    }
}

// Every byte of the small header flipped (each to a few values) through the whisper GGUF reader:
// an error naming the file, or a consistent result; never a crash (ASan) or a read outside the copy.
TEST(whisper_gguf, header_byte_flips_never_crash) {
    const auto small = rebuild(pair().gguf, {"whisper.mel_filters"}, [](gguf::Writer& w) { w.set_string_array("tokenizer.ggml.tokens", {"a", "b"}); });
    auto g = gguf::parse(small, "small.gguf");
    ASSERT_TRUE(g.ok());
    int errors = 0;
    for (size_t i = 0; i < size_t(g->data_offset); ++i)
        for (uint8_t v : {uint8_t(0x00), uint8_t(0xff), uint8_t(small[i] ^ 0x01)}) {
            if (small[i] == v) continue;
            std::vector<uint8_t> bad(small);
            bad[i] = v;
            auto f = parse_gguf(bad, "bad.gguf");
            if (!f.ok()) {
                ++errors;
                EXPECT_EQ(f.status().message().rfind("bad.gguf", 0), 0u) << f.status().message();
                continue;
            }
            EXPECT_LE(f->tokens.size(), size_t(f->hp.n_vocab));
            EXPECT_EQ(f->filters.size(), size_t(f->hp.n_mels) * 201);
            for (const auto& t : f->tensors) {
                EXPECT_GE(t.data, bad.data());
                EXPECT_LE(uint64_t(t.data - bad.data()) + t.bytes, bad.size());
            }
        }
    EXPECT_GT(errors, 1000);
}

} // namespace
} // namespace vkai::whisper
