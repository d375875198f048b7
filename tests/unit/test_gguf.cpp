// GGUF reader/writer: round trips of every value type, alignment and tensor bytes, typed getters,
// and every real .gguf under ../shared/data parsing with sane values.
#include "formats/gguf.h"
#include "../support/test_data.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace vkai;
using namespace vkai::gguf;

namespace {

File parse_ok(const std::vector<uint8_t>& bytes) {
    auto r = parse(bytes, "mem.gguf");
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? std::move(r).value() : File{};
}

std::vector<uint8_t> to_memory(const Writer& w) {
    auto r = w.write_to_memory();
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? std::move(r).value() : std::vector<uint8_t>{};
}

// Fills bytes with a pattern derived from the tensor index, so misplaced data is detected.
Writer::Fill pattern(uint8_t seed) {
    return [seed](uint8_t* dst, uint64_t n) -> Status {
        for (uint64_t i = 0; i < n; ++i) dst[i] = uint8_t(seed + i * 7);
        return {};
    };
}

} // namespace

TEST(Gguf, RoundTripScalars) {
    Writer w;
    w.set_u8("u8", 200);
    w.set_i8("i8", -100);
    w.set_u16("u16", 60000);
    w.set_i16("i16", -30000);
    w.set_u32("u32", 4000000000u);
    w.set_i32("i32", -2000000000);
    w.set_u64("u64", 0xfedcba9876543210ull);
    w.set_i64("i64", INT64_MIN);
    w.set_f32("f32", 1.5f);
    w.set_f64("f64", -2.25e300);
    w.set_bool("t", true);
    w.set_bool("f", false);
    w.set_string("s", "héllo \"world\"\n");
    w.set_string("empty", "");
    std::vector<uint8_t> bytes = to_memory(w);
    File f = parse_ok(bytes);
    EXPECT_EQ(f.version, 3u);
    EXPECT_EQ(f.alignment, 32u);
    ASSERT_EQ(f.kvs.size(), 14u);
    EXPECT_TRUE(f.tensors.empty());
    EXPECT_EQ(f.find("u8")->type, ValueType::u8);
    EXPECT_EQ(f.find("u8")->u, 200u);
    EXPECT_EQ(f.find("i8")->i, -100);
    EXPECT_EQ(f.find("u16")->u, 60000u);
    EXPECT_EQ(f.find("i16")->i, -30000);
    EXPECT_EQ(f.find("u32")->u, 4000000000u);
    EXPECT_EQ(f.find("i32")->i, -2000000000);
    EXPECT_EQ(f.find("u64")->u, 0xfedcba9876543210ull);
    EXPECT_EQ(f.find("i64")->i, INT64_MIN);
    EXPECT_EQ(f.find("f32")->f, 1.5);
    EXPECT_EQ(f.find("f64")->f, -2.25e300);
    EXPECT_EQ(*f.get_bool("t"), true);
    EXPECT_EQ(*f.get_bool("f"), false);
    EXPECT_EQ(*f.get_string("s"), "héllo \"world\"\n");
    EXPECT_EQ(*f.get_string("empty"), "");
    for (const auto& kv : f.kvs) EXPECT_EQ(f.find(kv.key), &kv.value);
}

