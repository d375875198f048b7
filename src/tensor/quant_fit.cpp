// Scale fitting for the quantizers: least-squares searches for one-level (block scale) and
// two-level (super-block scale x integer sub-block scales) encodings. All errors are plain
// squared errors: the quantizers minimize the RMSE of dequantize(quantize(x)) against x.
//
// Cost model: a "pass" evaluates one candidate over a block (round, clamp, accumulate). The
// searches below spend about 25-60 passes per element (30-110 ns per element on one core)
// because vkai synth quantizes whole models with them; each extra search was kept only where
// it paid for itself in RMSE (numbers in the comments, measured on real weights).
#include "tensor/quant_internal.h"

#include "base/check.h"
#include "base/fp16.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace vkai::qi {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr float kInfF = std::numeric_limits<float>::infinity();

// Every int8 value in order, so any linear range lo..hi is a slice of it.
struct AllInt8 {
    int8_t v[256];
    constexpr AllInt8() : v() {
        for (int i = 0; i < 256; ++i) v[i] = int8_t(i - 128);
    }
};
constexpr AllInt8 kAllInt8;

// Index of the level with the smallest magnitude: where every element sits for a zero scale.
int zero_level(const Levels& L) {
    int z = 0;
    for (int k = 1; k < L.n; ++k)
        if (std::abs(int(L.v[k])) < std::abs(int(L.v[z]))) z = k;
    return z;
}

float sqf(float v) { return v * v; }

// Round to nearest even in the float domain (branch-free; see round_clamp). Huge, infinite and
// NaN inputs stay huge, infinite and NaN, so callers clamp afterwards.
inline float round_even(float v) { return (v + 12582912.0f) - 12582912.0f; }

// The level value nearest x*t (before the scale), branch-free for linear sets.
struct NearestValue {
    const Levels& L;
    float lo, hi;
    explicit NearestValue(const Levels& l) : L(l), lo(l.v[0]), hi(l.v[l.n - 1]) {}
    float operator()(float xs) const {
        if (L.linear) return std::min(std::max(round_even(xs), lo), hi);
        return float(L.v[nearest_level(L, xs)]);
    }
};

// Score of the nearest-level assignment for inverse scale t: sum(x*l)^2 / sum(l*l), the
// squared error it removes with its least-squares scale (error = sum(x^2) - score).
// NaN inputs give a NaN score, which never wins a comparison.
float score_sym(const float* x, int n, const Levels& L, float t) {
    const NearestValue nearest(L);
    float sxl = 0, sll = 0;
    for (int i = 0; i < n; ++i) {
        const float l = nearest(x[i] * t);
        sxl += x[i] * l;
        sll += l * l;
    }
    return sll > 0 ? sxl * sxl / sll : 0.0f;
}

// Squared error of x ~ s * (nearest level), without writing the indices.
float err_sym(const float* x, int n, const Levels& L, float s) {
    if (s == 0 || !std::isfinite(s)) return kInfF;
    const NearestValue nearest(L);
    const float inv = 1.0f / s;
    float e = 0;
    for (int i = 0; i < n; ++i) {
        const float d = x[i] - s * nearest(x[i] * inv);
        e += d * d;
    }
    return e;
}

} // namespace

float err_affine(const float* x, int n, int nmax, float s, float m) {
    if (!(s > 0) || !std::isfinite(s)) return kInfF;
    const float inv = 1.0f / s, top = float(nmax);
    float e = 0;
    for (int i = 0; i < n; ++i) {
        const float q = std::min(std::max(round_even((x[i] - m) * inv), 0.0f), top);
        const float d = x[i] - (s * q + m);
        e += d * d;
    }
    return e;
}

