// Fast CPU versions of every op except mul_mat (matmul.cpp): row kernels (portable here, AVX2 in
// ops_avx2.cpp, picked per call by simd_enabled()) run over rows in parallel on the pool.
#include "cpu/cpu.h"

#include "base/check.h"
#include "base/fp16.h"
#include "tensor/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <vector>

namespace vkai::cpu {

#if defined(VKAI_HAVE_AVX2_KERNELS)
// Defined in ops_avx2.cpp. Only this file calls them, so they are declared here; a signature that
// drifts fails at link time (the parameter types are part of the mangled name).
namespace avx2 {
void rms_norm_row(const float* x, const float* w, float eps, float* y, int64_t n);
void softmax_row(const float* x, const float* mask, float scale, float* y, int64_t n);
void silu_row(const float* x, float* y, int64_t n);
void gelu_row(const float* x, float* y, int64_t n);
void add_row(const float* a, const float* b, float* y, int64_t n);
void mul_row(const float* a, const float* b, float* y, int64_t n);
void rope_adjacent_row(const float* x, const float* cs, const float* sn, float* y, int64_t n_rot);
void rope_half_row(const float* x, const float* c, const float* s, float* y, int64_t n_rot);
void f16_to_f32_row(const uint16_t* x, float* y, int64_t n);
void f32_to_f16_row(const float* x, uint16_t* y, int64_t n);
void bf16_to_f32_row(const uint16_t* x, float* y, int64_t n);
void f32_to_bf16_row(const float* x, uint16_t* y, int64_t n);
} // namespace avx2
#endif

namespace {

// The portable row kernels: same contracts as the AVX2 ones (any n, y may equal x), written so
// the compiler can vectorize the simple loops for whatever the baseline ISA is.
namespace portable {

void rms_norm_row(const float* x, const float* w, float eps, float* y, int64_t n) {
    float acc[8] = {}; // 8 partial sums: the same error profile as 8 SIMD lanes, and vectorizable
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j) acc[j] += x[i + j] * x[i + j];
    for (; i < n; ++i) acc[0] += x[i] * x[i];
    double ss = 0;
    for (float a : acc) ss += a;
    const float inv = float(1.0 / std::sqrt(ss / double(n) + double(eps)));
    if (w) {
        for (i = 0; i < n; ++i) y[i] = x[i] * inv * w[i];
    } else {
        for (i = 0; i < n; ++i) y[i] = x[i] * inv;
    }
}

void softmax_row(const float* x, const float* mask, float scale, float* y, int64_t n) {
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; ++i) {
        y[i] = x[i] * scale + (mask ? mask[i] : 0.0f);
        mx = std::max(mx, y[i]);
    }
    if (mx == -std::numeric_limits<float>::infinity()) { // fully masked row: zeros, not 0/0
        std::memset(y, 0, size_t(n) * sizeof(float));
        return;
    }
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += (y[i] = std::exp(y[i] - mx)); // exp(-inf) == 0 exactly
    const float inv = float(1.0 / sum);
    for (int64_t i = 0; i < n; ++i) y[i] *= inv;
}

void silu_row(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] / (1.0f + std::exp(-x[i]));
}

void gelu_row(const float* x, float* y, int64_t n) {
    // 0.5 x (1 + tanh(u)) == x / (1 + exp(-2u)): no cancellation where tanh(u) is near -1.
    const float c0 = float(-2.0 * std::sqrt(2.0 / std::numbers::pi)), c1 = c0 * 0.044715f; // -2u = x (c0 + c1 x^2)
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] / (1.0f + std::exp(x[i] * (c0 + c1 * x[i] * x[i])));
}

void add_row(const float* a, const float* b, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}
void mul_row(const float* a, const float* b, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}

void rope_adjacent_row(const float* x, const float* cs, const float* sn, float* y, int64_t n_rot) {
    for (int64_t i = 0; i < n_rot; i += 2) {
        const float x0 = x[i], x1 = x[i + 1];
        y[i] = x0 * cs[i] + x1 * sn[i];
        y[i + 1] = x1 * cs[i + 1] + x0 * sn[i + 1];
    }
}

