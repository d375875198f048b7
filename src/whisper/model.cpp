#include "whisper/model.h"

#include "base/mapped_file.h"
#include "base/text.h"
#include "tensor/quant.h"
#include "whisper/load_gguf.h"

#include <cstdlib>
#include <cstring>

namespace vkai::whisper {

void Model::Free::operator()(void* p) const { std::free(p); }

namespace {

// One tensor to place: where it comes from, the shape the model uses, and whether it becomes f32.
struct Want {
    Tensor* dst;
    std::string name;
    std::vector<int64_t> ne; // expected shape (element counts must match; ggml dims may differ, e.g. conv bias (1, n))
    bool f32;
    bool required;
};

} // namespace

Result<std::unique_ptr<Model>> Model::load(const std::string& path) {
    VKAI_ASSIGN_OR_RETURN(MappedFile f, MappedFile::open(path));
    return from_bytes(f.bytes(), path);
}

Result<std::unique_ptr<Model>> Model::from_bytes(std::span<const uint8_t> bytes, const std::string& name) {
    VKAI_ASSIGN_OR_RETURN(whisper_bin::File f, is_gguf(bytes) ? parse_gguf(bytes, name) : whisper_bin::parse(bytes, name)); // .bin or GGUF
    std::unique_ptr<Model> m(new Model());
    m->name_ = name;
    m->hp_ = f.hp;
    const auto& h = f.hp;
    if (f.n_fft != 201) return fail(Code::unsupported, "%s: mel filters have %d frequency bins; whisper uses a 400-point FFT (201 bins)", name.c_str(), f.n_fft);
    if (h.n_audio_state != h.n_text_state)
        return fail(Code::unsupported, "%s: n_audio_state %d != n_text_state %d (cross-attention needs equal widths)", name.c_str(), h.n_audio_state, h.n_text_state);
    m->filters_ = std::move(f.filters);
    VKAI_ASSIGN_OR_RETURN(m->vocab_, Vocab::create(h.n_vocab, std::move(f.tokens)));
    if (f.tensors.empty())
        return fail(Code::not_found, "%s: the file holds hparams, mel filters and vocabulary but no tensors (a for-tests vocabulary file?); "
                    "use a full model or `vkai synth --preset whisper-tiny --vocab %s -o model.bin`", name.c_str(), name.c_str());

    const int64_t s = h.n_audio_state, mels = h.n_mels, actx = h.n_audio_ctx, tctx = h.n_text_ctx, nv = h.n_vocab;
    Weights& w = m->w_;
    w.enc.resize(size_t(h.n_audio_layer));
    w.dec.resize(size_t(h.n_text_layer));
    std::vector<Want> wants = {
        {&w.conv1_w, "encoder.conv1.weight", {3, mels, s}, false, true},
        {&w.conv1_b, "encoder.conv1.bias", {s}, true, true},
        {&w.conv2_w, "encoder.conv2.weight", {3, s, s}, false, true},
        {&w.conv2_b, "encoder.conv2.bias", {s}, true, true},
        {&w.enc_pos, "encoder.positional_embedding", {s, actx}, true, true},
        {&w.enc_ln_w, "encoder.ln_post.weight", {s}, true, true},
        {&w.enc_ln_b, "encoder.ln_post.bias", {s}, true, true},
        {&w.tok_emb, "decoder.token_embedding.weight", {s, nv}, false, true},
        {&w.dec_pos, "decoder.positional_embedding", {s, tctx}, true, true},
        {&w.dec_ln_w, "decoder.ln.weight", {s}, true, true},
        {&w.dec_ln_b, "decoder.ln.bias", {s}, true, true},
    };
    auto attn = [&](Attn& a, const std::string& p) {
        wants.push_back({&a.ln_w, p + "_ln.weight", {s}, true, true});
        wants.push_back({&a.ln_b, p + "_ln.bias", {s}, true, true});
        for (auto [t, n] : {std::pair{&a.q_w, "query.weight"}, {&a.k_w, "key.weight"}, {&a.v_w, "value.weight"}, {&a.o_w, "out.weight"}})
            wants.push_back({t, p + "." + n, {s, s}, false, true});
        for (auto [t, n] : {std::pair{&a.q_b, "query.bias"}, {&a.v_b, "value.bias"}, {&a.o_b, "out.bias"}})
            wants.push_back({t, p + "." + n, {s}, true, true});
    };
    auto block = [&](Block& b, const std::string& p, bool cross) {
        attn(b.attn, p + "attn");
        if (cross) attn(b.cross, p + "cross_attn");
        wants.push_back({&b.mlp_ln_w, p + "mlp_ln.weight", {s}, true, true});
        wants.push_back({&b.mlp_ln_b, p + "mlp_ln.bias", {s}, true, true});
        wants.push_back({&b.fc1_w, p + "mlp.0.weight", {s, 4 * s}, false, true});
        wants.push_back({&b.fc1_b, p + "mlp.0.bias", {4 * s}, true, true});
        wants.push_back({&b.fc2_w, p + "mlp.2.weight", {4 * s, s}, false, true});
        wants.push_back({&b.fc2_b, p + "mlp.2.bias", {s}, true, true});
    };
    for (size_t l = 0; l < w.enc.size(); ++l) block(w.enc[l], strf("encoder.blocks.%zu.", l), false);
    for (size_t l = 0; l < w.dec.size(); ++l) block(w.dec[l], strf("decoder.blocks.%zu.", l), true);

    // Pass 1: find and check every tensor, and size the aligned storage.
    std::vector<const whisper_bin::TensorInfo*> src(wants.size());
    uint64_t total = 0;
    for (size_t i = 0; i < wants.size(); ++i) {
        const Want& wt = wants[i];
        const auto* t = f.find_tensor(wt.name);
        if (!t) return fail(Code::not_found, "%s: tensor '%s' is missing", name.c_str(), wt.name.c_str());
        int64_t want_n = 1;
        for (int64_t d : wt.ne) want_n *= d;
        // Matrices must match dim by dim; vectors only by count (conv biases are stored as (1, n)).
        bool ok = t->nelements() == want_n;
        if (ok && !wt.f32)
            for (size_t d = 0; d < wt.ne.size(); ++d) ok = ok && t->ne[d] == wt.ne[d];
        if (!ok)
            return fail(Code::corrupt, "%s: tensor '%s' has shape (%lld, %lld, %lld), expected (%lld, %lld, %lld) from the hparams", name.c_str(),
                        wt.name.c_str(), (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)wt.ne[0],
                        (long long)(wt.ne.size() > 1 ? wt.ne[1] : 1), (long long)(wt.ne.size() > 2 ? wt.ne[2] : 1));
        if (wt.f32 && !can_dequantize(t->type))
            return fail(Code::unsupported, "%s: tensor '%s' type %s cannot be read", name.c_str(), wt.name.c_str(), dtype_name(t->type));
        src[i] = t;
        total += ((wt.f32 ? uint64_t(want_n) * 4 : t->bytes) + 63) / 64 * 64;
    }
    void* mem = std::aligned_alloc(64, std::max<uint64_t>(total, 64));
    if (!mem) return fail(Code::out_of_memory, "%s: cannot allocate %s for the weights", name.c_str(), format_bytes(total).c_str());
    m->storage_.reset(mem);
    m->weight_bytes_ = total;
    // Pass 2: copy (matrices) or convert to f32 (vectors, positions).
    uint8_t* p = static_cast<uint8_t*>(mem);
    for (size_t i = 0; i < wants.size(); ++i) {
        const Want& wt = wants[i];
        const auto* t = src[i];
        int64_t ne[4] = {1, 1, 1, 1};
        for (size_t d = 0; d < wt.ne.size(); ++d) ne[d] = wt.ne[d];
        if (wt.f32) {
            const int64_t row = t->ne[0], rows = t->nelements() / row;
            const uint64_t rb = t->bytes / uint64_t(rows);
            for (int64_t r = 0; r < rows; ++r) dequantize_row(t->type, t->data + uint64_t(r) * rb, reinterpret_cast<float*>(p) + r * row, row);
            *wt.dst = make_tensor(DType::F32, p, ne[0], ne[1], ne[2], ne[3]);
            p += (uint64_t(t->nelements()) * 4 + 63) / 64 * 64;
        } else {
            std::memcpy(p, t->data, t->bytes);
            // Conv weights (k, c_in, c_out) are used as 2-D matrices (k c_in, c_out) by im2col + mul_mat.
            if (wt.ne.size() == 3) *wt.dst = make_tensor(t->type, p, ne[0] * ne[1], ne[2]);
            else *wt.dst = make_tensor(t->type, p, ne[0], ne[1]);
            p += (t->bytes + 63) / 64 * 64;
        }
    }
    m->matrix_type_ = w.enc.empty() ? w.tok_emb.type : w.enc[0].fc1_w.type;
    return m;
}

std::string Model::size_name() const {
    const auto& h = hp_;
    if (h.n_mels == 128) return h.n_text_layer == 4 ? "large-v3-turbo" : "large-v3";
    switch (h.n_audio_layer) {
    case 4: return "tiny";
    case 6: return "base";
    case 12: return "small";
    case 24: return "medium";
    case 32: return "large";
    default: return strf("%d-layer", h.n_audio_layer);
    }
}

} // namespace vkai::whisper
