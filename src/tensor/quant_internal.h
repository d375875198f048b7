// Internals shared by the quant*.cpp files: per-type row functions and the scale fitting
// machinery that the quantizers build on (quant_fit.cpp). Not part of the public API.
#pragma once

#include <cstdint>

namespace vkai::qi {

// ---- rounding ---------------------------------------------------------------------------
// Round to nearest (ties to even) and clamp to [lo, hi]. NaN maps to lo, so arbitrary input
// floats never reach an undefined float->int conversion. Exact for |v| < 2^22 (beyond that
// the value is clamped anyway for every caller).
inline int round_clamp(float v, int lo, int hi) {
    // Written as selects (not branches) so they compile to maxss/minss; the comparison order
    // sends NaN to lo.
    v = v > float(lo) ? v : float(lo);
    v = v < float(hi) ? v : float(hi);
    // Adding 1.5 * 2^23 pushes the fraction bits out of the mantissa with the FPU's default
    // round-to-nearest-even; subtracting it back leaves the rounded value (needs strict IEEE
    // evaluation: the project never builds with -ffast-math).
    return int((v + 12582912.0f) - 12582912.0f);
}

// ---- level sets -------------------------------------------------------------------------
// The values an element index decodes to (before the scale): ascending integers.
struct Levels {
    const int8_t* v; // v[0] < v[1] < ... < v[n-1]
    int n;
    bool linear;        // v[k] = v[0] + k: index = round(x / s) - v[0], no table needed
    const uint8_t* tab; // !linear: nearest index for the cell [h/2, h/2 + 1/2), at h + 256
};
Levels linear_levels(int lo, int hi); // lo..hi, -128 <= lo < hi <= 127
// A non-linear set; tab is caller-provided storage for 512 entries (filled here).
Levels table_levels(const int8_t* v, int n, uint8_t* tab);

// Index of the level nearest to xs (= x / s). For a table set: the midpoints of integer levels
// are multiples of 1/2, so no midpoint lies inside a half-unit cell and the cell decides.
// (floor is computed as round(2xs - 1/2); at exact cell edges either neighbour cell is right.)
inline int nearest_level(const Levels& L, float xs) {
    if (L.linear) return round_clamp(xs, L.v[0], L.v[L.n - 1]) - L.v[0];
    return L.tab[round_clamp(2.0f * xs - 0.5f, -256, 255) + 256];
}

// ---- one-level fits ---------------------------------------------------------------------
// Symmetric: x[i] ~ s * L.v[idx[i]] minimizing the squared error over s and idx. For the
// ternary set the search is exact (a sweep over every inverse scale at which some element
// changes level); other sets use a candidate grid refined by least squares (within 0.02% of
// exact on real weights). Returns s (0 for an all-zero input; idx then holds the level
// nearest zero).
float fit_sym(const float* x, int n, const Levels& L, uint8_t* idx);

// Squared error of x ~ s * L.v[idx] with idx the nearest levels for s (written to idx).
double assign_sym(const float* x, int n, const Levels& L, float s, uint8_t* idx);

// Affine: x[i] ~ s * q[i] + m, q in [0, nmax], s >= 0; with m_nonpos, m <= 0 (the K-quants
// store the offset as -dmin*mn with unsigned mn). Grid of ranges and offsets + alternating
// refinement. Returns the squared error.
double fit_affine(const float* x, int n, int nmax, bool m_nonpos, float* s, float* m, uint8_t* q);

// Squared error of x ~ s*q + m with q the nearest in [0, nmax] (written to q). Evaluates
// s*q + m exactly as the dequantizers do (scale and offset already rounded by the caller).
double assign_affine(const float* x, int n, int nmax, float s, float m, uint8_t* q);

// fp16 bits of v with overflow (and NaN) saturated to +-65504: encoders clip values beyond
// the format's range instead of writing blocks that decode to inf or NaN.
uint16_t fp16_finite(float v);
// fp16_finite for a scale; in addition a nonzero scale too small for fp16 becomes the smallest
// subnormal of its sign instead of 0, so rows of tiny values keep some information.
uint16_t scale_to_fp16(float s);

// Squared error of x ~ s*q + m (s > 0 finite, else +inf) with q the nearest in [0, nmax],
// without writing q: the fast scorer for candidate searches.
float err_affine(const float* x, int n, int nmax, float s, float m);

// ---- fp16 scale polish ------------------------------------------------------------------
// Given a continuous symmetric scale s, the fp16 value near s (s's rounding and a few
// neighbours) whose nearest-level assignment has the least error. Writes idx for it.
uint16_t best_fp16_scale(const float* x, int n, const Levels& L, float s, uint8_t* idx);

// ---- two-level (super-block) fits ---------------------------------------------------------
// x (nsub * sub elements) ~ d * sc[j] * L.v[idx[i]], with d an fp16 value and integer
// sub-block scales sc in [sc_lo, sc_hi]. Used by Q3_K, Q6_K and IQ4_XS.
struct Sym2Result {
    uint16_t d;    // fp16 bits
    int sc[16];    // per sub-block
    uint8_t idx[256];
};
void fit_sym2(const float* x, int nsub, int sub, const Levels& L, int sc_lo, int sc_hi, Sym2Result* out);

// x ~ d * sc[j] * q[i] - dmin * mn[j], q in [0, nmax], sc and mn in [0, smax], d and dmin fp16.
// Used by Q2_K, Q4_K and Q5_K.
struct Affine2Result {
    uint16_t d, dmin; // fp16 bits
    int sc[16], mn[16];
    uint8_t q[256];
};
void fit_affine2(const float* x, int nsub, int sub, int nmax, int smax, Affine2Result* out);

// ---- per-type rows (n is a multiple of the block size; checked by the dispatcher) ---------
#define VKAI_QI_DECLARE(name)                                    \
    void dequantize_##name(const void* src, float* dst, int64_t n); \
    void quantize_##name(const float* src, void* dst, int64_t n);
VKAI_QI_DECLARE(q4_0)
VKAI_QI_DECLARE(q4_1)
VKAI_QI_DECLARE(q5_0)
VKAI_QI_DECLARE(q5_1)
VKAI_QI_DECLARE(q8_0)
VKAI_QI_DECLARE(q8_1)
VKAI_QI_DECLARE(q2_K)
VKAI_QI_DECLARE(q3_K)
VKAI_QI_DECLARE(q4_K)
VKAI_QI_DECLARE(q5_K)
VKAI_QI_DECLARE(q6_K)
VKAI_QI_DECLARE(q8_K)
VKAI_QI_DECLARE(iq4_nl)
VKAI_QI_DECLARE(iq4_xs)
VKAI_QI_DECLARE(tq1_0)
VKAI_QI_DECLARE(tq2_0)
#undef VKAI_QI_DECLARE

} // namespace vkai::qi
