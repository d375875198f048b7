// Whisper speed on one device, beside the device's ceilings measured in the same run:
//   encoder: ms per 30 s window, alone and --batch windows per pass (Runtime::encode_batch), with the
//            FLOP/s it reaches (matmuls + attention, counted from the shapes);
//   decoder: ms per token (greedy steps through the KV cache, 1 sequence), with the bytes it reads;
//   end to end: transcribe() of --minutes of synthesized speech-like audio (greedy, no fallback),
//            mel included: the reference's sequential windows, then --batch parallel windows
//            (fixed 30 s boundaries, lockstep greedy decoding).
// Ceilings: read bandwidth (Backend::read_bandwidth) and, on Vulkan, f32 FMA throughput
// (vk::measure_f32_flops). VKAI_VK_BASELINE=1 measures the baseline path.
//   vkai-bench-whisper -m MODEL.bin [--synth PRESET --vocab WHISPER.bin] [--device cpu|vulkanN] [-t THREADS]
//                      [--reps N] [--tokens N] [--minutes M] [--batch B] [--skip enc,dec,e2e] [--json]
//                      [--enc-layers N] [--profile]
// --synth writes a random-weight model of that preset (vkai synth's) to -m first; --enc-layers N
// gives that model N encoder layers instead of the preset's (a quick per-layer timing on slow
// CPUs: the encoder is the convolutions + n_audio_layer identical layers + the cross K/V).
// --profile (CPU only) times every op of one encoder window and prints the time per op and shape.
#include "base/log.h"
#include "base/text.h"
#include "base/thread_pool.h"
#include "base/timer.h"
#include "cpu/cpu_backend.h"
#include "whisper/synth.h"
#include "whisper/transcribe.h"
#ifdef VKAI_HAVE_VULKAN
#include "vulkan/vk_flops.h"
#include "vulkan/vulkan_backend.h"
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace vkai;

namespace {

struct Opts {
    std::string model, device = "vulkan0", skip, synth, vocab;
    int threads = 0, reps = 5, tokens = 128, batch = 4, enc_layers = 0;
    double minutes = 10;
    bool json = false, profile = false;
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

// Speech-like audio at 16 kHz: voiced syllables (a gliding fundamental with decaying harmonics and
// formant-like peaks) separated by short pauses, with a little noise; deterministic.
std::vector<float> synth_speech(double seconds) {
    const int64_t n = int64_t(seconds * whisper::kSampleRate);
    std::vector<float> pcm(static_cast<size_t>(n));
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> u(0, 1);
    int64_t i = 0;
    while (i < n) {
        const int64_t syl = int64_t((0.12 + 0.25 * u(rng)) * whisper::kSampleRate), gap = int64_t((0.03 + 0.2 * u(rng)) * whisper::kSampleRate);
        const double f0 = 90 + 140 * u(rng), glide = (u(rng) - 0.5) * 60, f1 = 300 + 600 * u(rng), f2 = 900 + 1500 * u(rng);
        double phase = 0;
        for (int64_t k = 0; k < syl && i < n; ++k, ++i) {
            const double t = double(k) / whisper::kSampleRate, env = std::sin(M_PI * double(k) / double(syl));
            phase += 2 * M_PI * (f0 + glide * t / 0.3) / whisper::kSampleRate;
            double v = 0;
            for (int h = 1; h <= 20; ++h) {
                const double fh = h * (f0 + glide * t / 0.3);
                const double formant = std::exp(-std::pow((fh - f1) / 150, 2)) + 0.6 * std::exp(-std::pow((fh - f2) / 250, 2)) + 0.05;
                v += formant * std::sin(h * phase) / h;
            }
            pcm[size_t(i)] = float(0.3 * env * v + 0.003 * (u(rng) - 0.5));
        }
        for (int64_t k = 0; k < gap && i < n; ++k, ++i) pcm[size_t(i)] = float(0.003 * (u(rng) - 0.5));
    }
    return pcm;
}

// FLOPs of one encoder window (matmuls, convolutions, attention) and of the cross K/V it prepares.
double encoder_flops(const whisper_bin::HParams& h) {
    const double s = h.n_audio_state, C = h.n_audio_ctx, T = 2 * C, M = h.n_mels;
    double f = 2 * 3 * M * s * T + 2 * 3 * s * s * C;                    // conv1, conv2
    f += h.n_audio_layer * (4 * 2 * s * s * C + 2 * 2 * 4 * s * s * C + 2 * 2 * C * C * s); // q k v o, fc1 fc2, q.k and p.v
    f += h.n_text_layer * 2 * 2 * s * s * C;                                 // cross K/V
    return f;
}

// Bytes one decoded token reads: decoder matrices, the output head, cross K/V (f32).
double decoder_bytes(const whisper::Model& m) {
    const whisper::Weights& w = m.w();
    double b = double(w.tok_emb.nb[1]) * double(w.tok_emb.ne[1]);
    for (const whisper::Block& bl : w.dec)
        for (const Tensor* t : {&bl.attn.q_w, &bl.attn.k_w, &bl.attn.v_w, &bl.attn.o_w, &bl.cross.q_w, &bl.cross.o_w, &bl.fc1_w, &bl.fc2_w})
            b += double(t->nb[1]) * double(t->ne[1]);
    b += double(w.dec.size()) * 2 * m.hp().n_audio_state * m.hp().n_audio_ctx * 4.0;
    return b;
}

// A Backend that runs every op on another one and adds up the wall time of each op, keyed by op
// and shape (meaningful on the CPU, whose ops finish before they return).
class ProfilingBackend final : public Backend {
public:
    explicit ProfilingBackend(Backend& be) : be_(be) {}
    bool on = false;
    struct Entry {
        double s = 0, flop = 0;
        int calls = 0;
    };
    std::vector<std::pair<std::string, Entry>> entries;

