// End to end on random weights: synth (real vocabulary and filters) -> load -> mel -> 30 s windows ->
// decoding strategies. Random weights make the words meaningless, so the checks are the invariants
// the reference decoder guarantees: timestamp rules, segment order and bounds, determinism.
#include "cpu/cpu_backend.h"
#include "support/test_data.h"
#include "support/wav16.h"
#include "whisper/decode.h"
#include "whisper/synth.h"
#include "whisper/transcribe.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

namespace vkai::whisper {
namespace {

struct Fixture {
    std::unique_ptr<Model> model;
    std::unique_ptr<cpu::CpuBackend> be;
    std::unique_ptr<Runtime> rt;
};

// layers and width (0: the preset's) shrink the preset for speed; the vocabulary stays full size.
Fixture make(const std::string& preset, int layers, int width = 0) {
    Fixture f;
    const auto* p = find_synth_preset(preset);
    EXPECT_NE(p, nullptr);
    SynthOptions opt;
    opt.hp = p->hp;
    opt.hp.n_audio_layer = opt.hp.n_text_layer = layers;
    if (width) {
        opt.hp.n_audio_state = opt.hp.n_text_state = width;
        opt.hp.n_audio_head = opt.hp.n_text_head = 2;
    }
    opt.vocab_path = test::data_path("whisper/for-tests-ggml-tiny.bin");
    const std::string path = (std::filesystem::temp_directory_path() / ("vkai-test-" + preset + std::to_string(::getpid()) + ".bin")).string();
    auto rep = synth_model(opt, path);
    EXPECT_TRUE(rep.ok()) << rep.status().message();
    auto m = Model::load(path);
    std::remove(path.c_str());
    EXPECT_TRUE(m.ok()) << m.status().message();
    if (!m.ok()) return f;
    f.model = std::move(*m);
    f.be = std::make_unique<cpu::CpuBackend>(1); // op threading is covered by the op tests
    auto rt = Runtime::create(*f.model, *f.be);
    EXPECT_TRUE(rt.ok()) << rt.status().message();
    if (rt.ok()) f.rt = std::move(*rt);
    return f;
}

void check_timestamp_rules(const Vocab& v, const std::vector<int32_t>& toks) {
    ASSERT_FALSE(toks.empty());
    EXPECT_TRUE(v.is_timestamp(toks[0])) << "the first token is a timestamp";
    EXPECT_LE(toks[0], v.timestamp_begin() + 50) << "within the first second";
    int32_t last = -1;
    for (size_t i = 0; i < toks.size(); ++i) {
        EXPECT_NE(toks[i], v.eot());
        EXPECT_NE(toks[i], v.notimestamps());
        if (v.is_timestamp(toks[i])) {
            EXPECT_GE(toks[i], last) << "timestamps never decrease, at " << i;
            last = toks[i];
        }
        if (i >= 2 && v.is_timestamp(toks[i]) && v.is_timestamp(toks[i - 1])) {
            EXPECT_FALSE(v.is_timestamp(toks[i - 2])) << "no three timestamps in a row, at " << i;
        }
    }
}

TEST(whisper_transcribe, synth_model_end_to_end) {
    Fixture f = make("whisper-test", 1);
    ASSERT_TRUE(f.rt);
    const Vocab& v = f.model->vocab();
    const auto audio = test::read_wav16_mono(test::data_path("whisper/jfk.wav"));
    ASSERT_EQ(audio.size(), 176000u);
    auto mel = log_mel(audio, f.model->filters(), 80, f.be->pool());
    ASSERT_TRUE(mel.ok());

    // Greedy and beam search on one window: both obey the timestamp rules; beam is deterministic.
    ASSERT_TRUE(f.rt->encode(*mel, 0).ok());
    DecodeTask task;
    task.sot_seq = {v.sot(), v.language(0), v.transcribe()};
    task.sample_len = 40;
    task.beam_size = 1;
    auto greedy = decode_window(*f.rt, task);
    ASSERT_TRUE(greedy.ok()) << greedy.status().message();
    check_timestamp_rules(v, greedy->tokens);
    EXPECT_GT(greedy->no_speech_prob, 0.0);
    EXPECT_LT(greedy->no_speech_prob, 1.0);
    task.beam_size = 3;
    auto beam = decode_window(*f.rt, task);
    ASSERT_TRUE(beam.ok()) << beam.status().message();
    check_timestamp_rules(v, beam->tokens);
    auto beam2 = decode_window(*f.rt, task);
    ASSERT_TRUE(beam2.ok());
    EXPECT_EQ(beam->tokens, beam2->tokens);
    // Sampling at temperature 1 with a fixed seed is reproducible too.
    task.temperature = 1.0f;
    task.best_of = 2;
    task.seed = 7;
    auto s1 = decode_window(*f.rt, task), s2 = decode_window(*f.rt, task);
    ASSERT_TRUE(s1.ok() && s2.ok());
    EXPECT_EQ(s1->tokens, s2->tokens);
    check_timestamp_rules(v, s1->tokens);

    // Without timestamps no timestamp token appears.
    task = DecodeTask{};
    task.sot_seq = {v.sot(), v.language(0), v.transcribe(), v.notimestamps()};
    task.timestamps = false;
    task.sample_len = 20;
    task.beam_size = 1;
    auto plain = decode_window(*f.rt, task);
    ASSERT_TRUE(plain.ok());
    for (int32_t id : plain->tokens) EXPECT_LT(id, v.eot());

    auto lang = detect_language(*f.rt);
    ASSERT_TRUE(lang.ok());
    EXPECT_GE(*lang, 0);
    EXPECT_LT(*lang, 99);

    // The whole file: segments in order, inside the audio, windows advance.
    TranscribeOptions opt;
    opt.beam_size = 1;
    opt.temperatures = {0.0f};
    opt.language = "en";
    opt.initial_prompt = "President Kennedy";
    double last_progress = -1;
    opt.progress = [&](double p) {
        EXPECT_GE(p, last_progress);
        last_progress = p;
    };
    auto tr = transcribe(*f.rt, *mel, int64_t(audio.size()), opt);
    ASSERT_TRUE(tr.ok()) << tr.status().message();
    EXPECT_EQ(tr->language, "en");
    EXPECT_GE(tr->windows, 1);
    EXPECT_DOUBLE_EQ(last_progress, 1.0);
    double prev = 0;
    for (const auto& s : tr->segments) {
        EXPECT_GE(s.start, prev - 1e-9);
        EXPECT_LE(s.start, s.end);
        EXPECT_LE(s.end, 11.0 + 1e-9);
        prev = s.start;
    }
    EXPECT_FALSE(to_srt(*tr).empty() && !tr->segments.empty());

    // Bad options are clean errors.
    opt.language = "xx";
    EXPECT_FALSE(transcribe(*f.rt, *mel, int64_t(audio.size()), opt).ok());
    opt.language = "en";
    opt.beam_size = 0;
    EXPECT_FALSE(transcribe(*f.rt, *mel, int64_t(audio.size()), opt).ok());
}

// Parallel windows: encode_batch gives each window the encoder output encode() gives it alone, the
// lockstep greedy decoder gives each window decode_window's greedy tokens, and transcribe() with
// parallel_windows cuts the audio at fixed 30 s boundaries.
TEST(whisper_transcribe, parallel_windows) {
    Fixture f = make("whisper-test", 1);
    ASSERT_TRUE(f.rt);
    const Vocab& v = f.model->vocab();
    const auto jfk = test::read_wav16_mono(test::data_path("whisper/jfk.wav"));
    ASSERT_EQ(jfk.size(), 176000u);
    std::vector<float> audio;
    for (int i = 0; i < 7; ++i) audio.insert(audio.end(), jfk.begin(), jfk.end()); // 77 s: windows of 30, 30, 17 s
    auto mel = log_mel(audio, f.model->filters(), 80, f.be->pool());
    ASSERT_TRUE(mel.ok());
    const int64_t offsets[3] = {0, 3000, 6000};
    std::vector<std::vector<float>> alone;
    for (int64_t o : offsets) {
        ASSERT_TRUE(f.rt->encode(*mel, o).ok());
        auto e = f.rt->encoder_output();
        ASSERT_TRUE(e.ok());
        alone.push_back(*e);
    }
    ASSERT_TRUE(f.rt->encode_batch(*mel, offsets, 3).ok());
    for (int i = 0; i < 3; ++i) {
        auto e = f.rt->encoder_output(i);
        ASSERT_TRUE(e.ok());
        EXPECT_LT(test::nmse(e->data(), alone[size_t(i)].data(), int64_t(e->size())), 1e-12) << "window " << i;
    }
    EXPECT_FALSE(f.rt->encoder_output(3).ok());

    std::vector<DecodeTask> tasks(3);
    for (int i = 0; i < 3; ++i) {
        tasks[size_t(i)].sot_seq = {v.sot(), v.language(0), v.transcribe()};
        tasks[size_t(i)].sample_len = 30;
        tasks[size_t(i)].beam_size = 1;
        tasks[size_t(i)].slot = i;
    }
    tasks[1].prompt = {v.startofprev(), 1000, 2000}; // a longer head: the lockstep mixes forced and sampled steps
    auto batch = decode_windows_greedy(*f.rt, tasks);
    ASSERT_TRUE(batch.ok()) << batch.status().message();
    ASSERT_EQ(batch->size(), 3u);
    for (int i = 0; i < 3; ++i) {
        auto one = decode_window(*f.rt, tasks[size_t(i)]);
        ASSERT_TRUE(one.ok());
        const DecodeResult& b = (*batch)[size_t(i)];
        EXPECT_EQ(b.tokens, one->tokens) << "window " << i;
        EXPECT_NEAR(b.avg_logprob, one->avg_logprob, 1e-4);
        EXPECT_NEAR(b.no_speech_prob, one->no_speech_prob, 1e-5);
        check_timestamp_rules(v, b.tokens);
    }
    tasks[2].slot = 3; // not encoded
    EXPECT_FALSE(decode_windows_greedy(*f.rt, tasks).ok());

    TranscribeOptions opt;
    opt.beam_size = 1;
    opt.temperatures = {0.0f};
    opt.language = "en";
    opt.parallel_windows = 2; // 2 windows, then 1
    auto tr = transcribe(*f.rt, *mel, int64_t(audio.size()), opt);
    ASSERT_TRUE(tr.ok()) << tr.status().message();
    EXPECT_EQ(tr->windows, 3);
    EXPECT_EQ(tr->parallel_windows, 2);
    double prev = 0;
    for (const auto& s : tr->segments) {
        EXPECT_EQ(s.seek % 3000, 0) << "fixed window boundaries";
        EXPECT_GE(s.start, prev - 1e-9);
        EXPECT_GE(s.start, double(s.seek) / 100 - 1e-9);
        EXPECT_LE(s.end, std::min(77.0, double(s.seek) / 100 + 30) + 1e-9);
        prev = s.start;
    }
}

TEST(whisper_transcribe, english_only_and_v3_shapes) {
    // large-v3 layout (128 mels, 51866 tokens, filters computed) at the smallest width: loads and runs.
    const auto* p = find_synth_preset("whisper-large-v3-turbo");
    ASSERT_NE(p, nullptr);
    SynthOptions opt;
    opt.hp = p->hp;
    opt.hp.n_audio_state = opt.hp.n_text_state = 32;
    opt.hp.n_audio_head = opt.hp.n_text_head = 2;
    opt.hp.n_audio_layer = opt.hp.n_text_layer = 1;
    opt.vocab_path = test::data_path("whisper/for-tests-ggml-tiny.bin");
    opt.type = "Q8_0";
    const std::string path = (std::filesystem::temp_directory_path() / ("vkai-test-v3-" + std::to_string(::getpid()) + ".bin")).string();
    auto rep = synth_model(opt, path);
    ASSERT_TRUE(rep.ok()) << rep.status().message();
    EXPECT_TRUE(rep->computed_filters);
    auto m = Model::load(path);
    std::remove(path.c_str());
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_EQ((*m)->hp().n_mels, 128);
    EXPECT_EQ((*m)->matrix_type(), DType::Q8_0);
    EXPECT_EQ((*m)->vocab().n_languages(), 100);
    cpu::CpuBackend be(1);
    auto rt = Runtime::create(**m, be);
    ASSERT_TRUE(rt.ok()) << rt.status().message();
    std::vector<float> audio(16000 * 3, 0.0f);
    auto mel = log_mel(audio, (*m)->filters(), 128, be.pool());
    ASSERT_TRUE(mel.ok());
    TranscribeOptions to;
    to.beam_size = 2;
    to.temperatures = {0.0f};
    to.language = "auto";
    auto tr = transcribe(**rt, *mel, int64_t(audio.size()), to);
    ASSERT_TRUE(tr.ok()) << tr.status().message();
    EXPECT_EQ(tr->windows, 1);
    EXPECT_FALSE(tr->language.empty());

    // English-only: translate and other languages are refused.
    Fixture en = make("whisper-tiny.en", 1, 32);
    ASSERT_TRUE(en.rt);
    auto mel80 = log_mel(audio, en.model->filters(), 80, en.be->pool());
    ASSERT_TRUE(mel80.ok());
    TranscribeOptions eo;
    eo.translate = true;
    EXPECT_FALSE(transcribe(*en.rt, *mel80, int64_t(audio.size()), eo).ok());
    eo.translate = false;
    eo.language = "de";
    EXPECT_FALSE(transcribe(*en.rt, *mel80, int64_t(audio.size()), eo).ok());
}

} // namespace
} // namespace vkai::whisper
