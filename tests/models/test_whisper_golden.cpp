// Whisper against HF transformers (scripts/make_whisper_goldens.py, run on the GPU machine): tiny
// random-weight models of each shape family, the mel of jfk.wav from WhisperFeatureExtractor, the
// encoder output, decoder logits for a forced prefix and greedy tokens (argmax, no suppression).
// Encoder and decoder run on the CPU and on Vulkan (normal and forced-baseline path; lavapipe in CI,
// skipped without a device), with the same tolerances.
#include "cpu/cpu_backend.h"
#ifdef VKAI_HAVE_VULKAN
#include "vulkan/vulkan_backend.h"
#endif
#include "support/test_data.h"
#include "support/wav16.h"
#include "whisper/mel.h"
#include "whisper/model.h"
#include "whisper/runtime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>
#include <tuple>
#include <nlohmann/json.hpp>

namespace vkai::whisper {
namespace {

const std::string kDir = "tests/models/golden/";

std::vector<float> read_f32(const std::string& path) {
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    std::vector<float> v(size_t(f.tellg()) / 4);
    f.seekg(0);
    f.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * 4));
    return v;
}

// The backend the encoder and decoder run on: "cpu", "vulkan" or "vulkan-baseline".
std::unique_ptr<Backend> make_backend(const std::string& dev, std::string& why) {
    if (dev == "cpu") return std::make_unique<cpu::CpuBackend>(1);
#ifdef VKAI_HAVE_VULKAN
    vk::VulkanOptions o;
    o.baseline = dev == "vulkan-baseline";
    auto be = vk::create_vulkan_backend(o);
    if (be.ok()) return std::move(be).value();
    why = be.status().message();
#else
    why = "built without Vulkan";
#endif
    return nullptr;
}

class WhisperGolden : public ::testing::TestWithParam<std::tuple<const char*, const char*>> {};

TEST_P(WhisperGolden, MelEncoderLogitsGreedy) {
    const std::string fam = std::get<0>(GetParam()), dev = std::get<1>(GetParam());
    std::string why;
    std::unique_ptr<Backend> backend = make_backend(dev, why);
    if (!backend) GTEST_SKIP() << "no Vulkan device: " << why;
    std::ifstream jf(kDir + "whisper-" + fam + ".json");
    ASSERT_TRUE(jf.good()) << "missing golden " << fam;
    const auto g = nlohmann::json::parse(jf);
    auto model = Model::load(kDir + "whisper-" + fam + ".bin");
    ASSERT_TRUE(model.ok()) << model.status().message();
    const auto& m = **model;
    ASSERT_EQ(m.hp().n_vocab, g["n_vocab"].get<int>());
    const int n_mels = g["n_mels"];

    // Mel: frames [0, mel_frames) of every bin. Tolerance: HF computes the STFT in float32.
    const auto audio = test::read_wav16_mono(test::data_path("whisper/jfk.wav"));
    ASSERT_EQ(audio.size(), 176000u);
    cpu::CpuBackend be(1);
    auto mel = log_mel(audio, m.filters(), n_mels, be.pool());
    ASSERT_TRUE(mel.ok()) << mel.status().message();
    ASSERT_EQ(mel->n_frames, 3000 + 1100);
    const int frames = g["mel_frames"];
    const auto ref_mel = read_f32(kDir + "whisper-" + fam + ".mel.f32");
    ASSERT_EQ(ref_mel.size(), size_t(n_mels) * size_t(frames));
    double max_err = 0;
    for (int b = 0; b < n_mels; ++b)
        for (int t = 0; t < frames; ++t) max_err = std::max(max_err, double(std::fabs(mel->at(b, t) - ref_mel[size_t(b * frames + t)])));
    std::printf("%s: mel max abs error %.3g\n", fam.c_str(), max_err);
    EXPECT_LT(max_err, 2e-4);
    EXPECT_NEAR(mel->at(0, 2999), g["mel_pad_value"].get<double>(), 2e-4);

    // Encoder output.
    auto rt = Runtime::create(m, *backend);
    ASSERT_TRUE(rt.ok()) << rt.status().message();
    ASSERT_TRUE((*rt)->encode(*mel, 0).ok());
    auto enc = (*rt)->encoder_output();
    ASSERT_TRUE(enc.ok());
    const auto ref_enc = read_f32(kDir + "whisper-" + fam + ".enc.f32");
    ASSERT_EQ(enc->size(), ref_enc.size());
    const double enc_nmse = test::nmse(enc->data(), ref_enc.data(), int64_t(ref_enc.size()));
    std::printf("%s on %s: encoder NMSE %.3g\n", fam.c_str(), dev.c_str(), enc_nmse);
    EXPECT_LT(enc_nmse, 1e-6);

    // Logits of every forced-prefix position, at vocab ids i % stride == 0, and the full-vocab argmax.
    const auto forced = g["forced"].get<std::vector<int32_t>>();
    const int stride = g["logit_stride"];
    auto cache = (*rt)->new_cache();
    ASSERT_TRUE(cache.ok());
    std::vector<float> logits;
    ASSERT_TRUE((*rt)->decode(*cache, forced.data(), int(forced.size()), true, logits).ok());
    const int64_t nv = m.hp().n_vocab;
    std::vector<float> got, want;
    for (size_t p = 0; p < forced.size(); ++p) {
        const auto row = g["logits"][p].get<std::vector<float>>();
        for (size_t i = 0; i < row.size(); ++i) {
            got.push_back(logits[p * size_t(nv) + i * size_t(stride)]);
            want.push_back(row[i]);
        }
        const float* lp = logits.data() + p * size_t(nv);
        EXPECT_EQ(int(std::max_element(lp, lp + nv) - lp), g["argmax"][p].get<int>()) << "position " << p;
    }
    const double logit_nmse = test::nmse(got.data(), want.data(), int64_t(got.size()));
    std::printf("%s on %s: logits NMSE %.3g\n", fam.c_str(), dev.c_str(), logit_nmse);
    EXPECT_LT(logit_nmse, 1e-6);

    // Greedy: argmax over the full vocabulary, one token at a time through the KV cache.
    const auto greedy = g["greedy"].get<std::vector<int32_t>>();
    const int n_prefix = g["greedy_prefix"];
    auto c2 = (*rt)->new_cache();
    ASSERT_TRUE(c2.ok());
    std::vector<int32_t> toks(greedy.begin(), greedy.begin() + n_prefix);
    ASSERT_TRUE((*rt)->decode(*c2, toks.data(), n_prefix, false, logits).ok());
    while (toks.size() < greedy.size()) {
        const int32_t next = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
        toks.push_back(next);
        if (toks.size() == greedy.size()) break;
        ASSERT_TRUE((*rt)->decode(*c2, &next, 1, false, logits).ok());
    }
    EXPECT_EQ(toks, greedy);
}

INSTANTIATE_TEST_SUITE_P(Families, WhisperGolden,
                         ::testing::Combine(::testing::Values("tiny-multi", "tiny-en", "tiny-v3"), ::testing::Values("cpu", "vulkan", "vulkan-baseline")),
                         [](const auto& i) {
                             std::string n = std::string(std::get<0>(i.param)) + "_" + std::get<1>(i.param);
                             for (char& c : n)
                                 if (c == '-') c = '_';
                             return n;
                         });

} // namespace
} // namespace vkai::whisper