namespace {

// Least-squares scale for a fixed assignment: sum(x*l)/sum(l*l).
float ls_scale(const float* x, int n, const Levels& L, const uint8_t* idx) {
    float sxl = 0, sll = 0;
    for (int i = 0; i < n; ++i) {
        const float l = L.v[idx[i]];
        sxl += x[i] * l;
        sll += l * l;
    }
    return sll > 0 ? sxl / sll : 0.0f;
}

// Exact symmetric fit, used for the 3-level (ternary) set where it is cheap: one event per
// element. For an inverse scale t the assignment idx_i(t) = nearest level to x_i * t is
// piecewise constant and changes only where some x_i * t crosses the midpoint of two adjacent
// levels; the optimum (s, idx) has idx = idx(1/s) and s = least squares for idx. So scoring
// sum(x*l)^2/sum(l*l) after every event, in order of t, visits the global optimum. The level
// set must be symmetric (v[0] = -v[n-1]) so that t > 0 covers both signs of s.
void sweep_exact(const float* x, int n, const Levels& L, int z, uint8_t* idx) {
    struct Event {
        float t;
        uint16_t i;
        int8_t dir;
    };
    thread_local std::vector<Event> events;
    events.clear();
    for (int i = 0; i < n; ++i) {
        const float v = x[i];
        if (v > 0) {
            for (int k = z; k + 1 < L.n; ++k) events.push_back({0.5f * float(L.v[k] + L.v[k + 1]) / v, uint16_t(i), 1});
        } else if (v < 0) {
            for (int k = z; k > 0; --k) events.push_back({0.5f * float(L.v[k - 1] + L.v[k]) / v, uint16_t(i), -1});
        }
    }
    std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.t < b.t; });
    uint8_t cur[256];
    double sxl = 0, sll = 0;
    for (int i = 0; i < n; ++i) {
        cur[i] = uint8_t(z);
        sxl += double(x[i]) * L.v[z];
        sll += double(L.v[z]) * L.v[z];
    }
    double best = sll > 0 ? sxl * sxl / sll : 0;
    long best_k = -1; // number of events applied, minus one
    for (size_t k = 0; k < events.size(); ++k) {
        const Event& e = events[k];
        const int from = cur[e.i], to = from + e.dir;
        cur[e.i] = uint8_t(to);
        sxl += double(x[e.i]) * (L.v[to] - L.v[from]);
        sll += double(L.v[to]) * L.v[to] - double(L.v[from]) * L.v[from];
        if (sll > 0 && sxl * sxl / sll > best) best = sxl * sxl / sll, best_k = long(k);
    }
    for (int i = 0; i < n; ++i) idx[i] = uint8_t(z);
    for (long k = 0; k <= best_k; ++k) idx[events[k].i] = uint8_t(idx[events[k].i] + events[k].dir);
}

// Grid search for the other level sets. The element of largest magnitude xm is mapped near
// each end level E (t = E/xm * (1+f)), which covers both signs of s; the best candidate is then
// refined by alternating least squares and re-rounding. Measured against the exact sweep on
// real weights the result is within 0.02% RMSE, at a fraction of the sweep's sorting cost.
void grid_sym(const float* x, int n, const Levels& L, float xm, uint8_t* idx) {
    const bool symmetric = L.v[0] == -L.v[L.n - 1];
    float best = -1, best_t = 0;
    for (int end : {int(L.v[L.n - 1]), int(L.v[0])}) {
        const float t0 = float(end) / xm;
        for (int k = -5; k <= 3; ++k) {
            const float t = t0 * (1.0f + 0.03f * float(k));
            const float sc = score_sym(x, n, L, t);
            if (sc > best) best = sc, best_t = t;
        }
        if (symmetric) break; // the other end gives the same assignments with s negated
    }
    // Finer steps around the winner, then least-squares polish.
    const float t1 = best_t;
    for (int k : {-2, -1, 1, 2}) {
        const float t = t1 * (1.0f + 0.01f * float(k));
        const float sc = score_sym(x, n, L, t);
        if (sc > best) best = sc, best_t = t;
    }
    for (int it = 0; it < 3; ++it) {
        for (int i = 0; i < n; ++i) idx[i] = uint8_t(nearest_level(L, x[i] * best_t));
        const float s = ls_scale(x, n, L, idx);
        if (s == 0) break;
        const float sc = score_sym(x, n, L, 1.0f / s);
        if (!(sc > best)) break;
        best = sc, best_t = 1.0f / s;
    }
    for (int i = 0; i < n; ++i) idx[i] = uint8_t(nearest_level(L, x[i] * best_t));
}

