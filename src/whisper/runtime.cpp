#include "whisper/runtime.h"

#include "base/check.h"
#include "base/text.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace vkai::whisper {

Buf& Buf::operator=(Buf&& o) noexcept {
    if (this != &o) {
        if (be_ && p_) be_->free(p_);
        be_ = o.be_;
        p_ = o.p_;
        bytes_ = o.bytes_;
        o.p_ = nullptr;
    }
    return *this;
}

Buf::~Buf() {
    if (be_ && p_) be_->free(p_);
}

Result<Buf> Runtime::alloc(uint64_t bytes, const char* what) {
    VKAI_ASSIGN_OR_RETURN(void* p, be_.alloc(bytes, what));
    return Buf(&be_, p, bytes);
}

Tensor Runtime::t(const Buf& b, int64_t ne0, int64_t ne1, int64_t ne2) const {
    VKAI_ASSERT(uint64_t(ne0 * ne1 * ne2) * 4 <= b.bytes(), "whisper activation buffer too small");
    return make_tensor(DType::F32, b.data(), ne0, ne1, ne2);
}

Tensor Runtime::cross(const Buf& b, int slot) const {
    VKAI_ASSERT(slot >= 0 && slot < enc_cap_, "cross K/V slot %d of %d", slot, enc_cap_);
    return make_tensor(DType::F32, static_cast<uint8_t*>(b.data()) + uint64_t(slot) * uint64_t(s_ * ctx_) * 4, hd_, nh_, ctx_);
}

Result<std::unique_ptr<Runtime>> Runtime::create(const Model& model, Backend& be) {
    const auto& h = model.hp();
    if (!be.has_whisper_ops())
        return fail(Code::unsupported, "backend %s lacks the whisper ops (layer_norm, gelu_erf, im2col); run whisper on the CPU", be.name().c_str());
    if (h.n_audio_ctx != kChunkFrames / 2)
        return fail(Code::unsupported, "%s: n_audio_ctx %d; whisper's 30 s window gives %d encoder positions", model.name().c_str(), h.n_audio_ctx, kChunkFrames / 2);
    // Released models use 448; the bound keeps a hostile file from sizing the (n_text_ctx^2) mask.
    if (h.n_text_ctx > 2048)
        return fail(Code::unsupported, "%s: n_text_ctx %d; whisper models use 448 (at most 2048 supported)", model.name().c_str(), h.n_text_ctx);
    const Weights& w = model.w();
    std::vector<const Tensor*> mats = {&w.conv1_w, &w.conv2_w, &w.tok_emb};
    for (const auto* blocks : {&w.enc, &w.dec})
        for (const Block& b : *blocks)
            for (const Tensor* m : {&b.attn.q_w, &b.attn.k_w, &b.attn.v_w, &b.attn.o_w, &b.cross.q_w, &b.cross.k_w, &b.cross.v_w, &b.cross.o_w,
                                    &b.fc1_w, &b.fc2_w})
                if (m->data) mats.push_back(m);
    for (const Tensor* m : mats)
        if (!be.supports(Op::mul_mat, m->type))
            return fail(Code::unsupported, "backend %s has no mul_mat for %s weights", be.name().c_str(), dtype_name(m->type));
    std::unique_ptr<Runtime> r(new Runtime(model, be));
    if (!be.uses_host_memory()) VKAI_TRY(r->upload_weights());
    r->s_ = h.n_audio_state;
    r->nh_ = h.n_audio_head;
    r->hd_ = r->s_ / r->nh_;
    r->ctx_ = h.n_audio_ctx;
    r->tctx_ = h.n_text_ctx;
    const uint64_t s = uint64_t(r->s_), T = uint64_t(kChunkFrames), C = uint64_t(r->ctx_), M = uint64_t(h.n_mels), tc = uint64_t(r->tctx_);
    struct A {
        Buf* b;
        uint64_t floats;
    };
    (void)M, (void)T;
    const A list[] = {
        {&r->zeros_, C * std::max(C, tc)}, {&r->dx_, s * tc}, {&r->dh_, s * tc}, {&r->dq_, s * tc}, {&r->da_, s * tc}, {&r->df_, 4 * s * tc},
        {&r->dmask_, tc * tc}, {&r->logits_, uint64_t(h.n_vocab) * kMaxLogitRows},
    };
    for (const A& a : list) {
        VKAI_ASSIGN_OR_RETURN(*a.b, r->alloc(a.floats * 4, "whisper activations"));
    }
    std::vector<float> zero(size_t(C * std::max(C, tc)), 0.0f);
    VKAI_TRY(be.upload(r->zeros_.data(), zero.data(), zero.size() * 4));
    VKAI_TRY(r->alloc_encoder(1));
    return r;
}

