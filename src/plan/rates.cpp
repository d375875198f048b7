// The cost model's rates, measured through the Backend interface (no Vulkan include): read
// bandwidth, the time of a small op in a long dependent chain (recording overlapped with execution
// as in a forward pass: the chain is longer than the recorder's early-submit batch), a round trip
// (upload + download of a few bytes), and the CPU pool's wake-up after sleeping through a wait.
#include "plan/probe.h"

#include "base/timer.h"
#include "ops/backend.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

namespace vkai::plan {
namespace {

constexpr int64_t kDim = 256;  // the chain's f32 matrix: 256 KiB, a small op on any device
constexpr int kChain = 200;    // ops per chain (> the recorder's 96-dispatch early submit)

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// A matrix and two vectors on `be`, freed on scope exit.
struct ChainBuffers {
    Backend& be;
    void* w = nullptr;
    void* a = nullptr;
    void* b = nullptr;
    explicit ChainBuffers(Backend& backend) : be(backend) {}
    ~ChainBuffers() {
        for (void* p : {w, a, b})
            if (p) be.free(p);
    }
    Status init() {
        VKAI_ASSIGN_OR_RETURN(w, be.alloc(uint64_t(kDim * kDim) * 4, "rates probe"));
        VKAI_ASSIGN_OR_RETURN(a, be.alloc(uint64_t(kDim) * 4, "rates probe"));
        VKAI_ASSIGN_OR_RETURN(b, be.alloc(uint64_t(kDim) * 4, "rates probe"));
        const std::vector<float> wh(size_t(kDim * kDim), 1.0f / float(kDim)), xh(size_t(kDim), 1.0f); // values stay at 1
        VKAI_TRY(be.upload(w, wh.data(), wh.size() * 4));
        VKAI_TRY(be.upload(a, xh.data(), xh.size() * 4));
        return be.sync();
    }
    // Seconds for `n` dependent matrix-vector products and a sync.
    Result<double> chain(int n) {
        const Tensor W = make_tensor(DType::F32, w, kDim, kDim);
        Tensor x = make_tensor(DType::F32, a, kDim), y = make_tensor(DType::F32, b, kDim);
        const double t0 = now_s();
        for (int i = 0; i < n; ++i) {
            be.mul_mat(W, x, y);
            std::swap(x, y);
        }
        VKAI_TRY(be.sync());
        return now_s() - t0;
    }
};

// Median seconds of one decode attention call at `a`, in a dependent chain of 50 (the output is the
// next query), the cache zero-filled, the mask open.
Result<double> attention_time(Backend& be, const AttnShape& a) {
    const uint64_t qn = uint64_t(a.head_dim * a.n_head), kvn = uint64_t(a.head_dim * a.n_head_kv * a.n_cells);
    std::vector<void*> bufs;
    auto alloc = [&](uint64_t bytes) -> Result<void*> {
        VKAI_ASSIGN_OR_RETURN(void* p, be.alloc(bytes, "rates probe"));
        bufs.push_back(p);
        const std::vector<uint8_t> zero(size_t(bytes), 0);
        VKAI_TRY(be.upload(p, zero.data(), bytes));
        return p;
    };
    struct Free {
        Backend& be;
        std::vector<void*>& b;
        ~Free() {
            for (void* p : b) be.free(p);
        }
    } release{be, bufs};
    VKAI_ASSIGN_OR_RETURN(void* q, alloc(qn * 4));
    VKAI_ASSIGN_OR_RETURN(void* o, alloc(qn * 4));
    VKAI_ASSIGN_OR_RETURN(void* k, alloc(kvn * 2));
    VKAI_ASSIGN_OR_RETURN(void* v, alloc(kvn * 2));
    VKAI_ASSIGN_OR_RETURN(void* m, alloc(uint64_t(a.n_cells) * 4));
    Tensor tq = make_tensor(DType::F32, q, a.head_dim, a.n_head, 1), to = make_tensor(DType::F32, o, a.head_dim, a.n_head, 1);
    const Tensor tk = make_tensor(DType::F16, k, a.head_dim, a.n_head_kv, a.n_cells), tv = make_tensor(DType::F16, v, a.head_dim, a.n_head_kv, a.n_cells);
    const Tensor tm = make_tensor(DType::F32, m, a.n_cells, 1);
    VKAI_TRY(be.sync());
    constexpr int kN = 50;
    std::vector<double> t;
    for (int round = 0; round < 4; ++round) {
        const double t0 = now_s();
        for (int i = 0; i < kN; ++i) {
            be.attention(tq, tk, tv, tm, 0.1f, to);
            std::swap(tq, to);
        }
        VKAI_TRY(be.sync());
        if (round > 0) t.push_back((now_s() - t0) / kN); // round 0 warms up
    }
    return median(t);
}

Status gpu_rates(Backend& gpu, Rates& r) {
    ChainBuffers c(gpu);
    VKAI_TRY(c.init());
    // Round trip: a few bytes up and back (each download waits for the device).
    std::vector<double> rts;
    float v[16] = {};
    for (int i = 0; i < 21; ++i) {
        const double t0 = now_s();
        VKAI_TRY(gpu.upload(c.b, v, sizeof v));
        VKAI_TRY(gpu.download(v, c.b, sizeof v));
        rts.push_back(now_s() - t0);
    }
    r.round_trip_us = median(rts) * 1e6;
    VKAI_TRY(c.chain(kChain).status()); // warm-up
    std::vector<double> ops;
    for (int i = 0; i < 3; ++i) {
        VKAI_ASSIGN_OR_RETURN(double t, c.chain(kChain));
        ops.push_back(std::max(0.0, t - r.round_trip_us * 1e-6) / kChain);
    }
    r.gpu_op_us = median(ops) * 1e6;
    // Too little free memory for the probe (a tight --vram): the assumed bandwidth stays.
    auto bw = gpu.read_bandwidth();
    if (bw.ok()) r.gpu_gbs = *bw;
    else if (bw.status().code() != Code::out_of_memory) return bw.status();
    return {};
}

Status cpu_rates(Backend& cpu, Rates& r) {
    ChainBuffers c(cpu);
    VKAI_TRY(c.init());
    VKAI_TRY(c.chain(kChain).status()); // warm-up: threads running
    std::vector<double> ops;
    for (int i = 0; i < 3; ++i) {
        VKAI_ASSIGN_OR_RETURN(double t, c.chain(kChain));
        ops.push_back(t / kChain);
    }
    r.cpu_op_us = median(ops) * 1e6;
    // Wake-up: the pool's threads sleep after a short spin; a GPU wait is longer than that.
    std::vector<double> wakes;
    for (int i = 0; i < 5; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(3));
        VKAI_ASSIGN_OR_RETURN(double t, c.chain(1));
        wakes.push_back(std::max(0.0, t * 1e6 - r.cpu_op_us));
    }
    r.cpu_wake_us = median(wakes);
    VKAI_ASSIGN_OR_RETURN(r.cpu_gbs, cpu.read_bandwidth());
    return {};
}

} // namespace