// Least-squares (s, m) for x ~ s*q + m from the sums over the block; m <= 0 when m_nonpos; s >= 0.
// Returns the squared error in closed form from the same sums.
struct AffineSums {
    double n, sx, sxx; // fixed per block
    double sq, sqq, sxq;
};
double ls_affine(const AffineSums& a, bool m_nonpos, float* s, float* m) {
    const double det = a.sqq * a.n - a.sq * a.sq;
    double ss = 0, mm = a.sx / a.n;
    if (det > 0) {
        ss = (a.n * a.sxq - a.sq * a.sx) / det;
        mm = (a.sqq * a.sx - a.sq * a.sxq) / det;
    }
    if (m_nonpos && mm > 0) mm = 0, ss = a.sqq > 0 ? a.sxq / a.sqq : 0;
    if (ss < 0) {
        ss = 0;
        mm = a.sx / a.n;
        if (m_nonpos && mm > 0) mm = 0;
    }
    *s = float(ss);
    *m = float(mm);
    // sum (x - s q - m)^2 expanded.
    return a.sxx - 2 * ss * a.sxq - 2 * mm * a.sx + ss * ss * a.sqq + 2 * ss * mm * a.sq + mm * mm * a.n;
}

} // namespace

Levels linear_levels(int lo, int hi) {
    VKAI_ASSERT(-128 <= lo && lo < hi && hi <= 127, "bad level range %d..%d", lo, hi);
    return Levels{kAllInt8.v + (lo + 128), hi - lo + 1, true, nullptr};
}

Levels table_levels(const int8_t* v, int n, uint8_t* tab) {
    for (int k = 1; k < n; ++k) VKAI_ASSERT(v[k - 1] < v[k], "levels not ascending at %d", k);
    for (int h = -256; h < 256; ++h) {
        const float c = 0.5f * float(h) + 0.25f; // centre of the cell [h/2, h/2 + 1/2)
        int best = 0;
        for (int k = 1; k < n; ++k)
            if (std::fabs(c - float(v[k])) < std::fabs(c - float(v[best]))) best = k;
        tab[h + 256] = uint8_t(best);
    }
    return Levels{v, n, false, tab};
}

double assign_sym(const float* x, int n, const Levels& L, float s, uint8_t* idx) {
    float e = 0;
    if (s == 0 || !std::isfinite(s)) { // callers pass finite scales; 0 decodes everything to 0
        const int z = zero_level(L);
        for (int i = 0; i < n; ++i) idx[i] = uint8_t(z), e += sqf(x[i]);
        return e;
    }
    const float inv = 1.0f / s;
    for (int i = 0; i < n; ++i) {
        const int k = nearest_level(L, x[i] * inv);
        idx[i] = uint8_t(k);
        e += sqf(x[i] - s * float(L.v[k]));
    }
    return e;
}

float fit_sym(const float* x, int n, const Levels& L, uint8_t* idx) {
    VKAI_ASSERT(n > 0 && n <= 256, "fit_sym block of %d", n);
    float xm = 0;
    for (int i = 0; i < n; ++i)
        if (std::fabs(x[i]) > std::fabs(xm)) xm = x[i];
    if (!(std::fabs(xm) > 0) || !std::isfinite(xm)) {
        // All zero (or non-finite input): the nearest-level assignment for a zero scale.
        assign_sym(x, n, L, 0.0f, idx);
        return 0.0f;
    }
    if (L.n == 3 && L.v[0] == -L.v[2]) sweep_exact(x, n, L, 1, idx);
    else grid_sym(x, n, L, xm, idx);
    return ls_scale(x, n, L, idx);
}

uint16_t fp16_finite(float v) {
    uint16_t h = f32_to_fp16(v);
    if ((h & 0x7fff) >= 0x7c00) h = uint16_t((h & 0x8000) | 0x7bff); // inf or nan -> +-65504
    return h;
}

uint16_t scale_to_fp16(float s) {
    uint16_t h = fp16_finite(s);
    if ((h & 0x7fff) == 0 && s != 0) h = uint16_t(h | 1);
    return h;
}