uint64_t Runtime::batch_bytes(int n) const {
    const uint64_t s = uint64_t(s_), T = uint64_t(kChunkFrames), C = uint64_t(ctx_), M = uint64_t(model_.hp().n_mels);
    const uint64_t per = (M * T + 3 * M * T + s * T + 3 * s * C + 6 * s * C + 4 * s * C + 2 * uint64_t(model_.hp().n_text_layer) * s * C) * 4;
    return per * uint64_t(std::max(0, n - 1));
}

// All-or-nothing: new buffers are allocated before the old ones go, so a failure keeps the old size.
Status Runtime::alloc_encoder(int windows) {
    const uint64_t s = uint64_t(s_), T = uint64_t(kChunkFrames), C = uint64_t(ctx_), M = uint64_t(model_.hp().n_mels), n = uint64_t(windows);
    Buf in, cols1, conv1, cols2, ex, eh, eq, ek, ev, ea, ef;
    struct A {
        Buf* b;
        uint64_t floats;
    };
    const A list[] = {{&in, M * T * n},     {&cols1, 3 * M * T * n}, {&conv1, s * T * n}, {&cols2, 3 * s * C * n}, {&ex, s * C * n}, {&eh, s * C * n},
                      {&eq, s * C * n},     {&ek, s * C * n},        {&ev, s * C * n},    {&ea, s * C * n},        {&ef, 4 * s * C * n}};
    for (const A& a : list) {
        VKAI_ASSIGN_OR_RETURN(*a.b, alloc(a.floats * 4, "whisper encoder activations"));
    }
    std::vector<Buf> ck, cv;
    for (int l = 0; l < model_.hp().n_text_layer; ++l) {
        VKAI_ASSIGN_OR_RETURN(Buf k, alloc(s * C * n * 4, "whisper cross K"));
        VKAI_ASSIGN_OR_RETURN(Buf v, alloc(s * C * n * 4, "whisper cross V"));
        ck.push_back(std::move(k));
        cv.push_back(std::move(v));
    }
    in_ = std::move(in), cols1_ = std::move(cols1), conv1_ = std::move(conv1), cols2_ = std::move(cols2), ex_ = std::move(ex), eh_ = std::move(eh);
    eq_ = std::move(eq), ek_ = std::move(ek), ev_ = std::move(ev), ea_ = std::move(ea), ef_ = std::move(ef);
    ck_ = std::move(ck), cv_ = std::move(cv);
    enc_cap_ = windows;
    enc_windows_ = 0;
    return {};
}

namespace {

// Every tensor of the weights, in one order (the upload walks it).
template <class F>
void for_each_tensor(Weights& w, F&& fn) {
    for (Tensor* t : {&w.conv1_w, &w.conv1_b, &w.conv2_w, &w.conv2_b, &w.enc_pos, &w.enc_ln_w, &w.enc_ln_b, &w.tok_emb, &w.dec_pos, &w.dec_ln_w,
                      &w.dec_ln_b})
        fn(*t);
    for (auto* blocks : {&w.enc, &w.dec})
        for (Block& b : *blocks) {
            for (Attn* a : {&b.attn, &b.cross})
                for (Tensor* t : {&a->ln_w, &a->ln_b, &a->q_w, &a->q_b, &a->k_w, &a->v_w, &a->v_b, &a->o_w, &a->o_b}) fn(*t);
            for (Tensor* t : {&b.mlp_ln_w, &b.mlp_ln_b, &b.fc1_w, &b.fc1_b, &b.fc2_w, &b.fc2_b}) fn(*t);
        }
}

} // namespace

