// Scalar reference of every op except mul_mat (ref_matmul.cpp): the specification that src/cpu and
// the shaders are tested against. Plain loops, double arithmetic, one float rounding per output.
#include "ops/ref.h"

#include "base/check.h"
#include "base/fp16.h"
#include "tensor/quant.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <vector>

namespace vkai::ref {
namespace {

// Row r of the flattened (ne1, ne2, ne3) row space, through the strides, so views with padded
// rows work. Rows themselves are contiguous (nb[0] is the element or block size).
uint8_t* row_ptr(const Tensor& t, int64_t r) {
    int64_t i1 = r % t.ne[1], i2 = (r / t.ne[1]) % t.ne[2], i3 = r / (t.ne[1] * t.ne[2]);
    return t.row<uint8_t>(i1, i2, i3);
}
float* f32_row(const Tensor& t, int64_t r) { return reinterpret_cast<float*>(row_ptr(t, r)); }

void check_f32(const Tensor& t, const char* what) {
    VKAI_ASSERT(t.type == DType::F32 && t.nb[0] == sizeof(float), "%s: want f32 with contiguous rows, got %s nb0=%llu",
                what, dtype_name(t.type), (unsigned long long)t.nb[0]);
}

void check_same_shape(const Tensor& a, const Tensor& b, const char* what) {
    VKAI_ASSERT(a.ne == b.ne, "%s: shapes differ (%lld,%lld,%lld,%lld) vs (%lld,%lld,%lld,%lld)", what,
                (long long)a.ne[0], (long long)a.ne[1], (long long)a.ne[2], (long long)a.ne[3],
                (long long)b.ne[0], (long long)b.ne[1], (long long)b.ne[2], (long long)b.ne[3]);
}

// float -> any storable type, for copy: plain types round to nearest even, others quantize.
void store_row(DType t, const float* src, void* dst, int64_t n) {
    switch (t) {
    case DType::F32: std::memcpy(dst, src, size_t(n) * sizeof(float)); break;
    case DType::F16:
        for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst)[i] = f32_to_fp16(src[i]);
        break;
    case DType::BF16:
        for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst)[i] = f32_to_bf16(src[i]);
        break;
    default: quantize_row(t, src, dst, n); break;
    }
}

template <class F>
void unary(const Tensor& x, Tensor& y, const char* what, F f) {
    check_f32(x, what);
    check_f32(y, what);
    check_same_shape(x, y, what);
    const int64_t n = x.ne[0];
    for (int64_t r = 0; r < x.nrows(); ++r) {
        const float* xr = f32_row(x, r);
        float* yr = f32_row(y, r);
        for (int64_t i = 0; i < n; ++i) yr[i] = float(f(double(xr[i])));
    }
}

template <class F>
void binary(const Tensor& a, const Tensor& b, Tensor& y, const char* what, F f) {
    check_f32(a, what);
    check_f32(b, what);
    check_f32(y, what);
    check_same_shape(a, y, what);
    const int64_t n = a.ne[0], b_rows = b.nrows();
    VKAI_ASSERT(b.ne[0] == n && b_rows > 0 && a.nrows() % b_rows == 0, "%s: b (%lld x %lld rows) does not broadcast over a (%lld x %lld rows)",
                what, (long long)b.ne[0], (long long)b_rows, (long long)n, (long long)a.nrows());
    for (int64_t r = 0; r < a.nrows(); ++r) {
        const float* ar = f32_row(a, r);
        const float* br = f32_row(b, r % b_rows);
        float* yr = f32_row(y, r);
        for (int64_t i = 0; i < n; ++i) yr[i] = float(f(double(ar[i]), double(br[i])));
    }
}

} // namespace

void get_rows(const Tensor& table, const int32_t* ids, int64_t n, Tensor& out) {
    // table: (n_embd, n_rows) any dequantizable type; out: (n_embd, n) f32
    VKAI_ASSERT(can_dequantize(table.type), "get_rows: cannot dequantize %s", dtype_name(table.type));
    check_f32(out, "get_rows out");
    VKAI_ASSERT(out.ne[0] == table.ne[0] && out.nrows() == n, "get_rows: out is %lld x %lld, want %lld x %lld",
                (long long)out.ne[0], (long long)out.nrows(), (long long)table.ne[0], (long long)n);
    const int64_t n_rows = table.nrows();
    for (int64_t j = 0; j < n; ++j) {
        VKAI_ASSERT(ids[j] >= 0 && ids[j] < n_rows, "get_rows: id %d out of [0, %lld)", ids[j], (long long)n_rows);
        dequantize_row(table.type, row_ptr(table, ids[j]), f32_row(out, j), table.ne[0]);
    }
}

void rms_norm(const Tensor& x, const Tensor* w, float eps, Tensor& y) {
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
    for (int64_t r = 0; r < x.nrows(); ++r) {
        const float* xr = f32_row(x, r);
        float* yr = f32_row(y, r);
        double ss = 0;
        for (int64_t i = 0; i < n; ++i) ss += double(xr[i]) * double(xr[i]);
        const double inv = 1.0 / std::sqrt(ss / double(n) + double(eps));
        for (int64_t i = 0; i < n; ++i) yr[i] = float(double(xr[i]) * inv * (wr ? double(wr[i]) : 1.0));
    }
}