uint16_t best_fp16_scale(const float* x, int n, const Levels& L, float s, uint8_t* idx) {
    const uint16_t h0 = scale_to_fp16(s);
    uint16_t best = h0;
    double best_err = assign_sym(x, n, L, fp16_to_f32(h0), idx);
    if ((h0 & 0x7fff) == 0) return best;
    uint8_t tmp[256];
    for (int dm : {-1, 1}) {
        const int mag = int(h0 & 0x7fff) + dm;
        if (mag <= 0 || mag > 0x7bff) continue;
        const uint16_t h = uint16_t((h0 & 0x8000) | mag);
        const double e = assign_sym(x, n, L, fp16_to_f32(h), tmp);
        if (e < best_err) best_err = e, best = h, std::copy(tmp, tmp + n, idx);
    }
    return best;
}

double assign_affine(const float* x, int n, int nmax, float s, float m, uint8_t* q) {
    float e = 0;
    if (!(s > 0) || !std::isfinite(s)) {
        for (int i = 0; i < n; ++i) q[i] = 0, e += sqf(x[i] - m);
        return e;
    }
    const float inv = 1.0f / s;
    for (int i = 0; i < n; ++i) {
        const int k = round_clamp((x[i] - m) * inv, 0, nmax);
        q[i] = uint8_t(k);
        e += sqf(x[i] - (s * float(k) + m));
    }
    return e;
}

double fit_affine(const float* x, int n, int nmax, bool m_nonpos, float* s, float* m, uint8_t* q) {
    VKAI_ASSERT(n > 0 && n <= 256, "fit_affine block of %d", n);
    float lo = x[0], hi = x[0];
    AffineSums a_sums{double(n), 0, 0, 0, 0, 0};
    for (int i = 0; i < n; ++i) {
        lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
        a_sums.sx += x[i], a_sums.sxx += double(x[i]) * x[i];
    }
    if (m_nonpos) lo = std::min(lo, 0.0f);
    if (!(hi > lo) || !std::isfinite(hi - lo)) {
        // Constant block (non-finite input lands here too): all q = 0 and m = the constant.
        *s = 0;
        *m = std::isfinite(lo) ? lo : 0.0f;
        return assign_affine(x, n, nmax, 0.0f, *m, q);
    }
    // Candidates: the range [lo, hi] mapped onto about nmax +- 1 steps (so that the ends may be
    // clipped or left unused) from starting points shifted by fractions of a step, each fitted
    // by least squares to its integers. On real weights this lands within 0.5% of a brute-force
    // search; the scale-only variant (no shifts) is 2-4% worse.
    double best = kInf;
    const float range = hi - lo, top = float(nmax);
    *s = range / top, *m = lo; // kept if every candidate scores NaN (NaN inputs)
    for (int a = -2; a <= 2; ++a) {
        const float start = lo + 0.3f * float(a) * range / top;
        if (m_nonpos && start > 0) continue;
        for (int k = -2; k <= 2; ++k) {
            const float inv = (top + 0.35f * float(k)) / range;
            float sq = 0, sqq = 0, sxq = 0;
            for (int i = 0; i < n; ++i) {
                const float qi = std::min(std::max(round_even((x[i] - start) * inv), 0.0f), top);
                sq += qi, sqq += qi * qi, sxq += x[i] * qi;
            }
            a_sums.sq = sq, a_sums.sqq = sqq, a_sums.sxq = sxq;
            float s1, m1;
            const double e = ls_affine(a_sums, m_nonpos, &s1, &m1);
            if (e < best) best = e, *s = s1, *m = m1;
        }
    }
    // Alternate re-rounding for the current (s, m) and least squares for the current q.
    best = assign_affine(x, n, nmax, *s, *m, q);
    uint8_t tmp[256];
    for (int it = 0; it < 4; ++it) {
        float sq = 0, sqq = 0, sxq = 0;
        for (int i = 0; i < n; ++i) sq += q[i], sqq += float(q[i]) * q[i], sxq += x[i] * q[i];
        a_sums.sq = sq, a_sums.sqq = sqq, a_sums.sxq = sxq;
        float s1, m1;
        ls_affine(a_sums, m_nonpos, &s1, &m1);
        const double e = assign_affine(x, n, nmax, s1, m1, tmp);
        if (!(e < best)) break;
        best = e, *s = s1, *m = m1;
        std::copy(tmp, tmp + n, q);
    }
    return best;
}