    void report() const {
        double total = 0;
        for (const auto& e : entries) total += e.second.s;
        std::vector<std::pair<std::string, Entry>> v = entries;
        std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second.s > b.second.s; });
        std::printf("profile of one encoder window: %.1f ms in ops\n", total * 1e3);
        for (const auto& [name, e] : v)
            std::printf("  %-52s %5d calls %9.1f ms %5.1f %%%s\n", name.c_str(), e.calls, e.s * 1e3, 100 * e.s / total,
                        e.flop > 0 ? strf(" %7.1f GFLOP/s", e.flop / e.s * 1e-9).c_str() : "");
    }

    const std::string& name() const override { return be_.name(); }
    bool supports(Op op, DType type) const override { return be_.supports(op, type); }
    bool uses_host_memory() const override { return be_.uses_host_memory(); }
    Result<void*> alloc(uint64_t bytes, const char* what) override { return be_.alloc(bytes, what); }
    void free(void* base) override { be_.free(base); }
    Status upload(void* dst, const void* host, uint64_t bytes) override { return be_.upload(dst, host, bytes); }
    Status download(void* host, const void* src, uint64_t bytes) override { return be_.download(host, src, bytes); }
    Status sync() override { return be_.sync(); }
    MemoryInfo memory() const override { return be_.memory(); }
    Result<double> read_bandwidth() override { return be_.read_bandwidth(); }
    bool has_whisper_ops() const override { return be_.has_whisper_ops(); }
    bool fuses_mul_mat_add(DType w, int64_t ncols) const override { return be_.fuses_mul_mat_add(w, ncols); }

