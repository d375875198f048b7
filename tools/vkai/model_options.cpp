#include "model_options.h"

#include "base/log.h"
#include "base/text.h"
#include "base/thread_pool.h"
#include "base/timer.h"
#include "cpu/cpu.h"
#include "cpu/cpu_backend.h"
#ifdef VKAI_HAVE_VULKAN
#include "vulkan/vulkan_backend.h"
#endif

#include <algorithm>
#include <cstdlib>

namespace vkai::cli {

std::vector<Option> model_options() {
    return {
        {"model", "m", "FILE", "model file (GGUF)"},
        {"ctx-size", "c", "N", "context size in tokens (default: 4096, at most the model's training context)"},
        {"batch-size", "b", "N", "tokens per forward pass while reading the prompt (default 512)"},
        {"threads", "t", "N", "CPU threads (default: all cores)"},
        {"kv-type", "", "TYPE", "KV cache type: f16 (default) or f32"},
        {"device", "", "D", "auto (default: a Vulkan GPU if there is one, else the CPU), cpu, or vulkanN (see vkai devices)"},
        {"n-gpu-layers", "ngl", "N", "layers on the GPU, the rest on the CPU: auto (default: the memory plan, see vkai plan) or N"},
        {"vram", "", "BYTES", "use at most this much GPU memory, e.g. 8G (default: what the device reports free)"},
        {"ctx-floor", "", "N", "with -ngl auto, shrink the context down to N before moving layers to the CPU (default 2048; with -c: no shrinking)"},
        {"cpu-moe", "", "", "MoE: keep every layer's experts on the CPU (default: the plan decides, see vkai plan)"},
        {"n-cpu-moe", "", "N", "MoE: keep the experts of the last N layers on the CPU, the others' on the GPU"},
    };
}

std::vector<Option> sampling_options() {
    return {
        {"temp", "", "T", "temperature; 0 = greedy (default 0.8)"},
        {"top-k", "", "K", "keep the K most likely tokens; 0 = off (default 40)"},
        {"top-p", "", "P", "nucleus sampling; 1 = off (default 0.95)"},
        {"min-p", "", "P", "drop tokens below P x the best probability; 0 = off (default 0.05)"},
        {"typical", "", "P", "locally typical sampling; 1 = off (default)"},
        {"repeat-penalty", "", "X", "penalize repeated tokens; 1 = off (default)"},
        {"presence-penalty", "", "X", "subtract X from tokens already present (default 0)"},
        {"frequency-penalty", "", "X", "subtract X per occurrence (default 0)"},
        {"repeat-last-n", "", "N", "tokens the penalties look back (default 64)"},
        {"seed", "s", "N", "random seed; -1 or absent = random (the seed used is printed)"},
    };
}

Result<llm::SamplerParams> sampling_params(const Args& a) {
    llm::SamplerParams p;
    VKAI_ASSIGN_OR_RETURN(double temp, a.get_float("temp", p.temperature));
    VKAI_ASSIGN_OR_RETURN(int64_t top_k, a.get_int("top-k", p.top_k));
    VKAI_ASSIGN_OR_RETURN(double top_p, a.get_float("top-p", p.top_p));
    VKAI_ASSIGN_OR_RETURN(double min_p, a.get_float("min-p", p.min_p));
    VKAI_ASSIGN_OR_RETURN(double typical, a.get_float("typical", p.typical_p));
    VKAI_ASSIGN_OR_RETURN(double rep, a.get_float("repeat-penalty", p.repeat_penalty));
    VKAI_ASSIGN_OR_RETURN(double pres, a.get_float("presence-penalty", p.presence_penalty));
    VKAI_ASSIGN_OR_RETURN(double freq, a.get_float("frequency-penalty", p.frequency_penalty));
    VKAI_ASSIGN_OR_RETURN(int64_t last_n, a.get_int("repeat-last-n", p.penalty_last_n));
    VKAI_ASSIGN_OR_RETURN(int64_t seed, a.get_int("seed", -1));
    if (temp < 0 || temp > 100) return fail(Code::invalid_argument, "--temp must be in [0, 100], got %g", temp);
    if (top_p <= 0 || top_p > 1) return fail(Code::invalid_argument, "--top-p must be in (0, 1], got %g", top_p);
    if (min_p < 0 || min_p > 1) return fail(Code::invalid_argument, "--min-p must be in [0, 1], got %g", min_p);
    if (typical <= 0 || typical > 1) return fail(Code::invalid_argument, "--typical must be in (0, 1], got %g", typical);
    if (rep <= 0) return fail(Code::invalid_argument, "--repeat-penalty must be > 0, got %g", rep);
    if (top_k < 0 || top_k > INT32_MAX) return fail(Code::invalid_argument, "--top-k must be >= 0");
    p.temperature = float(temp);
    p.top_k = int32_t(top_k);
    p.top_p = float(top_p);
    p.min_p = float(min_p);
    p.typical_p = float(typical);
    p.repeat_penalty = float(rep);
    p.presence_penalty = float(pres);
    p.frequency_penalty = float(freq);
    p.penalty_last_n = int32_t(std::clamp<int64_t>(last_n, -1, INT32_MAX));
    p.seed = seed;
    return p;
}

namespace {

// The backend for --device. auto takes the first Vulkan GPU (a discrete one first) and otherwise the
// CPU: a software Vulkan driver (lavapipe) is slower than the CPU kernels, so auto never picks it.
Result<std::unique_ptr<Backend>> make_backend(const std::string& device, int threads, uint64_t vram, std::string& why) {
    if (device == "cpu") {
        why = "requested";
        return std::unique_ptr<Backend>(std::make_unique<cpu::CpuBackend>(threads));
    }
#ifdef VKAI_HAVE_VULKAN
    if (device.rfind("vulkan", 0) == 0) {
        const std::string num = device.substr(6);
        if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos || num.size() > 4)
            return fail(Code::invalid_argument, "--device '%s': expected cpu, auto or vulkanN", device.c_str());
        vk::VulkanOptions vo;
        vo.device = std::stoi(num);
        vo.max_device_bytes = vram;
        why = "requested";
        return vk::create_vulkan_backend(vo);
    }
    if (device == "auto") {
        auto devs = vk::list_devices();
        if (!devs.ok()) {
            why = "no usable Vulkan GPU: " + devs.status().message();
        } else {
            const vk::DeviceSummary* pick = nullptr;
            for (const char* type : {"discrete", "integrated", "virtual"})
                for (const auto& d : *devs)
                    if (!pick && d.type == type) pick = &d;
            if (pick) {
                vk::VulkanOptions vo;
                vo.device = pick->index;
                vo.max_device_bytes = vram;
                auto be = vk::create_vulkan_backend(vo);
                if (be.ok()) {
                    why = "the first Vulkan GPU";
                    return be;
                }
                why = "vulkan" + std::to_string(pick->index) + " failed to start: " + be.status().message();
            } else {
                why = "no Vulkan GPU (only software devices; use --device vulkanN to force one)";
            }
        }
        return std::unique_ptr<Backend>(std::make_unique<cpu::CpuBackend>(threads));
    }
#else
    (void)vram;
    if (device == "auto") {
        why = "this build has no Vulkan";
        return std::unique_ptr<Backend>(std::make_unique<cpu::CpuBackend>(threads));
    }
    if (device.rfind("vulkan", 0) == 0) return fail(Code::unsupported, "--device %s: this build of vkai has no Vulkan backend", device.c_str());
#endif
    return fail(Code::invalid_argument, "--device '%s': expected auto, cpu or vulkanN", device.c_str());
}

} // namespace