TEST(Gguf, Getters) {
    Writer w;
    w.set_i32("neg", -5);
    w.set_i16("pos", 7);
    w.set_u64("big", 0x8000000000000000ull);
    w.set_u8("small", 9);
    w.set_f32("eps", 1e-5f);
    w.set_string("general.architecture", "llama");
    uint32_t ids[3] = {1, 2, 3};
    w.set_array("ids", ValueType::u32, ids, 3);
    std::vector<uint8_t> bytes = to_memory(w); // views point into bytes: keep it alive
    File f = parse_ok(bytes);
    EXPECT_EQ(f.architecture(), "llama");
    EXPECT_EQ(*f.get_int("neg"), -5);
    EXPECT_EQ(f.get_uint("neg").status().code(), Code::corrupt);
    EXPECT_EQ(*f.get_uint("pos"), 7u);
    EXPECT_EQ(*f.get_uint("big"), 0x8000000000000000ull);
    EXPECT_EQ(f.get_int("big").status().code(), Code::corrupt);
    EXPECT_EQ(*f.get_int("small"), 9);
    EXPECT_NEAR(*f.get_float("eps"), 1e-5, 1e-12);
    EXPECT_EQ(*f.get_float("small"), 9.0);
    EXPECT_EQ(f.get_uint("missing").status().code(), Code::not_found);
    EXPECT_EQ(f.get_string("small").status().code(), Code::corrupt);
    EXPECT_EQ(f.get_bool("small").status().code(), Code::corrupt);
    EXPECT_EQ(f.get_uint("eps").status().code(), Code::corrupt);
    EXPECT_NE(f.get_string("small").status().message().find("'small' has type u8; expected string"), std::string::npos)
        << f.get_string("small").status().message();
    EXPECT_EQ(f.get_string_or("small", "fb"), "fb");
    EXPECT_EQ(f.get_string_or("general.architecture", "fb"), "llama");
    ASSERT_TRUE(f.get_array("ids", ValueType::u32).ok());
    EXPECT_EQ(f.get_array("ids", ValueType::i32).status().code(), Code::corrupt);
    EXPECT_EQ(f.get_array("small", ValueType::u32).status().code(), Code::corrupt);
    const Value* a = *f.get_array("ids", ValueType::u32);
    EXPECT_EQ(a->int_at(2), 3);
    EXPECT_EQ(a->int_at(3), 0); // out of range reads nothing
}