void rope_half_row(const float* x, const float* c, const float* s, float* y, int64_t n_rot) {
    const int64_t h = n_rot / 2;
    for (int64_t i = 0; i < h; ++i) {
        const float x0 = x[i], x1 = x[i + h];
        y[i] = x0 * c[i] - x1 * s[i];
        y[i + h] = x0 * s[i] + x1 * c[i];
    }
}

void f16_to_f32_row(const uint16_t* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = fp16_to_f32(x[i]);
}
void f32_to_f16_row(const float* x, uint16_t* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = f32_to_fp16(x[i]);
}
void bf16_to_f32_row(const uint16_t* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_f32(x[i]);
}
void f32_to_bf16_row(const float* x, uint16_t* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = f32_to_bf16(x[i]);
}

} // namespace portable

// The row kernels of one instruction set.
struct Kernels {
    void (*rms_norm)(const float* x, const float* w, float eps, float* y, int64_t n);
    void (*softmax)(const float* x, const float* mask, float scale, float* y, int64_t n);
    void (*silu)(const float* x, float* y, int64_t n);
    void (*gelu)(const float* x, float* y, int64_t n);
    void (*add)(const float* a, const float* b, float* y, int64_t n);
    void (*mul)(const float* a, const float* b, float* y, int64_t n);
    void (*rope_adjacent)(const float* x, const float* cs, const float* sn, float* y, int64_t n_rot);
    void (*rope_half)(const float* x, const float* c, const float* s, float* y, int64_t n_rot);
    void (*f16_to_f32)(const uint16_t* x, float* y, int64_t n);
    void (*f32_to_f16)(const float* x, uint16_t* y, int64_t n);
    void (*bf16_to_f32)(const uint16_t* x, float* y, int64_t n);
    void (*f32_to_bf16)(const float* x, uint16_t* y, int64_t n);
};

#define VKAI_ROW_KERNELS(ns)                                                                     \
    Kernels {                                                                                    \
        ns::rms_norm_row, ns::softmax_row, ns::silu_row, ns::gelu_row, ns::add_row, ns::mul_row, \
            ns::rope_adjacent_row, ns::rope_half_row, ns::f16_to_f32_row, ns::f32_to_f16_row,    \
            ns::bf16_to_f32_row, ns::f32_to_bf16_row                                             \
    }
constexpr Kernels kPortable = VKAI_ROW_KERNELS(portable);
#if defined(VKAI_HAVE_AVX2_KERNELS)
constexpr Kernels kAvx2 = VKAI_ROW_KERNELS(avx2);
#endif
#undef VKAI_ROW_KERNELS

// Chosen per call, not cached, so force_scalar() takes effect at once.
const Kernels& kernels() {
#if defined(VKAI_HAVE_AVX2_KERNELS)
    if (simd_enabled()) return kAvx2;
#endif
    return kPortable;
}

// Elements per task below which waking the pool (microseconds) costs more than it saves:
// memory-bound ops need more work per task than ops with an exp or a quantizer per element.
constexpr int64_t kLightWork = 32768;
constexpr int64_t kHeavyWork = 8192;

// Calls fn(begin, end) over [0, n_rows) in chunks of at least min_work elements (rows of
// row_len); a single chunk runs inline on the caller.
template <class F>
void for_rows(ThreadPool& pool, int64_t n_rows, int64_t row_len, int64_t min_work, F&& fn) {
    if (n_rows <= 0) return;
    const int64_t grain = std::max<int64_t>(1, min_work / std::max<int64_t>(row_len, 1));
    if (pool.size() == 1 || n_rows <= grain) {
        fn(int64_t(0), n_rows);
        return;
    }
    pool.parallel_for(n_rows, grain, [&](int64_t b, int64_t e, int) { fn(b, e); });
}

