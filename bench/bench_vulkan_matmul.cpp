// Many-column matmul speed on a Vulkan device (the prompt / encoder path: tensor cores where the
// device has them, else the tiled f32 kernel), per weight type and shape, in TFLOP/s beside the
// device's measured f32 FMA rate. Shapes: the 7B LLM's projections at 512 prompt tokens and
// whisper large-v3-turbo's encoder projections at 1500 positions.
// VKAI_VK_BASELINE=1 measures the baseline path; VKAI_VK_CM picks a tensor-core variant (vk_ops.cpp).
//   vkai-bench-vulkan-matmul [--device N] [--iters N] [--json]
#include "base/status.h"
#include "bench_weights.h"
#include "tensor/quant.h"
#include "tensor/tensor.h"
#include "vulkan/vk_flops.h"
#include "vulkan/vulkan_backend.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

using namespace vkai;

namespace {

struct Case {
    DType type;
    int64_t k, m, n; // row length, rows, columns
    const char* what;
};

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

int run(int argc, char** argv) {
    int device = 0, iters = 20;
    bool json = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--device") && i + 1 < argc) device = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--iters") && i + 1 < argc) iters = std::max(1, std::atoi(argv[++i]));
        else if (!std::strcmp(argv[i], "--json")) json = true;
    }
    vk::VulkanOptions o;
    o.device = device;
    auto be_r = vk::create_vulkan_backend(o);
    if (!be_r.ok()) {
        std::fprintf(stderr, "vulkan: %s\n", be_r.status().message().c_str());
        return 1;
    }
    Backend& be = **be_r;
    auto fl = vk::measure_f32_flops(device);
    const double fma = fl.ok() ? *fl : 0;
    const char* base = std::getenv("VKAI_VK_BASELINE");
    const char* cm = std::getenv("VKAI_VK_CM");
    if (!json)
        std::printf("device %s, %s path%s%s, f32 FMA %.1f TFLOP/s\n", be.name().c_str(), base && *base == '1' ? "baseline" : "best",
                    cm ? ", variant " : "", cm ? cm : "", fma / 1e12);
    const Case cases[] = {{DType::Q4_K, 4096, 4096, 512, "7B q/o"},        {DType::Q4_K, 4096, 14336, 512, "7B gate/up"},
                          {DType::Q6_K, 14336, 4096, 512, "7B down"},      {DType::Q8_0, 4096, 4096, 512, "8B q/o"},
                          {DType::F16, 1280, 1280, 1500, "whisper q/k/v/o"}, {DType::F16, 1280, 5120, 1500, "whisper fc1"},
                          {DType::F16, 5120, 1280, 1500, "whisper fc2"}};
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.f, 1.f);
    for (const Case& c : cases) {
        const std::vector<uint8_t> host = bench::random_weights(c.type, c.k, c.m, rng);
        const uint64_t wbytes = host.size();
        std::vector<float> xv(size_t(c.k * c.n));
        for (float& v : xv) v = nd(rng) * 0.1f;
        auto w = be.alloc(wbytes, "w");
        auto x = be.alloc(xv.size() * 4, "x");
        auto y = be.alloc(uint64_t(c.m * c.n) * 4, "y");
        if (!w.ok() || !x.ok() || !y.ok() || !be.upload(*w, host.data(), wbytes).ok() || !be.upload(*x, xv.data(), xv.size() * 4).ok()) {
            std::printf("%s %lldx%lld: allocation failed\n", dtype_name(c.type), (long long)c.m, (long long)c.k);
            continue;
        }
        Tensor wt = make_tensor(c.type, *w, c.k, c.m), xt = make_tensor(DType::F32, *x, c.k, c.n), yt = make_tensor(DType::F32, *y, c.m, c.n);
        auto pass = [&](int count) {
            for (int it = 0; it < count; ++it) be.mul_mat(wt, xt, yt);
            return be.sync();
        };
        (void)pass(2); // warm up: pipelines, clocks
        const double t0 = now_s();
        const Status st = pass(iters);
        const double sec = (now_s() - t0) / iters;
        const double tflops = 2.0 * double(c.k) * double(c.m) * double(c.n) / sec / 1e12;
        if (json)
            std::printf("{\"type\":\"%s\",\"k\":%lld,\"m\":%lld,\"n\":%lld,\"us\":%.1f,\"tflops\":%.2f,\"fma_tflops\":%.2f,\"variant\":\"%s\",\"ok\":%s}\n",
                        dtype_name(c.type), (long long)c.k, (long long)c.m, (long long)c.n, sec * 1e6, tflops, fma / 1e12, cm ? cm : "",
                        st.ok() ? "true" : "false");
        else
            std::printf("%-5s %6lld x %-6lld n %-5lld %-16s %8.1f us %7.2f TFLOP/s (%5.1f%% of f32 FMA)%s\n", dtype_name(c.type), (long long)c.m,
                        (long long)c.k, (long long)c.n, c.what, sec * 1e6, tflops, fma > 0 ? 100 * tflops * 1e12 / fma : 0.0,
                        st.ok() ? "" : ("  ERROR " + st.message()).c_str());
        be.free(*w);
        be.free(*x);
        be.free(*y);
        (void)be.sync();
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) { return run(argc, argv); }
