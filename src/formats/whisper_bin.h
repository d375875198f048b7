// whisper.cpp's ggml .bin model layout (little-endian), read and written:
//   u32 magic 0x67676d6c ("ggml")
//   11 x i32 hparams: n_vocab n_audio_ctx n_audio_state n_audio_head n_audio_layer n_text_ctx
//                     n_text_state n_text_head n_text_layer n_mels ftype
//   i32 n_mel, i32 n_fft, n_mel*n_fft f32    mel filterbank, row-major (n_mel rows of n_fft bins)
//   i32 n_tokens, then per token: u32 length, bytes        the stored (non-special) vocabulary
//   tensors until end of file: i32 n_dims, i32 name length, i32 ggml type, n_dims x i32 dims
//                              (innermost first, as ggml ne), name bytes, data (no padding)
// The reader parses untrusted bytes: every count, length and size is checked against the bytes left,
// with overflow-safe arithmetic, and errors name the field with expected and actual values.
// Tensor data are views into the buffer (which need not be aligned: copy before computing).
#pragma once

#include "base/status.h"
#include "tensor/dtype.h"

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vkai::whisper_bin {

constexpr uint32_t kMagic = 0x67676d6c;
constexpr int kMaxTensorNameBytes = 256;
constexpr uint32_t kMaxTokenBytes = 1u << 16;

struct HParams {
    int32_t n_vocab = 0, n_audio_ctx = 0, n_audio_state = 0, n_audio_head = 0, n_audio_layer = 0;
    int32_t n_text_ctx = 0, n_text_state = 0, n_text_head = 0, n_text_layer = 0, n_mels = 0, ftype = 0;
};

struct TensorInfo {
    std::string_view name;
    DType type = DType::F32;
    int n_dims = 0;
    int64_t ne[4] = {1, 1, 1, 1}; // ggml order: ne[0] innermost
    const uint8_t* data = nullptr;  // inside the parsed buffer, any alignment
    uint64_t bytes = 0;
    int64_t nelements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

struct File {
    std::string name; // for messages
    HParams hp;
    int32_t n_fft = 0;          // frequency bins per filter (201 for a 400-point FFT)
    std::vector<float> filters; // (n_fft, n_mels) ggml order: filter m is filters[m * n_fft ...]
    std::vector<std::string> tokens; // stored vocabulary bytes, id = index
    std::vector<TensorInfo> tensors;

    const TensorInfo* find_tensor(std::string_view name) const;
};

// Types whisper files use: F32 F16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0.
bool allowed_type(DType t);

// Checks the magic, hparams (positive, bounded), n_mel == n_mels, n_fft in 1..4096, token count <= n_vocab,
// tensor dims/types/names (1..4 dims, dims >= 1, known allowed type, ne[0] a multiple of the block size,
// unique non-empty names), and that every length stays inside the buffer. A file may hold no tensors
// (whisper.cpp's for-tests files hold only hparams, filters and vocabulary).
Result<File> parse(std::span<const uint8_t> bytes, std::string_view name = "whisper .bin");

// Streaming writer for synth and tests: tensors come from fill callbacks at write time.
class Writer {
public:
    using Fill = std::function<Status(uint8_t* dst, uint64_t bytes)>;
    Writer(const HParams& hp, int32_t n_fft, std::vector<float> filters, std::vector<std::string> tokens);
    // ne innermost first; fill writes exactly row_bytes(type, ne[0]) * rows bytes.
    Status add_tensor(std::string name, DType type, std::vector<int64_t> ne, Fill fill);
    // Writes path + ".tmp", then renames: a failed write leaves no file behind.
    Status write(const std::string& path) const;
    Result<std::vector<uint8_t>> write_to_memory() const;

private:
    struct T {
        std::string name;
        DType type;
        std::vector<int64_t> ne;
        uint64_t bytes;
        Fill fill;
    };
    Status emit(const std::function<Status(const void*, uint64_t)>& out) const;
    HParams hp_;
    int32_t n_fft_;
    std::vector<float> filters_;
    std::vector<std::string> tokens_;
    std::vector<T> tensors_;
};

} // namespace vkai::whisper_bin