// A device copy of every weight tensor (same shapes and strides), uploaded once.
Status Runtime::upload_weights() {
    dev_w_ = std::make_unique<Weights>(model_.w());
    Status st;
    for_each_tensor(*dev_w_, [&](Tensor& t) {
        if (!st.ok() || !t.data) return; // encoder blocks have no cross-attention
        const uint64_t bytes = t.nb[3] * uint64_t(t.ne[3]);
        Result<Buf> b = alloc(bytes, "whisper weights");
        if (!b.ok()) {
            st = Status(b.status()).with_context(strf("uploading %s of whisper weights to %s", format_bytes(model_.weight_bytes()).c_str(), be_.name().c_str()));
            return;
        }
        st = be_.upload(b->data(), t.data, bytes);
        t.data = b->data();
        uploaded_bytes_ += bytes;
        wbufs_.push_back(std::move(*b));
    });
    return st;
}

void Runtime::linear(const Tensor& w, const Tensor* bias, const Tensor& x, Tensor& y) {
    if (bias && be_.fuses_mul_mat_add(w.type, x.nrows())) return be_.mul_mat_add(w, x, *bias, y);
    be_.mul_mat(w, x, y);
    if (bias) be_.add(y, *bias, y);
}

void Runtime::linear_residual(const Tensor& w, const Tensor& bias, const Tensor& x, Tensor& h, Tensor& resid) {
    if (be_.fuses_mul_mat_add(w.type, x.nrows())) {
        be_.add(resid, bias, resid);
        return be_.mul_mat_add(w, x, resid, resid);
    }
    be_.mul_mat(w, x, h);
    be_.add(h, bias, h);
    be_.add(resid, h, resid);
}

// Decode of one token on a backend that folds layer_norm into the projections after it (the
// norm's step disappears): the attention's q/k/v projections read x, not ln(x).
bool Runtime::ln_fused(const Attn& a, int64_t n) const {
    return n == 1 && a.ln_w.type == DType::F32 && a.ln_b.type == DType::F32 && be_.fuses_layer_norm_mul_mat(a.q_w.type, 1) &&
           be_.fuses_layer_norm_mul_mat(a.k_w.type, 1) && be_.fuses_layer_norm_mul_mat(a.v_w.type, 1);
}

// x += out_proj(attention(q_proj(ln(x)), k, v)): h, q, out are scratch of (n_state, n).
void Runtime::attention_block(const Attn& a, Tensor& x, Tensor& h, Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                              Tensor& out, int64_t n) {
    // h holds ln(x) on entry (unless ln_fused) and is reused for the projection output.
    const float scale = 1.0f / std::sqrt(float(hd_));
    if (ln_fused(a, n)) be_.layer_norm_mul_mat_add(a.q_w, x, a.ln_w, a.ln_b, 1e-5f, a.q_b, false, q);
    else linear(a.q_w, &a.q_b, h, q);
    // Fused output projection: x += bias after q has read x, beside the attention (x is not read
    // until the output projection), instead of as a dependent step of its own before it.
    const bool fused = be_.fuses_mul_mat_add(a.o_w.type, n);
    if (fused) be_.add(x, a.o_b, x);
    Tensor q3 = make_tensor(DType::F32, q.data, hd_, nh_, n);
    Tensor o3 = make_tensor(DType::F32, out.data, hd_, nh_, n);
    be_.attention(q3, k, v, mask, scale, o3);
    if (fused) be_.mul_mat_add(a.o_w, out, x, x);
    else linear_residual(a.o_w, a.o_b, out, h, x);
}

void Runtime::mlp(const Block& b, Tensor& x, Tensor& h, Tensor& f) {
    be_.layer_norm(x, &b.mlp_ln_w, &b.mlp_ln_b, 1e-5f, h);
    const int64_t n = x.nrows();
    if (be_.fuses_mul_mat_add_gelu(b.fc1_w.type, n) && be_.fuses_mul_mat_add(b.fc2_w.type, n)) {
        // Decode on a GPU: x += fc2 bias beside fc1, gelu(fc1 h + bias) in one step, then fc2 + x.
        be_.add(x, b.fc2_b, x);
        be_.mul_mat_add_gelu(b.fc1_w, h, b.fc1_b, f);
        be_.mul_mat_add(b.fc2_w, f, x, x);
        return;
    }
    linear(b.fc1_w, &b.fc1_b, h, f);
    be_.gelu_erf(f, f);
    linear_residual(b.fc2_w, b.fc2_b, f, h, x);
}

Status Runtime::encode(const Mel& mel, int64_t offset) { return encode_batch(mel, &offset, 1); }

