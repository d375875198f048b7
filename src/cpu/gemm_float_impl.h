// The float-weight GEMM (see gemm_float.h), compiled once per ISA: gemm_float_avx2.cpp (AVX2 + FMA
// + F16C: 16 ymm registers) and gemm_float_avx512.cpp (AVX-512F: 32 zmm registers, one zmm holding
// two of the canonical 8-lane accumulators). Include only from those two files.
//
// Blocking: a task is a block of up to kRowBlock weight rows (converted to f32 once, into thread
// scratch of about 256 KiB) x a range of column blocks (x of one block: about 384 KiB; both stay in
// L2). For each column block, panels of TR rows meet the block's columns TC at a time, each
// (row, column) pair summing the whole row in registers in the canonical order, finished by
// float_dot_finish.
#pragma once

#include "cpu/gemm_float.h"

#include <cstring>
#include <vector>

namespace vkai::cpu::avx2 {
namespace {

constexpr int64_t kRowBlock = 48;                     // at most, rows per task
constexpr size_t kRowBlockBytes = size_t(256) << 10;  // their f32 copy
constexpr size_t kColBlockBytes = size_t(384) << 10;  // x of one column block
constexpr size_t kColRangeBytes = size_t(2) << 20;    // x of one task's range of blocks

// Weight row -> f32 (exact for F16 and BF16).
void row_to_f32(DType t, const uint8_t* src, int64_t k, float* dst) {
    const uint16_t* h = reinterpret_cast<const uint16_t*>(src);
    int64_t i = 0;
    if (t == DType::F16) {
        for (; i + 8 <= k; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))));
        for (; i < k; ++i) dst[i] = _cvtsh_ss(h[i]);
    } else { // BF16
        for (; i + 8 <= k; i += 8) {
            const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i)));
            _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
        }
        for (; i < k; ++i) {
            const uint32_t u = uint32_t(h[i]) << 16;
            std::memcpy(dst + i, &u, 4);
        }
    }
}

#ifdef __AVX512F__
constexpr int TR = 4, TC = 3; // 24 zmm accumulators (2 per pair) + 4 weight vectors

// The two 8-lane halves of v (through memory: once per pair and row; GCC 12's extract and shuffle
// intrinsics trip -Wuninitialized inside avx512fintrin.h).
inline void halves(__m512 v, __m256& lo, __m256& hi) {
    alignas(64) float t[16];
    _mm512_store_ps(t, v);
    lo = _mm256_load_ps(t);
    hi = _mm256_load_ps(t + 8);
}

// R rows x C columns; zmm h of a pair holds the canonical accumulators a(2h) (low half) and
// a(2h+1) (high half): elements l + 16h + i of each group of 32.
template <int R, int C>
void tile(const float* const* w, const float* const* x, int64_t k, float* const* y, int64_t row0) {
    __m512 acc[R][C][2];
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) acc[r][c][0] = acc[r][c][1] = _mm512_setzero_ps();
    int64_t l = 0;
    for (; l + 32 <= k; l += 32)
        for (int h = 0; h < 2; ++h) {
            __m512 wv[R];
            for (int r = 0; r < R; ++r) wv[r] = _mm512_loadu_ps(w[r] + l + 16 * h);
            for (int c = 0; c < C; ++c) {
                const __m512 xv = _mm512_loadu_ps(x[c] + l + 16 * h);
                for (int r = 0; r < R; ++r) acc[r][c][h] = _mm512_fmadd_ps(wv[r], xv, acc[r][c][h]);
            }
        }
    for (int r = 0; r < R; ++r) {
        const float* wr = w[r];
        for (int c = 0; c < C; ++c) {
            __m256 a0, a1, a2, a3;
            halves(acc[r][c][0], a0, a1);
            halves(acc[r][c][1], a2, a3);
            y[c][row0 + r] = float_dot_finish(a0, a1, a2, a3, [&](int64_t i) { return _mm256_loadu_ps(wr + i); },
                                              [&](int64_t i) { return wr[i]; }, x[c], l, k);
        }
    }
}
#else
constexpr int TR = 1, TC = 3; // 12 ymm accumulators (4 per pair) + 1 weight vector

template <int R, int C>
void tile(const float* const* w, const float* const* x, int64_t k, float* const* y, int64_t row0) {
    __m256 acc[R][C][4];
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c)
            for (int u = 0; u < 4; ++u) acc[r][c][u] = _mm256_setzero_ps();
    int64_t l = 0;
    for (; l + 32 <= k; l += 32)
        for (int u = 0; u < 4; ++u) {
            __m256 wv[R];
            for (int r = 0; r < R; ++r) wv[r] = _mm256_loadu_ps(w[r] + l + 8 * u);
            for (int c = 0; c < C; ++c) {
                const __m256 xv = _mm256_loadu_ps(x[c] + l + 8 * u);
                for (int r = 0; r < R; ++r) acc[r][c][u] = _mm256_fmadd_ps(wv[r], xv, acc[r][c][u]);
            }
        }
    for (int r = 0; r < R; ++r) {
        const float* wr = w[r];
        for (int c = 0; c < C; ++c)
            y[c][row0 + r] = float_dot_finish(acc[r][c][0], acc[r][c][1], acc[r][c][2], acc[r][c][3],
                                              [&](int64_t i) { return _mm256_loadu_ps(wr + i); }, [&](int64_t i) { return wr[i]; }, x[c], l, k);
    }
}
#endif

