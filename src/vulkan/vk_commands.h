// Command recording: ops are recorded into a small ring of command buffers. A buffer that holds
// enough dispatches is submitted at once without waiting (the GPU runs it while the host records
// the next one: recording a forward pass is not added to its GPU time); sync/download, or a full
// staging ring, submits the rest and waits for all. Also: the host-visible staging ring for
// uploads, downloads and small per-op host arrays; barriers only between dependent commands
// (HazardTracker); optional timestamps per op kind (VKAI_VK_PROFILE=1, which submits only at sync).
// Watchdog: no submit should run long (Windows resets a GPU after ~2 s), so each dispatch carries
// an estimate of its GPU time (the FLOPs its op announces through add_flops, the bytes of its
// bindings, at the device's rates, calibrated by timestamps of earlier submits) and a submit is
// closed once its estimate reaches the budget (VKAI_VK_SUBMIT_MS, default 250; 0 = off).
#pragma once

#include "tensor/tensor.h"
#include "vulkan/vk_memory.h"
#include "vulkan/vk_pipelines.h"

#include <map>
#include <string>
#include <vector>

namespace vkai::vk {

struct Binding {
    VkBuffer buf = VK_NULL_HANDLE;
    uint64_t offset = 0, range = 0;
};

// Buffer ranges read and written since the last barrier. A command needs a barrier only when it
// reads or writes what an earlier command of the batch writes (RAW, WAW) or writes what one reads
// (WAR); independent dispatches (the q, k and v projections) then run without one between them.
class HazardTracker {
public:
    struct Range {
        VkBuffer buf;
        uint64_t lo, hi; // [lo, hi) in bytes
    };
    bool conflicts(const Range* reads, size_t n_reads, const Range* writes, size_t n_writes) const;
    void add(const Range* reads, size_t n_reads, const Range* writes, size_t n_writes);
    void clear() { reads_.clear(), writes_.clear(); }
    size_t size() const { return reads_.size() + writes_.size(); }

private:
    std::vector<Range> reads_, writes_;
};

struct RingSlice {
    uint64_t offset = 0; // in ring()
    void* host = nullptr;
};

// The arithmetic of one op, for the submit budget: what the op recording passes to add_flops.
double mul_mat_flops(const Tensor& w, const Tensor& x);   // 2 k m n
double attention_flops(const Tensor& q, const Tensor& k); // 4 head_dim n_head n_tokens n_cells

// GPU-time estimates: seconds = flops / flop_rate + bytes / byte_rate + a fixed cost per command,
// the two rates scaled by what the timestamps of finished submits measured.
struct WorkRates {
    double flop_rate = 1e12, byte_rate = 1e11; // assumed from the device type until calibrated
    double per_command_s = 2e-6;
    double flop_scale = 1, byte_scale = 1;     // measured / estimated, per kind of submit
    double estimate(double flops, double bytes) const {
        return flops / flop_rate * flop_scale + bytes / byte_rate * byte_scale + per_command_s;
    }
    // A submit estimated at (flop_s, byte_s) unscaled seconds took `measured` seconds on the GPU:
    // moves the scale of its dominant kind toward what was measured (geometric, halfway).
    void calibrate(double flop_s, double byte_s, double fixed_s, double measured);
};
WorkRates initial_work_rates(const std::string& device_type); // "discrete", "integrated", "cpu", ...

class Recorder {
public:
    explicit Recorder(const Device& dev);
    ~Recorder();
    Status init(uint64_t ring_bytes);

    const RawBuffer& ring() const { return ring_; }
    // Space in the staging ring for this submission; submits and waits first when the ring (or
    // the descriptor pool) is full, so the dispatch recorded right after never has to.
    Result<RingSlice> ring_alloc(uint64_t bytes, uint64_t align);
    // Submits first when fewer than `sets` descriptor sets are left, so that the next `sets`
    // dispatches keep the ring slices allocated before them.
    Status reserve(uint32_t sets);
    uint64_t ring_capacity() const { return ring_.size; }