namespace {

Result<DType> kv_type_of(const Args& a) {
    const std::string kv = a.get("kv-type", "f16");
    if (kv == "f16" || kv == "F16") return DType::F16;
    if (kv == "f32" || kv == "F32") return DType::F32;
    return fail(Code::invalid_argument, "--kv-type must be f16 or f32, got '%s'", kv.c_str());
}

// -ngl: "auto" = -1 for the plan; N >= 0; a negative N = every layer (as before auto existed).
Result<int64_t> ngl_of(const Args& a, bool& is_auto) {
    const std::string v = a.get("n-gpu-layers", "auto");
    is_auto = v == "auto";
    if (is_auto) return int64_t(-1);
    VKAI_ASSIGN_OR_RETURN(int64_t n, a.get_int("n-gpu-layers", -1));
    return n < 0 ? int64_t(1) << 30 : n;
}

void fill_probe(plan::Probe& pr, Backend* gpu, uint64_t vram) {
    pr.host_available = plan::host_available_bytes();
    pr.cpu_threads = ThreadPool::default_threads();
    pr.gpu_cap = vram;
    if (!gpu) return;
    const MemoryInfo m = gpu->memory();
    pr.has_gpu = true;
    pr.gpu_name = gpu->name();
    pr.gpu_free = m.free;
    pr.gpu_held = m.in_use;
}

} // namespace

