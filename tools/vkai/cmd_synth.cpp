// vkai synth: a random-weight GGUF with the real shapes of a known model and a real tokenizer.
#include "args.h"
#include "commands.h"

#include "base/text.h"
#include "base/timer.h"
#include "llm/presets.h"
#include "llm/synth.h"
#include "whisper/synth.h"

#include <cstdio>

namespace vkai::cli {

namespace {

// whisper-* presets: a random-weight whisper model in whisper.cpp's ggml .bin layout (src/whisper/synth.h).
int synth_whisper(const Args& args, const std::string& name) {
    const whisper::SynthPreset* p = whisper::find_synth_preset(name);
    if (!p) {
        std::string known;
        for (const auto& q : whisper::synth_presets()) known += std::string(known.empty() ? "" : ", ") + q.name;
        return report("synth", fail(Code::invalid_argument, "unknown preset '%s'; whisper presets: %s", name.c_str(), known.c_str()));
    }
    if (!args.has("output")) return report("synth", fail(Code::invalid_argument, "missing -o OUT.bin"));
    if (!args.has("vocab"))
        return report("synth", fail(Code::invalid_argument, "missing --vocab FILE: a whisper .bin with a vocabulary, e.g. ../shared/data/whisper/for-tests-ggml-tiny.bin"));
    whisper::SynthOptions opt;
    opt.hp = p->hp;
    auto layers = args.get_int("layers", opt.hp.n_audio_layer);
    auto seed = args.get_int("seed", 1);
    for (const Status* s : {&layers.status(), &seed.status()})
        if (!s->ok()) return report("synth", *s);
    if (*layers < 1 || *layers > 64) return report("synth", fail(Code::invalid_argument, "--layers must be in 1..64, got %lld", (long long)*layers));
    if (args.has("layers")) opt.hp.n_audio_layer = opt.hp.n_text_layer = int32_t(*layers);
    opt.seed = uint64_t(*seed);
    opt.type = args.get("type", "F16");
    opt.vocab_path = args.get("vocab");
    const std::string out = args.get("output");
    const double t0 = now_s();
    auto rep = whisper::synth_model(opt, out);
    if (!rep.ok()) return report("synth", rep.status());
    std::fprintf(stderr, "synth: wrote %s: %s %s, %.1fM params, %s, vocab %d, %d mel bins%s, %.1f s\n", out.c_str(), p->name, opt.type.c_str(),
                 double(rep->n_params) * 1e-6, format_bytes(rep->bytes).c_str(), opt.hp.n_vocab, opt.hp.n_mels,
                 rep->computed_filters ? " (filters computed: the vocab file has another mel count)" : "", now_s() - t0);
    return 0;
}

} // namespace

int cmd_synth(int argc, char** argv) {
    Args args("synth", "--preset NAME --type TYPE --vocab VOCAB.gguf -o OUT.gguf",
              {
                  {"preset", "", "NAME", "model shape: tiny, mistral-7b, llama3-8b, qwen3-4b, qwen2.5-0.5b, whisper-tiny, whisper-base, whisper-large-v3-turbo (--list shows all)"},
                  {"type", "", "TYPE", "F32, F16, BF16, Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K, ... (default Q4_K_M)"},
                  {"vocab", "", "FILE", "GGUF whose tokenizer.* keys are copied (e.g. ../shared/data/vocab/ggml-vocab-llama-spm.gguf)"},
                  {"output", "o", "FILE", "output GGUF path"},
                  {"layers", "", "N", "override the number of layers (smaller files for tests)"},
                  {"seed", "", "N", "weight seed (default 1)"},
                  {"threads", "t", "N", "threads (default: all cores)"},
                  {"list", "", "", "list the presets and exit"},
              });
    Status st = args.parse(argc, argv);
    if (!st.ok()) return report("synth", st);
    if (args.help_requested()) {
        std::printf("%s", args.help().c_str());
        return 0;
    }
    if (args.has("list")) {
        for (const auto& p : llm::presets())
            std::printf("%-14s %s\n", p.name, p.description);
        for (const auto& p : whisper::synth_presets()) std::printf("%-22s %s\n", p.name, p.description);
        return 0;
    }
    const std::string preset_name = args.get("preset");
    if (preset_name.rfind("whisper-", 0) == 0) return synth_whisper(args, preset_name);
    const llm::Preset* preset = llm::find_preset(preset_name);
    if (!preset) {
        std::string known;
        for (const auto& p : llm::presets()) known += std::string(known.empty() ? "" : ", ") + p.name;
        return report("synth", fail(Code::invalid_argument, "%s preset '%s'; known presets: %s", preset_name.empty() ? "missing --preset;" : "unknown", preset_name.c_str(), known.c_str()));
    }
    if (!args.has("output")) return report("synth", fail(Code::invalid_argument, "missing -o OUT.gguf"));
    if (!args.has("vocab"))
        return report("synth", fail(Code::invalid_argument, "missing --vocab FILE: a GGUF with a tokenizer, e.g. ../shared/data/vocab/ggml-vocab-llama-spm.gguf or models/stories260K.gguf"));

    llm::SynthOptions opt;
    opt.hp = preset->hp;
    auto layers = args.get_int("layers", opt.hp.n_layer);
    auto seed = args.get_int("seed", 1);
    auto threads = args.get_int("threads", 0);
    for (const Status* s : {&layers.status(), &seed.status(), &threads.status()})
        if (!s->ok()) return report("synth", *s);
    if (*layers < 1 || *layers > 512) return report("synth", fail(Code::invalid_argument, "--layers must be in 1..512, got %lld", (long long)*layers));
    opt.hp.n_layer = *layers;
    opt.seed = uint64_t(*seed);
    opt.threads = int(*threads);
    opt.type = args.get("type", "Q4_K_M");
    opt.vocab_path = args.get("vocab");
    opt.name = strf("vkai synth %s %s", preset->name, opt.type.c_str());

    const std::string out = args.get("output");
    double t0 = now_s();
    auto rep = llm::synth_model(opt, out);
    if (!rep.ok()) return report("synth", rep.status());
    std::fprintf(stderr, "synth: wrote %s: %s %s, %.2fB params, %s of tensors, vocab %lld%s, %.1f s\n", out.c_str(), preset->name,
                 opt.type.c_str(), double(rep->n_params) * 1e-9, format_bytes(rep->tensor_bytes).c_str(), (long long)rep->n_vocab,
                 rep->vocab_padding ? strf(" (%lld unused tokens appended to match the real shape)", (long long)rep->vocab_padding).c_str() : "",
                 now_s() - t0);
    return 0;
}

} // namespace vkai::cli