void fit_sym2(const float* x, int nsub, int sub, const Levels& L, int sc_lo, int sc_hi, Sym2Result* out) {
    VKAI_ASSERT(nsub <= 16 && nsub * sub <= 256, "fit_sym2 %d x %d", nsub, sub);
    const int total = nsub * sub;
    float s[16];
    double e_fit[16];    // error of each sub-block's own best scale: a floor for any d*sc
    double zero_err[16]; // error with scale 0 (all elements decode to 0)
    uint8_t idx[256], tmp[256];
    float sbig = 0;
    for (int j = 0; j < nsub; ++j) {
        s[j] = fit_sym(x + j * sub, sub, L, out->idx + j * sub);
        e_fit[j] = assign_sym(x + j * sub, sub, L, s[j], out->idx + j * sub);
        zero_err[j] = assign_sym(x + j * sub, sub, L, 0.0f, tmp);
        if (std::fabs(s[j]) > std::fabs(sbig)) sbig = s[j];
    }
    out->d = 0;
    for (int j = 0; j < nsub; ++j) out->sc[j] = 0;
    if (sbig == 0) return; // all zero: d = 0 decodes zeros whatever the indices

    double best_total = kInf;
    bool have = false;
    int sc[16];
    // The largest sub-block scale maps to either end of the integer range.
    for (int end : {sc_lo, sc_hi}) {
        float d = sbig / float(end);
        for (int it = 0; it < 3; ++it) {
            const uint16_t h = scale_to_fp16(d);
            const float df = fp16_to_f32(h);
            if (!std::isfinite(df)) break;
            double err_total = 0;
            for (int j = 0; j < nsub; ++j) {
                const float* xj = x + j * sub;
                // Nearest integer scale and its neighbours, each scored with its best indices.
                const int c0 = round_clamp(s[j] / df, sc_lo, sc_hi);
                sc[j] = c0; // stays if every score is NaN or overflows
                double best = kInf;
                auto consider = [&](int c) {
                    const double e = c == 0 ? zero_err[j] : err_sym(xj, sub, L, df * float(c));
                    if (e < best) best = e, sc[j] = c;
                };
                for (int c = std::max(c0 - 1, sc_lo); c <= std::min(c0 + 1, sc_hi); ++c) consider(c);
                // A sub-block whose own optimum is far from d's grid (its best fit used other
                // levels than its neighbours') gets every integer scale tried.
                if (best > 1.5 * e_fit[j] + 1e-30)
                    for (int c = sc_lo; c <= sc_hi; ++c)
                        if (c < c0 - 1 || c > c0 + 1) consider(c);
                best = assign_sym(xj, sub, L, df * float(sc[j]), idx + j * sub);
                err_total += best;
            }
            if (!have || err_total < best_total) { // the first is kept even if its error overflowed
                have = true;
                best_total = err_total;
                out->d = h;
                std::copy(sc, sc + nsub, out->sc);
                std::copy(idx, idx + total, out->idx);
            } else if (it > 0) {
                break;
            }
            // Least-squares d for the chosen integers: x ~ d * (sc * level).
            float sxa = 0, saa = 0;
            for (int i = 0; i < total; ++i) {
                const float av = float(sc[i / sub]) * float(L.v[idx[i]]);
                sxa += x[i] * av;
                saa += av * av;
            }
            if (!(saa > 0)) break;
            const float dn = sxa / saa;
            if (scale_to_fp16(dn) == h) break;
            d = dn;
        }
    }
}