Status Runtime::encode_batch(const Mel& mel, const int64_t* offsets, int nw) {
    const Weights& w = W();
    const int64_t M = mel.n_mels, T = kChunkFrames, C = ctx_;
    if (M != model_.hp().n_mels) return fail(Code::invalid_argument, "mel has %lld bins, the model wants %d", (long long)M, model_.hp().n_mels);
    if (nw < 1) return fail(Code::invalid_argument, "encode: %d windows", nw);
    for (int i = 0; i < nw; ++i)
        if (offsets[i] < 0 || mel.n_frames <= 0)
            return fail(Code::invalid_argument, "encode: offset %lld outside a mel of %lld frames", (long long)offsets[i], (long long)mel.n_frames);
    if (nw > enc_cap_) VKAI_TRY(alloc_encoder(nw));
    enc_windows_ = 0;
    // Per window (n_mels, T) with mels innermost: the transpose of the mel window. Frames past the end
    // repeat the padding value (the mel of silence after clamping), as the reference pads the mel.
    host_in_.resize(size_t(M * T * nw));
    const float pad = mel.at(0, mel.n_frames - 1);
    for (int i = 0; i < nw; ++i)
        for (int64_t t = 0; t < T; ++t)
            for (int64_t m = 0; m < M; ++m)
                host_in_[size_t((i * T + t) * M + m)] = offsets[i] + t < mel.n_frames ? mel.at(int(m), offsets[i] + t) : pad;
    VKAI_TRY(be_.upload(in_.data(), host_in_.data(), host_in_.size() * 4));

    // Row views of window i in a (width, rows x nw) buffer.
    auto win = [&](const Buf& b, int64_t width, int64_t rows, int i) {
        return make_tensor(DType::F32, static_cast<uint8_t*>(b.data()) + uint64_t(i * rows * width) * 4, width, rows);
    };
    const int64_t NT = T * nw, NC = C * nw;
    Tensor cols1 = t(cols1_, 3 * M, NT), c1 = t(conv1_, s_, NT), cols2 = t(cols2_, 3 * s_, NC), x = t(ex_, s_, NC);
    for (int i = 0; i < nw; ++i) {
        Tensor in_i = win(in_, M, T, i), cols1_i = win(cols1_, 3 * M, T, i);
        be_.im2col(in_i, 3, 1, 1, cols1_i);
    }
    be_.mul_mat(w.conv1_w, cols1, c1);
    be_.add(c1, w.conv1_b, c1);
    be_.gelu_erf(c1, c1);
    for (int i = 0; i < nw; ++i) {
        Tensor c1_i = win(conv1_, s_, T, i), cols2_i = win(cols2_, 3 * s_, C, i);
        be_.im2col(c1_i, 3, 2, 1, cols2_i);
    }
    be_.mul_mat(w.conv2_w, cols2, x);
    be_.add(x, w.conv2_b, x);
    be_.gelu_erf(x, x);
    be_.add(x, w.enc_pos, x); // row r gets position r % 1500

    Tensor h = t(eh_, s_, NC), q = t(eq_, s_, NC), a = t(ea_, s_, NC), f = t(ef_, 4 * s_, NC), mask = t(zeros_, C, C);
    Tensor k = t(ek_, s_, NC), v = t(ev_, s_, NC);
    const float scale = 1.0f / std::sqrt(float(hd_));
    for (const Block& b : w.enc) {
        be_.layer_norm(x, &b.attn.ln_w, &b.attn.ln_b, 1e-5f, h);
        be_.mul_mat(b.attn.k_w, h, k);
        linear(b.attn.v_w, &b.attn.v_b, h, v);
        linear(b.attn.q_w, &b.attn.q_b, h, q);
        for (int i = 0; i < nw; ++i) { // each window attends to itself only
            auto heads = [&](const Buf& bf) {
                return make_tensor(DType::F32, static_cast<uint8_t*>(bf.data()) + uint64_t(i * C * s_) * 4, hd_, nh_, C);
            };
            Tensor q3 = heads(eq_), k3 = heads(ek_), v3 = heads(ev_), o3 = heads(ea_);
            be_.attention(q3, k3, v3, mask, scale, o3);
        }
        linear_residual(b.attn.o_w, b.attn.o_b, a, h, x);
        mlp(b, x, h, f);
    }
    be_.layer_norm(x, &w.enc_ln_w, &w.enc_ln_b, 1e-5f, x);
    for (size_t l = 0; l < w.dec.size(); ++l) {
        Tensor ck = t(ck_[l], s_, NC), cv = t(cv_[l], s_, NC);
        be_.mul_mat(w.dec[l].cross.k_w, x, ck);
        linear(w.dec[l].cross.v_w, &w.dec[l].cross.v_b, x, cv);
    }
    VKAI_TRY(be_.sync());
    enc_windows_ = nw;
    return {};
}

