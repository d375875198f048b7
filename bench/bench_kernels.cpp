// vkai-bench-kernels: CPU mul_mat speed per weight type against the memory read bandwidth measured
// in the same run, and the cost of decode batches (2-8 columns) against one column on L2-resident rows.
// Usage: vkai-bench-kernels [--threads N] [--json] [--types Q4_K,Q6_K] [--scalar | --simd LEVEL] [--cols 1,2,4,8]
//        vkai-bench-kernels --gemm [--threads N] [--scalar | --simd LEVEL]
// --gemm: the whisper large-v3 encoder's products instead (F16 weights x 1500 columns, and the
// attention of 20 heads of 64 over 1500 positions), in GFLOP/s beside the FMA peak of one core
// measured in the same run (independent FMA chains, 8 and 16 lanes).
#include "base/fp16.h"
#include "base/text.h"
#include "base/thread_pool.h"
#include "base/timer.h"
#include "cpu/cpu.h"
#include "tensor/dtype.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"
#include "tensor/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

using namespace vkai;

namespace {

// Shapes: a 7B-class FFN matrix (k = 4096 in, m = 14336 out). Matvec calls rotate over enough
// copies that every call reads its weights from DRAM (>= 256 MiB in all, 8x a 32 MiB L3).
constexpr int64_t kK = 4096, kM = 14336, kMatmulM = 4096, kMatmulN = 64;
constexpr uint64_t kHotBytes = uint64_t(1) << 20; // per-type rows for the L2 figure: about 1 MiB
constexpr size_t kRotateBytes = size_t(256) << 20;
constexpr size_t kBandwidthBytes = size_t(1) << 30;

const DType kTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                        DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K,
                        DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS};

struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<uint8_t, FreeDeleter>;
Buffer alloc(size_t bytes) {
    void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p) {
        std::fprintf(stderr, "vkai-bench-kernels: cannot allocate %s\n", format_bytes(bytes).c_str());
        std::exit(1);
    }
    return Buffer(static_cast<uint8_t*>(p));
}

uint64_t splitmix(uint64_t& s) {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
float unit(uint64_t r) { return float(int64_t(r >> 40) - (int64_t(1) << 23)) * (1.0f / float(1 << 23)); } // [-1, 1)

// Random weights: floats in [-1, 1) for the float types (no NaN or denormal slow paths),
// random blocks with small f16 scales for the quantized ones.
void fill_weights(DType t, uint8_t* p, size_t bytes, uint64_t seed) {
    uint64_t s = seed;
    if (t == DType::F32) {
        for (size_t i = 0; i + 4 <= bytes; i += 4) {
            float f = unit(splitmix(s));
            std::memcpy(p + i, &f, 4);
        }
        return;
    }
    if (t == DType::F16 || t == DType::BF16) {
        for (size_t i = 0; i + 2 <= bytes; i += 2) {
            float f = unit(splitmix(s));
            uint16_t h = t == DType::F16 ? f32_to_fp16(f) : f32_to_bf16(f);
            std::memcpy(p + i, &h, 2);
        }
        return;
    }
    size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
        uint64_t r = splitmix(s);
        std::memcpy(p + i, &r, 8);
    }
    for (; i < bytes; ++i) p[i] = uint8_t(splitmix(s));
    const uint32_t bb = dtype_info(t).block_bytes;
    const std::vector<size_t> fields = block_f16_fields(t);
    for (size_t b = 0; b + bb <= bytes; b += bb)
        for (size_t off : fields) {
            uint16_t h = f32_to_fp16(0.001f + 0.01f * std::abs(unit(splitmix(s))));
            std::memcpy(p + b + off, &h, 2);
        }
}

// ---- memory read bandwidth ------------------------------------------------------------------

#if defined(__x86_64__)
__attribute__((target("avx2"))) float sum_avx2(const float* p, size_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    const size_t n32 = n / 32 * 32;
    size_t i = 0;
    for (; i < n32; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
        a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
    }
    __m256 a = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    alignas(32) float t[8];
    _mm256_store_ps(t, a);
    float s = 0;
    for (float v : t) s += v;
    for (; i < n; ++i) s += p[i];
    return s;
}
#endif

