// vkai transcribe: speech to text with a whisper model (whisper.cpp ggml .bin), any audio or video
// file FFmpeg's libraries read (decoded in-process by src/media). Encoder and decoder run on the
// device --device picks as for the LLM commands (auto: a Vulkan GPU if there is one, never a software
// one; else the CPU); a GPU that fails to load or run the model falls back to the CPU.
#include "args.h"
#include "commands.h"
#include "model_options.h"

#include "base/log.h"
#include "base/text.h"
#include "base/thread_pool.h"
#include "base/timer.h"
#include "cpu/cpu.h"
#include "cpu/cpu_backend.h"
#ifdef VKAI_HAVE_MEDIA
#include "media/audio.h"
#endif
#include "whisper/transcribe.h"

#include <cstdio>
#include <filesystem>
#include <unistd.h>

namespace vkai::cli {
namespace {

Status write_text(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) return fail(Code::io, "cannot create %s", tmp.c_str());
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    if (std::fclose(f) != 0 || !ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        return fail(Code::io, "cannot write %s", path.c_str());
    }
    return {};
}

std::string render(const whisper::Transcript& t, const std::string& fmt) {
    if (fmt == "srt") return whisper::to_srt(t);
    if (fmt == "vtt") return whisper::to_vtt(t);
    if (fmt == "json") return whisper::to_json(t, false);
    if (fmt == "verbose_json") return whisper::to_json(t, true);
    return whisper::to_txt(t);
}

} // namespace