    void get_rows(const Tensor& t, const int32_t* ids, int64_t n, Tensor& out) override {
        timed("get_rows", 0, [&] { be_.get_rows(t, ids, n, out); });
    }
    void mul_mat(const Tensor& w, const Tensor& x, Tensor& y) override {
        timed(mm_name("mul_mat", w, x), mm_flop(w, x), [&] { be_.mul_mat(w, x, y); });
    }
    void mul_mat_add(const Tensor& w, const Tensor& x, const Tensor& a, Tensor& y) override {
        timed(mm_name("mul_mat_add", w, x), mm_flop(w, x), [&] { be_.mul_mat_add(w, x, a, y); });
    }
    void rms_norm(const Tensor& x, const Tensor* w, float eps, Tensor& y) override {
        timed("rms_norm", 0, [&] { be_.rms_norm(x, w, eps, y); });
    }
    void rope(const Tensor& x, const int32_t* pos, const RopeParams& p, Tensor& y) override {
        timed("rope", 0, [&] { be_.rope(x, pos, p, y); });
    }
    void softmax(const Tensor& x, const Tensor* mask, float scale, Tensor& y) override {
        timed("softmax", 0, [&] { be_.softmax(x, mask, scale, y); });
    }
    void silu(const Tensor& x, Tensor& y) override { timed("silu", 0, [&] { be_.silu(x, y); }); }
    void gelu(const Tensor& x, Tensor& y) override { timed("gelu", 0, [&] { be_.gelu(x, y); }); }
    void add(const Tensor& a, const Tensor& b, Tensor& y) override { timed("add", 0, [&] { be_.add(a, b, y); }); }
    void mul(const Tensor& a, const Tensor& b, Tensor& y) override { timed("mul", 0, [&] { be_.mul(a, b, y); }); }
    void copy(const Tensor& src, Tensor& dst) override { timed("copy", 0, [&] { be_.copy(src, dst); }); }
    void set_rows(const Tensor& src, const int32_t* ids, Tensor& dst) override {
        timed("set_rows", 0, [&] { be_.set_rows(src, ids, dst); });
    }
    void attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, float scale, Tensor& out) override {
        const double flop = 4.0 * double(q.ne[0]) * double(q.ne[1]) * double(q.ne[2]) * double(k.ne[2]);
        timed(strf("attention %lldx%lldx%lld, %lld cells", (long long)q.ne[0], (long long)q.ne[1], (long long)q.ne[2], (long long)k.ne[2]), flop,
              [&] { be_.attention(q, k, v, mask, scale, out); });
    }
    void layer_norm(const Tensor& x, const Tensor* w, const Tensor* b, float eps, Tensor& y) override {
        timed("layer_norm", 0, [&] { be_.layer_norm(x, w, b, eps, y); });
    }
    void gelu_erf(const Tensor& x, Tensor& y) override { timed("gelu_erf", 0, [&] { be_.gelu_erf(x, y); }); }
    void im2col(const Tensor& x, int k, int stride, int pad, Tensor& out) override {
        timed("im2col", 0, [&] { be_.im2col(x, k, stride, pad, out); });
    }

private:
    static std::string mm_name(const char* op, const Tensor& w, const Tensor& x) {
        return strf("%s %s k=%lld m=%lld n=%lld", op, dtype_name(w.type), (long long)w.ne[0], (long long)w.ne[1], (long long)x.nrows());
    }
    static double mm_flop(const Tensor& w, const Tensor& x) { return 2.0 * double(w.ne[0]) * double(w.ne[1]) * double(x.nrows()); }
    template <class F>
    void timed(const std::string& key, double flop, F&& fn) {
        if (!on) return fn();
        const double t0 = now_s();
        fn();
        const double dt = now_s() - t0;
        auto it = std::find_if(entries.begin(), entries.end(), [&](const auto& e) { return e.first == key; });
        if (it == entries.end()) it = entries.insert(entries.end(), {key, Entry{}});
        it->second.s += dt;
        it->second.flop += flop;
        ++it->second.calls;
    }
    Backend& be_;
};

std::unique_ptr<Backend> open_backend(const Opts& o, std::string& err) {
    if (o.device == "cpu") return std::make_unique<cpu::CpuBackend>(o.threads);
#ifdef VKAI_HAVE_VULKAN
    if (o.device.rfind("vulkan", 0) == 0) {
        vk::VulkanOptions vo;
        vo.device = std::atoi(o.device.c_str() + 6);
        auto be = vk::create_vulkan_backend(vo);
        if (be.ok()) return std::move(be).value();
        err = be.status().message();
        return nullptr;
    }
#endif
    err = "unknown --device " + o.device;
    return nullptr;
}

