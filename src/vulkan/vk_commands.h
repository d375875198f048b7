// Command recording: ops are recorded into a small ring of command buffers. A buffer that holds
// enough dispatches is submitted at once without waiting (the GPU runs it while the host records
// the next one: recording a forward pass is not added to its GPU time); sync/download, or a full
// staging ring, submits the rest and waits for all. Also: the host-visible staging ring for
// uploads, downloads and small per-op host arrays; barriers only between dependent commands
// (HazardTracker); optional timestamps per op kind (VKAI_VK_PROFILE=1, which submits only at sync).
#pragma once

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
    };
    Status begin();
    // Ends and submits the recording frame without waiting, then moves to the next frame (waiting
    // for it if it is still in flight). The staging ring is not reset: its slices stay valid.
    Status rotate();
    Status submit_current();
    Status wait_frame(Frame& fr);
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