Result<std::vector<float>> Runtime::encoder_output(int slot) {
    if (slot < 0 || slot >= enc_windows_) return fail(Code::invalid_argument, "encoder_output: window %d of %d encoded", slot, enc_windows_);
    std::vector<float> out(size_t(s_ * ctx_));
    VKAI_TRY(be_.download(out.data(), static_cast<uint8_t*>(ex_.data()) + uint64_t(slot) * out.size() * 4, out.size() * 4));
    return out;
}

Result<KvCache> Runtime::new_cache() {
    KvCache c;
    for (int l = 0; l < model_.hp().n_text_layer; ++l) {
        VKAI_ASSIGN_OR_RETURN(Buf k, alloc(uint64_t(s_ * tctx_) * 4, "whisper KV cache"));
        VKAI_ASSIGN_OR_RETURN(Buf v, alloc(uint64_t(s_ * tctx_) * 4, "whisper KV cache"));
        c.k.push_back(std::move(k));
        c.v.push_back(std::move(v));
    }
    return c;
}

Status Runtime::copy_cache(const KvCache& src, KvCache& dst) {
    VKAI_ASSERT(src.k.size() == dst.k.size(), "copy_cache: caches of different models");
    if (src.n > 0)
        for (size_t l = 0; l < src.k.size(); ++l) {
            Tensor sk = t(src.k[l], s_, src.n), dk = t(dst.k[l], s_, src.n), sv = t(src.v[l], s_, src.n), dv = t(dst.v[l], s_, src.n);
            be_.copy(sk, dk);
            be_.copy(sv, dv);
        }
    dst.n = src.n;
    return {};
}