float sum_plain(const float* p, size_t n) {
    float s[8] = {};
    const size_t n8 = n / 8 * 8;
    size_t i = 0;
    for (; i < n8; i += 8)
        for (int j = 0; j < 8; ++j) s[j] += p[i + j];
    for (; i < n; ++i) s[0] += p[i];
    return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

// Read bandwidth measured like the matvec: "calls" that each read one 64 MiB slice of a 1 GiB
// buffer (rotating, so every call reads DRAM), handed out in 4 MiB tasks like the matvec rows.
// Returns GB/s of the fastest and of the median call.
struct Bandwidth {
    double best = 0, median = 0;
};
Bandwidth read_bandwidth(ThreadPool& pool) {
    const size_t n = kBandwidthBytes / sizeof(float), slice_n = (size_t(64) << 20) / sizeof(float);
    const size_t task_n = (size_t(4) << 20) / sizeof(float);
    Buffer buf = alloc(kBandwidthBytes);
    float* p = reinterpret_cast<float*>(buf.get());
    pool.parallel_for(int64_t(n), 1 << 20, [&](int64_t b, int64_t e, int) {
        for (int64_t i = b; i < e; ++i) p[i] = float(i & 1023) * 1e-3f;
    });
#if defined(__x86_64__)
    const bool avx2 = cpu::features().avx2;
#endif
    std::vector<float> sink(size_t(pool.size()), 0.0f);
    std::vector<double> gbs;
    for (int call = 0; call < 48; ++call) {
        const float* slice = p + size_t(call % int(n / slice_n)) * slice_n;
        double t0 = now_s();
        pool.run(int64_t(slice_n / task_n), [&](int64_t task, int thread) {
            const float* q = slice + size_t(task) * task_n;
#if defined(__x86_64__)
            sink[size_t(thread)] += avx2 ? sum_avx2(q, task_n) : sum_plain(q, task_n);
#else
            sink[size_t(thread)] += sum_plain(q, task_n);
#endif
        });
        gbs.push_back(double(slice_n * sizeof(float)) / (now_s() - t0) / 1e9);
    }
    if (sink[0] == 12345.0f) std::printf(" "); // keeps the sums observable
    std::sort(gbs.begin(), gbs.end());
    return {gbs.back(), gbs[gbs.size() / 2]};
}

// ---- mul_mat timings ------------------------------------------------------------------------

struct Timing {
    double best = 0, median = 0; // seconds per call
};

// Calls fn(i) at least min_calls times and for at least min_s seconds, after 2 warm-up calls.
template <class F>
Timing time_calls(F&& fn, int min_calls, double min_s) {
    std::vector<double> t;
    for (int i = 0; i < 2; ++i) fn(i); // pool wake-up, page faults of x and y
    const double start = now_s();
    for (int i = 0; (int(t.size()) < min_calls || now_s() - start < min_s) && t.size() < 5000; ++i) {
        double t0 = now_s();
        fn(i);
        t.push_back(now_s() - t0);
    }
    std::sort(t.begin(), t.end());
    return {t.front(), t[t.size() / 2]};
}

// Column counts of the decode-batch figures (--cols).
std::vector<int> g_cols = {1, 2, 4, 8};

struct TypeResult {
    DType type;
    uint64_t matrix_bytes = 0;
    int64_t hot_rows = 0;
    Timing mv, mv_1t, hot, mm;
    std::vector<Timing> batch; // per g_cols entry: 1 thread, L2-resident rows
    double gbs(double sec) const { return double(matrix_bytes) / sec * 1e-9; }
};

TypeResult bench_type(DType t, ThreadPool& pool, ThreadPool& pool1) {
    TypeResult r;
    r.type = t;
    const uint64_t row = *row_bytes(t, uint64_t(kK));
    r.matrix_bytes = row * uint64_t(kM);
    const size_t copies = std::max<size_t>(1, (kRotateBytes + r.matrix_bytes - 1) / r.matrix_bytes);
    Buffer w = alloc(size_t(r.matrix_bytes) * copies);
    fill_weights(t, w.get(), size_t(r.matrix_bytes) * copies, 42 + uint64_t(t));

    std::vector<float> xv(size_t(kK * kMatmulN)), yv(size_t(kM * kMatmulN));
    uint64_t s = 7;
    for (float& v : xv) v = unit(splitmix(s));
    Tensor x1 = make_tensor(DType::F32, xv.data(), kK, 1), y1 = make_tensor(DType::F32, yv.data(), kM, 1);
    auto matvec = [&](ThreadPool& p, int i) {
        Tensor wt = make_tensor(t, w.get() + size_t(i % int(copies)) * r.matrix_bytes, kK, kM);
        cpu::mul_mat(wt, x1, y1, p);
    };
    r.mv = time_calls([&](int i) { matvec(pool, i); }, 30, 0.5);
    r.mv_1t = time_calls([&](int i) { matvec(pool1, i); }, 10, 0.3);

    // The same matvec on ~1 MiB of rows that stay in L2: the kernel's arithmetic ceiling on one core.
    r.hot_rows = int64_t(std::max<uint64_t>(16, kHotBytes / row));
    Tensor wh = make_tensor(t, w.get(), kK, r.hot_rows), yh = make_tensor(DType::F32, yv.data(), r.hot_rows, 1);
    r.hot = time_calls([&](int) { cpu::mul_mat(wh, x1, yh, pool1); }, 200, 0.2);

    // Decode batches: n columns against the same L2-resident rows, 1 thread (compute, not memory).
    for (int n : g_cols) {
        Tensor xb = make_tensor(DType::F32, xv.data(), kK, n), yb = make_tensor(DType::F32, yv.data(), r.hot_rows, n);
        r.batch.push_back(time_calls([&](int) { cpu::mul_mat(wh, xb, yb, pool1); }, 100, 0.2));
    }

    // Prompt processing: kMatmulN columns against the first kMatmulM rows.
    Tensor wm = make_tensor(t, w.get(), kK, kMatmulM);
    Tensor xn = make_tensor(DType::F32, xv.data(), kK, kMatmulN), yn = make_tensor(DType::F32, yv.data(), kMatmulM, kMatmulN);
    r.mm = time_calls([&](int) { cpu::mul_mat(wm, xn, yn, pool); }, 3, 0.3);
    return r;
}

std::string cpu_model();

// ---- --gemm: whisper encoder shapes ---------------------------------------------------------

// Peak f32 FMA rate of one core: 12 independent chains of vfmadd per iteration.
#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) double fma_peak_avx2(int64_t iters) {
    __m256 a[12];
    for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps(float(i) * 1e-3f);
    const __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (int64_t it = 0; it < iters; ++it)
        for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], b, c);
    __m256 s = a[0];
    for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, a[i]);
    return double(_mm256_cvtss_f32(s));
}
__attribute__((target("avx512f"))) double fma_peak_avx512(int64_t iters) {
    __m512 a[16];
    for (int i = 0; i < 16; ++i) a[i] = _mm512_set1_ps(float(i) * 1e-3f);
    const __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int64_t it = 0; it < iters; ++it)
        for (int i = 0; i < 16; ++i) a[i] = _mm512_fmadd_ps(a[i], b, c);
    __m512 s = a[0];
    for (int i = 1; i < 16; ++i) s = _mm512_add_ps(s, a[i]);
    alignas(64) float t[16]; // (not _mm512_reduce_add_ps: GCC 12 warns inside it)
    _mm512_store_ps(t, s);
    double sum = 0;
    for (float f : t) sum += f;
    return sum;
}
#endif

