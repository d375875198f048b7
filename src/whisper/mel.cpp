#include "whisper/mel.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace vkai::whisper {
namespace {

using cd = std::complex<double>;

// a * b without std::complex's NaN/inf recovery (a libgcc call per product without
// -fcx-limited-range): the FFT's operands are finite.
inline cd mul(cd a, cd b) { return {a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real()}; }

// Decimation in time over the smallest factor p of n: p interleaved sub-FFTs of n/p, then
// X[k + q n/p] = sum_r W_n^{r (k + q n/p)} Y_r[k]. A prime n is a direct DFT.
// tw holds the N roots W_N^j of the top-level size N; a sub-size n divides N, so W_n^e = tw[e N/n].
void fft_rec(const cd* in, size_t stride, size_t n, cd* out, const cd* tw, size_t N) {
    if (n == 1) {
        out[0] = in[0];
        return;
    }
    size_t p = 0;
    for (size_t f : {2, 3, 5, 7})
        if (n % f == 0) {
            p = f;
            break;
        }
    const size_t step = N / n;
    if (!p || p == n) { // prime: a direct DFT (for 2..7 the leaves, not n calls of size 1)
        for (size_t k = 0; k < n; ++k) {
            cd s = 0;
            for (size_t j = 0; j < n; ++j) s += mul(in[j * stride], tw[(j * k) % n * step]);
            out[k] = s;
        }
        return;
    }
    const size_t m = n / p;
    for (size_t r = 0; r < p; ++r) fft_rec(in + r * stride, stride * p, m, out + r * m, tw, N);
    // X[k + q m] = sum_r W_p^{r q} (W_n^{r k} Y_r[k]): twiddle the p values of each k (r k < n, no
    // reduction needed), then a p-point DFT, its exponent r q mod p kept incrementally (no division
    // in the inner loop: the modulo per term was ~3/4 of a 400-point transform).
    const size_t pstep = N / p; // W_p^j = tw[j * pstep]
    for (size_t k = 0; k < m; ++k) {
        cd t[7];
        for (size_t r = 0; r < p; ++r) t[r] = mul(out[r * m + k], tw[r * k * step]);
        cd x[7];
        for (size_t q = 0; q < p; ++q) {
            cd s = 0;
            size_t e = 0; // r q mod p
            for (size_t r = 0; r < p; ++r) {
                s += mul(t[r], tw[e * pstep]);
                e += q;
                if (e >= p) e -= p;
            }
            x[q] = s;
        }
        for (size_t q = 0; q < p; ++q) out[k + q * m] = x[q];
    }
}

double hz_to_mel(double f) { // slaney: linear below 1 kHz, logarithmic above
    const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp, logstep = std::log(6.4) / 27.0;
    return f >= min_log_hz ? min_log_mel + std::log(f / min_log_hz) / logstep : f / f_sp;
}

double mel_to_hz(double m) {
    const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp, logstep = std::log(6.4) / 27.0;
    return m >= min_log_mel ? min_log_hz * std::exp(logstep * (m - min_log_mel)) : f_sp * m;
}

} // namespace

void fft(std::vector<cd>& x) {
    const size_t n = x.size();
    if (n <= 1) return;
    // Roots of unity, cached per size (each thread computing mel frames keeps its own).
    thread_local std::vector<cd> tw;
    if (tw.size() != n) {
        tw.resize(n);
        for (size_t j = 0; j < n; ++j) tw[j] = std::polar(1.0, -2.0 * std::numbers::pi * double(j) / double(n));
    }
    thread_local std::vector<cd> in;
    in.assign(x.begin(), x.end());
    fft_rec(in.data(), 1, n, x.data(), tw.data(), n);
}

