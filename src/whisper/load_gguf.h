// Whisper models in GGUF. There is no upstream GGUF layout for whisper (whisper.cpp reads only its
// ggml .bin); this is vkai's convention, built from what exists (docs/whisper-gguf.md):
//   general.architecture = "whisper"
//   hparams: the whisper.* keys of the GGUF specification (ggml docs/gguf.md, "Whisper"):
//     whisper.encoder.{context_length, embedding_length, attention.head_count, layer_count, mels_count}
//     whisper.decoder.{context_length, embedding_length, attention.head_count, layer_count}
//     + whisper.vocab_size (absent: rows of decoder.token_embedding.weight). whisper.cpp's hparam
//     names (whisper.n_mels, whisper.n_audio_state, ...) are read too: several converters use them.
//   whisper.mel_filters: f32 array, n_mels rows of 201 bins (absent: computed, librosa's slaney filters)
//   tokenizer.ggml.model = "whisper", tokenizer.ggml.tokens: the stored (regular) tokens, each token's
//     bytes written in the GPT-2 byte alphabet (so every entry is valid UTF-8); the special tokens
//     are not stored, they follow from the vocabulary size (vocab.h), as in the .bin.
//   tensors: whisper.cpp's names and ggml shapes (encoder.blocks.N.attn.query.weight, ...),
//     types F32 F16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0.
// Reading gives the same whisper_bin::File the .bin reader gives, so Model::from_bytes treats both
// layouts alike (and checks every tensor's shape against the hparams).
#pragma once

#include "base/status.h"
#include "formats/gguf.h"
#include "formats/whisper_bin.h"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vkai::whisper {

bool is_gguf(std::span<const uint8_t> bytes);  // starts with the GGUF magic
bool has_gguf_extension(const std::string& path); // ends with ".gguf"

// Untrusted bytes: the GGUF reader checks the container (counts, offsets, overlaps); this checks the
// architecture, every hparam (present, integer, in range, heads dividing widths), the filter count
// against n_mels, the token count against n_vocab and each token's characters, and tensor types.
// Errors name the key or tensor with the expected and actual value. Tensor views point into bytes.
Result<whisper_bin::File> parse_gguf(std::span<const uint8_t> bytes, std::string_view name);

// whisper_bin::Writer's interface, writing GGUF (vkai synth -o X.gguf).
class GgufWriter {
public:
    using Fill = whisper_bin::Writer::Fill;
    GgufWriter(const whisper_bin::HParams& hp, int32_t n_fft, std::vector<float> filters, const std::vector<std::string>& tokens);
    Status add_tensor(std::string name, DType type, std::vector<int64_t> ne, Fill fill);
    Status write(const std::string& path) const; // path + ".tmp", then renamed
    Result<std::vector<uint8_t>> write_to_memory() const;

private:
    gguf::Writer w_;
    Status error_; // of the constructor's arguments, reported by write()
};

// A parsed .bin (or GGUF) rewritten as GGUF: same hparams, filters, tokens and tensor bytes.
Result<std::vector<uint8_t>> to_gguf(const whisper_bin::File& f);

} // namespace vkai::whisper