// Row r of the flattened (ne1, ne2, ne3) row space, through the strides (rows are contiguous).
uint8_t* row_ptr(const Tensor& t, int64_t r) {
    int64_t i1 = r % t.ne[1], i2 = (r / t.ne[1]) % t.ne[2], i3 = r / (t.ne[1] * t.ne[2]);
    return t.row<uint8_t>(i1, i2, i3);
}
float* f32_row(const Tensor& t, int64_t r) { return reinterpret_cast<float*>(row_ptr(t, r)); }

// Per-thread scratch that grows to the largest row seen; kernels run on pool threads.
float* scratch(int64_t n) {
    thread_local std::vector<float> buf;
    if (buf.size() < size_t(n)) buf.resize(size_t(n));
    return buf.data();
}

void check_f32(const Tensor& t, const char* what) {
    VKAI_ASSERT(t.type == DType::F32 && t.nb[0] == sizeof(float), "%s: want f32 with contiguous rows, got %s nb0=%llu",
                what, dtype_name(t.type), (unsigned long long)t.nb[0]);
}

void check_same_shape(const Tensor& a, const Tensor& b, const char* what) {
    VKAI_ASSERT(a.ne == b.ne, "%s: shapes differ (%lld,%lld,%lld,%lld) vs (%lld,%lld,%lld,%lld)", what,
                (long long)a.ne[0], (long long)a.ne[1], (long long)a.ne[2], (long long)a.ne[3],
                (long long)b.ne[0], (long long)b.ne[1], (long long)b.ne[2], (long long)b.ne[3]);
}

void unary(const Tensor& x, Tensor& y, ThreadPool& pool, const char* what, void (*row)(const float*, float*, int64_t)) {
    check_f32(x, what);
    check_f32(y, what);
    check_same_shape(x, y, what);
    const int64_t n = x.ne[0];
    for_rows(pool, x.nrows(), n, kHeavyWork, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) row(f32_row(x, r), f32_row(y, r), n);
    });
}

void binary(const Tensor& a, const Tensor& b, Tensor& y, ThreadPool& pool, const char* what,
            void (*row)(const float*, const float*, float*, int64_t)) {
    check_f32(a, what);
    check_f32(b, what);
    check_f32(y, what);
    check_same_shape(a, y, what);
    const int64_t n = a.ne[0], b_rows = b.nrows();
    VKAI_ASSERT(b.ne[0] == n && b_rows > 0 && a.nrows() % b_rows == 0, "%s: b (%lld x %lld rows) does not broadcast over a (%lld x %lld rows)",
                what, (long long)b.ne[0], (long long)b_rows, (long long)n, (long long)a.nrows());
    for_rows(pool, a.nrows(), n, kLightWork, [&](int64_t rb, int64_t re) {
        for (int64_t r = rb; r < re; ++r) row(f32_row(a, r), f32_row(b, r % b_rows), f32_row(y, r), n);
    });
}

} // namespace

void get_rows(const Tensor& table, const int32_t* ids, int64_t n, Tensor& out, ThreadPool& pool) {
    // table: (n_embd, n_rows) any dequantizable type; out: (n_embd, n) f32
    VKAI_ASSERT(can_dequantize(table.type), "get_rows: cannot dequantize %s", dtype_name(table.type));
    check_f32(out, "get_rows out");
    VKAI_ASSERT(out.ne[0] == table.ne[0] && out.nrows() == n, "get_rows: out is %lld x %lld, want %lld x %lld",
                (long long)out.ne[0], (long long)out.nrows(), (long long)table.ne[0], (long long)n);
    const Kernels& k = kernels();
    const int64_t n_embd = table.ne[0], n_rows = table.nrows();
    const bool plain = table.type == DType::F32 || table.type == DType::F16 || table.type == DType::BF16;
    for_rows(pool, n, n_embd, plain ? kLightWork : kHeavyWork, [&](int64_t b, int64_t e) {
        for (int64_t j = b; j < e; ++j) {
            VKAI_ASSERT(ids[j] >= 0 && ids[j] < n_rows, "get_rows: id %d out of [0, %lld)", ids[j], (long long)n_rows);
            const void* src = row_ptr(table, ids[j]);
            float* dst = f32_row(out, j);
            switch (table.type) {
            case DType::F32: std::memcpy(dst, src, size_t(n_embd) * sizeof(float)); break;
            case DType::F16: k.f16_to_f32(static_cast<const uint16_t*>(src), dst, n_embd); break;
            case DType::BF16: k.bf16_to_f32(static_cast<const uint16_t*>(src), dst, n_embd); break;
            default: dequantize_row(table.type, src, dst, n_embd); break;
            }
        }
    });
}

