#include "plan/plan.h"

#include "base/text.h"

#include <algorithm>
#include <tuple>

namespace vkai::plan {

std::vector<int64_t> ctx_ladder(const Policy& p) {
    std::vector<int64_t> l;
    const int64_t floor = std::clamp<int64_t>(p.ctx_floor, 1, p.n_ctx);
    for (int64_t c = p.n_ctx; c > floor; c /= 2) l.push_back(c);
    l.push_back(floor);
    return l;
}

namespace {

// Prefix sums over the layers: O(1) bytes and costs per candidate (the MoE search visits ~N^2/2).
struct Prefix {
    std::vector<uint64_t> rest, ex; // [l] = sum over layers [0, l) of attn + ffn, of experts
    explicit Prefix(const Footprint& fp) : rest(size_t(fp.n_layer + 1), 0), ex(size_t(fp.n_layer + 1), 0) {
        for (int64_t l = 0; l < fp.n_layer; ++l) {
            rest[size_t(l + 1)] = rest[size_t(l)] + fp.layers[size_t(l)].attn + fp.layers[size_t(l)].ffn;
            ex[size_t(l + 1)] = ex[size_t(l)] + fp.layers[size_t(l)].experts;
        }
    }
};

double expert_share(const Footprint& fp) { return fp.n_expert > 0 ? double(fp.n_expert_used) / double(fp.n_expert) : 1.0; }

uint64_t gpu_bytes(const Footprint& fp, const Prefix& P, int64_t ngl, int64_t ge, int64_t n_ctx, uint64_t compute_gpu) {
    ngl = std::min(ngl, fp.n_layer);
    if (ngl <= 0) return 0;
    ge = std::clamp<int64_t>(ge, 0, ngl);
    return compute_gpu + uint64_t(ngl) * fp.kv_cell_layer * uint64_t(n_ctx) + P.rest[size_t(ngl)] + P.ex[size_t(ge)] + (ngl == fp.n_layer ? fp.head : 0);
}

// Bytes one generated token reads on each side: every weight of a layer except the experts not chosen.
void read_bytes(const Footprint& fp, const Prefix& P, int64_t ngl, int64_t ge, double& on_gpu, double& on_cpu) {
    const double share = expert_share(fp);
    const size_t N = size_t(fp.n_layer), n = size_t(ngl), g = size_t(ge);
    on_gpu = double(P.rest[n]) + double(P.ex[g]) * share;
    on_cpu = double(P.rest[N] - P.rest[n]) + double(P.ex[N] - P.ex[g]) * share;
    (ngl == fp.n_layer && ngl > 0 ? on_gpu : on_cpu) += double(fp.head);
}

TokenCost cost_of(const Footprint& fp, const Prefix& P, const Rates& r, int64_t ngl, int64_t ge) {
    const int64_t N = fp.n_layer;
    const bool moe = fp.n_expert > 0;
    ngl = std::clamp<int64_t>(ngl, 0, N);
    ge = moe ? std::clamp<int64_t>(ge, 0, ngl) : ngl;
    double gb = 0, cb = 0;
    read_bytes(fp, P, ngl, ge, gb, cb);
    const LayerOps &g = fp.ops_gpu, &c = fp.ops_cpu;
    const bool head_gpu = ngl == N && ngl > 0;
    const double gops = double(ngl * (g.attn + g.ffn) + ge * g.experts + (ngl - ge) * g.cpu_experts_gpu_side + (head_gpu ? g.head : 0));
    const double cops = double((N - ngl) * (c.attn + c.ffn + c.experts) + (ngl - ge) * g.experts_cpu + (head_gpu ? 0 : c.head));
    // the attention call of each layer at its measured time instead of a call's
    const double gatt = r.gpu_attn_us > 0 ? r.gpu_attn_us - r.gpu_op_us : 0, catt = r.cpu_attn_us > 0 ? r.cpu_attn_us - r.cpu_op_us : 0;
    TokenCost t;
    t.gpu_s = gb / (r.gpu_gbs * 1e9) + gops * r.gpu_op_us * 1e-6 + double(ngl) * gatt * 1e-6;
    t.cpu_s = cb / (r.cpu_gbs * 1e9) + cops * r.cpu_op_us * 1e-6 + double(N - ngl) * catt * 1e-6;
    if (ngl > 0) {
        // a download per MoE layer on the GPU (routing) and the logits' (or the boundary's) one
        t.round_trips = (moe ? ngl : 0) + 1;
        const int64_t wakes = (moe ? ngl - ge : 0) + (ngl < N ? 1 : 0);
        t.sync_s = double(t.round_trips) * r.round_trip_us * 1e-6 + double(wakes) * r.cpu_wake_us * 1e-6;
    }
    return t;
}

} // namespace

uint64_t gpu_bytes_of(const Footprint& fp, int64_t ngl, int64_t ge, int64_t n_ctx, uint64_t compute_gpu) {
    return gpu_bytes(fp, Prefix(fp), ngl, ge, n_ctx, compute_gpu);
}

TokenCost token_cost(const Footprint& fp, const Rates& r, int64_t ngl, int64_t ge) { return cost_of(fp, Prefix(fp), r, ngl, ge); }

namespace {

std::string layer_range(int64_t a, int64_t b) { // [a, b)
    return b - a == 1 ? "layer " + std::to_string(a) : "layers " + std::to_string(a) + "-" + std::to_string(b - 1);
}

// An alternative's name, with the flags that force it.
std::string label_of(const Footprint& fp, int64_t ngl, int64_t ge) {
    const int64_t N = fp.n_layer;
    if (ngl == 0) return "cpu only (-ngl 0)";
    if (ngl == N && ge == N) return "all on the GPU";
    if (ngl == N && ge == 0) return "all experts on the CPU (--cpu-moe)";
    if (ngl == N) return "experts of the last " + std::to_string(N - ge) + " layers on the CPU (--n-cpu-moe " + std::to_string(N - ge) + ")";
    std::string s = "whole layers: " + std::to_string(ngl) + " of " + std::to_string(N) + " on the GPU (-ngl " + std::to_string(ngl);
    if (fp.n_expert > 0 && ge < ngl) s += " --n-cpu-moe " + std::to_string(N - ge);
    return s + ")";
}

void fill_rows(Placement& p, const Footprint& fp, const Probe& probe, const ComputeBytes& cb) {
    const std::string gpu = probe.gpu_name.empty() ? "gpu" : probe.gpu_name;
    const int64_t n = p.n_gpu_layers, ge = p.n_gpu_experts, N = fp.n_layer;
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
        if (fp.n_expert > 0 && ge > 0) r.push_back({layer_range(0, ge) + " experts", gpu, sum(0, ge, &LayerBytes::experts)});
        if (fp.n_expert > 0 && ge < n) r.push_back({layer_range(ge, n) + " experts", "cpu", sum(ge, n, &LayerBytes::experts)});
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
    for (int64_t l = 0; l < N; ++l) p.cpu_bytes += l < n ? (l >= ge ? fp.layers[size_t(l)].experts : 0) : fp.layers[size_t(l)].total();
    if (!p.head_on_gpu) p.cpu_bytes += fp.head;
    p.fits_host = probe.host_available == 0 || p.cpu_bytes <= probe.host_available;

    double on_gpu = 0, on_cpu = 0;
    read_bytes(fp, Prefix(fp), n, ge, on_gpu, on_cpu);
    p.cpu_read_share = on_gpu + on_cpu > 0 ? on_cpu / (on_gpu + on_cpu) : 1.0;
    if (!p.use_gpu) p.speed_class = "cpu";
    else if (n == N && ge == N) p.speed_class = "gpu";
    else if (n == N) p.speed_class = "gpu+cpu-experts";
    else p.speed_class = "split";
}

} // namespace

Result<Placement> make_plan(const Footprint& fp, const Probe& probe, const Policy& pol) {
    if (pol.n_ctx < 1) return fail(Code::invalid_argument, "plan: context size %lld must be >= 1", (long long)pol.n_ctx);
    if (pol.ctx_floor < 1) return fail(Code::invalid_argument, "plan: context floor %lld must be >= 1", (long long)pol.ctx_floor);
    if (pol.margin_frac < 0 || pol.margin_frac >= 1) return fail(Code::invalid_argument, "plan: margin fraction %g out of [0, 1)", pol.margin_frac);
    if (fp.n_layer < 1 || int64_t(fp.layers.size()) != fp.n_layer) return fail(Code::invalid_argument, "plan: footprint has no layers");
    const Rates& rt = probe.rates;
    if (!(rt.gpu_gbs > 0 && rt.cpu_gbs > 0 && rt.gpu_op_us >= 0 && rt.cpu_op_us >= 0 && rt.round_trip_us >= 0 && rt.cpu_wake_us >= 0 &&
          rt.gpu_attn_us >= 0 && rt.cpu_attn_us >= 0))
        return fail(Code::invalid_argument, "plan: rates must be positive bandwidths and non-negative times");
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
    const int64_t N = fp.n_layer, floor = ladder.back();
    // Experts of GPU layers [0, ngl) kept on the GPU under the policy's forced n_cpu_moe.
    auto forced_ge = [&](int64_t ngl) { return moe && pol.n_cpu_moe >= 0 ? std::clamp<int64_t>(N - pol.n_cpu_moe, 0, ngl) : ngl; };
    const Prefix P(fp);
    auto bytes = [&](int64_t ngl, int64_t ge, int64_t ctx) { return gpu_bytes(fp, P, ngl, ge, ctx, fp.compute_at(ctx)->gpu); };
    auto cost = [&](int64_t ngl, int64_t ge) { return cost_of(fp, P, rt, ngl, ge); };
    auto fits = [&](int64_t ngl, int64_t ge, int64_t ctx) { return bytes(ngl, ge, ctx) <= p.gpu_usable; };

    // The best of each family at the floor (what vkai plan compares): all on the GPU, experts of the
    // last layers on the CPU, all experts on the CPU, whole layers split, CPU only.
    auto alternatives = [&]() {
        if (!probe.has_gpu) return;
        auto add = [&](const std::string& label, int64_t ngl, int64_t ge) {
            Alternative a{label, ngl, ge, floor, bytes(ngl, ge, floor), true, cost(ngl, ge)};
            a.fits = a.gpu_bytes <= p.gpu_usable;
            p.alternatives.push_back(a);
        };
        // the cheapest fitting member of a family; none fits: its smallest member, marked
        auto best = [&](int64_t n0, int64_t n1, bool experts) {
            int64_t pick = -1;
            double best_s = 0;
            for (int64_t i = n0; i <= n1; ++i) {
                const int64_t ngl = experts ? N : i, ge = i;
                if (!fits(ngl, ge, floor)) continue;
                const double s = cost(ngl, ge).total();
                if (pick < 0 || s < best_s) pick = i, best_s = s;
            }
            const int64_t i = pick >= 0 ? pick : n0;
            add(label_of(fp, experts ? N : i, i), experts ? N : i, i);
        };
        add(label_of(fp, N, N), N, N);
        if (moe && N > 1) best(1, N - 1, true);
        if (moe) add(label_of(fp, N, 0), N, 0);
        if (N > 1) best(1, N - 1, false);
        add(label_of(fp, 0, 0), 0, 0);
    };
    auto take = [&](int64_t ngl, int64_t ge, int64_t ctx, const std::string& why) {
        p.use_gpu = ngl > 0;
        p.n_gpu_layers = ngl;
        p.n_gpu_experts = moe ? std::clamp<int64_t>(ge, 0, ngl) : ngl;
        p.head_on_gpu = ngl == N;
        p.cpu_moe = moe && ngl > 0 && p.n_gpu_experts == 0;
        p.n_cpu_moe = moe && ngl > 0 ? N - p.n_gpu_experts : 0;
        p.n_ctx = ctx;
        const ComputeBytes& cb = *fp.compute_at(ctx);
        p.gpu_bytes = bytes(ngl, p.n_gpu_experts, ctx);
        p.cost = cost(ngl, p.n_gpu_experts);
        p.reason = why;
        fill_rows(p, fp, probe, cb);
        alternatives();
    };

    if (pol.n_gpu_layers >= 0) { // forced: report, do not decide
        const int64_t ngl = probe.has_gpu ? std::min(pol.n_gpu_layers, N) : 0;
        take(ngl, forced_ge(ngl), pol.n_ctx, "-ngl given");
        p.over_budget = p.gpu_bytes > p.gpu_usable;
        return p;
    }
    if (!probe.has_gpu) {
        take(0, 0, pol.n_ctx, "no GPU");
        return p;
    }
    const bool search = moe && pol.n_cpu_moe < 0;
    // MoE, auto: the fastest fitting (layers, expert layers) at the floor by the cost model, CPU
    // only and everything on the GPU included. Ties go to more device bytes, then more GPU layers
    // (a total order: the choice is a function of the fitting set).
    int64_t bn = N, be = N;
    if (search) {
        auto key = [&](int64_t ngl, int64_t ge) { return std::make_tuple(cost(ngl, ge).total(), -double(bytes(ngl, ge, floor)), -ngl, -ge); };
        bn = be = 0;
        auto bk = key(0, 0);
        for (int64_t ngl = N; ngl >= 1; --ngl)
            for (int64_t ge = ngl; ge >= 0; --ge) {
                if (!fits(ngl, ge, floor)) continue;
                const auto k = key(ngl, ge);
                if (k < bk) bk = k, bn = ngl, be = ge;
            }
        if (bn == 0) {
            take(0, 0, pol.n_ctx, fits(1, 0, floor) ? "everything on the CPU: faster than any placement that fits (cost model)"
                                                    : "not even one layer fits on the GPU: everything on the CPU");
            return p;
        }
        if (bn < N || be < N) {
            take(bn, be, floor, std::string(fits(N, N, floor) ? "everything fits, but" : bn < N ? "not every layer fits:" : "the experts do not all fit:") +
                                    " the fastest placement that fits (cost model)");
            return p;
        }
    }
    // Everything (or, under a forced n_cpu_moe, every layer) on the GPU: the largest context that fits.
    const int64_t ge_all = forced_ge(N);
    for (int64_t c : ladder)
        if (fits(N, ge_all, c)) {
            take(N, ge_all, c,
                 ge_all < N               ? "every layer on the GPU, the experts given to the CPU there"
                 : c == pol.n_ctx ? "everything fits on the GPU"
                                  : "everything fits on the GPU at a smaller context");
            return p;
        }
    // Dense (or a forced n_cpu_moe): the largest number of GPU layers that fits.
    for (int64_t ngl = N - 1; ngl >= 1; --ngl)
        if (fits(ngl, forced_ge(ngl), floor)) {
            take(ngl, forced_ge(ngl), floor, "not every layer fits: the last layers run on the CPU");
            return p;
        }
    take(0, 0, pol.n_ctx, "not even one layer fits on the GPU: everything on the CPU");
    return p;
}

} // namespace vkai::plan