Status Runtime::decode(KvCache& cache, const int32_t* tokens, int n, bool all_logits, std::vector<float>& logits, int slot) {
    const Weights& w = W();
    const int64_t nv = model_.hp().n_vocab;
    if (slot < 0 || slot >= enc_windows_) return fail(Code::invalid_argument, "decoder: window %d of %d encoded (call encode first)", slot, enc_windows_);
    if (n < 1 || cache.n + n > tctx_)
        return fail(Code::invalid_argument, "decoder: %d tokens after %d exceed the text context of %lld", n, cache.n, (long long)tctx_);
    if (all_logits && n > kMaxLogitRows) return fail(Code::invalid_argument, "decoder: logits of %d tokens asked, at most %d", n, kMaxLogitRows);
    for (int i = 0; i < n; ++i)
        if (tokens[i] < 0 || tokens[i] >= nv) return fail(Code::invalid_argument, "decoder: token id %d outside the vocabulary of %lld", tokens[i], (long long)nv);
    const int64_t n_past = cache.n, n_kv = n_past + n;
    std::vector<int32_t> pos(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) pos[size_t(i)] = int32_t(n_past + i);
    // Causal mask (n_kv, n): token i sees cells 0 .. n_past + i.
    // One token sees every cell: the mask is a row of zeros, already on the device (no upload).
    if (n > 1) {
        host_mask_.assign(size_t(n_kv * n), 0.0f);
        for (int i = 0; i < n; ++i)
            for (int64_t j = n_past + i + 1; j < n_kv; ++j) host_mask_[size_t(i * n_kv + j)] = -std::numeric_limits<float>::infinity();
        VKAI_TRY(be_.upload(dmask_.data(), host_mask_.data(), host_mask_.size() * 4));
    }

    Tensor x = t(dx_, s_, n), h = t(dh_, s_, n), q = t(dq_, s_, n), a = t(da_, s_, n), f = t(df_, 4 * s_, n);
    be_.get_rows(w.tok_emb, tokens, n, x);
    be_.get_rows(w.dec_pos, pos.data(), n, h);
    be_.add(x, h, x);
    Tensor mask = n > 1 ? t(dmask_, n_kv, n) : t(zeros_, n_kv, 1), cmask = t(zeros_, ctx_, n);
    for (size_t l = 0; l < w.dec.size(); ++l) {
        const Block& b = w.dec[l];
        uint8_t* kbase = static_cast<uint8_t*>(cache.k[l].data());
        uint8_t* vbase = static_cast<uint8_t*>(cache.v[l].data());
        Tensor knew = make_tensor(DType::F32, kbase + uint64_t(n_past * s_) * 4, s_, n);
        Tensor vnew = make_tensor(DType::F32, vbase + uint64_t(n_past * s_) * 4, s_, n);
        if (ln_fused(b.attn, n)) { // k has no bias: zeros
            be_.layer_norm_mul_mat_add(b.attn.k_w, x, b.attn.ln_w, b.attn.ln_b, 1e-5f, t(zeros_, s_, 1), false, knew);
            be_.layer_norm_mul_mat_add(b.attn.v_w, x, b.attn.ln_w, b.attn.ln_b, 1e-5f, b.attn.v_b, false, vnew);
        } else {
            be_.layer_norm(x, &b.attn.ln_w, &b.attn.ln_b, 1e-5f, h);
            be_.mul_mat(b.attn.k_w, h, knew);
            linear(b.attn.v_w, &b.attn.v_b, h, vnew);
        }
        Tensor k3 = make_tensor(DType::F32, kbase, hd_, nh_, n_kv), v3 = make_tensor(DType::F32, vbase, hd_, nh_, n_kv);
        attention_block(b.attn, x, h, q, k3, v3, mask, a, n);

        if (!ln_fused(b.cross, n)) be_.layer_norm(x, &b.cross.ln_w, &b.cross.ln_b, 1e-5f, h);
        Tensor ck = cross(ck_[l], slot), cv = cross(cv_[l], slot);
        attention_block(b.cross, x, h, q, ck, cv, cmask, a, n);
        mlp(b, x, h, f);
    }
    cache.n = int(n_kv);
    const int rows = all_logits ? n : 1;
    Tensor xl = make_tensor(DType::F32, static_cast<uint8_t*>(dx_.data()) + uint64_t((n - rows) * s_) * 4, s_, rows);
    Tensor hl = make_tensor(DType::F32, dh_.data(), s_, rows);
    be_.layer_norm(xl, &w.dec_ln_w, &w.dec_ln_b, 1e-5f, hl);
    Tensor lg = t(logits_, nv, rows);
    be_.mul_mat(w.tok_emb, hl, lg);
    logits.resize(size_t(nv * rows));
    return be_.download(logits.data(), logits_.data(), logits.size() * 4);
}

} // namespace vkai::whisper

