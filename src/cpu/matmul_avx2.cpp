// AVX2 mul_mat driver: picks the kernel (VNNI when the CPU has it), prepares x once per call (f32 as
// is, or int8 blocks for the quantized types), threads over weight rows, tiles the columns by
// kMaxCols; plus the F32/F16/BF16 kernels.
#include "cpu/matmul_avx2.h"

#include "base/check.h"
#include "cpu/cpu.h"
#include "cpu/gemm_float.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace vkai::cpu::avx2 {

const int g_prefetch_ahead = [] {
    const char* e = std::getenv("VKAI_CPU_PREFETCH");
    return e && *e ? std::clamp(std::atoi(e), 0, 1 << 20) : 2048;
}();

namespace {

// ---- f32 / f16 / bf16 weights: FMA against f32 x --------------------------------------------

struct LoadF32 {
    using W = float;
    static __m256 load(const W* p) { return _mm256_loadu_ps(p); }
    static float one(const W* p) { return *p; }
};
struct LoadF16 {
    using W = uint16_t;
    static __m256 load(const W* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
    static float one(const W* p) { return half_to_float(*p); }
};
struct LoadBF16 {
    using W = uint16_t;
    static __m256 load(const W* p) {
        __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
    }
    static float one(const W* p) {
        uint32_t u = uint32_t(*p) << 16;
        float f;
        __builtin_memcpy(&f, &u, 4);
        return f;
    }
};

// One weight row of k elements against NC columns: the sum of float_dot_finish (gemm_float.h),
// four 8-lane accumulators per column (1 row x 2 columns x 4 = 8 registers), so the result of a
// (row, column) pair depends on k only, not on NC or on which kernel (this or the GEMM) ran it.
template <class L, int NC>
inline void float_row(const typename L::W* w, const float* const* x, int64_t k, float* out) {
    __m256 acc[NC][4];
    for (int c = 0; c < NC; ++c)
        for (int u = 0; u < 4; ++u) acc[c][u] = _mm256_setzero_ps();
    int64_t l = 0;
    for (; l + 32 <= k; l += 32) {
        prefetch_ahead(w + l, 32 * sizeof(typename L::W));
        for (int u = 0; u < 4; ++u) {
            const __m256 wv = L::load(w + l + 8 * u);
            for (int c = 0; c < NC; ++c) acc[c][u] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x[c] + l + 8 * u), acc[c][u]);
        }
    }
    for (int c = 0; c < NC; ++c)
        out[c] = float_dot_finish(acc[c][0], acc[c][1], acc[c][2], acc[c][3], [&](int64_t i) { return L::load(w + i); },
                                  [&](int64_t i) { return L::one(w + i); }, x[c], l, k);
}

// Every (row, column) dot product sums in the same order whatever the number of columns, so a
// token's result does not depend on the batch it came in (the server's same-seed-same-text
// guarantee); columns go in pairs.
template <class L, int NC>
void float_rows_nc(const RowsArgs& a, int c0) {
    using W = typename L::W;
    const float* x[NC];
    for (int c = 0; c < NC; ++c) x[c] = static_cast<const float*>(a.x[c0 + c]);
    float out[NC];
    for (int64_t r = 0; r < a.nrows; ++r) {
        float_row<L, NC>(reinterpret_cast<const W*>(a.w + size_t(r) * a.w_stride), x, a.nb, out);
        for (int c = 0; c < NC; ++c) a.y[c0 + c][a.row0 + r] = out[c];
    }
}

template <class L>
void float_rows(const RowsArgs& a) {
    int c0 = 0;
    for (; c0 + 2 <= a.nc; c0 += 2) float_rows_nc<L, 2>(a, c0);
    if (c0 < a.nc) float_rows_nc<L, 1>(a, c0);
}

// ---- x quantization ------------------------------------------------------------------------

// Rounds 32 floats (4 vectors) by inv to int8, in element order; returns the 8 int32 partial sums.
inline __m256i round_pack32(const float* x, __m256 inv, int8_t* dst) {
    __m256i q0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), inv));
    __m256i q1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8), inv));
    __m256i q2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16), inv));
    __m256i q3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 24), inv));
    __m256i sum = _mm256_add_epi32(_mm256_add_epi32(q0, q1), _mm256_add_epi32(q2, q3));
    // packs work per 128-bit lane: dwords come out as q0a q1a q2a q3a | q0b q1b q2b q3b.
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3));
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), p);
    return sum;
}

inline __m256 abs_max8(const float* x, int n8, __m256 m) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int i = 0; i < n8; ++i) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * i)));
    return m;
}

inline float hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

inline int hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