int cmd_transcribe(int argc, char** argv) {
    Args args("transcribe", "-m MODEL.bin FILE... [-l auto|en|...] [-o txt|srt|vtt|json|verbose_json] [--output-dir DIR]",
              {
                  {"model", "m", "FILE", "whisper model in whisper.cpp's ggml .bin layout"},
                  {"language", "l", "LANG", "spoken language code (en, de, pt, ...) or auto (default: auto)"},
                  {"output-format", "o", "FMT", "txt, srt, vtt, json, verbose_json; comma-separated for several (default txt)"},
                  {"output-dir", "", "DIR", "write FILE's name + .FMT there instead of printing to stdout"},
                  {"translate", "", "", "translate to English instead of transcribing"},
                  {"threads", "t", "N", "CPU threads (default: all cores)"},
                  {"device", "", "D", "auto (default: a Vulkan GPU if there is one, else the CPU), cpu, or vulkanN (see vkai devices)"},
                  {"vram", "", "BYTES", "use at most this much GPU memory, e.g. 4G (default: what the device reports free)"},
                  {"beam-size", "", "N", "beams at temperature 0 (default 5, as the reference CLI; 1 = greedy)"},
                  {"batch", "", "N", "decode N 30 s windows at once (fast on a GPU): fixed window boundaries, greedy at temperature 0, "
                                     "no conditioning on the previous window's text (default 1: the reference's sequential windows)"},
                  {"best-of", "", "N", "samples per fallback temperature (default 5)"},
                  {"no-fallback", "", "", "decode at temperature 0 only (no retries on repetitive or unlikely text)"},
                  {"no-timestamps", "", "", "one segment per 30 s window, no timestamp tokens"},
                  {"prompt", "", "TEXT", "initial prompt: spelling, names, style for the first window"},
                  {"seed", "", "N", "seed for sampling at temperature > 0 (default 0)"},
              });
    Status st = args.parse(argc, argv);
    if (!st.ok()) return report("transcribe", st);
    if (args.help_requested()) {
        std::printf("%s", args.help().c_str());
        return 0;
    }
    if (!args.has("model")) return report("transcribe", fail(Code::invalid_argument, "missing -m MODEL.bin"));
    if (args.positional().empty()) return report("transcribe", fail(Code::invalid_argument, "missing input FILE (audio or video)"));
    std::vector<std::string> formats;
    {
        const std::string list = args.get("output-format", "txt");
        size_t b = 0;
        while (b <= list.size()) {
            size_t e = list.find(',', b);
            if (e == std::string::npos) e = list.size();
            const std::string f = list.substr(b, e - b);
            if (f != "txt" && f != "srt" && f != "vtt" && f != "json" && f != "verbose_json")
                return report("transcribe", fail(Code::invalid_argument, "-o %s: formats are txt, srt, vtt, json, verbose_json", f.c_str()));
            formats.push_back(f);
            b = e + 1;
        }
    }
    auto threads = args.get_int("threads", 0);
    auto beam = args.get_int("beam-size", 5);
    auto best_of = args.get_int("best-of", 5);
    auto seed = args.get_int("seed", 0);
    auto batch = args.get_int("batch", 1);
    for (const Status* s : {&threads.status(), &beam.status(), &best_of.status(), &seed.status(), &batch.status()})
        if (!s->ok()) return report("transcribe", *s);
    if (*batch < 1 || *batch > whisper::Runtime::kMaxLogitRows)
        return report("transcribe", fail(Code::invalid_argument, "--batch %lld: windows at once must be 1 .. %d", (long long)*batch, whisper::Runtime::kMaxLogitRows));
    const std::string out_dir = args.get("output-dir");
    if (!out_dir.empty() && !std::filesystem::is_directory(out_dir))
        return report("transcribe", fail(Code::not_found, "--output-dir %s is not a directory", out_dir.c_str()));

    whisper::TranscribeOptions opt;
    opt.language = args.get("language", "auto");
    opt.translate = args.has("translate");
    opt.timestamps = !args.has("no-timestamps");
    opt.beam_size = int(*beam);
    opt.best_of = int(*best_of);
    opt.initial_prompt = args.get("prompt");
    opt.seed = uint64_t(*seed);
    opt.parallel_windows = int(*batch);
    if (args.has("no-fallback")) opt.temperatures = {0.0f};
    const bool tty = isatty(2);
    if (opt.language != "auto") {
        bool known = false;
        for (const char* code : whisper::kLanguages) known = known || opt.language == code;
        if (!known) return report("transcribe", fail(Code::invalid_argument, "-l %s: unknown language; codes like en, de, pt, ja, zh, or auto", opt.language.c_str()));
    }

    double t0 = now_s();
    auto model = whisper::Model::load(args.get("model"));
    if (!model.ok()) return report("transcribe", model.status());
    const auto& m = **model;
    std::string why;
    auto be = open_device(args, why);
    if (!be.ok()) return report("transcribe", be.status());
    std::unique_ptr<Backend> backend = std::move(*be);
    auto rt = whisper::Runtime::create(m, *backend);
    // A GPU that cannot hold or run the model: the CPU instead (the process never dies on a device).
    auto fall_back = [&](const Status& cause) -> Status {
        if (backend->name() == "cpu") return cause;
        VKAI_LOG_WARN("transcribe: %s failed (%s); running on the cpu", backend->name().c_str(), cause.message().c_str());
        why = backend->name() + " failed";
        rt = fail(Code::internal, "released");
        backend = std::make_unique<cpu::CpuBackend>(static_cast<int>(*threads));
        rt = whisper::Runtime::create(m, *backend);
        return rt.ok() ? Status() : rt.status();
    };
    if (!rt.ok()) {
        Status fb = fall_back(rt.status());
        if (!fb.ok()) return report("transcribe", fb);
    }
    const double load_s = now_s() - t0;
    // The mel spectrogram runs on the CPU: on the CPU backend's threads, or on a pool of its own.
    std::unique_ptr<ThreadPool> own_pool;
    auto mel_pool = [&]() -> ThreadPool& {
        if (backend->name() == "cpu") return static_cast<cpu::CpuBackend&>(*backend).pool();
        if (!own_pool) own_pool = std::make_unique<ThreadPool>(static_cast<int>(*threads));
        return *own_pool;
    };
    auto device_line = [&] {
        if (backend->name() == "cpu")
            return strf("cpu (%d threads, %s kernels; %s)", static_cast<cpu::CpuBackend&>(*backend).pool().size(), cpu::simd_name(), why.c_str());
        return strf("%s (%s; %s of weights uploaded)", backend->name().c_str(), why.c_str(), format_bytes((*rt)->uploaded_bytes()).c_str());
    };
    // Printed with the first result, so that a run that fails says one line only.
    bool model_line = false;
    auto print_model_line = [&] {
        if (model_line) return;
        model_line = true;
        std::fprintf(stderr, "transcribe: %s: whisper %s, %s, %s of weights, %d mel bins, %s, vocab %d; loaded in %.2f s; device %s\n",
                     args.get("model").c_str(), m.size_name().c_str(), dtype_name(m.matrix_type()), format_bytes(m.weight_bytes()).c_str(),
                     m.hp().n_mels, m.vocab().multilingual() ? "multilingual" : "English-only", m.hp().n_vocab, load_s, device_line().c_str());
    };

    int failures = 0;
    for (const std::string& path : args.positional()) {
        const double f0 = now_s();
#ifdef VKAI_HAVE_MEDIA
        auto audio = media::decode_audio_file(path);
#else
        Result<std::vector<float>> audio = fail(Code::unsupported, "%s: this vkai was built without FFmpeg (VKAI_MEDIA=OFF): no audio decoding", path.c_str());
#endif
        if (!audio.ok()) {
            report("transcribe", audio.status());
            ++failures;
            continue;
        }
        const double audio_s = now_s() - f0;
        const double m0 = now_s();
        auto mel = whisper::log_mel(*audio, m.filters(), m.hp().n_mels, mel_pool());
        if (!mel.ok()) {
            report("transcribe", Status(mel.status()).with_context(path));
            ++failures;
            continue;
        }
        const double mel_s = now_s() - m0;
        opt.progress = [&](double frac) {
            if (tty) std::fprintf(stderr, "\rtranscribe: %s: %3d%%", path.c_str(), int(frac * 100.0 + 0.5));
        };
        auto tr = whisper::transcribe(**rt, *mel, int64_t(audio->size()), opt);
        if (!tr.ok() && (tr.status().code() == Code::device_lost || tr.status().code() == Code::out_of_memory) && fall_back(tr.status()).ok())
            tr = whisper::transcribe(**rt, *mel, int64_t(audio->size()), opt); // the same file again, on the cpu
        if (tty) std::fprintf(stderr, "\n");
        if (!tr.ok()) {
            report("transcribe", Status(tr.status()).with_context(path));
            ++failures;
            continue;
        }
        print_model_line();
        const double total = now_s() - f0;
        const double dur = double(audio->size()) / whisper::kSampleRate;
        std::fprintf(stderr,
                     "transcribe: %s: %.1f s of audio, language %s, %zu segments, %s windows; audio decode %.2f s, mel %.2f s, encode %.2f s, "
                     "decode %.2f s, total %.2f s (real-time factor %.3f)\n",
                     path.c_str(), dur, tr->language.c_str(), tr->segments.size(),
                     (tr->parallel_windows > 1 ? strf("%d (up to %d at once)", tr->windows, tr->parallel_windows) : strf("%d", tr->windows)).c_str(),
                     audio_s, mel_s, tr->encode_s, tr->decode_s, total,
                     dur > 0 ? total / dur : 0.0);
        for (const auto& fmt : formats) {
            const std::string text = render(*tr, fmt);
            if (out_dir.empty()) {
                std::fwrite(text.data(), 1, text.size(), stdout);
                continue;
            }
            const std::string out = (std::filesystem::path(out_dir) / std::filesystem::path(path).filename()).string() + "." + fmt;
            Status ws = write_text(out, text);
            if (!ws.ok()) {
                report("transcribe", ws);
                ++failures;
            } else {
                std::fprintf(stderr, "transcribe: wrote %s\n", out.c_str());
            }
        }
    }
    return failures ? 1 : 0;
}

} // namespace vkai::cli
