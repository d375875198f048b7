#include "plan/plan.h"

#include "base/text.h"

#include <algorithm>

namespace vkai::plan {

std::vector<int64_t> ctx_ladder(const Policy& p) {
    std::vector<int64_t> l;
    const int64_t floor = std::clamp<int64_t>(p.ctx_floor, 1, p.n_ctx);
    for (int64_t c = p.n_ctx; c > floor; c /= 2) l.push_back(c);
    l.push_back(floor);
    return l;
}

uint64_t gpu_bytes_of(const Footprint& fp, int64_t ngl, bool cpu_moe, int64_t n_ctx, uint64_t compute_gpu) {
    if (ngl <= 0) return 0;
    uint64_t b = compute_gpu + uint64_t(ngl) * fp.kv_cell_layer * uint64_t(n_ctx);
    for (int64_t l = 0; l < ngl; ++l) {
        const LayerBytes& L = fp.layers[size_t(l)];
        b += L.attn + L.ffn + (cpu_moe ? 0 : L.experts);
    }
    if (ngl == fp.n_layer) b += fp.head;
    return b;
}

namespace {

std::string layer_range(int64_t a, int64_t b) { // [a, b)
    return b - a == 1 ? "layer " + std::to_string(a) : "layers " + std::to_string(a) + "-" + std::to_string(b - 1);
}

// Bytes one generated token reads: every weight of a layer except the experts not chosen.
double read_bytes(const Footprint& fp, int64_t l0, int64_t l1, bool experts, bool rest) {
    double s = 0;
    const double used = fp.n_expert > 0 ? double(fp.n_expert_used) / double(fp.n_expert) : 1.0;
    for (int64_t l = l0; l < l1; ++l) {
        const LayerBytes& L = fp.layers[size_t(l)];
        if (rest) s += double(L.attn + L.ffn);
        if (experts) s += double(L.experts) * used;
    }
    return s;
}

void fill_rows(Placement& p, const Footprint& fp, const Probe& probe, const ComputeBytes& cb) {
    const std::string gpu = probe.gpu_name.empty() ? "gpu" : probe.gpu_name;
    const int64_t n = p.n_gpu_layers, N = fp.n_layer;
    auto sum = [&](int64_t a, int64_t b, uint64_t LayerBytes::*m) {
        uint64_t s = 0;
        for (int64_t l = a; l < b; ++l) s += fp.layers[size_t(l)].*m;
        return s;
    };
    auto& r = p.rows;
    r.push_back({"token embedding", "cpu", fp.embedding});
    if (n > 0) {
        r.push_back({layer_range(0, n) + " attention", gpu, sum(0, n, &LayerBytes::attn)});
        r.push_back({layer_range(0, n) + " ffn", gpu, sum(0, n, &LayerBytes::ffn)});
        if (fp.n_expert > 0) r.push_back({layer_range(0, n) + " experts", p.cpu_moe ? "cpu" : gpu, sum(0, n, &LayerBytes::experts)});
    }
    if (n < N) {
        r.push_back({layer_range(n, N) + " attention", "cpu", sum(n, N, &LayerBytes::attn)});
        r.push_back({layer_range(n, N) + " ffn", "cpu", sum(n, N, &LayerBytes::ffn)});
        if (fp.n_expert > 0) r.push_back({layer_range(n, N) + " experts", "cpu", sum(n, N, &LayerBytes::experts)});
    }
    r.push_back({"output head", p.head_on_gpu ? gpu : "cpu", fp.head});
    const std::string kv = "KV cache (" + std::to_string(p.n_ctx) + " x " + fp.kv_type + ") ";
    if (n > 0) r.push_back({kv + layer_range(0, n), gpu, uint64_t(n) * fp.kv_cell_layer * uint64_t(p.n_ctx)});
    if (n < N) r.push_back({kv + layer_range(n, N), "cpu", uint64_t(N - n) * fp.kv_cell_layer * uint64_t(p.n_ctx)});
    if (p.use_gpu) r.push_back({"compute buffers (measured)", gpu, cb.gpu});
    r.push_back({"compute buffers (measured)", "cpu", cb.cpu});
    if (fp.other) r.push_back({"other tensors", "cpu", fp.other});

    // Host bytes beyond the mapping: KV and compute on the CPU, plus the weights the CPU reads
    // (they become resident page cache of the mapped file).
    p.cpu_bytes = uint64_t(N - n) * fp.kv_cell_layer * uint64_t(p.n_ctx) + cb.cpu + fp.other;
    for (int64_t l = 0; l < N; ++l) p.cpu_bytes += l < n ? (p.cpu_moe ? fp.layers[size_t(l)].experts : 0) : fp.layers[size_t(l)].total();
    if (!p.head_on_gpu) p.cpu_bytes += fp.head;
    p.fits_host = probe.host_available == 0 || p.cpu_bytes <= probe.host_available;

    const double on_gpu = read_bytes(fp, 0, n, !p.cpu_moe, true) + (p.head_on_gpu ? double(fp.head) : 0.0);
    const double on_cpu = read_bytes(fp, n, N, true, true) + (p.cpu_moe ? read_bytes(fp, 0, n, true, false) : 0.0) +
                          (p.head_on_gpu ? 0.0 : double(fp.head));
    p.cpu_read_share = on_gpu + on_cpu > 0 ? on_cpu / (on_gpu + on_cpu) : 1.0;
    if (!p.use_gpu) p.speed_class = "cpu";
    else if (n == N && !p.cpu_moe) p.speed_class = "gpu";
    else if (n == N) p.speed_class = "gpu+cpu-experts";
    else p.speed_class = "split";
}

} // namespace

Result<Placement> make_plan(const Footprint& fp, const Probe& probe, const Policy& pol) {
    if (pol.n_ctx < 1) return fail(Code::invalid_argument, "plan: context size %lld must be >= 1", (long long)pol.n_ctx);
    if (pol.ctx_floor < 1) return fail(Code::invalid_argument, "plan: context floor %lld must be >= 1", (long long)pol.ctx_floor);
    if (pol.margin_frac < 0 || pol.margin_frac >= 1) return fail(Code::invalid_argument, "plan: margin fraction %g out of [0, 1)", pol.margin_frac);
    if (fp.n_layer < 1 || int64_t(fp.layers.size()) != fp.n_layer) return fail(Code::invalid_argument, "plan: footprint has no layers");
    const std::vector<int64_t> ladder = ctx_ladder(pol);
    for (int64_t c : ladder)
        if (!fp.compute_at(c)) return fail(Code::internal, "plan: no measured compute bytes for context %lld", (long long)c);

    uint64_t avail = probe.has_gpu ? probe.gpu_free : 0;
    if (probe.gpu_cap) avail = std::min(avail, probe.gpu_cap > probe.gpu_held ? probe.gpu_cap - probe.gpu_held : 0);
    const uint64_t margin = pol.margin_bytes + uint64_t(double(avail) * pol.margin_frac);
    Placement p;
    p.gpu_usable = avail > margin ? avail - margin : 0;
    if (pol.max_gpu_bytes) p.gpu_usable = std::min(p.gpu_usable, pol.max_gpu_bytes);
    const bool moe = fp.n_expert > 0;
    const int64_t N = fp.n_layer;

    auto take = [&](int64_t ngl, bool cpu_moe, int64_t ctx, const char* why) {
        p.use_gpu = ngl > 0;
        p.n_gpu_layers = ngl;
        p.head_on_gpu = ngl == N;
        p.cpu_moe = cpu_moe && ngl > 0;
        p.n_ctx = ctx;
        const ComputeBytes& cb = *fp.compute_at(ctx);
        p.gpu_bytes = gpu_bytes_of(fp, ngl, p.cpu_moe, ctx, cb.gpu);
        p.reason = why;
        fill_rows(p, fp, probe, cb);
    };

    if (pol.n_gpu_layers >= 0) { // forced: report, do not decide
        const int64_t ngl = probe.has_gpu ? std::min(pol.n_gpu_layers, N) : 0;
        take(ngl, moe && pol.cpu_moe == 1, pol.n_ctx, "-ngl given");
        p.over_budget = p.gpu_bytes > p.gpu_usable;
        return p;
    }
    if (!probe.has_gpu) {
        take(0, false, pol.n_ctx, "no GPU");
        return p;
    }
    auto fits = [&](int64_t ngl, bool cpu_moe, int64_t ctx) { return gpu_bytes_of(fp, ngl, cpu_moe, ctx, fp.compute_at(ctx)->gpu) <= p.gpu_usable; };
    if (!(moe && pol.cpu_moe == 1))
        for (int64_t c : ladder)
            if (fits(N, false, c)) {
                take(N, false, c, c == pol.n_ctx ? "everything fits on the GPU" : "everything fits on the GPU at a smaller context");
                return p;
            }
    const bool experts_off = moe && pol.cpu_moe != 0;
    if (experts_off)
        for (int64_t c : ladder)
            if (fits(N, true, c)) {
                take(N, true, c, "every layer on the GPU, the experts' weights on the CPU");
                return p;
            }
    const int64_t floor = ladder.back();
    for (int64_t ngl = N - 1; ngl >= 1; --ngl)
        if (fits(ngl, experts_off, floor)) {
            take(ngl, experts_off, floor, "not every layer fits: the last layers run on the CPU");
            return p;
        }
    take(0, false, pol.n_ctx, "not even one layer fits on the GPU: everything on the CPU");
    return p;
}

} // namespace vkai::plan