// GFLOP/s of one core's FMA chains (best of 5 runs of ~0.1 s); 0 where the CPU lacks the ISA.
double fma_gflops(bool wide) {
#if defined(__x86_64__)
    const bool ok = wide ? __builtin_cpu_supports("avx512f") : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"));
    if (!ok) return 0;
    const int lanes = wide ? 16 : 8, chains = wide ? 16 : 12;
    const int64_t iters = 4000000;
    double best = 0, sink = 0;
    for (int r = 0; r < 5; ++r) {
        const double t0 = now_s();
        sink += wide ? fma_peak_avx512(iters) : fma_peak_avx2(iters);
        best = std::max(best, 2.0 * lanes * chains * double(iters) / (now_s() - t0) * 1e-9);
    }
    if (sink == 12345.0) std::printf(" ");
    return best;
#else
    (void)wide;
    return 0;
#endif
}

// Best thread CPU time of fn() over at least min_calls calls and min_s seconds: on a shared machine
// the time this thread ran, not the time it waited for a core (1-thread pools run on the caller).
template <class F>
double best_cpu_s(F&& fn, int min_calls, double min_s) {
    auto cpu_now = [] {
        timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
    };
    fn();
    double best = 1e30;
    const double start = now_s();
    for (int i = 0; i < min_calls || now_s() - start < min_s; ++i) {
        const double t0 = cpu_now();
        fn();
        best = std::min(best, cpu_now() - t0);
    }
    return best;
}

