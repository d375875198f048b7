// Decode matrix-vector speed on a Vulkan device, per weight type and shape, beside the device's
// measured read bandwidth. Two figures per case:
//   independent: many dispatches over distinct copies of the matrix with no dependency between
//                them (the kernel's streaming throughput; the copies exceed the L2 cache);
//   chained:     the same count where each dispatch reads the previous one's output (square
//                matrices only): what a forward pass sees, barrier and drain included.
// VKAI_VK_BASELINE=1 measures the baseline path.
//   vkai-bench-vulkan-matvec [--device N] [--iters N]
#include "base/status.h"
#include "bench_weights.h"
#include "tensor/quant.h"
#include "tensor/tensor.h"
#include "vulkan/vulkan_backend.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace vkai;

namespace {

struct Case {
    DType type;
    int64_t k, m; // row length, rows
};

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

int run(int argc, char** argv) {
    int device = 0, iters = 200;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--device")) device = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--iters")) iters = std::atoi(argv[i + 1]);
    }
    vk::VulkanOptions o;
    o.device = device;
    auto be_r = vk::create_vulkan_backend(o);
    if (!be_r.ok()) {
        std::fprintf(stderr, "vulkan: %s\n", be_r.status().message().c_str());
        return 1;
    }
    Backend& be = **be_r;
    auto bw = be.read_bandwidth();
    const double ceiling = bw.ok() ? *bw : 0;
    const char* base = std::getenv("VKAI_VK_BASELINE");
    std::printf("device %s, %s path, read bandwidth %.0f GB/s\n", be.name().c_str(), base && *base == '1' ? "baseline" : "best", ceiling);
    const Case cases[] = {{DType::Q4_K, 4096, 4096},  {DType::Q4_K, 4096, 14336}, {DType::Q4_K, 14336, 4096}, {DType::Q6_K, 14336, 4096},
                          {DType::Q6_K, 4096, 32000}, {DType::Q8_0, 4096, 4096},  {DType::Q8_0, 4096, 14336}, {DType::Q8_0, 14336, 4096},
                          {DType::F16, 1280, 1280},    {DType::F16, 1280, 5120},  {DType::F16, 1280, 51866}};
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.f, 1.f);
    for (const Case& c : cases) {
        const std::vector<uint8_t> host = bench::random_weights(c.type, c.k, c.m, rng);
        const uint64_t wbytes = host.size();
        const int copies = int(std::max<uint64_t>(2, (512ull << 20) / wbytes)); // > the 50 MB L2
        std::vector<void*> w(static_cast<size_t>(copies)), y(static_cast<size_t>(copies));
        void* x = nullptr;
        bool ok = true;
        for (int i = 0; i < copies && ok; ++i) {
            auto a = be.alloc(wbytes, "w");
            auto b = be.alloc(uint64_t(c.m) * 4, "y");
            ok = a.ok() && b.ok() && be.upload(*a, host.data(), wbytes).ok();
            if (ok) w[size_t(i)] = *a, y[size_t(i)] = *b;
        }
        std::vector<float> xv(size_t(std::max(c.k, c.m)));
        for (float& v : xv) v = nd(rng) * 0.1f;
        if (ok) {
            auto a = be.alloc(uint64_t(xv.size()) * 4, "x");
            ok = a.ok() && be.upload(*a, xv.data(), xv.size() * 4).ok();
            if (ok) x = *a;
        }
        if (!ok) {
            std::printf("%s %lldx%lld: allocation failed\n", dtype_name(c.type), (long long)c.m, (long long)c.k);
            continue;
        }
        Tensor xt = make_tensor(DType::F32, x, c.k);
        auto pass = [&](bool chained) {
            for (int it = 0; it < iters; ++it) {
                const int i = it % copies;
                Tensor wt = make_tensor(c.type, w[size_t(i)], c.k, c.m);
                Tensor yt = make_tensor(DType::F32, chained ? y[size_t((it + 1) % 2)] : y[size_t(i)], c.m);
                Tensor in = chained ? make_tensor(DType::F32, y[size_t(it % 2)], c.k) : xt;
                be.mul_mat(wt, in, yt);
            }
            return be.sync();
        };
        (void)pass(false); // warm up: pipelines, clocks
        double t0 = now_s();
        Status st = pass(false);
        const double ind = now_s() - t0;
        double chain = 0;
        if (c.k == c.m && st.ok()) {
            // Chained needs x = y of the previous dispatch: seed y[0] with x.
            (void)be.upload(y[0], xv.data(), uint64_t(c.k) * 4);
            t0 = now_s();
            st = pass(true);
            chain = now_s() - t0;
        }
        const double gb = double(wbytes) * iters / 1e9;
        std::printf("%-5s %6lld x %-6lld %7.2f MB  independent %7.1f us %6.0f GB/s (%4.1f%%)", dtype_name(c.type), (long long)c.m, (long long)c.k,
                    wbytes / 1e6, ind / iters * 1e6, gb / ind, ceiling > 0 ? 100 * gb / ind / ceiling : 0.0);
        if (chain > 0) std::printf("  chained %7.1f us %6.0f GB/s", chain / iters * 1e6, gb / chain);
        std::printf("%s\n", st.ok() ? "" : ("  ERROR " + st.message()).c_str());
        for (void* p : w) be.free(p);
        for (void* p : y) be.free(p);
        be.free(x);
        (void)be.sync();
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) { return run(argc, argv); }