void rope(const Tensor& x, const int32_t* pos, const RopeParams& p, Tensor& y) {
    // x, y: (head_dim, n_heads, n_tokens); pos: n_tokens
    check_f32(x, "rope x");
    check_f32(y, "rope y");
    check_same_shape(x, y, "rope");
    const int64_t head_dim = x.ne[0], n_heads = x.ne[1], n_tokens = x.ne[2];
    VKAI_ASSERT(x.ne[3] == 1, "rope: x must be 3-d (head_dim, n_heads, n_tokens)");
    VKAI_ASSERT(p.n_rot > 0 && p.n_rot % 2 == 0 && p.n_rot <= head_dim, "rope: n_rot %d must be even and in (0, %lld]",
                p.n_rot, (long long)head_dim);
    const int half = p.n_rot / 2;
    for (int64_t t = 0; t < n_tokens; ++t) {
        for (int64_t h = 0; h < n_heads; ++h) {
            const float* xr = x.row<const float>(h, t);
            float* yr = y.row<float>(h, t);
            for (int i = 0; i < half; ++i) {
                const double freq = std::pow(double(p.freq_base), -2.0 * i / p.n_rot);
                double theta = double(pos[t]) * double(p.freq_scale) * freq;
                if (p.freq_factors) theta /= double(p.freq_factors[i]);
                const double c = std::cos(theta), s = std::sin(theta);
                const int i0 = p.mode == RopeMode::normal ? 2 * i : i;
                const int i1 = p.mode == RopeMode::normal ? 2 * i + 1 : i + half;
                const double x0 = xr[i0], x1 = xr[i1];
                yr[i0] = float((x0 * c - x1 * s) * double(p.attn_factor));
                yr[i1] = float((x0 * s + x1 * c) * double(p.attn_factor));
            }
            for (int64_t d = p.n_rot; d < head_dim; ++d) yr[d] = xr[d];
        }
    }
}

void softmax(const Tensor& x, const Tensor* mask, float scale, Tensor& y) {
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
    std::vector<double> v(static_cast<size_t>(n));
    for (int64_t r = 0; r < x.nrows(); ++r) {
        const float* xr = f32_row(x, r);
        const float* mr = mask ? f32_row(*mask, r % mask_rows) : nullptr;
        float* yr = f32_row(y, r);
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t i = 0; i < n; ++i) {
            v[i] = double(xr[i]) * double(scale) + (mr ? double(mr[i]) : 0.0);
            mx = std::max(mx, v[i]);
        }
        if (mx == -std::numeric_limits<double>::infinity()) { // fully masked: zeros, not 0/0
            for (int64_t i = 0; i < n; ++i) yr[i] = 0.0f;
            continue;
        }
        double sum = 0;
        for (int64_t i = 0; i < n; ++i) sum += (v[i] = std::exp(v[i] - mx)); // exp(-inf) == 0 exactly
        for (int64_t i = 0; i < n; ++i) yr[i] = float(v[i] / sum);
    }
}

void silu(const Tensor& x, Tensor& y) {
    unary(x, y, "silu", [](double v) { return v / (1.0 + std::exp(-v)); });
}

void gelu(const Tensor& x, Tensor& y) {
    const double k = std::sqrt(2.0 / std::numbers::pi);
    unary(x, y, "gelu", [k](double v) { return 0.5 * v * (1.0 + std::tanh(k * (v + 0.044715 * v * v * v))); });
}

void add(const Tensor& a, const Tensor& b, Tensor& y) {
    binary(a, b, y, "add", [](double u, double v) { return u + v; });
}

void mul(const Tensor& a, const Tensor& b, Tensor& y) {
    binary(a, b, y, "mul", [](double u, double v) { return u * v; });
}

void copy(const Tensor& src, Tensor& dst) {
    // Rows pair up in flattened order, so (n, 6) -> (n, 2, 3) reshapes while converting.
    const int64_t n = src.ne[0];
    VKAI_ASSERT(dst.ne[0] == n && dst.nelements() == src.nelements(), "copy: src (%lld x %lld rows) and dst (%lld x %lld rows) differ",
                (long long)n, (long long)src.nrows(), (long long)dst.ne[0], (long long)dst.nrows());
    VKAI_ASSERT(can_dequantize(src.type), "copy: cannot read %s", dtype_name(src.type));
    const bool plain_dst = dst.type == DType::F32 || dst.type == DType::F16 || dst.type == DType::BF16;
    VKAI_ASSERT(plain_dst || can_quantize(dst.type), "copy: cannot write %s", dtype_name(dst.type));
    std::vector<float> buf(static_cast<size_t>(n));
    for (int64_t r = 0; r < src.nrows(); ++r) {
        if (src.type == dst.type) { // a byte copy: same-type copy never requantizes
            std::memcpy(row_ptr(dst, r), row_ptr(src, r), size_t(*row_bytes(src.type, uint64_t(n))));
            continue;
        }
        dequantize_row(src.type, row_ptr(src, r), buf.data(), n);
        store_row(dst.type, buf.data(), row_ptr(dst, r), n);
    }
}

} // namespace vkai::ref