template <int R>
void tile_cols(int nc, const float* const* w, const float* const* x, int64_t k, float* const* y, int64_t row0) {
    static_assert(TC <= 4);
    switch (nc) {
    case 1: tile<R, 1>(w, x, k, y, row0); break;
    case 2: if constexpr (TC >= 2) tile<R, 2>(w, x, k, y, row0); break;
    case 3: if constexpr (TC >= 3) tile<R, 3>(w, x, k, y, row0); break;
    case 4: if constexpr (TC >= 4) tile<R, 4>(w, x, k, y, row0); break;
    default: break;
    }
}

void tile_any(int nr, int nc, const float* const* w, const float* const* x, int64_t k, float* const* y, int64_t row0) {
    switch (nr) {
    case 1: tile_cols<1>(nc, w, x, k, y, row0); break;
    case 2: if constexpr (TR >= 2) tile_cols<2>(nc, w, x, k, y, row0); break;
    case 3: if constexpr (TR >= 3) tile_cols<3>(nc, w, x, k, y, row0); break;
    case 4: if constexpr (TR >= 4) tile_cols<4>(nc, w, x, k, y, row0); break;
    default: break;
    }
}

void gemm_float_impl(const Tensor& w, const float* const* xcols, float* const* ycols, int64_t n, ThreadPool& pool) {
    const int64_t k = w.ne[0], m = w.ne[1];
    const size_t row_bytes = w.nb[1];
    const bool f32 = w.type == DType::F32;
    const uint8_t* wbase = static_cast<const uint8_t*>(w.data);
    // Rows per task: their f32 copy (about kRowBlockBytes) stays in L2 while the task's columns
    // stream past it, so each weight row is read and converted once per task.
    int64_t rows = int64_t(kRowBlockBytes / (size_t(k) * sizeof(float))) / TR * TR;
    rows = rows < TR ? TR : rows > kRowBlock ? kRowBlock : rows;
    // Columns go in blocks whose x fits in L2 next to the rows; a task takes a range of blocks.
    // Ranges hold at most kColRangeBytes of x (the threads, all in one range at a time, then share
    // it in L3 while the outputs stream out) and are numerous enough for every thread to get
    // several tasks.
    int64_t col_block = int64_t(kColBlockBytes / (size_t(k) * sizeof(float))) / TC * TC;
    col_block = col_block < TC ? TC : col_block;
    const int64_t n_rb = (m + rows - 1) / rows, n_cb = (n + col_block - 1) / col_block;
    const int64_t x_bytes = n * k * int64_t(sizeof(float));
    int64_t ranges = (x_bytes + int64_t(kColRangeBytes) - 1) / int64_t(kColRangeBytes);
    ranges = ranges < 1 ? 1 : ranges > n_cb ? n_cb : ranges;
    while (ranges < n_cb && n_rb * ranges < 4 * int64_t(pool.size())) ++ranges;
    const int64_t cb_per_range = (n_cb + ranges - 1) / ranges;
    ranges = (n_cb + cb_per_range - 1) / cb_per_range;
    std::vector<float> scratch(f32 ? 0 : size_t(pool.size()) * size_t(rows) * size_t(k));
    // Task t: row block t % n_rb of column range t / n_rb.
    pool.run(n_rb * ranges, [&](int64_t task, int thread) {
        const int64_t rb = task % n_rb, cr = task / n_rb;
        const int64_t r0 = rb * rows, r1 = r0 + rows < m ? r0 + rows : m;
        const float* wp[kRowBlock];
        float* block = f32 ? nullptr : scratch.data() + size_t(thread) * size_t(rows) * size_t(k);
        for (int64_t r = r0; r < r1; ++r) {
            const uint8_t* src = wbase + size_t(r) * row_bytes;
            if (f32) {
                wp[r - r0] = reinterpret_cast<const float*>(src);
            } else {
                float* dst = block + size_t(r - r0) * size_t(k);
                row_to_f32(w.type, src, k, dst);
                wp[r - r0] = dst;
            }
        }
        const int64_t cb1 = (cr + 1) * cb_per_range < n_cb ? (cr + 1) * cb_per_range : n_cb;
        for (int64_t cb = cr * cb_per_range; cb < cb1; ++cb) {
            const int64_t c0 = cb * col_block, c1 = c0 + col_block < n ? c0 + col_block : n;
            for (int64_t p0 = r0; p0 < r1; p0 += TR) {
                const int nr = int(r1 - p0 < TR ? r1 - p0 : TR);
                for (int64_t c = c0; c < c1; c += TC) {
                    const int nc = int(c1 - c < TC ? c1 - c : TC);
                    tile_any(nr, nc, wp + (p0 - r0), xcols + c, k, ycols + c, p0);
                }
            }
        }
    });
}

} // namespace
} // namespace vkai::cpu::avx2