std::vector<float> mel_filterbank(int n_mels, int sample_rate, int n_fft) {
    const int n_freq = n_fft / 2 + 1;
    std::vector<double> mel_f(size_t(n_mels + 2));
    const double lo = hz_to_mel(0.0), hi = hz_to_mel(sample_rate / 2.0);
    for (int i = 0; i < n_mels + 2; ++i) mel_f[size_t(i)] = mel_to_hz(lo + (hi - lo) * i / (n_mels + 1));
    std::vector<float> w(size_t(n_mels) * size_t(n_freq));
    for (int m = 0; m < n_mels; ++m) {
        const double enorm = 2.0 / (mel_f[size_t(m + 2)] - mel_f[size_t(m)]);
        const double d0 = mel_f[size_t(m + 1)] - mel_f[size_t(m)], d1 = mel_f[size_t(m + 2)] - mel_f[size_t(m + 1)];
        for (int k = 0; k < n_freq; ++k) {
            const double f = double(k) * sample_rate / n_fft; // linspace(0, sr/2, n_freq)
            const double lower = (f - mel_f[size_t(m)]) / d0, upper = (mel_f[size_t(m + 2)] - f) / d1;
            w[size_t(m) * size_t(n_freq) + size_t(k)] = float(std::max(0.0, std::min(lower, upper)) * enorm);
        }
    }
    return w;
}

Result<Mel> log_mel(std::span<const float> audio, std::span<const float> filters, int n_mels, ThreadPool& pool) {
    if (n_mels < 1 || filters.size() != size_t(n_mels) * kNFreq)
        return fail(Code::invalid_argument, "mel filters: %zu values, expected %d mels x %d bins", filters.size(), n_mels, kNFreq);
    const int64_t n = int64_t(audio.size());
    const int64_t padded = n + kChunkSamples; // the reference appends 30 s of zeros
    Mel mel;
    mel.n_mels = n_mels;
    mel.n_frames = padded / kHop;
    if (uint64_t(mel.n_frames) * uint64_t(n_mels) > (1ull << 33))
        return fail(Code::invalid_argument, "audio of %lld samples is too long for one spectrogram", (long long)n);
    mel.data.assign(size_t(mel.n_frames) * size_t(n_mels), 0.0f);
    // Sample i of the padded, centered signal: reflect at the start (x[-i] = x[i]), zeros past the end
    // (the right edge is inside the 30 s of zero padding, whose reflection is zeros too).
    auto sample = [&](int64_t i) -> double {
        if (i < 0) i = -i;
        if (i >= padded) i = 2 * (padded - 1) - i;
        return i < n && i >= 0 ? double(audio[size_t(i)]) : 0.0;
    };
    // Each filter's nonzero bins (a triangle: ~2 % of its row); skipping the zeros adds nothing and
    // changes nothing (every term is >= 0), but the filterbank was ~3/4 of the work.
    std::vector<std::pair<int, int>> nz(size_t(n_mels), {0, 0});
    for (int m = 0; m < n_mels; ++m) {
        const float* f = filters.data() + size_t(m) * kNFreq;
        int lo = 0, hi = kNFreq;
        while (lo < hi && f[lo] == 0.0f) ++lo;
        while (hi > lo && f[hi - 1] == 0.0f) --hi;
        nz[size_t(m)] = {lo, hi};
    }
    std::vector<double> window(kNFft);
    for (int i = 0; i < kNFft; ++i) window[size_t(i)] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * i / kNFft); // periodic Hann
    pool.parallel_for(mel.n_frames, 16, [&](int64_t b, int64_t e, int) {
        std::vector<cd> buf(kNFft);
        std::vector<double> power(kNFreq);
        for (int64_t t = b; t < e; ++t) {
            const int64_t start = t * kHop - kNFft / 2;
            for (int i = 0; i < kNFft; ++i) buf[size_t(i)] = sample(start + i) * window[size_t(i)];
            fft(buf);
            for (int k = 0; k < kNFreq; ++k) power[size_t(k)] = std::norm(buf[size_t(k)]);
            for (int m = 0; m < n_mels; ++m) {
                const float* f = filters.data() + size_t(m) * kNFreq;
                double s = 0;
                for (int k = nz[size_t(m)].first; k < nz[size_t(m)].second; ++k) s += double(f[k]) * power[size_t(k)];
                mel.data[size_t(m) * size_t(mel.n_frames) + size_t(t)] = float(std::log10(std::max(s, 1e-10)));
            }
        }
    });
    float mx = -INFINITY;
    for (float v : mel.data) mx = std::max(mx, v);
    for (float& v : mel.data) v = (std::max(v, mx - 8.0f) + 4.0f) / 4.0f;
    return mel;
}

} // namespace vkai::whisper