// 127 / amax, or 0 for blocks so small (or zero) that the inverse would overflow to inf.
inline float inv_scale(float amax) { return amax > 1e-30f ? 127.0f / amax : 0.0f; }

// Symmetric int8 per block of 32: d = max|x| / 127.
void quantize_q8_32(const float* x, int64_t nb, XQ32* out) {
    for (int64_t b = 0; b < nb; ++b, x += 32) {
        float amax = hmax(abs_max8(x, 4, _mm256_setzero_ps()));
        float d = amax / 127.0f;
        __m256 inv = _mm256_set1_ps(inv_scale(amax));
        int sum = hsum_i32(round_pack32(x, inv, out[b].qs));
        out[b].d = d;
        out[b].s = d * float(sum);
    }
}

// Symmetric int8 per block of 256 with the 16 sums of 16 (block_q8_K).
void quantize_q8_K(const float* x, int64_t nb, block_q8_K* out) {
    const __m256i bias = _mm256_set1_epi8(char(0x80));
    for (int64_t b = 0; b < nb; ++b, x += QK_K) {
        float amax = hmax(abs_max8(x, QK_K / 8, _mm256_setzero_ps()));
        __m256 inv = _mm256_set1_ps(inv_scale(amax));
        out[b].d = amax / 127.0f;
        for (int g = 0; g < QK_K / 32; ++g) {
            round_pack32(x + 32 * g, inv, out[b].qs + 32 * g);
            // Sums of 16 signed bytes: bias to unsigned, sum groups of 8 with SAD, remove the bias.
            __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(out[b].qs + 32 * g));
            __m256i s = _mm256_sad_epu8(_mm256_xor_si256(q, bias), _mm256_setzero_si256());
            int64_t s0 = _mm256_extract_epi64(s, 0) + _mm256_extract_epi64(s, 1);
            int64_t s1 = _mm256_extract_epi64(s, 2) + _mm256_extract_epi64(s, 3);
            out[b].bsums[2 * g] = int16_t(s0 - 16 * 128);
            out[b].bsums[2 * g + 1] = int16_t(s1 - 16 * 128);
        }
    }
}

// x for the VNNI kernels of the 32-element types (XG4): blocks quantized as in quantize_q8_32,
// 4 per group in the qword layout; the last group padded with zero blocks.
void quantize_g4(const float* x, int64_t nb, XFormat f, XG4* out) {
    const bool biased = f == XFormat::g4_biased;
    const int off = f == XFormat::g4_off8 ? 8 : f == XFormat::g4_off16 ? 16 : 0;
    const uint64_t bias = biased ? 0x8080808080808080ull : 0;
    for (int64_t g = 0; g * 4 < nb; ++g) {
        XG4& o = out[g];
        alignas(32) int8_t q[128];
        float d[4];
        for (int i = 0; i < 4; ++i) {
            const int64_t b = 4 * g + i;
            if (b >= nb) {
                d[i] = o.s[i] = 0;
                std::memset(q + 32 * i, 0, 32);
                continue;
            }
            const float* xb = x + 32 * b;
            const float amax = hmax(abs_max8(xb, 4, _mm256_setzero_ps()));
            d[i] = amax / 127.0f;
            const int sum = hsum_i32(round_pack32(xb, _mm256_set1_ps(inv_scale(amax)), q + 32 * i));
            o.s[i] = d[i] * float(sum);
        }
        // Vector k = qwords k of A, C, B, D (blocks 0, 2, 1, 3).
        static constexpr int kOrder[4] = {0, 2, 1, 3};
        for (int k = 0; k < 4; ++k)
            for (int j = 0; j < 4; ++j) {
                uint64_t v;
                std::memcpy(&v, q + 32 * kOrder[j] + 8 * k, 8);
                v ^= bias;
                std::memcpy(o.qs + 32 * k + 8 * j, &v, 8);
            }
        for (int j = 0; j < 4; ++j) o.d8[2 * j] = o.d8[2 * j + 1] = d[kOrder[j]];
        // Lane L (dword L of each vector) sums 4 bytes of each of the 4 vectors.
        for (int lane = 0; lane < 8; ++lane) {
            int sum = 0;
            for (int k = 0; k < 4; ++k)
                for (int b = 0; b < 4; ++b) sum += int8_t(o.qs[32 * k + 4 * lane + b]);
            o.init[lane] = -off * sum;
        }
    }
}