Result<PlanInputs> plan_inputs(const Args& a, const llm::Model& model, Backend* gpu, int64_t default_ctx) {
    const llm::HParams& hp = model.hp();
    PlanInputs in;
    const std::string ctx_key = a.has("ctx") ? "ctx" : "ctx-size"; // vkai plan spells it --ctx
    VKAI_ASSIGN_OR_RETURN(int64_t n_ctx, a.get_int(ctx_key, default_ctx));
    VKAI_ASSIGN_OR_RETURN(int64_t n_batch, a.get_int("batch-size", 512));
    VKAI_ASSIGN_OR_RETURN(int64_t threads, a.get_int("threads", 0));
    if (n_ctx < 1) return fail(Code::invalid_argument, "--ctx-size must be >= 1, got %lld", (long long)n_ctx);
    if (n_batch < 1) return fail(Code::invalid_argument, "--batch-size must be >= 1, got %lld", (long long)n_batch);
    VKAI_ASSIGN_OR_RETURN(in.kv_type, kv_type_of(a));
    if (!a.has(ctx_key)) n_ctx = std::min<int64_t>(n_ctx, hp.n_ctx_train);
    VKAI_ASSIGN_OR_RETURN(int64_t floor, a.get_int("ctx-floor", a.has(ctx_key) ? n_ctx : 2048));
    if (floor < 1) return fail(Code::invalid_argument, "--ctx-floor must be >= 1, got %lld", (long long)floor);
    uint64_t vram = 0;
    if (a.has("vram")) {
        VKAI_ASSIGN_OR_RETURN(vram, parse_bytes(a.get("vram")));
    }
    bool is_auto = true;
    VKAI_ASSIGN_OR_RETURN(int64_t ngl, ngl_of(a, is_auto));
    in.policy.n_ctx = n_ctx;
    in.policy.ctx_floor = std::min(floor, n_ctx);
    in.policy.n_gpu_layers = ngl;
    if (a.has("cpu-moe") && a.has("n-cpu-moe")) return fail(Code::invalid_argument, "--cpu-moe and --n-cpu-moe: give one of them");
    in.policy.n_cpu_moe = a.has("cpu-moe") ? hp.n_layer : -1;
    if (a.has("n-cpu-moe")) {
        VKAI_ASSIGN_OR_RETURN(int64_t k, a.get_int("n-cpu-moe", 0));
        if (k < 0) return fail(Code::invalid_argument, "--n-cpu-moe must be >= 0, got %lld", (long long)k);
        in.policy.n_cpu_moe = std::min<int64_t>(k, hp.n_layer);
    }
    (void)is_auto;
    in.n_batch = std::min(n_batch, n_ctx);
    in.head_dim = hp.head_dim;
    in.n_head = hp.n_head;
    in.n_head_kv = hp.n_head_kv;
    in.threads = int(threads);
    fill_probe(in.probe, gpu, vram);

    const int kv_bytes = in.kv_type == DType::F16 ? 2 : 4;
    VKAI_ASSIGN_OR_RETURN(in.footprint, plan::footprint_from_gguf(model.gguf(), hp.n_layer, hp.n_head_kv * hp.head_dim, kv_bytes, hp.n_expert,
                                                                 hp.n_expert_used));
    auto layer_ops = [](const llm::DecodeOps& o) { return plan::LayerOps{o.attn, o.ffn, o.experts, o.experts_cpu, o.cpu_experts_gpu_side, o.head}; };
    in.footprint.ops_gpu = layer_ops(llm::decode_ops(model, true));
    in.footprint.ops_cpu = layer_ops(llm::decode_ops(model, false));
    if (const char* r = std::getenv("VKAI_PLAN_RATES"); r && *r) VKAI_TRY(plan::parse_rates(r, in.probe.rates));
    // Compute buffers: measured by a dry run of the Context at every context size the plan may pick.
    for (int64_t c : plan::ctx_ladder(in.policy)) {
        llm::ContextParams cp;
        cp.n_ctx = c;
        cp.n_batch = std::min(in.n_batch, c);
        cp.kv_type = in.kv_type;
        VKAI_ASSIGN_OR_RETURN(llm::DryRun dr, llm::Context::measure(model, cp));
        in.footprint.compute.push_back({c, dr.gpu_act, dr.cpu_act + dr.host_mask});
    }
    return in;
}