int run_gemm(int threads) {
    ThreadPool pool(threads), pool1(1);
    const double peak8 = fma_gflops(false), peak16 = fma_gflops(true);
    std::printf("vkai-bench-kernels --gemm: %s, path %s, %d threads\n", cpu_model().c_str(), cpu::simd_name(), threads);
    std::printf("FMA peak of one core (independent chains): 8 lanes %.1f GFLOP/s, 16 lanes %.1f GFLOP/s\n", peak8, peak16);
    const double peak = std::max(peak8, peak16);
    std::printf("1t: one thread, best wall time; cpu: its best thread CPU time (what a shared machine's\n"
                "preemption does not count); %dt: the pool of --threads, best wall time.\n", threads);
    std::printf("%-34s | %8s %8s %9s %6s | %8s %9s %8s\n", "product", "1t ms", "cpu ms", "GFLOP/s", "%peak", strf("%dt ms", threads).c_str(),
                "GFLOP/s", "per thr");
    auto line = [&](const std::string& name, double flop, const Timing& t1, double cpu1, const Timing& tn) {
        const double g = flop / cpu1 * 1e-9;
        std::printf("%-34s | %8.1f %8.1f %9.1f %5.0f%% | %8.1f %9.1f %8.1f\n", name.c_str(), t1.best * 1e3, cpu1 * 1e3, g,
                    peak > 0 ? 100 * g / peak : 0.0, tn.best * 1e3, flop / tn.best * 1e-9, flop / tn.best * 1e-9 / threads);
        std::fflush(stdout);
    };
    const int64_t n = 1500;
    struct Shape {
        int64_t k, m;
        const char* what;
    };
    for (const Shape& sh : {Shape{1280, 1280, "q/k/v/o"}, Shape{1280, 5120, "fc1"}, Shape{5120, 1280, "fc2"}}) {
        std::vector<uint16_t> w(size_t(sh.k * sh.m));
        uint64_t s = 11;
        for (uint16_t& h : w) h = f32_to_fp16(0.05f * unit(splitmix(s)));
        std::vector<float> x(size_t(sh.k * n)), y(size_t(sh.m * n));
        for (float& v : x) v = unit(splitmix(s));
        Tensor wt = make_tensor(DType::F16, w.data(), sh.k, sh.m), xt = make_tensor(DType::F32, x.data(), sh.k, n),
               yt = make_tensor(DType::F32, y.data(), sh.m, n);
        const double flop = 2.0 * double(sh.k) * double(sh.m) * double(n);
        const Timing t1 = time_calls([&](int) { cpu::mul_mat(wt, xt, yt, pool1); }, 2, 0.5);
        const double c1 = best_cpu_s([&] { cpu::mul_mat(wt, xt, yt, pool1); }, 3, 0.5);
        const Timing tn = time_calls([&](int) { cpu::mul_mat(wt, xt, yt, pool); }, 3, 0.5);
        line(strf("F16 %s k=%lld m=%lld n=%lld", sh.what, (long long)sh.k, (long long)sh.m, (long long)n), flop, t1, c1, tn);
    }
    { // encoder self-attention: q, k, v (64, 20, 1500) f32, a zero mask
        const int64_t hd = 64, nh = 20;
        std::vector<float> q(size_t(hd * nh * n)), k(q.size()), v(q.size()), o(q.size()), mask(size_t(n * n), 0.0f);
        uint64_t s = 5;
        for (float& f : q) f = unit(splitmix(s));
        for (float& f : k) f = unit(splitmix(s));
        for (float& f : v) f = unit(splitmix(s));
        Tensor qt = make_tensor(DType::F32, q.data(), hd, nh, n), kt = make_tensor(DType::F32, k.data(), hd, nh, n),
               vt = make_tensor(DType::F32, v.data(), hd, nh, n), ot = make_tensor(DType::F32, o.data(), hd, nh, n),
               mt = make_tensor(DType::F32, mask.data(), n, n);
        const double flop = 4.0 * double(hd) * double(nh) * double(n) * double(n);
        const Timing t1 = time_calls([&](int) { cpu::attention(qt, kt, vt, mt, 0.125f, ot, pool1); }, 2, 0.5);
        const double c1 = best_cpu_s([&] { cpu::attention(qt, kt, vt, mt, 0.125f, ot, pool1); }, 3, 0.5);
        const Timing tn = time_calls([&](int) { cpu::attention(qt, kt, vt, mt, 0.125f, ot, pool); }, 3, 0.5);
        line("attention 64 x 20 heads x 1500^2", flop, t1, c1, tn);
    }
    return 0;
}

