#include "cpu/membw.h"

#include "base/timer.h"
#include "cpu/cpu.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace vkai::cpu {
namespace {

// OR-reduce: integer and vectorizable, so the loop is bound by loads, not by an FP add chain.
uint64_t read_plain(const uint64_t* p, size_t n) {
    uint64_t s[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; ++j) s[j] |= p[i + j];
    for (; i < n; ++i) s[0] |= p[i];
    return s[0] | s[1] | s[2] | s[3];
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) uint64_t read_avx2(const uint64_t* p, size_t n) {
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a = _mm256_or_si256(a, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
        b = _mm256_or_si256(b, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 4)));
        c = _mm256_or_si256(c, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 8)));
        d = _mm256_or_si256(d, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 12)));
    }
    a = _mm256_or_si256(_mm256_or_si256(a, b), _mm256_or_si256(c, d));
    uint64_t out[4];
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), a);
    return out[0] | out[1] | out[2] | out[3] | read_plain(p + i, n - i);
}
#endif

} // namespace

double measure_read_bandwidth(ThreadPool& pool, uint64_t bytes, int reps) {
    const size_t n = size_t(bytes / 8) / 64 * 64;
    uint64_t* p = static_cast<uint64_t*>(std::aligned_alloc(64, n * 8));
    if (!p) return 0.0;
    const int nt = pool.size();
    const size_t per = (n / size_t(nt) + 63) / 64 * 64;
    // First touch from the thread that will read each part (NUMA-friendly), values non-zero.
    pool.run(nt, [&](int64_t t, int) {
        const size_t b = std::min(n, size_t(t) * per), e = std::min(n, b + per);
        for (size_t i = b; i < e; ++i) p[i] = i | 1;
    });
#if defined(__x86_64__)
    const bool avx2 = features().avx2;
#endif
    std::vector<uint64_t> sink(size_t(nt), 0);
    std::vector<double> rates;
    for (int r = 0; r < reps; ++r) {
        const double t0 = now_s();
        pool.run(nt, [&](int64_t t, int thread) {
            const size_t b = std::min(n, size_t(t) * per), e = std::min(n, b + per);
#if defined(__x86_64__)
            sink[size_t(thread)] |= avx2 ? read_avx2(p + b, e - b) : read_plain(p + b, e - b);
#else
            sink[size_t(thread)] |= read_plain(p + b, e - b);
#endif
        });
        rates.push_back(double(n * 8) / (now_s() - t0) / 1e9);
    }
    // The median: one lucky or unlucky pass on a shared machine must not set the ceiling.
    std::sort(rates.begin(), rates.end());
    const double best = rates.empty() ? 0.0 : rates[rates.size() / 2];
    volatile uint64_t keep = sink[0];
    (void)keep;
    std::free(p);
    return best;
}

} // namespace vkai::cpu