Status price_plan(PlanInputs& in, Backend* gpu, bool always) {
    if (in.footprint.n_expert == 0 || !in.probe.has_gpu || in.probe.rates.source != "assumed") return {};
    if (!always && (in.policy.n_gpu_layers >= 0 || in.policy.n_cpu_moe >= 0)) return {}; // nothing left to choose
    cpu::CpuBackend cpu(in.threads);
    const double t0 = now_s();
    // the attention of a decode step at the context the partial placements get (the floor)
    const plan::AttnShape attn{in.head_dim, in.n_head, in.n_head_kv, plan::ctx_ladder(in.policy).back()};
    auto r = plan::measure_rates(gpu, cpu, &attn);
    if (!r.ok()) {
        VKAI_LOG_WARN("plan: rates not measured (%s): assumed values price the MoE placements", r.status().message().c_str());
        return {};
    }
    in.probe.rates = *r;
    VKAI_LOG_INFO("plan: rates measured in %.2f s: gpu %.0f GB/s, %.1f us/op, attention %.1f us, round trip %.0f us; cpu %.1f GB/s, %.1f us/op, "
                  "attention %.1f us, wake %.0f us",
                  now_s() - t0, r->gpu_gbs, r->gpu_op_us, r->gpu_attn_us, r->round_trip_us, r->cpu_gbs, r->cpu_op_us, r->cpu_attn_us, r->cpu_wake_us);
    return {};
}

Result<std::unique_ptr<Backend>> open_device(const Args& a, std::string& why) {
    VKAI_ASSIGN_OR_RETURN(int64_t threads, a.get_int("threads", 0));
    uint64_t vram = 0;
    if (a.has("vram")) {
        VKAI_ASSIGN_OR_RETURN(vram, parse_bytes(a.get("vram")));
    }
    return make_backend(a.get("device", "auto"), int(threads), vram, why);
}

