// Whisper's encoder and decoder through the Backend ops (ops/backend.h), the same way the LLM forward
// pass runs: every op is a backend call, so a backend that implements the ops runs whisper unchanged.
// Activations (ggml order, ne[0] innermost):
//   encoder: mel window (n_mels, 3000) -> conv1 (k3, pad 1) + gelu -> conv2 (k3, stride 2, pad 1) + gelu
//            -> + positions -> n_audio_layer pre-LN blocks -> ln_post: (n_state, 1500)
//   decoder: token + learned position embeddings -> pre-LN blocks (causal self-attention over a
//            per-sequence KV cache, cross-attention over K/V of the encoder output computed once per
//            window) -> ln -> logits = token_embedding^T x (tied head).
#pragma once

#include "base/status.h"
#include "ops/backend.h"
#include "whisper/mel.h"
#include "whisper/model.h"

#include <memory>
#include <vector>

namespace vkai::whisper {

// A backend allocation, freed with its backend.
class Buf {
public:
    Buf() = default;
    Buf(Backend* be, void* p, uint64_t bytes) : be_(be), p_(p), bytes_(bytes) {}
    Buf(Buf&& o) noexcept { *this = std::move(o); }
    Buf& operator=(Buf&& o) noexcept;
    ~Buf();
    void* data() const { return p_; }
    uint64_t bytes() const { return bytes_; }

private:
    Backend* be_ = nullptr;
    void* p_ = nullptr;
    uint64_t bytes_ = 0;
};

// Self-attention K/V of one decoded sequence: per layer (n_state, n_text_ctx) f32, n cells used.
struct KvCache {
    std::vector<Buf> k, v;
    int n = 0;
};

// Self-attention K/V of several sequences decoded in lockstep (decode_batch: one token of each per
// step): per layer one (n_state, n_seq * rows) f32 buffer; sequence i owns rows [i rows, (i+1) rows).
struct BatchCache {
    std::vector<Buf> k, v;
    int rows = 0;       // cells per sequence
    std::vector<int> n; // cells used per sequence
};

class Runtime {
public:
    // max_tokens: most tokens one decode() call takes (prompt + prefix fit in n_text_ctx).
    static Result<std::unique_ptr<Runtime>> create(const Model& model, Backend& be);

    const Model& model() const { return model_; }
    Backend& backend() { return be_; }
    // Bytes of weights copied to the backend at create() (0 when it computes on host memory).
    uint64_t uploaded_bytes() const { return uploaded_bytes_; }

    // Encodes the 3000 mel frames starting at `offset` (frames past the end read as the mel's
    // padding value, i.e. the last frame's value of silence) and prepares the cross-attention K/V.
    Status encode(const Mel& mel, int64_t offset);
    // Encodes n windows in one pass (every matmul over n x 1500 columns); window i's cross K/V go to
    // slot i. The activations grow to n windows on first use: out_of_memory (nothing lost, the
    // previous size stays) when they do not fit, then use fewer.
    Status encode_batch(const Mel& mel, const int64_t* offsets, int n);
    // Device bytes encode_batch(n) needs beyond one window (activations and cross K/V), for planning.
    uint64_t batch_bytes(int n) const;
    // The encoder output of window `slot` of the last encode, (n_state, n_audio_ctx) row-major.
    Result<std::vector<float>> encoder_output(int slot = 0);

    Result<KvCache> new_cache();
    Status copy_cache(const KvCache& src, KvCache& dst); // dst must come from new_cache()

    // Appends n tokens to the sequence of `cache` (positions cache.n ..) and returns the logits of the
    // last token (n_vocab), or of every token when all_logits (n * n_vocab, n <= kMaxLogitRows).
    // The cross-attention reads window `slot` of the last encode.
    Status decode(KvCache& cache, const int32_t* tokens, int n, bool all_logits, std::vector<float>& logits, int slot = 0);

    // Lockstep decoding of up to kMaxLogitRows sequences (parallel windows): one step appends
    // tokens[i] to sequence seqs[i] of `cache`, which attends to window slots[i]; logits gets n rows.
    Result<BatchCache> new_batch_cache(int n_seq, int rows);
    Status decode_batch(BatchCache& cache, const int* seqs, const int* slots, const int32_t* tokens, int n, std::vector<float>& logits);

    static constexpr int kMaxLogitRows = 32;

private:
    Runtime(const Model& m, Backend& be) : model_(m), be_(be) {}
    Result<Buf> alloc(uint64_t bytes, const char* what);
    Status upload_weights();
    Status alloc_encoder(int windows); // encoder activations and cross K/V for `windows` windows
    // The weights the ops read: the model's host tensors, or their device copies.
    const Weights& W() const { return dev_w_ ? *dev_w_ : model_.w(); }
    Tensor t(const Buf& b, int64_t ne0, int64_t ne1 = 1, int64_t ne2 = 1) const;
    // Cross K or V of window `slot` as (head_dim, n_head, n_audio_ctx).
    Tensor cross(const Buf& b, int slot) const;
    // y = w x + bias (bias may be null); one fused dispatch where the backend has mul_mat_add.
    void linear(const Tensor& w, const Tensor* bias, const Tensor& x, Tensor& y);
    // resid += w x + bias, with h as scratch of resid's shape.
    void linear_residual(const Tensor& w, const Tensor& bias, const Tensor& x, Tensor& h, Tensor& resid);
    bool ln_fused(const Attn& a, int64_t n) const;
    void attention_block(const Attn& a, Tensor& x, Tensor& h, Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, Tensor& out,
                         int64_t n);
    void mlp(const Block& b, Tensor& x, Tensor& h, Tensor& f);

    const Model& model_;
    Backend& be_;
    std::unique_ptr<Weights> dev_w_; // device copies when !be_.uses_host_memory()
    std::vector<Buf> wbufs_;
    uint64_t uploaded_bytes_ = 0;
    int64_t s_ = 0, hd_ = 0, nh_ = 0, ctx_ = 0, tctx_ = 0;
    int enc_cap_ = 0;     // windows the encoder buffers hold
    int enc_windows_ = 0; // windows of the last encode (valid cross K/V slots)
    // encoder
    Buf in_, cols1_, conv1_, cols2_, ex_, eh_, eq_, ek_, ev_, ea_, ef_, zeros_;
    // decoder
    std::vector<Buf> ck_, cv_; // cross K/V per layer (n_state, n_audio_ctx x windows)
    Buf dx_, dh_, dq_, da_, df_, dmask_, logits_;
    std::vector<float> host_in_, host_mask_;
};

} // namespace vkai::whisper
