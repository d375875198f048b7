// A whisper model loaded from whisper.cpp's ggml .bin: hyperparameters, mel filters, vocabulary and
// weights. Weights are copied out of the file into one 64-byte aligned host buffer (the .bin layout
// does not align tensor data); norms, biases and positional embeddings become f32, matrices keep
// their file type. Tensor names are OpenAI's (encoder.blocks.N.attn.query.weight, ...).
#pragma once

#include "base/status.h"
#include "formats/whisper_bin.h"
#include "tensor/tensor.h"
#include "whisper/vocab.h"

#include <memory>
#include <string>
#include <vector>

namespace vkai::whisper {

struct Attn {
    Tensor ln_w, ln_b;             // (n_state)
    Tensor q_w, q_b, k_w, v_w, v_b; // q/k/v: (n_state, n_state); no key bias
    Tensor o_w, o_b;
};

struct Block {
    Attn attn;
    Attn cross; // decoder blocks only
    Tensor mlp_ln_w, mlp_ln_b;
    Tensor fc1_w, fc1_b; // (n_state, 4 n_state)
    Tensor fc2_w, fc2_b; // (4 n_state, n_state)
};

struct Weights {
    Tensor conv1_w, conv1_b; // conv1_w viewed as (3 n_mels, n_state); bias (n_state)
    Tensor conv2_w, conv2_b; // (3 n_state, n_state)
    Tensor enc_pos;          // (n_state, n_audio_ctx) f32
    std::vector<Block> enc, dec;
    Tensor enc_ln_w, enc_ln_b;
    Tensor tok_emb;          // (n_state, n_vocab): also the output head (tied)
    Tensor dec_pos;          // (n_state, n_text_ctx) f32
    Tensor dec_ln_w, dec_ln_b;
};

class Model {
public:
    static Result<std::unique_ptr<Model>> load(const std::string& path);
    // name is for messages. The model copies what it needs: bytes may be freed afterwards.
    static Result<std::unique_ptr<Model>> from_bytes(std::span<const uint8_t> bytes, const std::string& name);

    const whisper_bin::HParams& hp() const { return hp_; }
    const std::vector<float>& filters() const { return filters_; } // n_mels rows of 201
    const Vocab& vocab() const { return vocab_; }
    const Weights& w() const { return w_; }
    const std::string& name() const { return name_; }
    DType matrix_type() const { return matrix_type_; } // type of the largest matrices, for logs
    uint64_t weight_bytes() const { return weight_bytes_; }
    // "tiny", "base", "small", "medium", "large-v3-turbo", ... from the shapes (for logs).
    std::string size_name() const;

private:
    Model() = default;
    std::string name_;
    whisper_bin::HParams hp_;
    std::vector<float> filters_;
    Vocab vocab_;
    Weights w_;
    DType matrix_type_ = DType::F32;
    uint64_t weight_bytes_ = 0;
    struct Free {
        void operator()(void* p) const;
    };
    std::unique_ptr<void, Free> storage_;
};

} // namespace vkai::whisper
