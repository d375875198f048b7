// `vkai plan` output: an aligned table for people and JSON for scripts (stable keys).
#include "plan/plan.h"

#include "base/text.h"

#include <cstdio>

namespace vkai::plan {
namespace {

std::string json_str(const std::string& s) {
    std::string o = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') o += '\\', o += c;
        else if (static_cast<unsigned char>(c) < 0x20) {
            char b[8];
            std::snprintf(b, sizeof b, "\\u%04x", c);
            o += b;
        } else o += c;
    }
    return o + "\"";
}

std::string placement_line(const Placement& p, const Footprint& fp) {
    if (!p.use_gpu) return "cpu only";
    std::string s = std::to_string(p.n_gpu_layers) + " of " + std::to_string(fp.n_layer) + " layers on the GPU";
    if (p.cpu_moe) s += ", their experts on the CPU";
    else if (fp.n_expert > 0 && p.n_gpu_experts < p.n_gpu_layers)
        s += ", experts of layers " + std::to_string(p.n_gpu_experts) + "-" + std::to_string(p.n_gpu_layers - 1) + " on the CPU (--n-cpu-moe " +
             std::to_string(p.n_cpu_moe) + ")";
    return s;
}

std::string cost_line(const TokenCost& c) {
    char b[160];
    std::snprintf(b, sizeof b, "%.1f tok/s (gpu %.2f ms, cpu %.2f ms, %lld round trips + wake-ups %.2f ms)", c.total() > 0 ? 1.0 / c.total() : 0.0,
                  c.gpu_s * 1e3, c.cpu_s * 1e3, (long long)c.round_trips, c.sync_s * 1e3);
    return b;
}

std::string cost_json(const TokenCost& c) {
    char b[200];
    std::snprintf(b, sizeof b, "{\"tok_s\": %.3f, \"gpu_ms\": %.4f, \"cpu_ms\": %.4f, \"sync_ms\": %.4f, \"round_trips\": %lld}",
                  c.total() > 0 ? 1.0 / c.total() : 0.0, c.gpu_s * 1e3, c.cpu_s * 1e3, c.sync_s * 1e3, (long long)c.round_trips);
    return b;
}

} // namespace

std::string format_table(const Placement& p, const Footprint& fp, const Probe& probe) {
    std::string o;
    char line[320];
    std::snprintf(line, sizeof line, "%-44s %-10s %12s\n", "component", "device", "bytes");
    o += line;
    for (const PlanRow& r : p.rows) {
        std::snprintf(line, sizeof line, "%-44s %-10s %12s\n", r.component.c_str(), r.device.c_str(), format_bytes(r.bytes).c_str());
        o += line;
    }
    o += "\n";
    o += "placement: " + placement_line(p, fp) + ", context " + std::to_string(p.n_ctx) + " (" + p.reason + ")\n";
    if (probe.has_gpu) {
        o += "gpu: " + format_bytes(p.gpu_bytes) + " planned of " + format_bytes(p.gpu_usable) + " usable (" + format_bytes(probe.gpu_free) + " free";
        if (probe.gpu_cap) o += ", --vram " + format_bytes(probe.gpu_cap);
        o += ")";
        if (p.over_budget) o += "  OVER BUDGET";
        o += "\n";
    }
    o += "cpu: " + format_bytes(p.cpu_bytes) + " (" + format_bytes(probe.host_available) + " available" + (p.fits_host ? "" : ", DOES NOT FIT") + ")\n";
    std::snprintf(line, sizeof line, "expected speed class: %s (%.0f%% of the bytes per token read on the CPU)\n", p.speed_class.c_str(),
                  100.0 * p.cpu_read_share);
    o += line;
    const Rates& r = probe.rates;
    std::snprintf(line, sizeof line, "estimate: %s\n", cost_line(p.cost).c_str());
    o += line;
    std::snprintf(line, sizeof line,
                  "rates (%s): gpu %.0f GB/s, %.1f us/op, attention %.1f us; cpu %.1f GB/s, %.1f us/op, attention %.1f us; round trip %.0f us, "
                  "cpu wake %.0f us\n",
                  r.source.c_str(), r.gpu_gbs, r.gpu_op_us, r.gpu_attn_us, r.cpu_gbs, r.cpu_op_us, r.cpu_attn_us, r.round_trip_us, r.cpu_wake_us);
    o += line;
    if (!p.alternatives.empty()) {
        o += "compared at context " + std::to_string(p.alternatives.front().n_ctx) + " (* = chosen):\n";
        for (const Alternative& a : p.alternatives) {
            const bool chosen = a.n_gpu_layers == p.n_gpu_layers && a.n_gpu_experts == p.n_gpu_experts;
            std::snprintf(line, sizeof line, "  %s %-58s %10s  %s\n", chosen ? "*" : " ", a.label.c_str(), format_bytes(a.gpu_bytes).c_str(),
                          a.fits ? cost_line(a.cost).c_str() : "does not fit");
            o += line;
        }
    }
    return o;
}

