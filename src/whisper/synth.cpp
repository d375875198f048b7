#include "whisper/synth.h"

#include "base/fp16.h"
#include "base/mapped_file.h"
#include "base/text.h"
#include "tensor/quant.h"
#include "whisper/load_gguf.h"
#include "whisper/mel.h"

#include <cmath>
#include <cstring>

namespace vkai::whisper {

const std::vector<SynthPreset>& synth_presets() {
    // hparams: n_vocab n_audio_ctx n_audio_state n_audio_head n_audio_layer n_text_ctx n_text_state n_text_head n_text_layer n_mels ftype
    static const std::vector<SynthPreset> p = {
        {"whisper-tiny", {51865, 1500, 384, 6, 4, 448, 384, 6, 4, 80, 1}, "whisper tiny (39M), multilingual"},
        {"whisper-tiny.en", {51864, 1500, 384, 6, 4, 448, 384, 6, 4, 80, 1}, "whisper tiny.en (39M), English-only"},
        {"whisper-base", {51865, 1500, 512, 8, 6, 448, 512, 8, 6, 80, 1}, "whisper base (74M), multilingual"},
        {"whisper-small", {51865, 1500, 768, 12, 12, 448, 768, 12, 12, 80, 1}, "whisper small (244M), multilingual"},
        {"whisper-large-v3", {51866, 1500, 1280, 20, 32, 448, 1280, 20, 32, 128, 1}, "whisper large-v3 (1550M), 128 mel bins"},
        {"whisper-large-v3-turbo", {51866, 1500, 1280, 20, 32, 448, 1280, 20, 4, 128, 1}, "whisper large-v3-turbo (809M), 4 decoder layers"},
        // Not a released model: the smallest shape with the real vocabulary, for fast end-to-end tests.
        {"whisper-test", {51865, 1500, 64, 2, 2, 448, 64, 2, 2, 80, 1}, "test shape: d_model 64, 2+2 layers, real vocabulary"},
    };
    return p;
}

const SynthPreset* find_synth_preset(const std::string& name) {
    for (const auto& p : synth_presets())
        if (name == p.name) return &p;
    return nullptr;
}

namespace {

// splitmix64: fast, seedable, identical everywhere.
struct Rng {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    float uniform(float lo, float hi) { return lo + (hi - lo) * float(next() >> 40) * (1.0f / 16777216.0f); }
};

uint64_t name_hash(const std::string& s) {
    uint64_t h = 1469598103934665603ull;
    for (char c : s) h = (h ^ uint8_t(c)) * 1099511628211ull;
    return h;
}

enum class Init { uniform, ones, zeros_ish, sinusoid };

} // namespace

Result<SynthReport> synth_model(const SynthOptions& opt, const std::string& out_path) {
    auto type = dtype_from_name(opt.type);
    if (!type || !whisper_bin::allowed_type(*type))
        return fail(Code::invalid_argument, "--type %s: whisper files use F32, F16, Q8_0, Q5_0, Q5_1, Q4_0, Q4_1", opt.type.c_str());
    VKAI_ASSIGN_OR_RETURN(MappedFile vf, MappedFile::open(opt.vocab_path));
    VKAI_ASSIGN_OR_RETURN(whisper_bin::File vocab, whisper_bin::parse(vf.bytes(), opt.vocab_path));
    if (int64_t(vocab.tokens.size()) < 50256)
        return fail(Code::invalid_argument, "%s stores %zu tokens; a whisper vocabulary has 50256 or 50257", opt.vocab_path.c_str(), vocab.tokens.size());
    const auto& h = opt.hp;
    SynthReport rep;
    std::vector<float> filters = vocab.filters;
    if (vocab.hp.n_mels != h.n_mels || vocab.n_fft != kNFreq) {
        filters = mel_filterbank(h.n_mels);
        rep.computed_filters = true;
    }
    // English-only vocabularies end with <|endoftext|> (50256 regular + 1); multilingual ones with 50257 regular.
    std::vector<std::string> tokens = vocab.tokens;
    const size_t n_regular = h.n_vocab >= 51865 ? 50257 : 50256;
    if (tokens.size() > n_regular) tokens.resize(n_regular);
    whisper_bin::HParams hp = h;
    // ggml's file-type ids (mostly-F16 = 1, Q4_0 = 2, Q4_1 = 3, Q8_0 = 7, Q5_0 = 8, Q5_1 = 9), + 2000 for the
    // quantization version whisper.cpp writes into quantized files. Informational: types are per tensor.
    switch (*type) {
    case DType::F32: hp.ftype = 0; break;
    case DType::F16: hp.ftype = 1; break;
    case DType::Q4_0: hp.ftype = 2002; break;
    case DType::Q4_1: hp.ftype = 2003; break;
    case DType::Q8_0: hp.ftype = 2007; break;
    case DType::Q5_0: hp.ftype = 2008; break;
    default: hp.ftype = 2009; break;
    }
    // Output ending in .gguf: vkai's whisper GGUF layout (load_gguf.h), same tensors and bytes.
    const bool gguf = has_gguf_extension(out_path);
    GgufWriter gw(hp, kNFreq, gguf ? filters : std::vector<float>(), gguf ? tokens : std::vector<std::string>()); // unused for .bin
    whisper_bin::Writer w(hp, kNFreq, std::move(filters), std::move(tokens));

    const int64_t s = h.n_audio_state, mels = h.n_mels;
    const DType mt = *type;
    auto add = [&](const std::string& name, std::vector<int64_t> ne, DType t, Init init, float scale) -> Status {
        uint64_t n = 1;
        for (int64_t d : ne) n *= uint64_t(d);
        rep.n_params += n;
        const int64_t row = ne[0];
        const uint64_t seed = opt.seed * 0x100000001b3ull ^ name_hash(name);
        auto fill = [=](uint8_t* dst, uint64_t bytes) {
            Rng rng{seed};
            std::vector<float> buf(static_cast<size_t>(row));
            const uint64_t rb = *row_bytes(t, uint64_t(row));
            for (uint64_t r = 0; r < bytes / rb; ++r) {
                for (int64_t i = 0; i < row; ++i) {
                    switch (init) {
                    case Init::uniform: buf[size_t(i)] = rng.uniform(-scale, scale); break;
                    case Init::ones: buf[size_t(i)] = 1.0f + rng.uniform(-scale, scale); break;
                    case Init::zeros_ish: buf[size_t(i)] = rng.uniform(-scale, scale); break;
                    case Init::sinusoid: { // whisper's encoder positions: sin over the first half, cos over the second
                        const int64_t half = row / 2, j = i % half;
                        const double inc = std::log(10000.0) / double(half - 1), arg = double(r) * std::exp(-inc * double(j));
                        buf[size_t(i)] = float(i < half ? std::sin(arg) : std::cos(arg));
                        break;
                    }
                    }
                }
                uint8_t* d = dst + r * rb;
                if (t == DType::F32) std::memcpy(d, buf.data(), size_t(row) * 4);
                else if (t == DType::F16)
                    for (int64_t i = 0; i < row; ++i) {
                        const uint16_t v = f32_to_fp16(buf[size_t(i)]);
                        std::memcpy(d + 2 * i, &v, 2);
                    }
                else quantize_row(t, buf.data(), d, row);
            }
            return Status{};
        };
        return gguf ? gw.add_tensor(name, t, ne, fill) : w.add_tensor(name, t, ne, fill);
    };
    const float ws = 1.0f / std::sqrt(float(s)), ws4 = 1.0f / std::sqrt(float(4 * s));
    VKAI_TRY(add("encoder.conv1.weight", {3, mels, s}, DType::F16, Init::uniform, 1.0f / std::sqrt(3.0f * float(mels))));
    VKAI_TRY(add("encoder.conv1.bias", {1, s}, DType::F32, Init::zeros_ish, 0.05f));
    VKAI_TRY(add("encoder.conv2.weight", {3, s, s}, DType::F16, Init::uniform, 1.0f / std::sqrt(3.0f * float(s))));
    VKAI_TRY(add("encoder.conv2.bias", {1, s}, DType::F32, Init::zeros_ish, 0.05f));
    VKAI_TRY(add("encoder.positional_embedding", {s, h.n_audio_ctx}, DType::F32, Init::sinusoid, 0));
    auto attn = [&](const std::string& p) -> Status {
        VKAI_TRY(add(p + "_ln.weight", {s}, DType::F32, Init::ones, 0.1f));
        VKAI_TRY(add(p + "_ln.bias", {s}, DType::F32, Init::zeros_ish, 0.05f));
        for (const char* n : {".query", ".key", ".value", ".out"}) {
            VKAI_TRY(add(p + n + ".weight", {s, s}, mt, Init::uniform, ws));
            if (std::string(n) != ".key") VKAI_TRY(add(p + n + ".bias", {s}, DType::F32, Init::zeros_ish, 0.05f));
        }
        return {};
    };
    auto block = [&](const std::string& p, bool cross) -> Status {
        VKAI_TRY(attn(p + "attn"));
        if (cross) VKAI_TRY(attn(p + "cross_attn"));
        VKAI_TRY(add(p + "mlp_ln.weight", {s}, DType::F32, Init::ones, 0.1f));
        VKAI_TRY(add(p + "mlp_ln.bias", {s}, DType::F32, Init::zeros_ish, 0.05f));
        VKAI_TRY(add(p + "mlp.0.weight", {s, 4 * s}, mt, Init::uniform, ws));
        VKAI_TRY(add(p + "mlp.0.bias", {4 * s}, DType::F32, Init::zeros_ish, 0.05f));
        VKAI_TRY(add(p + "mlp.2.weight", {4 * s, s}, mt, Init::uniform, ws4));
        VKAI_TRY(add(p + "mlp.2.bias", {s}, DType::F32, Init::zeros_ish, 0.05f));
        return {};
    };
    for (int l = 0; l < h.n_audio_layer; ++l) VKAI_TRY(block(strf("encoder.blocks.%d.", l), false));
    VKAI_TRY(add("encoder.ln_post.weight", {s}, DType::F32, Init::ones, 0.1f));
    VKAI_TRY(add("encoder.ln_post.bias", {s}, DType::F32, Init::zeros_ish, 0.05f));
    VKAI_TRY(add("decoder.token_embedding.weight", {s, h.n_vocab}, mt, Init::uniform, 1.0f));
    VKAI_TRY(add("decoder.positional_embedding", {s, h.n_text_ctx}, DType::F32, Init::zeros_ish, 0.1f));
    for (int l = 0; l < h.n_text_layer; ++l) VKAI_TRY(block(strf("decoder.blocks.%d.", l), true));
    VKAI_TRY(add("decoder.ln.weight", {s}, DType::F32, Init::ones, 0.1f));
    VKAI_TRY(add("decoder.ln.bias", {s}, DType::F32, Init::zeros_ish, 0.05f));
    VKAI_TRY(gguf ? gw.write(out_path) : w.write(out_path));
    VKAI_ASSIGN_OR_RETURN(MappedFile out, MappedFile::open(out_path));
    rep.bytes = out.size();
    return rep;
}

} // namespace vkai::whisper
