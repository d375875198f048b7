// The inner loops of cpu::attention: portable per-(token, head) loops (attention.cpp) or the AVX2
// blocked kernel (attention_avx2.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace vkai::cpu {

struct AttentionKernels {
    float (*dot)(const float* q, const void* k, bool k_f16, int64_t n);
    void (*scale_add)(float* acc, float a, const void* v, bool v_f16, float b, int64_t n); // acc = acc*a + v*b
};

AttentionKernels avx2_attention_kernels();

// The blocked kernel: nrows query rows (each a query vector of hd floats, its mask row of n_cells
// and its output row) against the n_cells K/V rows of one KV head, in two passes over the cells
// (scores and maxima, then p and p V; cells in blocks of kAttnCellBlock; each row computes only the
// cells its mask does not set to -inf). Every row's arithmetic is
// the same whatever the other rows of the call, the threads, and where in the cache its visible
// cells sit (attention_avx2.cpp spells it out).
constexpr int kAttnRowBlock = 24, kAttnCellBlock = 128;
// At most this many score floats per call (rows x cells): fewer rows for long caches.
constexpr int64_t kAttnScoreFloats = int64_t(1) << 18;
struct AttnRowsArgs {
    const float* const* q;    // nrows query vectors
    const float* const* mask; // nrows mask rows (n_cells each; -inf = not visible)
    float* const* out;        // nrows output rows
    int nrows;                // <= attn_rows_per_call(n_cells)
    const uint8_t* k;         // cell 0 of this head
    const uint8_t* v;
    size_t k_stride, v_stride; // bytes between cells
    bool f16;                  // K and V are f16 (else f32)
    int64_t hd, n_cells;
    float scale;
    float* scratch;            // attn_scratch_floats(hd, n_cells) floats
};
inline size_t attn_row_stride(int64_t n_cells) { return size_t(n_cells + 15) / 16 * 16; }
inline int attn_rows_per_call(int64_t n_cells) {
    const int64_t r = kAttnScoreFloats / int64_t(attn_row_stride(n_cells));
    return int(r < 1 ? 1 : r > kAttnRowBlock ? kAttnRowBlock : r);
}
inline size_t attn_scratch_floats(int64_t hd, int64_t n_cells) {
    const size_t rows = size_t(attn_rows_per_call(n_cells));
    const size_t blocks = size_t(n_cells + kAttnCellBlock - 1) / size_t(kAttnCellBlock);
    return rows * (attn_row_stride(n_cells) + size_t(hd) + 3 * blocks) + 2 * size_t(kAttnRowBlock) + size_t(kAttnCellBlock) * size_t(hd) + 64;
}
void avx2_attention_rows(const AttnRowsArgs& a);

} // namespace vkai::cpu