TEST(Gguf, RoundTripArrays) {
    Writer w;
    uint8_t u8s[3] = {1, 2, 255};
    int8_t i8s[2] = {-1, 127};
    uint16_t u16s[2] = {1, 65535};
    int16_t i16s[2] = {-32768, 5};
    uint32_t u32s[4] = {0, 1, 2, 0xffffffffu};
    int32_t i32s[2] = {-7, 7};
    float f32s[3] = {0.5f, -1.0f, 3.25f};
    uint64_t u64s[2] = {1, UINT64_MAX};
    int64_t i64s[2] = {INT64_MIN, INT64_MAX};
    double f64s[2] = {1e-300, -0.0};
    uint8_t bools[3] = {1, 0, 1};
    w.set_array("a.u8", ValueType::u8, u8s, 3);
    w.set_array("a.i8", ValueType::i8, i8s, 2);
    w.set_array("a.u16", ValueType::u16, u16s, 2);
    w.set_array("a.i16", ValueType::i16, i16s, 2);
    w.set_array("a.u32", ValueType::u32, u32s, 4);
    w.set_array("a.i32", ValueType::i32, i32s, 2);
    w.set_array("a.f32", ValueType::f32, f32s, 3);
    w.set_array("a.u64", ValueType::u64, u64s, 2);
    w.set_array("a.i64", ValueType::i64, i64s, 2);
    w.set_array("a.f64", ValueType::f64, f64s, 2);
    w.set_array("a.bool", ValueType::boolean, bools, 3);
    w.set_array("a.empty", ValueType::u32, nullptr, 0);
    w.set_string_array("a.str", {"a", "", "tok\xff\x01", std::string(300, 'x')});

    // Nested: an array of two arrays (u32, then strings), built as Values and copied with set_value.
    Value inner1;
    inner1.type = ValueType::array;
    inner1.elem_type = ValueType::u32;
    inner1.count = 4;
    inner1.raw = reinterpret_cast<const uint8_t*>(u32s);
    Value inner2;
    inner2.type = ValueType::array;
    inner2.elem_type = ValueType::string;
    inner2.count = 2;
    inner2.items.resize(2);
    inner2.items[0].type = inner2.items[1].type = ValueType::string;
    inner2.items[0].str = "x";
    inner2.items[1].str = "yz";
    Value outer;
    outer.type = ValueType::array;
    outer.elem_type = ValueType::array;
    outer.count = 2;
    outer.items = {inner1, inner2};
    w.set_value("a.nested", outer);

    std::vector<uint8_t> bytes = to_memory(w);
    File f = parse_ok(bytes);
    auto arr = [&](const char* k, ValueType t) {
        auto r = f.get_array(k, t);
        EXPECT_TRUE(r.ok()) << r.status().message();
        return r.ok() ? *r : nullptr;
    };
    const Value* v = arr("a.u8", ValueType::u8);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->count, 3u);
    EXPECT_EQ(v->int_at(2), 255);
    EXPECT_EQ(arr("a.i8", ValueType::i8)->int_at(0), -1);
    EXPECT_EQ(arr("a.u16", ValueType::u16)->int_at(1), 65535);
    EXPECT_EQ(arr("a.i16", ValueType::i16)->int_at(0), -32768);
    EXPECT_EQ(arr("a.u32", ValueType::u32)->uint_at(3), 0xffffffffu);
    EXPECT_EQ(arr("a.i32", ValueType::i32)->int_at(0), -7);
    EXPECT_EQ(arr("a.f32", ValueType::f32)->float_at(2), 3.25);
    EXPECT_EQ(arr("a.u64", ValueType::u64)->uint_at(1), UINT64_MAX);
    EXPECT_EQ(arr("a.i64", ValueType::i64)->int_at(0), INT64_MIN);
    EXPECT_EQ(arr("a.i64", ValueType::i64)->int_at(1), INT64_MAX);
    EXPECT_EQ(arr("a.f64", ValueType::f64)->float_at(0), 1e-300);
    EXPECT_EQ(arr("a.bool", ValueType::boolean)->int_at(1), 0);
    EXPECT_EQ(arr("a.bool", ValueType::boolean)->int_at(2), 1);
    EXPECT_EQ(arr("a.empty", ValueType::u32)->count, 0u);
    const Value* s = arr("a.str", ValueType::string);
    ASSERT_TRUE(s);
    ASSERT_EQ(s->items.size(), 4u);
    EXPECT_EQ(s->items[0].str, "a");
    EXPECT_EQ(s->items[1].str, "");
    EXPECT_EQ(s->items[2].str, "tok\xff\x01");
    EXPECT_EQ(s->items[3].str.size(), 300u);
    const Value* n = arr("a.nested", ValueType::array);
    ASSERT_TRUE(n);
    ASSERT_EQ(n->items.size(), 2u);
    EXPECT_EQ(n->items[0].elem_type, ValueType::u32);
    EXPECT_EQ(n->items[0].uint_at(3), 0xffffffffu);
    EXPECT_EQ(n->items[1].elem_type, ValueType::string);
    EXPECT_EQ(n->items[1].items[1].str, "yz");

    // Copying every value into a new writer reproduces the file byte for byte.
    Writer w2;
    for (const auto& kv : f.kvs) w2.set_value(kv.key, kv.value);
    EXPECT_EQ(to_memory(w2), bytes);
}

TEST(Gguf, WriterRejectsBadInput) {
    Writer w;
    EXPECT_FALSE(w.add_tensor("", DType::F32, {4}, nullptr).ok());
    EXPECT_FALSE(w.add_tensor("a", DType::Q4_0, {33}, nullptr).ok()); // not a multiple of 32
    EXPECT_FALSE(w.add_tensor("b", DType::F32, {}, nullptr).ok());
    EXPECT_FALSE(w.add_tensor("c", DType::F32, {1, 1, 1, 1, 1}, nullptr).ok());
    EXPECT_FALSE(w.add_tensor("d", DType::F32, {-1}, nullptr).ok());
    EXPECT_FALSE(w.add_tensor(std::string(kMaxTensorNameBytes + 1, 'n'), DType::F32, {4}, nullptr).ok());
    EXPECT_TRUE(w.add_tensor("e", DType::F32, {4}, nullptr).ok());
    EXPECT_FALSE(w.add_tensor("e", DType::F32, {4}, nullptr).ok());
    EXPECT_TRUE(w.write_to_memory().ok());
    Writer bad_align(48);
    EXPECT_FALSE(bad_align.write_to_memory().ok());
    Writer bad_key;
    bad_key.set_u32("", 1);
    EXPECT_FALSE(bad_key.write_to_memory().ok());
    Writer wrong_align_type;
    wrong_align_type.set_i32("general.alignment", 64);
    EXPECT_FALSE(wrong_align_type.write_to_memory().ok());
}

