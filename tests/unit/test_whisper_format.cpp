// whisper.cpp ggml .bin: parse of the shared for-tests files, write/parse round trip, and every
// truncation and a set of corruptions giving a clean error (never a crash: run under ASan).
#include "formats/whisper_bin.h"
#include "support/test_data.h"
#include "whisper/mel.h"
#include "whisper/model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

namespace vkai::whisper_bin {
namespace {

std::vector<uint8_t> read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

TEST(whisper_bin, parses_for_tests_files) {
    for (const char* name : {"whisper/for-tests-ggml-tiny.bin", "whisper/for-tests-ggml-tiny.en.bin"}) {
        const auto bytes = read_all(test::data_path(name));
        ASSERT_FALSE(bytes.empty()) << name;
        auto f = parse(bytes, name);
        ASSERT_TRUE(f.ok()) << f.status().message();
        EXPECT_EQ(f->hp.n_audio_state, 384);
        EXPECT_EQ(f->hp.n_mels, 80);
        EXPECT_EQ(f->n_fft, 201);
        EXPECT_EQ(f->filters.size(), 80u * 201u);
        EXPECT_EQ(f->tokens.size(), 50257u);
        EXPECT_EQ(f->tokens[0], "!");
        EXPECT_TRUE(f->tensors.empty());
        // The model loader explains that such a file holds no weights.
        auto m = whisper::Model::from_bytes(bytes, name);
        ASSERT_FALSE(m.ok());
        EXPECT_NE(m.status().message().find("no tensors"), std::string::npos) << m.status().message();
    }
}

// The 80-bin filters stored in whisper.cpp files come from librosa.filters.mel(16000, 400, 80).
TEST(whisper_bin, slaney_filterbank_reproduces_stored_filters) {
    auto f = parse(read_all(test::data_path("whisper/for-tests-ggml-tiny.bin")), "tiny");
    ASSERT_TRUE(f.ok());
    const auto ours = whisper::mel_filterbank(80);
    ASSERT_EQ(ours.size(), f->filters.size());
    double max_err = 0;
    for (size_t i = 0; i < ours.size(); ++i) max_err = std::max(max_err, double(std::fabs(ours[i] - f->filters[i])));
    std::printf("80-bin filterbank max abs error vs file: %.3g (values up to %.3g)\n", max_err, 0.03);
    EXPECT_LT(max_err, 1e-6);
    // 128 bins against HF's WhisperFeatureExtractor(feature_size=128), stored in the v3 golden model.
    auto g = parse(read_all("tests/models/golden/whisper-tiny-v3.bin"), "v3 golden");
    ASSERT_TRUE(g.ok()) << g.status().message();
    const auto ours128 = whisper::mel_filterbank(128);
    ASSERT_EQ(ours128.size(), g->filters.size());
    max_err = 0;
    for (size_t i = 0; i < ours128.size(); ++i) max_err = std::max(max_err, double(std::fabs(ours128[i] - g->filters[i])));
    std::printf("128-bin filterbank max abs error vs HF: %.3g\n", max_err);
    EXPECT_LT(max_err, 1e-6);
}

std::vector<uint8_t> small_model() {
    HParams hp{51865, 1500, 8, 2, 1, 448, 8, 2, 1, 4, 1};
    Writer w(hp, 201, std::vector<float>(4 * 201, 0.5f), {"a", "bc", ""});
    auto fill = [](uint8_t* d, uint64_t n) {
        for (uint64_t i = 0; i < n; ++i) d[i] = uint8_t(i * 7);
        return Status{};
    };
    EXPECT_TRUE(w.add_tensor("x.weight", DType::F16, {8, 3}, fill).ok());
    EXPECT_TRUE(w.add_tensor("y.weight", DType::Q8_0, {32, 2}, fill).ok());
    EXPECT_TRUE(w.add_tensor("z.bias", DType::F32, {1, 8}, fill).ok());
    auto bytes = w.write_to_memory();
    EXPECT_TRUE(bytes.ok());
    return *bytes;
}

TEST(whisper_bin, round_trip) {
    const auto b = small_model();
    auto f = parse(b, "mem");
    ASSERT_TRUE(f.ok()) << f.status().message();
    EXPECT_EQ(f->hp.n_vocab, 51865);
    EXPECT_EQ(f->tokens, (std::vector<std::string>{"a", "bc", ""}));
    ASSERT_EQ(f->tensors.size(), 3u);
    EXPECT_EQ(f->tensors[1].type, DType::Q8_0);
    EXPECT_EQ(f->tensors[1].bytes, 2u * 34u);
    EXPECT_EQ(f->tensors[2].ne[1], 8);
    EXPECT_EQ(f->tensors[0].data[5], uint8_t(35));
    EXPECT_EQ(f->tensors[2].data + f->tensors[2].bytes, b.data() + b.size());
}

TEST(whisper_bin, every_truncation_is_a_clean_error) {
    const auto b = small_model();
    // Cutting inside a tensor record or its data must fail; cutting exactly between tensors is a
    // valid shorter file (the layout has no tensor count), so only those lengths may parse.
    std::vector<size_t> boundaries;
    {
        auto f = parse(b, "mem");
        ASSERT_TRUE(f.ok());
        for (const auto& t : f->tensors) boundaries.push_back(size_t(t.data + t.bytes - b.data()));
        boundaries.push_back(size_t(f->tensors[0].data - b.data()) - 8 - 4 * 2 - 3 * 4); // start of tensor 0 (name 8 bytes, 2 dims)
    }
    for (size_t len = 0; len < b.size(); ++len) {
        std::vector<uint8_t> cut(b.begin(), b.begin() + long(len)); // own allocation: ASan sees any over-read
        auto f = parse(cut, "cut");
        const bool boundary = std::find(boundaries.begin(), boundaries.end(), len) != boundaries.end();
        if (boundary) continue;
        ASSERT_FALSE(f.ok()) << "length " << len << " parsed";
        EXPECT_FALSE(f.status().message().empty());
    }
}

TEST(whisper_bin, corruptions_are_clean_errors) {
    const auto good = small_model();
    auto set_i32 = [](std::vector<uint8_t> b, size_t off, int32_t v) {
        std::memcpy(b.data() + off, &v, 4);
        return b;
    };
    const size_t vocab_off = 4 + 44 + 8 + 4 * 4 * 201;
    const size_t t0 = vocab_off + 4 + (4 + 1) + (4 + 2) + 4;
    struct Case {
        std::vector<uint8_t> bytes;
        const char* expect;
    };
    const Case cases[] = {
        {set_i32(good, 0, 0x12345678), "magic"},
        {set_i32(good, 4, -5), "n_vocab"},
        {set_i32(good, 4 + 4 * 9, 0), "n_mels"},
        {set_i32(good, 4 + 4 * 3, 3), "multiples of the head"},
        {set_i32(good, 48, 5), "mel filters have 5 rows"},
        {set_i32(good, 52, 1 << 20), "n_fft"},
        {set_i32(good, vocab_off, 1 << 30), "vocabulary count"},
        {set_i32(good, vocab_off + 4, -1), "token 0 length"},
        {set_i32(good, t0, 7), "n_dims 7"},
        {set_i32(good, t0 + 4, 0), "name length 0"},
        {set_i32(good, t0 + 8, 12), "type id 12"},
        {set_i32(good, t0 + 12, 0), "dim 0 is 0"},
        {set_i32(good, t0 + 12, 1 << 30), "runs past the end"},
    };
    for (const auto& c : cases) {
        auto f = parse(c.bytes, "bad");
        ASSERT_FALSE(f.ok()) << c.expect;
        EXPECT_NE(f.status().message().find(c.expect), std::string::npos) << f.status().message();
    }
    // A duplicate tensor name.
    auto b = good;
    auto f = parse(b, "ok");
    ASSERT_TRUE(f.ok());
    const size_t name1 = size_t(f->tensors[1].name.data() - reinterpret_cast<const char*>(b.data()));
    std::memcpy(b.data() + name1, "x", 1);
    auto d = parse(b, "dup");
    ASSERT_FALSE(d.ok());
    EXPECT_NE(d.status().message().find("duplicate"), std::string::npos) << d.status().message();
}

} // namespace
} // namespace vkai::whisper_bin