Result<Rates> measure_rates(Backend* gpu, Backend& cpu, const AttnShape* attn) {
    Rates r;
    if (gpu) VKAI_TRY(gpu_rates(*gpu, r));
    VKAI_TRY(cpu_rates(cpu, r));
    if (attn && attn->head_dim > 0 && attn->n_head > 0 && attn->n_head_kv > 0 && attn->n_cells > 0) {
        if (gpu) {
            VKAI_ASSIGN_OR_RETURN(double g, attention_time(*gpu, *attn));
            r.gpu_attn_us = std::max(0.0, g - r.round_trip_us * 1e-6 / 50) * 1e6;
        }
        VKAI_ASSIGN_OR_RETURN(double c, attention_time(cpu, *attn));
        r.cpu_attn_us = c * 1e6;
    }
    r.source = !gpu ? "measured cpu, assumed gpu" : r.gpu_gbs == Rates().gpu_gbs ? "measured, gpu bandwidth assumed" : "measured";
    return r;
}

Status parse_rates(std::string_view spec, Rates& r) {
    Rates out = r;
    for (bool more = true; more;) {
        const size_t comma = spec.find(',');
        const std::string_view item = spec.substr(0, comma);
        more = comma != std::string_view::npos;
        if (more) spec = spec.substr(comma + 1);
        const size_t eq = item.find('=');
        if (eq == std::string_view::npos) return fail(Code::invalid_argument, "VKAI_PLAN_RATES: '%.*s' is not name=value", int(item.size()), item.data());
        const std::string_view name = item.substr(0, eq), val = item.substr(eq + 1);
        double v = 0;
        auto [end, ec] = std::from_chars(val.data(), val.data() + val.size(), v);
        if (ec != std::errc() || end != val.data() + val.size() || !(v >= 0))
            return fail(Code::invalid_argument, "VKAI_PLAN_RATES: %.*s must be a number >= 0, got '%.*s'", int(name.size()), name.data(), int(val.size()), val.data());
        if (name == "gpu_gbs") out.gpu_gbs = v;
        else if (name == "cpu_gbs") out.cpu_gbs = v;
        else if (name == "gpu_op_us") out.gpu_op_us = v;
        else if (name == "cpu_op_us") out.cpu_op_us = v;
        else if (name == "rt_us") out.round_trip_us = v;
        else if (name == "wake_us") out.cpu_wake_us = v;
        else if (name == "gpu_attn_us") out.gpu_attn_us = v;
        else if (name == "cpu_attn_us") out.cpu_attn_us = v;
        else return fail(Code::invalid_argument, "VKAI_PLAN_RATES: unknown field '%.*s' (gpu_gbs, cpu_gbs, gpu_op_us, cpu_op_us, rt_us, wake_us, gpu_attn_us, cpu_attn_us)", int(name.size()), name.data());
        if ((name == "gpu_gbs" || name == "cpu_gbs") && v <= 0) return fail(Code::invalid_argument, "VKAI_PLAN_RATES: %.*s must be > 0", int(name.size()), name.data());
    }
    out.source = "VKAI_PLAN_RATES";
    r = out;
    return {};
}

} // namespace vkai::plan