void rms_norm(const Tensor& x, const Tensor* w, float eps, Tensor& y, ThreadPool& pool) {
    // x, y: (n, rows); w: (n) or null
    check_f32(x, "rms_norm x");
    check_f32(y, "rms_norm y");
    check_same_shape(x, y, "rms_norm");
    const int64_t n = x.ne[0];
    const float* wr = nullptr;
    if (w) {
        check_f32(*w, "rms_norm w");
        VKAI_ASSERT(w->ne[0] == n, "rms_norm: w has %lld elements, rows have %lld", (long long)w->ne[0], (long long)n);
        wr = static_cast<const float*>(w->data);
    }
    const Kernels& k = kernels();
    for_rows(pool, x.nrows(), n, kLightWork, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) k.rms_norm(f32_row(x, r), wr, eps, f32_row(y, r), n);
    });
}

void rope(const Tensor& x, const int32_t* pos, const RopeParams& p, Tensor& y, ThreadPool& pool) {
    // x, y: (head_dim, n_heads, n_tokens); pos: n_tokens
    check_f32(x, "rope x");
    check_f32(y, "rope y");
    check_same_shape(x, y, "rope");
    const int64_t head_dim = x.ne[0], n_heads = x.ne[1], n_tokens = x.ne[2];
    VKAI_ASSERT(x.ne[3] == 1, "rope: x must be 3-d (head_dim, n_heads, n_tokens)");
    VKAI_ASSERT(p.n_rot > 0 && p.n_rot % 2 == 0 && p.n_rot <= head_dim, "rope: n_rot %d must be even and in (0, %lld]",
                p.n_rot, (long long)head_dim);
    const int half = p.n_rot / 2;
    std::vector<double> freq(static_cast<size_t>(half)); // base^(-2i/n_rot), as the reference computes it
    for (int i = 0; i < half; ++i) freq[size_t(i)] = std::pow(double(p.freq_base), -2.0 * i / p.n_rot);
    const Kernels& k = kernels();
    const bool adjacent = p.mode == RopeMode::normal;
    for_rows(pool, n_tokens, n_heads * head_dim, kHeavyWork, [&](int64_t b, int64_t e) {
        // cos/sin once per token for all heads. The angle stays in double: at position 1e5 a float
        // angle would be off by ~4e-3 rad.
        float* t0 = scratch(2 * p.n_rot);
        float* t1 = t0 + p.n_rot;
        for (int64_t t = b; t < e; ++t) {
            for (int i = 0; i < half; ++i) {
                double theta = double(pos[t]) * double(p.freq_scale) * freq[size_t(i)];
                if (p.freq_factors) theta /= double(p.freq_factors[i]);
                const float c = float(std::cos(theta) * double(p.attn_factor));
                const float s = float(std::sin(theta) * double(p.attn_factor));
                if (adjacent) { // (c, c) and (-s, s) per pair: see rope_adjacent_row
                    t0[2 * i] = t0[2 * i + 1] = c;
                    t1[2 * i] = -s;
                    t1[2 * i + 1] = s;
                } else {
                    t0[i] = c;
                    t1[i] = s;
                }
            }
            for (int64_t h = 0; h < n_heads; ++h) {
                const float* xr = x.row<const float>(h, t);
                float* yr = y.row<float>(h, t);
                (adjacent ? k.rope_adjacent : k.rope_half)(xr, t0, t1, yr, p.n_rot);
                if (yr != xr && head_dim > p.n_rot) std::memcpy(yr + p.n_rot, xr + p.n_rot, size_t(head_dim - p.n_rot) * sizeof(float));
            }
        }
    });
}

