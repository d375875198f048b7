// The KV cache: per layer, K and V rows for n_cells cells, each cell holding one token of one
// sequence (position + sequence id). Several sequences share the cells, which is what the server's
// continuous batching needs; a cell is free when its position is -1.
#pragma once

#include "base/status.h"
#include "llm/hparams.h"
#include "ops/backend.h"
#include "tensor/tensor.h"

#include <cstdint>
#include <vector>

namespace vkai::llm {

class KvCache {
public:
    // type: F16 (default) or F32. Layer l's K/V memory lives on layer_backends[l] (one entry per layer).
    static Result<KvCache> create(const HParams& hp, int64_t n_cells, DType type, const std::vector<Backend*>& layer_backends);
    KvCache() = default;
    KvCache(KvCache&& o) noexcept { *this = std::move(o); }
    KvCache& operator=(KvCache&& o) noexcept;
    ~KvCache();

    int64_t n_cells() const { return n_cells_; }
    DType type() const { return type_; }
    uint64_t bytes() const { return bytes_; }

    // (head_dim, n_head_kv, n_cells) views of layer l.
    Tensor k(int64_t layer);
    Tensor v(int64_t layer);

    // Claims the n lowest free cells (not necessarily contiguous) for (pos, seq) pairs.
    // Returns the cell index of each token, or out_of_memory when the cache is full.
    Result<std::vector<int32_t>> claim(const int32_t* pos, const int32_t* seq, int64_t n);

    int32_t cell_pos(int64_t c) const { return pos_[size_t(c)]; }
    int32_t cell_seq(int64_t c) const { return seq_[size_t(c)]; }
    int64_t used() const { return used_; }
    // One past the highest cell in use (0 when empty): attention reads cells [0, used_end()) only.
    int64_t used_end() const;

    // Frees the cells of seq with p0 <= pos < p1 (p1 < 0: to the end). seq < 0: every sequence.
    void remove(int32_t seq, int32_t p0 = 0, int32_t p1 = -1);
    void clear() { remove(-1); }
    int32_t max_pos(int32_t seq) const; // -1 when the sequence has no cells

private:
    void free_buffers();

    HParams hp_;
    int64_t n_cells_ = 0;
    DType type_ = DType::F16;
    uint64_t bytes_ = 0;
    std::vector<Backend*> backends_; // per layer
    std::vector<void*> k_, v_;       // per layer, in that layer's backend memory
    std::vector<int32_t> pos_, seq_;
    int64_t used_ = 0;
};

} // namespace vkai::llm