std::string format_json(const Placement& p, const Footprint& fp, const Probe& probe) {
    std::string o = "{";
    auto kv = [&](const char* k, const std::string& v, bool last = false) { o += json_str(k) + ": " + v + (last ? "" : ", "); };
    auto num = [](uint64_t v) { return std::to_string(v); };
    kv("arch", json_str(fp.arch));
    kv("n_layer", std::to_string(fp.n_layer));
    kv("use_gpu", p.use_gpu ? "true" : "false");
    kv("device", json_str(p.use_gpu ? probe.gpu_name : "cpu"));
    kv("n_gpu_layers", std::to_string(p.n_gpu_layers));
    kv("head_on_gpu", p.head_on_gpu ? "true" : "false");
    kv("cpu_moe", p.cpu_moe ? "true" : "false");
    kv("n_gpu_experts", std::to_string(p.n_gpu_experts));
    kv("n_cpu_moe", std::to_string(p.n_cpu_moe));
    kv("n_ctx", std::to_string(p.n_ctx));
    kv("gpu_free", num(probe.gpu_free));
    kv("gpu_cap", num(probe.gpu_cap));
    kv("gpu_usable", num(p.gpu_usable));
    kv("gpu_bytes", num(p.gpu_bytes));
    kv("cpu_bytes", num(p.cpu_bytes));
    kv("host_available", num(probe.host_available));
    kv("over_budget", p.over_budget ? "true" : "false");
    kv("fits_host", p.fits_host ? "true" : "false");
    kv("speed_class", json_str(p.speed_class));
    char share[32];
    std::snprintf(share, sizeof share, "%.4f", p.cpu_read_share);
    kv("cpu_read_share", share);
    kv("reason", json_str(p.reason));
    kv("estimate", cost_json(p.cost));
    const Rates& rt = probe.rates;
    char rates[400];
    std::snprintf(rates, sizeof rates,
                  "{\"source\": %s, \"gpu_gbs\": %.2f, \"cpu_gbs\": %.2f, \"gpu_op_us\": %.3f, \"cpu_op_us\": %.3f, \"round_trip_us\": %.2f, "
                  "\"cpu_wake_us\": %.2f, \"gpu_attn_us\": %.3f, \"cpu_attn_us\": %.3f}",
                  json_str(rt.source).c_str(), rt.gpu_gbs, rt.cpu_gbs, rt.gpu_op_us, rt.cpu_op_us, rt.round_trip_us, rt.cpu_wake_us, rt.gpu_attn_us,
                  rt.cpu_attn_us);
    kv("rates", rates);
    o += "\"alternatives\": [";
    for (size_t i = 0; i < p.alternatives.size(); ++i) {
        const Alternative& a = p.alternatives[i];
        o += (i ? ", " : "") + std::string("{\"label\": ") + json_str(a.label) + ", \"n_gpu_layers\": " + std::to_string(a.n_gpu_layers) +
             ", \"n_gpu_experts\": " + std::to_string(a.n_gpu_experts) + ", \"n_cpu_moe\": " + std::to_string(fp.n_layer - a.n_gpu_experts) +
             ", \"gpu_bytes\": " + num(a.gpu_bytes) + ", \"fits\": " + (a.fits ? "true" : "false") + ", \"estimate\": " + cost_json(a.cost) + "}";
    }
    o += "], ";
    o += "\"rows\": [";
    for (size_t i = 0; i < p.rows.size(); ++i) {
        const PlanRow& r = p.rows[i];
        o += (i ? ", " : "") + std::string("{\"component\": ") + json_str(r.component) + ", \"device\": " + json_str(r.device) +
             ", \"bytes\": " + num(r.bytes) + "}";
    }
    o += "]}\n";
    return o;
}

} // namespace vkai::plan