TEST(Gguf, SettingAKeyTwiceReplacesIt) {
    Writer w;
    w.set_u32("k", 1);
    w.set_string("k", "two");
    std::vector<uint8_t> bytes = to_memory(w); // views point into bytes: keep it alive
    File f = parse_ok(bytes);
    ASSERT_EQ(f.kvs.size(), 1u);
    EXPECT_EQ(*f.get_string("k"), "two");
}

class GgufAlign : public ::testing::TestWithParam<uint64_t> {};

TEST_P(GgufAlign, TensorsRoundTripWithExactBytes) {
    const uint64_t align = GetParam();
    Writer w(align);
    w.set_string("general.architecture", "test");
    struct Spec {
        const char* name;
        DType type;
        std::vector<int64_t> ne;
        uint64_t bytes;
    };
    const std::vector<Spec> specs = {
        {"f32", DType::F32, {3, 5}, 60},
        {"f16", DType::F16, {7}, 14},
        {"bf16", DType::BF16, {2, 3, 4}, 48},
        {"q8_0", DType::Q8_0, {64, 3}, 2 * 34 * 3},
        {"q4_0", DType::Q4_0, {32}, 18},
        {"q4_k", DType::Q4_K, {256, 2}, 144 * 2},
        {"q6_k", DType::Q6_K, {512}, 210 * 2},
        {"empty", DType::F32, {0, 4}, 0},
        {"i32.4d", DType::I32, {1, 2, 3, 4}, 96},
    };
    for (size_t i = 0; i < specs.size(); ++i)
        ASSERT_TRUE(w.add_tensor(specs[i].name, specs[i].type, specs[i].ne, pattern(uint8_t(i * 31))).ok());
    std::vector<uint8_t> bytes = to_memory(w);
    File f = parse_ok(bytes);
    EXPECT_EQ(f.alignment, align);
    if (align != 32) {
        EXPECT_EQ(*f.get_uint("general.alignment"), align);
    }
    EXPECT_EQ(f.data_offset % align, 0u);
    EXPECT_EQ(bytes.size() % align, 0u);
    ASSERT_EQ(f.tensors.size(), specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
        const TensorInfo& t = f.tensors[i];
        SCOPED_TRACE(specs[i].name);
        EXPECT_EQ(t.name, specs[i].name);
        EXPECT_EQ(f.find_tensor(specs[i].name), &t);
        EXPECT_EQ(t.type, specs[i].type);
        EXPECT_EQ(t.n_dims, int(specs[i].ne.size()));
        for (size_t d = 0; d < 4; ++d) EXPECT_EQ(t.ne[d], d < specs[i].ne.size() ? specs[i].ne[d] : 1);
        EXPECT_EQ(t.bytes, specs[i].bytes);
        EXPECT_EQ(t.offset % align, 0u);
        EXPECT_EQ(t.data, bytes.data() + f.data_offset + t.offset);
        std::vector<uint8_t> want(t.bytes);
        ASSERT_TRUE(pattern(uint8_t(i * 31))(want.data(), want.size()).ok());
        if (t.bytes) {
            EXPECT_EQ(std::memcmp(t.data, want.data(), t.bytes), 0);
        }
    }
    EXPECT_EQ(f.find_tensor("nope"), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Alignments, GgufAlign, ::testing::Values(32u, 64u, 1u, 4096u));

TEST(Gguf, Version2Accepted) {
    Writer w;
    w.set_u32("x", 5);
    ASSERT_TRUE(w.add_tensor("t", DType::F32, {8}, pattern(1)).ok());
    std::vector<uint8_t> bytes = to_memory(w);
    bytes[4] = 2; // v2 has the same layout as v3 (64-bit counts); only the version differs
    File f = parse_ok(bytes);
    EXPECT_EQ(f.version, 2u);
    EXPECT_EQ(*f.get_uint("x"), 5u);
    EXPECT_EQ(f.tensors.size(), 1u);
}

TEST(Gguf, WriteToFileAndOpen) {
    char dir[] = "/tmp/vkai-gguf-XXXXXX";
    ASSERT_TRUE(mkdtemp(dir));
    std::string path = std::string(dir) + "/m.gguf";
    Writer w;
    w.set_string("general.architecture", "llama");
    ASSERT_TRUE(w.add_tensor("w", DType::F16, {16, 2}, pattern(3)).ok());
    ASSERT_TRUE(w.write(path).ok());
    struct stat st {};
    EXPECT_NE(stat((path + ".tmp").c_str(), &st), 0);
    auto m = open(path);
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_EQ(m->gguf.architecture(), "llama");
    ASSERT_EQ(m->gguf.tensors.size(), 1u);
    EXPECT_EQ(m->gguf.tensors[0].bytes, 64u);
    EXPECT_EQ(m->gguf.tensors[0].data[1], uint8_t(3 + 7));
    EXPECT_EQ(to_memory(w), std::vector<uint8_t>(m->file.bytes().begin(), m->file.bytes().end()));

    // A Fill that fails aborts the write and leaves neither the file nor the temporary behind.
    std::string path2 = std::string(dir) + "/bad.gguf";
    Writer w2;
    ASSERT_TRUE(w2.add_tensor("w", DType::F32, {4}, [](uint8_t*, uint64_t) { return fail(Code::cancelled, "stop"); }).ok());
    Status s = w2.write(path2);
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("tensor 'w'"), std::string::npos) << s.message();
    EXPECT_NE(stat(path2.c_str(), &st), 0);
    EXPECT_NE(stat((path2 + ".tmp").c_str(), &st), 0);

    // An unwritable destination is an io error, not a crash.
    EXPECT_EQ(w.write(std::string(dir) + "/no/such/dir/x.gguf").code(), Code::io);
    EXPECT_EQ(open(std::string(dir) + "/missing.gguf").status().code(), Code::not_found);
    unlink(path.c_str());
    rmdir(dir);
}