int run(const Opts& o) {
    set_log_level(LogLevel::warn);
    if (!o.synth.empty()) { // random weights with a preset's shapes, written to -m first
        const whisper::SynthPreset* p = whisper::find_synth_preset(o.synth);
        if (!p) return std::fprintf(stderr, "unknown preset %s\n", o.synth.c_str()), 1;
        whisper::SynthOptions so;
        so.hp = p->hp;
        if (o.enc_layers > 0) so.hp.n_audio_layer = o.enc_layers;
        so.vocab_path = o.vocab;
        auto rep = whisper::synth_model(so, o.model);
        if (!rep.ok()) return std::fprintf(stderr, "synth: %s\n", rep.status().message().c_str()), 1;
    }
    auto model = whisper::Model::load(o.model);
    if (!model.ok()) return std::fprintf(stderr, "%s\n", model.status().message().c_str()), 1;
    const whisper::Model& m = **model;
    std::string err;
    std::unique_ptr<Backend> be = open_backend(o, err);
    if (!be) return std::fprintf(stderr, "device: %s\n", err.c_str()), 1;
    std::unique_ptr<Backend> inner; // the profiled backend (the runtime below uses be only)
    if (o.profile) {
        if (be->name() != "cpu") return std::fprintf(stderr, "--profile times the CPU backend only\n"), 2;
        inner = std::move(be);
        be = std::make_unique<ProfilingBackend>(*inner);
    }
    ThreadPool pool(o.threads);
    const bool gpu = be->name() != "cpu";
    const char* base = std::getenv("VKAI_VK_BASELINE");
    const std::string path = !gpu ? strf("cpu, %d threads", pool.size()) : base && *base == '1' ? "baseline" : "best";

    // Ceilings first, on an idle device.
    auto bw = be->read_bandwidth();
    double flops_ceiling = 0;
#ifdef VKAI_HAVE_VULKAN
    if (gpu) {
        auto f = vk::measure_f32_flops(std::atoi(o.device.c_str() + 6));
        if (f.ok()) flops_ceiling = *f;
    }
#endif
    const double t_load = now_s();
    auto rt_r = whisper::Runtime::create(m, *be);
    if (!rt_r.ok()) return std::fprintf(stderr, "runtime: %s\n", rt_r.status().message().c_str()), 1;
    whisper::Runtime& rt = **rt_r;
    const double load_s = now_s() - t_load;
    std::printf("whisper %s (%s, %s) on %s (%s): read bandwidth %.0f GB/s, f32 FMA ceiling %.2f TFLOP/s; runtime created in %.2f s\n",
                m.size_name().c_str(), dtype_name(m.matrix_type()), format_bytes(m.weight_bytes()).c_str(), be->name().c_str(), path.c_str(),
                bw.ok() ? *bw : 0.0, flops_ceiling * 1e-12, load_s);

    // One window of audio for the encoder and decoder tests.
    const std::vector<float> pcm30 = synth_speech(30.0);
    auto mel30 = whisper::log_mel(pcm30, m.filters(), m.hp().n_mels, pool);
    if (!mel30.ok()) return std::fprintf(stderr, "mel: %s\n", mel30.status().message().c_str()), 1;

    double enc_ms = 0, enc_med = 0, enc_batch_ms = 0, dec_ms = 0, dec_batch_ms = 0, e2e_s = 0, e2e_batch_s = 0;
    int e2e_windows = 0, e2e_tokens = 0, e2e_batch_tokens = 0;
    const double eflops = encoder_flops(m.hp()), dbytes = decoder_bytes(m);
    if (o.profile) {
        auto& prof = static_cast<ProfilingBackend&>(*be);
        Status st = rt.encode(*mel30, 0); // warm-up
        prof.on = true;
        if (st.ok()) st = rt.encode(*mel30, 0);
        prof.on = false;
        if (!st.ok()) return std::fprintf(stderr, "encode: %s\n", st.message().c_str()), 1;
        prof.report();
    }
    if (o.skip.find("enc") == std::string::npos) {
        std::vector<double> t;
        for (int r = 0; r <= o.reps; ++r) { // the first is a warm-up
            const double t0 = now_s();
            Status st = rt.encode(*mel30, 0);
            if (!st.ok()) return std::fprintf(stderr, "encode: %s\n", st.message().c_str()), 1;
            if (r > 0) t.push_back(now_s() - t0);
        }
        enc_ms = *std::min_element(t.begin(), t.end()) * 1e3;
        enc_med = median(t) * 1e3;
        std::printf("encoder: %.1f ms per window (median %.1f over %d), %.2f TFLOP/s (%.1f GFLOP per window)%s\n", enc_ms, enc_med, o.reps,
                    eflops / enc_ms * 1e-9, eflops * 1e-9, flops_ceiling > 0 ? strf(", %.0f %% of the FMA ceiling", 100 * eflops / (enc_ms * 1e-3) / flops_ceiling).c_str() : "");
        if (o.batch > 1) {
            std::vector<int64_t> offs(size_t(o.batch), 0);
            t.clear();
            for (int r = 0; r <= std::max(1, o.reps / 2); ++r) {
                const double t0 = now_s();
                Status st = rt.encode_batch(*mel30, offs.data(), o.batch);
                if (!st.ok()) {
                    std::printf("encoder, %d windows per pass: %s\n", o.batch, st.message().c_str());
                    break;
                }
                if (r > 0) t.push_back(now_s() - t0);
            }
            if (!t.empty()) {
                enc_batch_ms = *std::min_element(t.begin(), t.end()) * 1e3 / o.batch;
                std::printf("encoder, %d windows per pass: %.1f ms per window, %.2f TFLOP/s\n", o.batch, enc_batch_ms, eflops / enc_batch_ms * 1e-9);
            }
        }
    }
    if (o.skip.find("dec") == std::string::npos) {
        if (o.skip.find("enc") != std::string::npos) {
            Status st = rt.encode(*mel30, 0);
            if (!st.ok()) return std::fprintf(stderr, "encode: %s\n", st.message().c_str()), 1;
        }
        const whisper::Vocab& v = m.vocab();
        const size_t nv = size_t(m.hp().n_vocab);
        std::vector<int32_t> sot = {v.sot()};
        if (v.multilingual()) sot.push_back(v.language(0)), sot.push_back(v.transcribe());
        std::vector<float> logits;
        std::vector<double> per;
        for (int r = 0; r < 2; ++r) { // a warm-up pass, then the measured one
            auto cache = rt.new_cache();
            if (!cache.ok()) return std::fprintf(stderr, "cache: %s\n", cache.status().message().c_str()), 1;
            Status st = rt.decode(*cache, sot.data(), int(sot.size()), false, logits);
            const int n = std::min(o.tokens, m.hp().n_text_ctx - int(sot.size()) - 1);
            const double t0 = now_s();
            for (int i = 0; i < n && st.ok(); ++i) {
                // Greedy over text tokens (a random model would otherwise pick specials forever).
                const int32_t next = int32_t(std::max_element(logits.begin(), logits.begin() + v.eot()) - logits.begin());
                st = rt.decode(*cache, &next, 1, false, logits);
            }
            if (!st.ok()) return std::fprintf(stderr, "decode: %s\n", st.message().c_str()), 1;
            if (r == 1) dec_ms = (now_s() - t0) / n * 1e3;
        }
        std::printf("decoder: %.3f ms per token (%d tokens after the sot sequence), %.0f GB/s of weights and cross K/V (%.0f MB per token)%s\n",
                    dec_ms, o.tokens, dbytes / dec_ms * 1e-6, dbytes * 1e-6,
                    bw.ok() ? strf(", %.0f %% of the read bandwidth", 100 * dbytes / (dec_ms * 1e-3) / (*bw * 1e9)).c_str() : "");
        if (o.batch > 1) { // lockstep steps of --batch sequences (parallel windows)
            const int nb = std::min(o.batch, whisper::Runtime::kMaxLogitRows);
            const int steps = std::min(o.tokens, m.hp().n_text_ctx - 8);
            auto bc = rt.new_batch_cache(nb, steps + 1);
            if (!bc.ok()) return std::fprintf(stderr, "batch cache: %s\n", bc.status().message().c_str()), 1;
            std::vector<int> seqs(static_cast<size_t>(nb)), slots(static_cast<size_t>(nb), 0);
            std::vector<int32_t> toks(static_cast<size_t>(nb), v.sot());
            for (int i = 0; i < nb; ++i) seqs[size_t(i)] = i;
            double t0 = now_s();
            Status st;
            for (int step = 0; step < steps && st.ok(); ++step) {
                if (step == 4) t0 = now_s(); // after a warm-up of 4 steps
                st = rt.decode_batch(*bc, seqs.data(), slots.data(), toks.data(), nb, logits);
                for (int i = 0; i < nb && st.ok(); ++i) {
                    const auto row = logits.begin() + long(size_t(i) * nv);
                    toks[size_t(i)] = int32_t(std::max_element(row, row + v.eot()) - row);
                }
            }
            if (!st.ok()) return std::fprintf(stderr, "decode_batch: %s\n", st.message().c_str()), 1;
            dec_batch_ms = (now_s() - t0) / std::max(1, steps - 4) * 1e3;
            std::printf("decoder, %d sequences in lockstep: %.3f ms per step (%.3f ms per token)\n", nb, dec_batch_ms, dec_batch_ms / nb);
        }
    }
    if (o.skip.find("e2e") == std::string::npos && o.minutes > 0) {
        const std::vector<float> pcm = synth_speech(o.minutes * 60);
        whisper::TranscribeOptions topt;
        topt.language = m.vocab().multilingual() ? "en" : "auto";
        topt.beam_size = 1;
        topt.temperatures = {0.0f};
        for (int pass = 0; pass < 2; ++pass) {
            if (pass == 1 && o.batch <= 1) break;
            topt.parallel_windows = pass == 0 ? 0 : o.batch;
            const double t0 = now_s();
            auto mel = whisper::log_mel(pcm, m.filters(), m.hp().n_mels, pool);
            if (!mel.ok()) return std::fprintf(stderr, "mel: %s\n", mel.status().message().c_str()), 1;
            const double mel_s = now_s() - t0;
            auto tr = whisper::transcribe(rt, *mel, int64_t(pcm.size()), topt);
            if (!tr.ok()) return std::fprintf(stderr, "transcribe: %s\n", tr.status().message().c_str()), 1;
            const double total = now_s() - t0;
            int tokens = 0;
            for (const auto& s : tr->segments) tokens += int(s.tokens.size());
            (pass == 0 ? e2e_s : e2e_batch_s) = total;
            (pass == 0 ? e2e_tokens : e2e_batch_tokens) = tokens;
            e2e_windows = tr->windows;
            std::printf("end to end, %.3g min, %s: %.2f s (mel %.2f s, encode %.2f s, decode %.2f s), %d windows, %zu segments, %d tokens\n",
                        o.minutes, pass == 0 ? "sequential windows" : strf("%d parallel windows", o.batch).c_str(), total, mel_s, tr->encode_s,
                        tr->decode_s, tr->windows, tr->segments.size(), tokens);
        }
    }
    if (o.json)
        std::printf("{\"model\": \"%s\", \"device\": \"%s\", \"path\": \"%s\", \"read_gbs\": %.1f, \"fma_tflops\": %.2f, \"encoder_ms\": %.2f, "
                    "\"encoder_ms_median\": %.2f, \"encoder_tflops\": %.2f, \"encoder_batch_ms\": %.2f, \"decoder_ms_per_token\": %.4f, \"decoder_batch_ms_per_step\": %.4f, \"e2e_minutes\": %.1f, "
                    "\"e2e_s\": %.3f, \"e2e_tokens\": %d, \"e2e_batch\": %d, \"e2e_batch_s\": %.3f, \"e2e_batch_tokens\": %d, \"windows\": %d}\n",
                    m.size_name().c_str(), be->name().c_str(), path.c_str(), bw.ok() ? *bw : 0.0, flops_ceiling * 1e-12, enc_ms, enc_med,
                    enc_ms > 0 ? eflops / enc_ms * 1e-9 : 0.0, enc_batch_ms, dec_ms, dec_batch_ms, o.minutes, e2e_s, e2e_tokens, o.batch, e2e_batch_s, e2e_batch_tokens,
                    e2e_windows);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    Opts o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto val = [&]() -> const char* { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "-m") o.model = val();
        else if (a == "--device") o.device = val();
        else if (a == "-t") o.threads = std::atoi(val());
        else if (a == "--reps") o.reps = std::max(1, std::atoi(val()));
        else if (a == "--tokens") o.tokens = std::max(1, std::atoi(val()));
        else if (a == "--minutes") o.minutes = std::atof(val());
        else if (a == "--batch") o.batch = std::atoi(val());
        else if (a == "--skip") o.skip = val();
        else if (a == "--synth") o.synth = val();
        else if (a == "--vocab") o.vocab = val();
        else if (a == "--json") o.json = true;
        else if (a == "--enc-layers") o.enc_layers = std::max(1, std::atoi(val()));
        else if (a == "--profile") o.profile = true;
        else return std::fprintf(stderr, "unknown argument %s\nusage: vkai-bench-whisper -m MODEL.bin [--synth PRESET --vocab FILE] [--device cpu|vulkanN] [-t N] [--reps N] [--tokens N] [--minutes M] [--batch B] [--skip enc,dec,e2e] [--json] [--enc-layers N] [--profile]\n", a.c_str()), 2;
    }
    if (o.model.empty()) return std::fprintf(stderr, "usage: vkai-bench-whisper -m MODEL.bin [--device cpu|vulkanN] ...\n"), 2;
    return run(o);
}
