// VulkanBackendImpl::read_bandwidth: a read-only pass over a large device buffer, timed on the host
// around one submit of several passes (so submit overhead is a few percent at most).
#include "base/timer.h"
#include "vulkan/vulkan_backend_impl.h"

#include <algorithm>

namespace vkai::vk {

Result<double> VulkanBackendImpl::read_bandwidth() {
    VKAI_TRY(sync());
    const MemoryInfo mi = memory();
    uint64_t bytes = std::min<uint64_t>(uint64_t(1) << 30, mi.free / 4) / 4096 * 4096;
    if (bytes < (uint64_t(16) << 20)) return fail(Code::out_of_memory, "%s: too little free memory to measure bandwidth", name_.c_str());
    VKAI_ASSIGN_OR_RETURN(void* buf, alloc(bytes, "bandwidth probe"));
    auto out = alloc(4096, "bandwidth probe");
    if (!out.ok()) {
        free(buf);
        return out.status();
    }
    const Tensor whole = make_tensor(DType::F32, buf, int64_t(bytes / 4));
    const Tensor res = make_tensor(DType::F32, *out, 1024);
    const Pipeline* p = pipeline("read_bw", 2, 16);
    const uint64_t chunk = std::min<uint64_t>(max_binding_, bytes) / 4096 * 4096;
    auto pass = [&]() {
        for (uint64_t lo = 0; lo < bytes; lo += chunk) {
            const uint64_t hi = std::min(bytes, lo + chunk);
            Binding b[2];
            uint32_t bias = 0, rbias = 0;
            if (!bind(whole, lo, hi, b[0], &bias) || !bind(res, 0, 4096, b[1], &rbias)) {
                set_error(fail(Code::internal, "bandwidth probe: binding failed"));
                return;
            }
            const uint32_t pc[4] = {uint32_t((hi - lo) / 16), bias / 16, 0, 0};
            dispatch(p, b, pc, 1024, 1, "read_bw");
        }
    };
    pass(); // warm-up: first touch, clocks up
    Status st = sync();
    double best = 0;
    const int reps = 8;
    for (int round = 0; round < 3 && st.ok(); ++round) {
        for (int r = 0; r < reps; ++r) pass();
        const double t0 = now_s();
        st = sync();
        const double t = now_s() - t0;
        if (st.ok() && t > 0) best = std::max(best, double(bytes) * reps / t / 1e9);
    }
    free(buf);
    free(*out);
    VKAI_TRY(st);
    return best;
}

} // namespace vkai::vk
