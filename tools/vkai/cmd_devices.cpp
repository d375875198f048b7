// vkai devices [--json]: every Vulkan device and the CPU, with memory and features. Without a
// Vulkan loader or device it lists the CPU and says in one line why there is no Vulkan device.
#include "commands.h"

#include "base/text.h"
#include "cpu/cpu.h"

#ifdef VKAI_HAVE_VULKAN
#include "vulkan/vk_device.h"
#endif

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <unistd.h>

namespace vkai::cli {
namespace {

std::string cpu_name() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            size_t p = line.find(':');
            if (p != std::string::npos) return line.substr(line.find_first_not_of(' ', p + 1));
        }
    return "cpu";
}

uint64_t host_bytes(int name) {
    const long pages = sysconf(name), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 0;
}

} // namespace

int cmd_devices(int argc, char** argv) {
    bool json = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--json")) json = true;
        else if (!std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "--help")) {
            std::printf("usage: vkai devices [--json]\n  lists Vulkan devices (vulkan0, vulkan1, ...) and the CPU with memory and features\n");
            return 0;
        } else {
            std::fprintf(stderr, "vkai devices: unknown option '%s' (vkai devices --help)\n", argv[i]);
            return 2;
        }
    }
    std::string out, why_none;
    const std::string cpu = cpu_name();
    const unsigned threads = std::thread::hardware_concurrency();
    const uint64_t mem_total = host_bytes(_SC_PHYS_PAGES), mem_free = host_bytes(_SC_AVPHYS_PAGES);
    if (json) out += "{\"devices\": [";
    int listed = 0;
#ifdef VKAI_HAVE_VULKAN
    Result<vk::Instance*> inst = vk::Instance::get();
    if (!inst.ok()) why_none = inst.status().message();
    else if ((*inst)->devices().empty()) why_none = "the Vulkan loader reports no device with Vulkan 1.1 compute (install a driver, e.g. mesa-vulkan-drivers)";
    else {
        const bool base = vk::baseline_forced();
        for (vk::DeviceInfo d : (*inst)->devices()) {
            (*inst)->refresh_heaps(d);
            const vk::Features& f = d.features;
            auto yn = [](bool b) { return b ? "yes" : "no"; };
            const std::string coop = f.coopmat_khr && f.coopmat_nv ? "khr+nv" : f.coopmat_khr ? "khr" : f.coopmat_nv ? "nv" : "no";
            if (json) {
                out += strf("%s\n  {\"id\": \"vulkan%d\", \"name\": \"%s\", \"type\": \"%s\", \"driver\": \"%s\", \"driver_info\": \"%s\", "
                            "\"driver_version\": %u, \"api_version\": \"%s\", \"vendor_id\": %u, \"device_id\": %u, \"subgroup_size\": %u, "
                            "\"max_storage_buffer_range\": %llu, \"max_allocation\": %llu, \"baseline_forced\": %s, "
                            "\"features\": {\"fp16_math\": %s, \"storage16\": %s, \"storage8\": %s, \"int_dot\": %s, \"coopmat_nv\": %s, "
                            "\"coopmat_khr\": %s, \"subgroup_arithmetic\": %s, \"memory_budget\": %s}, \"heaps\": [",
                            listed ? "," : "", d.index, json_escape(d.name).c_str(), d.type.c_str(), json_escape(d.driver_name).c_str(),
                            json_escape(d.driver_info).c_str(), d.driver_version, vk::version_string(d.api_version).c_str(), d.vendor_id,
                            d.device_id, d.subgroup_size, (unsigned long long)d.max_storage_buffer_range, (unsigned long long)d.max_allocation,
                            base ? "true" : "false", f.fp16_math ? "true" : "false", f.storage16 ? "true" : "false",
                            f.storage8 ? "true" : "false", f.int_dot ? "true" : "false", f.coopmat_nv ? "true" : "false",
                            f.coopmat_khr ? "true" : "false", f.subgroup_arith ? "true" : "false", f.memory_budget ? "true" : "false");
                for (size_t h = 0; h < d.heaps.size(); ++h)
                    out += strf("%s{\"size\": %llu, \"budget\": %llu, \"device_local\": %s}", h ? ", " : "", (unsigned long long)d.heaps[h].size,
                                (unsigned long long)d.heaps[h].budget, d.heaps[h].device_local ? "true" : "false");
                out += "]}";
            } else {
                out += strf("vulkan%d  %s (%s)\n", d.index, d.name.c_str(), d.type.c_str());
                out += strf("    driver     %s %s, Vulkan %s\n", d.driver_name.c_str(), d.driver_info.c_str(), vk::version_string(d.api_version).c_str());
                for (size_t h = 0; h < d.heaps.size(); ++h)
                    out += strf("    heap %zu     %s%s, budget %s\n", h, format_bytes(d.heaps[h].size).c_str(),
                                d.heaps[h].device_local ? " device-local" : "", format_bytes(d.heaps[h].budget).c_str());
                out += strf("    limits     subgroup %u, storage binding %s, allocation %s\n", d.subgroup_size,
                            format_bytes(d.max_storage_buffer_range).c_str(), format_bytes(d.max_allocation).c_str());
                out += strf("    features   fp16 math %s, 16-bit storage %s, 8-bit storage %s, int dot %s, coopmat %s, subgroup arithmetic %s%s\n",
                            yn(f.fp16_math), yn(f.storage16), yn(f.storage8), yn(f.int_dot), coop.c_str(), yn(f.subgroup_arith),
                            base ? " (VKAI_VK_BASELINE=1: all off)" : "");
            }
            ++listed;
        }
    }
#else
    why_none = "this vkai was built without the Vulkan backend (VKAI_VULKAN=OFF)";
#endif
    if (json) {
        out += strf("%s\n  {\"id\": \"cpu\", \"name\": \"%s\", \"type\": \"cpu\", \"threads\": %u, \"simd\": \"%s\", \"memory\": %llu, \"memory_free\": %llu}\n]",
                    listed ? "," : "", json_escape(cpu).c_str(), threads, cpu::simd_name(), (unsigned long long)mem_total,
                    (unsigned long long)mem_free);
        if (!why_none.empty()) out += strf(", \"no_vulkan\": \"%s\"", json_escape(why_none).c_str());
        out += "}\n";
    } else {
        if (!why_none.empty()) out += "no Vulkan device: " + why_none + "\n";
        out += strf("cpu      %s\n    threads    %u, kernels %s\n    memory     %s, free %s\n", cpu.c_str(), threads, cpu::simd_name(),
                    format_bytes(mem_total).c_str(), format_bytes(mem_free).c_str());
    }
    std::fputs(out.c_str(), stdout);
    return 0;
}

} // namespace vkai::cli