std::string cpu_model() {
    FILE* f = std::fopen("/proc/cpuinfo", "r");
    if (!f) return "unknown CPU";
    char line[512];
    std::string model = "unknown CPU";
    while (std::fgets(line, sizeof line, f)) {
        if (std::strncmp(line, "model name", 10) != 0) continue;
        const char* c = std::strchr(line, ':');
        if (c) model = c + 2;
        while (!model.empty() && (model.back() == '\n' || model.back() == ' ')) model.pop_back();
        break;
    }
    std::fclose(f);
    return model;
}

void usage() {
    std::fprintf(stderr, "usage: vkai-bench-kernels [--threads N] [--json] [--types T1,T2,...] [--scalar | --simd avx2|avxvnni|avx512vnni]"
                         " [--cols 1,2,4,8]\n"
                         "       vkai-bench-kernels --gemm [--threads N] [--scalar | --simd avx2|avxvnni|avx512vnni]\n");
}

} // namespace

int main(int argc, char** argv) {
    int threads = ThreadPool::default_threads();
    bool json = false, gemm = false;
    std::vector<DType> types(std::begin(kTypes), std::end(kTypes));
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--threads" && i + 1 < argc) {
            threads = std::atoi(argv[++i]);
            if (threads <= 0) return usage(), 2;
        } else if (a == "--json") {
            json = true;
        } else if (a == "--gemm") {
            gemm = true;
        } else if (a == "--scalar") {
            cpu::force_scalar(true);
        } else if (a == "--simd" && i + 1 < argc) {
            const std::string l = argv[++i];
            if (l == "avx2") cpu::limit_simd(cpu::SimdLevel::avx2);
            else if (l == "avxvnni") cpu::limit_simd(cpu::SimdLevel::avxvnni);
            else if (l != "avx512vnni") return usage(), 2;
        } else if (a == "--cols" && i + 1 < argc) {
            g_cols.clear();
            for (const char* p = argv[++i]; *p;) {
                char* end = nullptr;
                const long v = std::strtol(p, &end, 10);
                if (end == p || v < 1 || v > int(kMatmulN)) return usage(), 2;
                g_cols.push_back(int(v));
                p = *end == ',' ? end + 1 : end;
                if (*end != ',' && *end) return usage(), 2;
            }
        } else if (a == "--types" && i + 1 < argc) {
            types.clear();
            std::string list = argv[++i];
            for (size_t b = 0; b <= list.size();) {
                size_t e = list.find(',', b);
                if (e == std::string::npos) e = list.size();
                auto dt = dtype_from_name(list.substr(b, e - b));
                if (!dt || !cpu::supports_mul_mat(*dt)) {
                    std::fprintf(stderr, "vkai-bench-kernels: unknown or unsupported type '%s'\n", list.substr(b, e - b).c_str());
                    return 2;
                }
                types.push_back(*dt);
                b = e + 1;
            }
        } else {
            return usage(), 2;
        }
    }

    if (gemm) return run_gemm(threads);
    ThreadPool pool(threads), pool1(1);
    const Bandwidth bw = read_bandwidth(pool), bw1 = read_bandwidth(pool1);
    const double flop = 2.0 * double(kK) * double(kMatmulM) * double(kMatmulN);
    if (!json) {
        std::printf("vkai-bench-kernels: %s, path %s, %d threads\n", cpu_model().c_str(), cpu::simd_name(), threads);
        std::printf("memory read bandwidth (AVX2 sum of 64 MiB slices of 1 GiB, median / best of 48): %d threads %.1f / %.1f GB/s, "
                    "1 thread %.1f / %.1f GB/s\n", threads, bw.median, bw.best, bw1.median, bw1.best);
        std::printf("matvec: k=%lld m=%lld, %d MiB of copies rotated so weights come from DRAM; GB/s = weight bytes / time per call,\n"
                    "median (med) and fastest (best) call; %%bw = against the read bandwidth of the same thread count and statistic.\n"
                    "L2: 1 thread, ~1 MiB of rows that stay in L2 (arithmetic ceiling). n=%lld: GFLOP/s of a %lld x %lld x %lld product.\n"
                    "bN: 1 thread, N columns against the L2 rows: time / time of 1 column (1.0 = free, N = no sharing).\n\n",
                    (long long)kK, (long long)kM, int(kRotateBytes >> 20), (long long)kMatmulN, (long long)kMatmulM, (long long)kK,
                    (long long)kMatmulN);
        std::printf("%-7s %6s | %7s %6s %5s %6s %5s | %7s %6s %5s | %6s | %8s |", "type", "MB", "us med", "GB/s", "%bw", "best", "%bw",
                    "us 1t", "GB/s", "%bw", "L2", "GFLOP/s");
        for (int n : g_cols) std::printf(" %5s", ("b" + std::to_string(n)).c_str());
        std::printf("\n");
    }
    std::vector<TypeResult> results;
    for (DType t : types) {
        TypeResult r = bench_type(t, pool, pool1);
        results.push_back(r);
        if (!json) {
            std::printf("%-7s %6.1f | %7.0f %6.1f %4.0f%% %6.1f %4.0f%% | %7.0f %6.1f %4.0f%% | %6.1f | %8.1f |", dtype_name(t),
                        double(r.matrix_bytes) / 1e6, r.mv.median * 1e6, r.gbs(r.mv.median), 100 * r.gbs(r.mv.median) / bw.median,
                        r.gbs(r.mv.best), 100 * r.gbs(r.mv.best) / bw.best, r.mv_1t.median * 1e6, r.gbs(r.mv_1t.median),
                        100 * r.gbs(r.mv_1t.median) / bw1.median, r.gbs(r.hot.best) * double(r.hot_rows) / double(kM),
                        flop / r.mm.best * 1e-9);
            // The line continues with the batch ratios.
            for (const Timing& b : r.batch) std::printf(" %5.2f", b.best / r.batch.front().best);
            std::printf("\n");
            std::fflush(stdout);
        }
    }
    if (json) {
        std::printf("{\"cpu\": \"%s\", \"path\": \"%s\", \"threads\": %d, \"read_bw_gbs\": {\"median\": %.2f, \"best\": %.2f}, "
                    "\"read_bw_1t_gbs\": {\"median\": %.2f, \"best\": %.2f}, \"k\": %lld, \"m\": %lld,\n \"results\": [\n",
                    json_escape(cpu_model()).c_str(), cpu::simd_name(), threads, bw.median, bw.best, bw1.median, bw1.best,
                    (long long)kK, (long long)kM);
        for (size_t i = 0; i < results.size(); ++i) {
            const TypeResult& r = results[i];
            std::printf("  {\"type\": \"%s\", \"bytes\": %llu, \"us_median\": %.1f, \"us_best\": %.1f, \"gbs_median\": %.2f, "
                        "\"gbs_best\": %.2f, \"pct_bw_median\": %.1f, \"pct_bw_best\": %.1f, \"us_1t_median\": %.1f, "
                        "\"gbs_1t_median\": %.2f, \"pct_bw_1t_median\": %.1f, \"l2_gbs_1t\": %.2f, \"matmul_n%lld_gflops\": %.2f, \"batch_us\": {",
                        dtype_name(r.type), (unsigned long long)r.matrix_bytes, r.mv.median * 1e6, r.mv.best * 1e6,
                        r.gbs(r.mv.median), r.gbs(r.mv.best), 100 * r.gbs(r.mv.median) / bw.median, 100 * r.gbs(r.mv.best) / bw.best,
                        r.mv_1t.median * 1e6, r.gbs(r.mv_1t.median), 100 * r.gbs(r.mv_1t.median) / bw1.median,
                        r.gbs(r.hot.best) * double(r.hot_rows) / double(kM), (long long)kMatmulN, flop / r.mm.best * 1e-9);
            for (size_t j = 0; j < r.batch.size(); ++j) std::printf("%s\"%d\": %.2f", j ? ", " : "", g_cols[j], r.batch[j].best * 1e6);
            std::printf("}}%s\n", i + 1 < results.size() ? "," : "");
        }
        std::printf(" ]}\n");
    }
    return 0;
}