namespace vkai::whisper {

Result<BatchCache> Runtime::new_batch_cache(int n_seq, int rows) {
    if (n_seq < 1 || rows < 1 || rows > tctx_) return fail(Code::invalid_argument, "batch cache: %d sequences of %d cells (at most %lld)", n_seq, rows, (long long)tctx_);
    BatchCache c;
    c.rows = rows;
    c.n.assign(size_t(n_seq), 0);
    for (int l = 0; l < model_.hp().n_text_layer; ++l) {
        VKAI_ASSIGN_OR_RETURN(Buf k, alloc(uint64_t(s_) * uint64_t(n_seq) * uint64_t(rows) * 4, "whisper batch KV cache"));
        VKAI_ASSIGN_OR_RETURN(Buf v, alloc(uint64_t(s_) * uint64_t(n_seq) * uint64_t(rows) * 4, "whisper batch KV cache"));
        c.k.push_back(std::move(k));
        c.v.push_back(std::move(v));
    }
    return c;
}

// One token for each of n sequences: the matmuls run over n columns; new K/V rows are scattered
// into the sequences' cells with set_rows; self- and cross-attention run per sequence (independent
// dispatches). Every sequence sees all of its own cells, so the mask is a row of zeros.
Status Runtime::decode_batch(BatchCache& c, const int* seqs, const int* slots, const int32_t* tokens, int n, std::vector<float>& logits) {
    const Weights& w = W();
    const int64_t nv = model_.hp().n_vocab, n_seq = int64_t(c.n.size());
    if (n < 1 || n > kMaxLogitRows) return fail(Code::invalid_argument, "decode_batch: %d sequences (1 .. %d)", n, kMaxLogitRows);
    std::vector<int32_t> pos(static_cast<size_t>(n)), ids(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
        if (seqs[i] < 0 || seqs[i] >= n_seq) return fail(Code::invalid_argument, "decode_batch: sequence %d of %lld", seqs[i], (long long)n_seq);
        for (int j = 0; j < i; ++j)
            if (seqs[j] == seqs[i]) return fail(Code::invalid_argument, "decode_batch: sequence %d twice in one step", seqs[i]);
        if (slots[i] < 0 || slots[i] >= enc_windows_) return fail(Code::invalid_argument, "decode_batch: window %d of %d encoded", slots[i], enc_windows_);
        if (tokens[i] < 0 || tokens[i] >= nv) return fail(Code::invalid_argument, "decoder: token id %d outside the vocabulary of %lld", tokens[i], (long long)nv);
        const int p = c.n[size_t(seqs[i])];
        if (p >= c.rows) return fail(Code::invalid_argument, "decode_batch: sequence %d is full (%d cells)", seqs[i], c.rows);
        pos[size_t(i)] = p;
        ids[size_t(i)] = int32_t(int64_t(seqs[i]) * c.rows + p);
    }
    const float scale = 1.0f / std::sqrt(float(hd_));
    Tensor x = t(dx_, s_, n), h = t(dh_, s_, n), q = t(dq_, s_, n), a = t(da_, s_, n), f = t(df_, 4 * s_, n);
    be_.get_rows(w.tok_emb, tokens, n, x);
    be_.get_rows(w.dec_pos, pos.data(), n, h);
    be_.add(x, h, x);
    auto col = [&](const Buf& b, int i) { return make_tensor(DType::F32, static_cast<uint8_t*>(b.data()) + uint64_t(i * s_) * 4, hd_, nh_, 1); };
    for (size_t l = 0; l < w.dec.size(); ++l) {
        const Block& b = w.dec[l];
        be_.layer_norm(x, &b.attn.ln_w, &b.attn.ln_b, 1e-5f, h);
        // New K/V rows (in q and a, free until the attention) into each sequence's next cell.
        Tensor kc = t(c.k[l], s_, n_seq * c.rows), vc = t(c.v[l], s_, n_seq * c.rows);
        be_.mul_mat(b.attn.k_w, h, q);
        be_.set_rows(q, ids.data(), kc);
        linear(b.attn.v_w, &b.attn.v_b, h, a);
        be_.set_rows(a, ids.data(), vc);
        linear(b.attn.q_w, &b.attn.q_b, h, q);
        for (int i = 0; i < n; ++i) {
            const uint64_t off = uint64_t(seqs[i]) * uint64_t(c.rows) * uint64_t(s_) * 4;
            const int64_t n_kv = pos[size_t(i)] + 1;
            Tensor k3 = make_tensor(DType::F32, static_cast<uint8_t*>(c.k[l].data()) + off, hd_, nh_, n_kv);
            Tensor v3 = make_tensor(DType::F32, static_cast<uint8_t*>(c.v[l].data()) + off, hd_, nh_, n_kv);
            Tensor q3 = col(dq_, i), o3 = col(da_, i), mask = t(zeros_, n_kv, 1);
            be_.attention(q3, k3, v3, mask, scale, o3);
        }
        linear_residual(b.attn.o_w, b.attn.o_b, a, h, x);

        be_.layer_norm(x, &b.cross.ln_w, &b.cross.ln_b, 1e-5f, h);
        linear(b.cross.q_w, &b.cross.q_b, h, q);
        for (int i = 0; i < n; ++i) {
            Tensor q3 = col(dq_, i), o3 = col(da_, i), mask = t(zeros_, ctx_, 1);
            be_.attention(q3, cross(ck_[l], slots[i]), cross(cv_[l], slots[i]), mask, scale, o3);
        }
        linear_residual(b.cross.o_w, b.cross.o_b, a, h, x);
        mlp(b, x, h, f);
    }
    be_.layer_norm(x, &w.dec_ln_w, &w.dec_ln_b, 1e-5f, h);
    Tensor lg = t(logits_, nv, n);
    be_.mul_mat(w.tok_emb, h, lg);
    logits.resize(size_t(nv * n));
    VKAI_TRY(be_.download(logits.data(), logits_.data(), logits.size() * 4));
    for (int i = 0; i < n; ++i) ++c.n[size_t(seqs[i])];
    return {};
}

} // namespace vkai::whisper
