// measure_f32_flops: a grid of FMA chains (shaders/flops.comp) sized to fill the GPU many times
// over, timed on the host around one submit (submit overhead is well under 1 % at this size).
#include "vulkan/vk_flops.h"

#include "base/timer.h"
#include "vulkan/vk_commands.h"

#include <algorithm>

namespace vkai::vk {

Result<double> measure_f32_flops(int device_index) {
    VKAI_ASSIGN_OR_RETURN(std::unique_ptr<Device> dev, Device::create(device_index, false));
    Pipelines pipes(*dev);
    struct PC {
        uint32_t iters;
        float a, b;
        uint32_t pad;
    };
    VKAI_ASSIGN_OR_RETURN(const Pipeline* p, pipes.get("flops", 1, sizeof(PC)));
    VKAI_ASSIGN_OR_RETURN(RawBuffer out, create_buffer(*dev, 256, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, false));
    Recorder rec(*dev);
    Status st = rec.init(1 << 20);
    const Binding b{out.buf, 0, 256};
    auto run = [&](uint32_t groups, uint32_t iters) -> Result<double> {
        const PC pc{iters, 0.9999999f, 1e-7f, 0};
        VKAI_TRY(rec.dispatch(*p, &b, &pc, groups, 1, 1, "flops"));
        const double t0 = now_s();
        VKAI_TRY(rec.flush());
        return now_s() - t0;
    };
    double best = 0;
    if (st.ok()) {
        // Size the run to ~50 ms from a short calibration, so clocks ramp up and timing noise is small.
        const uint32_t groups = 4096;
        uint32_t iters = 256;
        Result<double> t = run(groups, iters);
        for (int i = 0; i < 4 && t.ok() && *t < 0.02; ++i) t = run(groups, iters *= 4);
        for (int round = 0; round < 3 && t.ok(); ++round) {
            t = run(groups, iters);
            if (t.ok() && *t > 0) best = std::max(best, double(groups) * 256.0 * double(iters) * 32.0 * 2.0 / *t);
        }
        if (!t.ok()) st = t.status();
    }
    destroy_buffer(*dev, out);
    VKAI_TRY(st);
    return best;
}

} // namespace vkai::vk