Result<LoadedModel> load_model(const Args& a, int64_t default_ctx) {
    if (!a.has("model")) return fail(Code::invalid_argument, "missing -m MODEL (a GGUF file)");
    VKAI_ASSIGN_OR_RETURN(int64_t threads, a.get_int("threads", 0));
    VKAI_ASSIGN_OR_RETURN(DType kv_type, kv_type_of(a));
    uint64_t vram = 0;
    if (a.has("vram")) {
        VKAI_ASSIGN_OR_RETURN(vram, parse_bytes(a.get("vram")));
    }
    bool is_auto = true;
    VKAI_ASSIGN_OR_RETURN(int64_t forced_ngl, ngl_of(a, is_auto));
    (void)forced_ngl;

    LoadedModel lm;
    double t0 = now_s();
    VKAI_ASSIGN_OR_RETURN(llm::Model m, llm::Model::load(a.get("model")));
    lm.model = std::make_unique<llm::Model>(std::move(m));
    const llm::HParams& hp = lm.model->hp();
    std::string why;
    VKAI_ASSIGN_OR_RETURN(lm.backend, make_backend(a.get("device", "auto"), int(threads), vram, why));
    const bool gpu = lm.backend->name() != "cpu";
    VKAI_ASSIGN_OR_RETURN(PlanInputs in, plan_inputs(a, *lm.model, gpu ? lm.backend.get() : nullptr, default_ctx));
    VKAI_TRY(price_plan(in, gpu ? lm.backend.get() : nullptr, false));

    // Plan, create; on an allocation failure re-plan below what failed and retry (each retry
    // takes the next smaller entry of the plan's preference list), ending on the CPU.
    constexpr int kMaxAttempts = 8;
    std::string gpu_failure; // set when the GPU is given up on during load
    for (int attempt = 1;; ++attempt) {
        VKAI_ASSIGN_OR_RETURN(lm.placement, plan::make_plan(in.footprint, in.probe, in.policy));
        const plan::Placement& pl = lm.placement;
        if (gpu && !pl.use_gpu && lm.backend->name() != "cpu") {
            why = gpu_failure.empty() ? "plan: " + pl.reason : gpu_failure;
            lm.backend = std::make_unique<cpu::CpuBackend>(int(threads));
        }
        llm::ContextParams cp;
        cp.n_ctx = pl.n_ctx;
        cp.n_batch = std::min(in.n_batch, pl.n_ctx);
        cp.kv_type = kv_type;
        cp.threads = int(threads);
        cp.backend = lm.backend.get();
        cp.n_gpu_layers = pl.use_gpu ? pl.n_gpu_layers : 0;
        cp.cpu_moe = pl.cpu_moe;
        cp.n_cpu_moe = pl.n_cpu_moe;
        std::string experts;
        if (pl.use_gpu && hp.n_expert > 0 && pl.n_gpu_experts < pl.n_gpu_layers)
            experts = pl.cpu_moe ? " (experts on the cpu)"
                                 : " (experts of layers " + std::to_string(pl.n_gpu_experts) + "-" + std::to_string(pl.n_gpu_layers - 1) + " on the cpu)";
        if (pl.use_gpu)
            VKAI_LOG_INFO("plan: %lld of %lld layers on %s%s, context %lld, %s of %s usable (%s)%s; estimate %.1f tok/s", (long long)pl.n_gpu_layers,
                          (long long)hp.n_layer, lm.backend->name().c_str(), experts.c_str(), (long long)pl.n_ctx, format_bytes(pl.gpu_bytes).c_str(),
                          format_bytes(pl.gpu_usable).c_str(), pl.reason.c_str(), pl.over_budget ? " OVER BUDGET" : "",
                          pl.cost.total() > 0 ? 1.0 / pl.cost.total() : 0.0);
        auto ctx = llm::Context::create(*lm.model, cp);
        if (ctx.ok()) {
            lm.ctx = std::move(*ctx);
            lm.load_attempts = attempt;
            break;
        }
        const bool retry = pl.use_gpu && (ctx.status().code() == Code::out_of_memory || ctx.status().code() == Code::device_lost);
        if (!retry) return ctx.status();
        if (attempt >= kMaxAttempts || ctx.status().code() == Code::device_lost) {
            VKAI_LOG_WARN("load on %s failed (%s): loading on the cpu", lm.backend->name().c_str(), ctx.status().message().c_str());
            in.probe.has_gpu = false;
            gpu_failure = lm.backend->name() + " failed at load: " + ctx.status().message();
        } else {
            VKAI_LOG_WARN("load with %lld layers on %s failed (%s): re-planning below %s", (long long)pl.n_gpu_layers, lm.backend->name().c_str(),
                          ctx.status().message().c_str(), format_bytes(pl.gpu_bytes).c_str());
            fill_probe(in.probe, lm.backend.get(), vram);
            in.policy.n_gpu_layers = -1; // an explicit -ngl that failed: let the plan go lower
            in.policy.max_gpu_bytes = pl.gpu_bytes > 0 ? pl.gpu_bytes - 1 : 0;
        }
    }
    lm.load_s = now_s() - t0;
    VKAI_LOG_INFO("model: %s (%s, %lld layers, %s of weights), context %lld, KV cache %s %s", a.get("model").c_str(), hp.arch.c_str(),
                  (long long)hp.n_layer, format_bytes(lm.model->weight_bytes()).c_str(), (long long)lm.ctx->kv().n_cells(), dtype_name(kv_type),
                  format_bytes(lm.ctx->kv().bytes()).c_str());
    if (lm.backend->name() == "cpu")
        VKAI_LOG_INFO("device: cpu (%d threads, %s kernels; %s)", threads > 0 ? int(threads) : ThreadPool::default_threads(), cpu::simd_name(), why.c_str());
    else {
        VKAI_LOG_INFO("device: %s (%s), %lld of %lld layers on it, the rest on the cpu%s", lm.backend->name().c_str(), why.c_str(),
                      (long long)lm.ctx->n_gpu_layers(), (long long)hp.n_layer,
                      hp.n_expert > 0 ? ("; experts of " + std::to_string(lm.ctx->n_gpu_expert_layers()) + " layers on it").c_str() : "");
        // Everything the forward pass allocates is allocated now: this is vkai's device peak.
        const uint64_t held = lm.backend->memory().in_use;
        VKAI_LOG_INFO("memory: %s holds %s after load (held_bytes=%llu), the plan said %s (plan_bytes=%llu)", lm.backend->name().c_str(),
                      format_bytes(held).c_str(), (unsigned long long)held, format_bytes(lm.placement.gpu_bytes).c_str(),
                      (unsigned long long)lm.placement.gpu_bytes);
    }
    return lm;
}

} // namespace vkai::cli