void fit_affine2(const float* x, int nsub, int sub, int nmax, int smax, Affine2Result* out) {
    VKAI_ASSERT(nsub <= 16 && nsub * sub <= 256, "fit_affine2 %d x %d", nsub, sub);
    const int total = nsub * sub;
    float s[16], mn[16];
    float smaxv = 0, mmaxv = 0;
    for (int j = 0; j < nsub; ++j) {
        float m;
        fit_affine(x + j * sub, sub, nmax, true, &s[j], &m, out->q + j * sub);
        mn[j] = -m; // >= 0
        smaxv = std::max(smaxv, s[j]);
        mmaxv = std::max(mmaxv, mn[j]);
    }
    double best_total = kInf;
    bool have = false;
    uint8_t q[256], tmp[256];
    int sc[16] = {}, mc[16] = {};

    // For fp16 (d, dmin): each sub-block's integer (sc, mn) from its own fit and the neighbours
    // of that, scored with re-rounded q; the chosen integers go to sc/mc/q. Returns the error.
    auto choose_integers = [&](float df, float dmf) {
        double err_total = 0;
        for (int j = 0; j < nsub; ++j) {
            const float* xj = x + j * sub;
            const int c0 = df > 0 ? round_clamp(s[j] / df, 0, smax) : 0;
            const int m0 = dmf > 0 ? round_clamp(mn[j] / dmf, 0, smax) : 0;
            sc[j] = c0, mc[j] = m0; // stay if every score is NaN or overflows
            double best = kInf;
            for (int c = std::max(c0 - 1, 0); c <= std::min(c0 + 1, smax); ++c) {
                for (int mm = std::max(m0 - 1, 0); mm <= std::min(m0 + 1, smax); ++mm) {
                    // The dequantizers compute (d*sc)*q - (dmin*mn): score exactly that.
                    const float sv = df * float(c), mv = -(dmf * float(mm));
                    const double e = sv > 0 ? err_affine(xj, sub, nmax, sv, mv) : assign_affine(xj, sub, nmax, sv, mv, tmp);
                    if (e < best) best = e, sc[j] = c, mc[j] = mm;
                }
            }
            err_total += assign_affine(xj, sub, nmax, df * float(sc[j]), -(dmf * float(mc[j])), q + j * sub);
        }
        return err_total;
    };

    // Start with the largest sub-block scale (and min) at smax, then alternate the integer
    // choice and least squares for (d, dmin). (More starting points gain ~0.3% RMSE for +40%
    // time: not worth it.)
    float d = smaxv / float(smax), dmin = mmaxv / float(smax);
    for (int it = 0; it < 4; ++it) {
        const uint16_t hd = scale_to_fp16(d), hm = scale_to_fp16(dmin);
        const double err_total = choose_integers(fp16_to_f32(hd), fp16_to_f32(hm));
        if (!have || err_total < best_total) { // the first is kept even if its error overflowed
            have = true;
            best_total = err_total;
            out->d = hd;
            out->dmin = hm;
            std::copy(sc, sc + nsub, out->sc);
            std::copy(mc, mc + nsub, out->mn);
            std::copy(q, q + total, out->q);
        } else {
            break;
        }
        // Least squares for (d, dmin) with the integers fixed: x ~ d*a - dmin*b, a = sc*q, b = mn.
        double saa = 0, sbb = 0, sab = 0, sxa = 0, sxb = 0;
        for (int j = 0; j < nsub; ++j) {
            float pa = 0, paa = 0, pxa = 0, px = 0;
            for (int i = j * sub; i < (j + 1) * sub; ++i) {
                const float qi = q[i];
                pa += qi, paa += qi * qi, pxa += x[i] * qi, px += x[i];
            }
            const double c = sc[j], b = mc[j];
            saa += c * c * paa, sab += c * b * pa, sxa += c * pxa;
            sbb += b * b * sub, sxb += b * px;
        }
        const double det = saa * sbb - sab * sab;
        double dn = 0, en = 0;
        if (det > 0) {
            dn = (sxa * sbb - sab * sxb) / det;
            en = (sab * sxa - saa * sxb) / det;
        }
        if (!(det > 0) || en < 0) en = 0, dn = saa > 0 ? sxa / saa : 0;
        if (!(dn > 0)) break;
        if (scale_to_fp16(float(dn)) == hd && scale_to_fp16(float(en)) == hm) break;
        d = float(dn);
        dmin = float(en);
    }
}

} // namespace vkai::qi