    // The last binding is the shader's only output (a convention of every vkai shader); the others are read.
    Status dispatch(const Pipeline& p, const Binding* b, const void* push, uint32_t gx, uint32_t gy, uint32_t gz, const char* kind);
    Status copy(VkBuffer src, uint64_t src_off, VkBuffer dst, uint64_t dst_off, uint64_t bytes);
    // Makes device writes visible to the host before the next submit completes (downloads).
    void host_barrier();
    // Submits what is recorded and waits for everything submitted; resets the staging ring.
    Status flush();
    bool pending() const { return recording_ || in_flight_ > 0; }
    uint64_t submits() const { return submits_; }
    // The next dispatch's arithmetic (the op recording calls this right before dispatching).
    void add_flops(double flops) { pending_flops_ += flops; }
    uint64_t budget_submits() const { return budget_submits_; } // submits closed by the budget
    double submit_budget_s() const { return budget_s_; }
    const WorkRates& work_rates() const { return rates_; }
    // Changes whenever the ring is reset: ring slices from an older generation are gone.
    uint64_t ring_generation() const { return ring_gen_; }
    void print_profile() const;

private:
    // One command buffer with its fence and descriptor pool; frames_[cur_] is the one recording.
    struct Frame {
        VkCommandBuffer cmd = VK_NULL_HANDLE;
        VkFence fence = VK_NULL_HANDLE;
        VkDescriptorPool dpool = VK_NULL_HANDLE;
        bool submitted = false; // waiting on fence
        uint32_t sets_used = 0;
        bool timed = false;     // its first and last commands write timestamps (calibration)
        double flop_s = 0, byte_s = 0, fixed_s = 0; // its estimate, unscaled
    };
    Status begin();
    // Ends and submits the recording frame without waiting, then moves to the next frame (waiting
    // for it if it is still in flight). The staging ring is not reset: its slices stay valid.
    Status rotate();
    Status submit_current();
    Status wait_frame(Frame& fr);
    // Closes the recording frame first when `est` more seconds would pass the budget.
    Status charge(double flops, double bytes);
    void read_frame_time(Frame& fr);
    void read_profile();
    void barrier_for(const HazardTracker::Range* reads, size_t n_reads, const HazardTracker::Range* writes, size_t n_writes);
    void barrier();

    const Device& dev_;
    const Fns& f_;
    VkCommandPool pool_ = VK_NULL_HANDLE;
    std::vector<Frame> frames_;
    uint32_t cur_ = 0, in_flight_ = 0;
    VkCommandBuffer cmd_ = VK_NULL_HANDLE; // frames_[cur_].cmd
    uint32_t sets_left_ = 0;               // in frames_[cur_].dpool
    uint32_t recorded_ = 0;                // dispatches in the recording frame
    uint32_t submit_every_ = 0;            // dispatches per early submit; 0 = only at flush
    RawBuffer ring_;
    uint64_t ring_used_ = 0, ring_gen_ = 0;
    bool recording_ = false, full_barriers_ = false;
    HazardTracker hazards_;
    uint64_t barriers_ = 0, skipped_barriers_ = 0;
    uint64_t submits_ = 0;

    // Submit budget (watchdog)
    WorkRates rates_;
    double budget_s_ = 0.25, acc_s_ = 0, pending_flops_ = 0;
    uint64_t budget_submits_ = 0;
    VkQueryPool tpool_ = VK_NULL_HANDLE; // two timestamps per frame

    // VKAI_VK_STATS=1: where a pass's wall time goes without changing the submit pattern: host time
    // recording dispatches, in vkQueueSubmit and waiting on fences; GPU time of the submitted frames
    // (first to last command of each, from the calibration timestamps).
    struct HostStats {
        uint64_t dispatches = 0, frames_timed = 0;
        double record_s = 0, submit_s = 0, wait_s = 0, gpu_s = 0;
    };
    bool stats_ = false;
    HostStats hs_;
    void print_stats() const;

    // Profiling
    bool profile_ = false;
    VkQueryPool qpool_ = VK_NULL_HANDLE;
    uint32_t queries_used_ = 0;
    std::vector<const char*> query_kinds_;
    struct Prof {
        uint64_t count = 0;
        double ns = 0;
    };
    std::map<std::string, Prof> prof_;
};

} // namespace vkai::vk
