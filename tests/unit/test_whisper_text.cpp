// Whisper pieces below the model: FFT, vocabulary (special token ids per family, BPE encode/decode),
// suppressed tokens, compression ratio, UTF-8 repair, timestamps and subtitle formats.
#include "formats/whisper_bin.h"
#include "support/test_data.h"
#include "whisper/decode.h"
#include "whisper/mel.h"
#include "whisper/transcribe.h"
#include "whisper/vocab.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <numbers>

namespace vkai::whisper {
namespace {

TEST(whisper_fft, matches_direct_dft) {
    for (size_t n : {1u, 2u, 7u, 11u, 64u, 100u, 400u, 13u * 4u}) {
        std::vector<std::complex<double>> x(n);
        for (size_t i = 0; i < n; ++i) x[i] = {std::sin(0.3 * double(i * i) + 1.0), std::cos(1.7 * double(i))};
        auto y = x;
        fft(y);
        double max_err = 0;
        for (size_t k = 0; k < n; ++k) {
            std::complex<double> s = 0;
            for (size_t j = 0; j < n; ++j) s += x[j] * std::polar(1.0, -2.0 * std::numbers::pi * double(j * k % n) / double(n));
            max_err = std::max(max_err, std::abs(s - y[k]));
        }
        EXPECT_LT(max_err, 1e-9) << "n = " << n;
    }
}

TEST(whisper_mel, silence_and_frame_count) {
    ThreadPool pool(2);
    const auto filters = mel_filterbank(80);
    std::vector<float> audio(16000, 0.0f); // 1 s of silence: every value is the clamp floor
    auto mel = log_mel(audio, filters, 80, pool);
    ASSERT_TRUE(mel.ok());
    EXPECT_EQ(mel->n_frames, (16000 + 480000) / 160);
    EXPECT_FLOAT_EQ(mel->at(3, 10), (-10.0f + 4.0f) / 4.0f);
    // A 1 kHz tone: the loudest bin of a middle frame is near 1 kHz and is the global max ((max + 4) / 4).
    for (size_t i = 0; i < audio.size(); ++i) audio[i] = 0.5f * float(std::sin(2.0 * std::numbers::pi * 1000.0 * double(i) / 16000.0));
    mel = log_mel(audio, filters, 80, pool);
    ASSERT_TRUE(mel.ok());
    int best = 0;
    for (int m = 1; m < 80; ++m)
        if (mel->at(m, 50) > mel->at(best, 50)) best = m;
    EXPECT_GE(best, 25); // 1 kHz is mel bin ~28 of 80 (15 mels per kHz below 1 kHz, 80 bins up to 8 kHz)
    EXPECT_LE(best, 31);
    EXPECT_FALSE(log_mel(audio, filters, 81, pool).ok()); // filters / mel count mismatch is an error
}

Result<Vocab> load_vocab(const char* rel) {
    std::ifstream f(test::data_path(rel), std::ios::binary);
    std::vector<uint8_t> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    VKAI_ASSIGN_OR_RETURN(auto file, whisper_bin::parse(b, rel));
    return Vocab::create(file.hp.n_vocab, std::move(file.tokens));
}

TEST(whisper_vocab, special_ids_per_family) {
    auto multi = load_vocab("whisper/for-tests-ggml-tiny.bin");
    ASSERT_TRUE(multi.ok()) << multi.status().message();
    EXPECT_TRUE(multi->multilingual());
    EXPECT_EQ(multi->eot(), 50257);
    EXPECT_EQ(multi->sot(), 50258);
    EXPECT_EQ(multi->language(0), 50259); // <|en|>
    EXPECT_EQ(multi->translate(), 50358);
    EXPECT_EQ(multi->transcribe(), 50359);
    EXPECT_EQ(multi->nospeech(), 50362);
    EXPECT_EQ(multi->notimestamps(), 50363);
    EXPECT_EQ(multi->timestamp_begin(), 50364);
    EXPECT_EQ(multi->name(50364 + 1500), "<|30.00|>");
    EXPECT_EQ(multi->name(50259 + 2), "<|de|>");

    auto en = load_vocab("whisper/for-tests-ggml-tiny.en.bin");
    ASSERT_TRUE(en.ok());
    EXPECT_FALSE(en->multilingual());
    EXPECT_EQ(en->eot(), 50256);
    EXPECT_EQ(en->transcribe(), 50358);
    EXPECT_EQ(en->notimestamps(), 50362);
    EXPECT_EQ(en->timestamp_begin(), 50363);

    auto v3 = Vocab::create(51866, {});
    ASSERT_TRUE(v3.ok());
    EXPECT_EQ(v3->n_languages(), 100);
    EXPECT_EQ(v3->translate(), 50359);
    EXPECT_EQ(v3->notimestamps(), 50364);
    EXPECT_EQ(v3->timestamp_begin(), 50365);
    EXPECT_EQ(v3->name(50258 + 100), "<|yue|>");
    EXPECT_EQ(v3->language_index("yue"), 99);
    EXPECT_FALSE(Vocab::create(40000, {}).ok());
}

TEST(whisper_vocab, encode_decode_round_trip) {
    auto v = load_vocab("whisper/for-tests-ggml-tiny.bin");
    ASSERT_TRUE(v.ok());
    for (const std::string text : {" And so my fellow Americans, ask not what your country can do for you",
                                   "Hello world! 123 don't", " Grüße aus Köln — 日本語", "  spaces\n\nand\ttabs "}) {
        int dropped = 0;
        auto ids = v->encode(text, &dropped);
        ASSERT_TRUE(ids.ok()) << ids.status().message();
        EXPECT_EQ(dropped, 0) << text;
        for (int32_t id : *ids) EXPECT_LT(id, v->eot());
        EXPECT_EQ(v->decode(*ids), text);
        EXPECT_LT(ids->size(), text.size()); // merges happened
    }
    // A lone continuation byte has no stored token (the file keeps it as U+FFFD): dropped, counted.
    int dropped = 0;
    auto partial = v->encode("a\x80" "b", &dropped);
    ASSERT_TRUE(partial.ok());
    EXPECT_EQ(dropped, 1);
    EXPECT_EQ(v->decode(*partial), "ab");
    // Whole words of GPT-2's vocabulary are one token.
    auto one = v->encode(" Americans");
    ASSERT_TRUE(one.ok());
    EXPECT_EQ(one->size(), 1u);
    EXPECT_EQ(v->bytes((*one)[0]), " Americans");
}

TEST(whisper_decode, suppressed_tokens_and_compression) {
    auto v = load_vocab("whisper/for-tests-ggml-tiny.bin");
    ASSERT_TRUE(v.ok());
    const auto sup = suppressed_tokens(*v);
    auto has = [&](int32_t id) { return std::find(sup.begin(), sup.end(), id) != sup.end(); };
    EXPECT_TRUE(has(v->translate()));
    EXPECT_TRUE(has(v->nospeech()));
    EXPECT_FALSE(has(v->eot()));
    EXPECT_TRUE(has((*v->encode("#"))[0]));
    EXPECT_TRUE(has((*v->encode(" -"))[0]));
    EXPECT_FALSE(has((*v->encode(" the"))[0]));
    EXPECT_GT(sup.size(), 50u);
    EXPECT_EQ(compression_ratio(""), 0.0);
    EXPECT_GT(compression_ratio(std::string(400, 'a')), 10.0);
    EXPECT_LT(compression_ratio("And so my fellow Americans"), 1.3);
}

TEST(whisper_output, timestamps_utf8_and_formats) {
    EXPECT_EQ(format_timestamp(62.3456, true, ','), "00:01:02,346");
    EXPECT_EQ(format_timestamp(3725.0, false, '.'), "01:02:05.000");
    EXPECT_EQ(format_timestamp(5.5, false, '.'), "00:05.500");
    EXPECT_EQ(utf8_repair("ok \xc3\xa9"), "ok \xc3\xa9");
    EXPECT_EQ(utf8_repair("cut \xe6\x97"), "cut \xef\xbf\xbd\xef\xbf\xbd");
    EXPECT_EQ(utf8_repair("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd"); // overlong '/'
    Transcript t;
    t.language = "en";
    t.duration = 11;
    t.segments.push_back({0.0, 4.2, " Hello --> there", {1, 2}, 0, 0.0f, -0.3, 1.1, 0.01});
    t.segments.push_back({4.2, 11.0, " \"quoted\"", {3}, 0, 0.2f, -0.5, 1.0, 0.02});
    t.text = t.segments[0].text + t.segments[1].text;
    EXPECT_EQ(to_txt(t), "Hello --> there\n\"quoted\"\n");
    EXPECT_EQ(to_srt(t), "1\n00:00:00,000 --> 00:00:04,200\nHello -> there\n\n2\n00:00:04,200 --> 00:00:11,000\n\"quoted\"\n\n");
    EXPECT_EQ(to_vtt(t), "WEBVTT\n\n00:00.000 --> 00:04.200\nHello -> there\n\n00:04.200 --> 00:11.000\n\"quoted\"\n\n");
    EXPECT_EQ(to_json(t, false), "{\"text\":\" Hello --> there \\\"quoted\\\"\"}\n");
    const std::string vj = to_json(t, true);
    EXPECT_NE(vj.find("\"segments\":[{\"id\":0,\"seek\":0,\"start\":0.000,\"end\":4.200"), std::string::npos) << vj;
    EXPECT_NE(vj.find("\"language\":\"en\",\"duration\":11.000"), std::string::npos) << vj;
}

} // namespace
} // namespace vkai::whisper