namespace {

std::vector<std::string> real_files() {
    std::vector<std::string> out;
    for (const char* sub : {"llm", "quant", "vocab", "sd"}) {
        DIR* d = opendir(test::data_path(sub).c_str());
        if (!d) continue;
        while (dirent* e = readdir(d)) {
            std::string n = e->d_name;
            if (n.size() > 5 && n.substr(n.size() - 5) == ".gguf") out.push_back(std::string(sub) + "/" + n);
        }
        closedir(d);
    }
    return out;
}

} // namespace

TEST(GgufRealFiles, AllParse) {
    std::vector<std::string> files = real_files();
    if (files.empty()) GTEST_SKIP() << "no data under " << test::data_path("");
    EXPECT_GE(files.size(), 20u);
    for (const auto& rel : files) {
        SCOPED_TRACE(rel);
        auto m = open(test::data_path(rel));
        ASSERT_TRUE(m.ok()) << m.status().message();
        const File& f = m->gguf;
        EXPECT_EQ(f.version, 3u);
        EXPECT_FALSE(f.kvs.empty());
        EXPECT_LE(f.data_offset, f.bytes.size());
        for (const auto& t : f.tensors) {
            EXPECT_GE(t.data, f.bytes.data());
            EXPECT_LE(t.data + t.bytes, f.bytes.data() + f.bytes.size());
            EXPECT_EQ(t.offset % f.alignment, 0u);
        }
        if (rel.rfind("vocab/", 0) == 0) {
            EXPECT_TRUE(f.tensors.empty());
            auto toks = f.get_array("tokenizer.ggml.tokens", ValueType::string);
            ASSERT_TRUE(toks.ok()) << toks.status().message();
            EXPECT_GT((*toks)->count, 1000u);
        } else {
            EXPECT_FALSE(f.tensors.empty());
        }
    }
}