void softmax(const Tensor& x, const Tensor* mask, float scale, Tensor& y, ThreadPool& pool) {
    // x, y: (n, rows); mask: (n, mask_rows), row r uses mask row r % mask_rows
    check_f32(x, "softmax x");
    check_f32(y, "softmax y");
    check_same_shape(x, y, "softmax");
    const int64_t n = x.ne[0];
    int64_t mask_rows = 0;
    if (mask) {
        check_f32(*mask, "softmax mask");
        mask_rows = mask->nrows();
        VKAI_ASSERT(mask->ne[0] == n && mask_rows > 0, "softmax: mask rows have %lld elements, x rows %lld",
                    (long long)mask->ne[0], (long long)n);
    }
    const Kernels& k = kernels();
    for_rows(pool, x.nrows(), n, kHeavyWork, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) k.softmax(f32_row(x, r), mask ? f32_row(*mask, r % mask_rows) : nullptr, scale, f32_row(y, r), n);
    });
}

void silu(const Tensor& x, Tensor& y, ThreadPool& pool) { unary(x, y, pool, "silu", kernels().silu); }
void gelu(const Tensor& x, Tensor& y, ThreadPool& pool) { unary(x, y, pool, "gelu", kernels().gelu); }
void add(const Tensor& a, const Tensor& b, Tensor& y, ThreadPool& pool) { binary(a, b, y, pool, "add", kernels().add); }
void mul(const Tensor& a, const Tensor& b, Tensor& y, ThreadPool& pool) { binary(a, b, y, pool, "mul", kernels().mul); }

void copy(const Tensor& src, Tensor& dst, ThreadPool& pool) {
    // Rows pair up in flattened order; same result as ref::copy, byte for byte.
    const int64_t n = src.ne[0];
    VKAI_ASSERT(dst.ne[0] == n && dst.nelements() == src.nelements(), "copy: src (%lld x %lld rows) and dst (%lld x %lld rows) differ",
                (long long)n, (long long)src.nrows(), (long long)dst.ne[0], (long long)dst.nrows());
    VKAI_ASSERT(can_dequantize(src.type), "copy: cannot read %s", dtype_name(src.type));
    auto plain = [](DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; };
    VKAI_ASSERT(plain(dst.type) || can_quantize(dst.type), "copy: cannot write %s", dtype_name(dst.type));
    const Kernels& k = kernels();
    const bool light = plain(src.type) && plain(dst.type);
    for_rows(pool, src.nrows(), n, light ? kLightWork : kHeavyWork, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
            const void* s = row_ptr(src, r);
            void* d = row_ptr(dst, r);
            if (src.type == dst.type) { // a byte copy: same-type copy never requantizes
                std::memcpy(d, s, size_t(*row_bytes(src.type, uint64_t(n))));
                continue;
            }
            // Source row as f32: in place when it is f32, else into dst (f32 dst) or scratch.
            const float* f = static_cast<const float*>(s);
            if (src.type != DType::F32) {
                float* buf = dst.type == DType::F32 ? static_cast<float*>(d) : scratch(n);
                if (src.type == DType::F16) k.f16_to_f32(static_cast<const uint16_t*>(s), buf, n);
                else if (src.type == DType::BF16) k.bf16_to_f32(static_cast<const uint16_t*>(s), buf, n);
                else dequantize_row(src.type, s, buf, n);
                f = buf;
            }
            switch (dst.type) {
            case DType::F32:
                if (f != d) std::memcpy(d, f, size_t(n) * sizeof(float));
                break;
            case DType::F16: k.f32_to_f16(f, static_cast<uint16_t*>(d), n); break;
            case DType::BF16: k.f32_to_bf16(f, static_cast<uint16_t*>(d), n); break;
            default: quantize_row(dst.type, f, d, n); break;
            }
        }
    });
}

} // namespace vkai::cpu