Kernel find_kernel(DType t) {
    Kernel k;
#ifdef VKAI_HAVE_VNNI_KERNELS
    const SimdLevel level = simd_level();
    if (level == SimdLevel::avx512vnni && kernel_vnni512(t, &k)) return k;
    if (level >= SimdLevel::avxvnni && kernel_avxvnni(t, &k)) return k;
#endif
    if (kernel_float(t, &k) || kernel_q32(t, &k) || kernel_k(t, &k)) return k;
    return Kernel{};
}

// Bytes of prepared x per column of k elements (nb weight blocks).
size_t x_bytes(XFormat f, int64_t nb) {
    switch (f) {
    case XFormat::q8_32: return size_t(nb) * sizeof(XQ32);
    case XFormat::q8_K: return size_t(nb) * sizeof(block_q8_K);
    case XFormat::g4_signed:
    case XFormat::g4_off8:
    case XFormat::g4_off16:
    case XFormat::g4_biased: return size_t((nb + 3) / 4) * sizeof(XG4);
    default: return 0;
    }
}

} // namespace

bool kernel_float(DType t, Kernel* k) {
    switch (t) {
    case DType::F32: *k = {XFormat::f32, float_rows<LoadF32>}; return true;
    case DType::F16: *k = {XFormat::f32, float_rows<LoadF16>}; return true;
    case DType::BF16: *k = {XFormat::f32, float_rows<LoadBF16>}; return true;
    default: return false;
    }
}

bool has_mul_mat(DType w_type) { return find_kernel(w_type).rows != nullptr; }

void mul_mat(const Tensor& w, const float* const* xcols, float* const* ycols, int64_t n, ThreadPool& pool) {
    const Kernel kern = find_kernel(w.type);
    VKAI_ASSERT(kern.rows, "avx2::mul_mat: no kernel for %s", dtype_name(w.type));
    const int64_t k = w.ne[0], m = w.ne[1];
    if (kern.x == XFormat::f32 && n >= kGemmMinCols) {
#ifdef VKAI_HAVE_VNNI_KERNELS
        if (simd_level() == SimdLevel::avx512vnni) return gemm_float_avx512(w, xcols, ycols, n, pool);
#endif
        return gemm_float_avx2(w, xcols, ycols, n, pool);
    }
    const DTypeInfo& info = dtype_info(w.type);
    const int64_t nb = k / info.block;

    // Prepare x: one shared read-only buffer, written before the row loop starts.
    std::vector<const void*> xp(static_cast<size_t>(n));
    std::vector<uint8_t> xbuf;
    if (kern.x == XFormat::f32) {
        for (int64_t j = 0; j < n; ++j) xp[j] = xcols[j];
    } else {
        const size_t col_bytes = x_bytes(kern.x, nb);
        xbuf.resize(col_bytes * size_t(n));
        auto quantize_col = [&](int64_t j, int) {
            void* dst = xbuf.data() + col_bytes * size_t(j);
            switch (kern.x) {
            case XFormat::q8_32: quantize_q8_32(xcols[j], nb, static_cast<XQ32*>(dst)); break;
            case XFormat::q8_K: quantize_q8_K(xcols[j], nb, static_cast<block_q8_K*>(dst)); break;
            default: quantize_g4(xcols[j], nb, kern.x, static_cast<XG4*>(dst)); break;
            }
            xp[j] = dst;
        };
        if (n * k >= (int64_t(1) << 15)) pool.run(n, quantize_col);
        else for (int64_t j = 0; j < n; ++j) quantize_col(j, 0);
    }

    const size_t row_bytes = w.nb[1];
    // Chunks of rows with at least ~32K multiply-adds each, so tiny products stay on one thread.
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(1, k * n));
    // With more columns than one tile, rows are walked in blocks of ~192 KiB so each weight block
    // is read from memory once and then from L2 for the remaining column tiles.
    const int64_t row_block = n <= kMaxCols ? m : std::max<int64_t>(1, int64_t((192u << 10) / row_bytes));
    const uint8_t* wbase = static_cast<const uint8_t*>(w.data);
    pool.parallel_for(m, grain, [&](int64_t begin, int64_t end, int) {
        for (int64_t r0 = begin; r0 < end; r0 += row_block) {
            const int64_t r1 = std::min(end, r0 + row_block);
            for (int64_t c0 = 0; c0 < n; c0 += kMaxCols) {
                RowsArgs a;
                a.w = wbase + size_t(r0) * row_bytes;
                a.w_stride = row_bytes;
                a.nrows = r1 - r0;
                a.nb = nb;
                a.x = xp.data() + c0;
                a.y = ycols + c0;
                a.nc = int(std::min<int64_t>(kMaxCols, n - c0));
                a.row0 = r0;
                kern.rows(a);
            }
        }
    });
}

} // namespace vkai::cpu::avx2