TEST(GgufRealFiles, Stories260K) {
    if (!test::have_data("llm/stories260K.gguf")) GTEST_SKIP();
    auto m = open(test::data_path("llm/stories260K.gguf"));
    ASSERT_TRUE(m.ok()) << m.status().message();
    const File& f = m->gguf;
    EXPECT_EQ(f.architecture(), "llama");
    EXPECT_EQ(*f.get_uint("llama.embedding_length"), 64u);
    EXPECT_EQ(*f.get_uint("llama.block_count"), 5u);
    EXPECT_NEAR(*f.get_float("llama.attention.layer_norm_rms_epsilon"), 1e-5, 1e-9);
    EXPECT_EQ(f.kvs.size(), 19u);
    EXPECT_EQ(f.tensors.size(), 48u);
    auto toks = f.get_array("tokenizer.ggml.tokens", ValueType::string);
    ASSERT_TRUE(toks.ok());
    EXPECT_EQ((*toks)->count, 512u);
    const TensorInfo* emb = f.find_tensor("token_embd.weight");
    ASSERT_TRUE(emb);
    EXPECT_EQ(emb->type, DType::F32);
    EXPECT_EQ(emb->n_dims, 2);
    EXPECT_EQ(emb->ne[0], 64);
    EXPECT_EQ(emb->ne[1], 512);
    EXPECT_EQ(emb->bytes, 64u * 512u * 4u);
    EXPECT_EQ(emb->offset, 0u);
    const TensorInfo* ffn = f.find_tensor("blk.4.ffn_down.weight");
    ASSERT_TRUE(ffn);
    EXPECT_EQ(ffn->ne[0], 172);
    EXPECT_EQ(ffn->ne[1], 64);
}

TEST(GgufRealFiles, QuantizedStoriesHaveQuantTypes) {
    if (!test::have_data("llm/stories260K-Q4_K_M.gguf")) GTEST_SKIP();
    auto m = open(test::data_path("llm/stories260K-Q4_K_M.gguf"));
    ASSERT_TRUE(m.ok()) << m.status().message();
    int quantized = 0;
    for (const auto& t : m->gguf.tensors) quantized += dtype_info(t.type).quantized;
    EXPECT_GT(quantized, 0);
}

TEST(GgufRealFiles, CopyThroughWriterIsIdentical) {
    // Re-encoding a real file's metadata and tensors gives a file that parses to the same values.
    if (!test::have_data("llm/stories260K-Q6_K.gguf")) GTEST_SKIP();
    auto m = open(test::data_path("llm/stories260K-Q6_K.gguf"));
    ASSERT_TRUE(m.ok()) << m.status().message();
    const File& f = m->gguf;
    Writer w(f.alignment);
    for (const auto& kv : f.kvs) w.set_value(kv.key, kv.value);
    for (const auto& t : f.tensors) {
        std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
        const TensorInfo* src = &t;
        ASSERT_TRUE(w.add_tensor(t.name, t.type, ne, [src](uint8_t* dst, uint64_t n) -> Status {
                         std::memcpy(dst, src->data, n);
                         return {};
                     }).ok());
    }
    std::vector<uint8_t> bytes = to_memory(w);
    File g = parse_ok(bytes);
    ASSERT_EQ(g.kvs.size(), f.kvs.size());
    ASSERT_EQ(g.tensors.size(), f.tensors.size());
    for (size_t i = 0; i < f.tensors.size(); ++i) {
        EXPECT_EQ(g.tensors[i].name, f.tensors[i].name);
        EXPECT_EQ(g.tensors[i].offset, f.tensors[i].offset);
        ASSERT_EQ(g.tensors[i].bytes, f.tensors[i].bytes);
        EXPECT_EQ(std::memcmp(g.tensors[i].data, f.tensors[i].data, f.tensors[i].bytes), 0);
    }
}
