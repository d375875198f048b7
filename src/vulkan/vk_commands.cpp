// The recorder: command buffer, descriptor sets, staging ring, barriers, submit, timestamps.
#include "vulkan/vk_commands.h"
#include "vulkan/vk_fault.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace vkai::vk {
namespace {

constexpr uint32_t kSetsPerPool = 2048;
constexpr uint32_t kMaxBindings = 7;
constexpr uint32_t kMaxQueries = 4096;
constexpr uint32_t kFrames = 3;        // command buffers in the ring (recording + in flight)
constexpr uint32_t kSubmitEvery = 96;  // dispatches per early submit (a 7B layer is ~18)
constexpr double kSubmitBudgetS = 0.25; // estimated GPU seconds per submit (the watchdog is ~2 s)

} // namespace

double mul_mat_flops(const Tensor& w, const Tensor& x) { return 2.0 * double(w.ne[0]) * double(w.ne[1]) * double(x.nrows()); }

double attention_flops(const Tensor& q, const Tensor& k) {
    // scores q.k and the weighted sum of v: 2 FLOPs per element each
    return 4.0 * double(q.ne[0]) * double(q.ne[1]) * double(q.ne[2]) * double(k.ne[2]);
}

void WorkRates::calibrate(double flop_s, double byte_s, double fixed_s, double measured) {
    if (measured < 2e-3) return; // launch overheads dominate shorter submits: they say nothing of the rates
    const double est = flop_s * flop_scale + byte_s * byte_scale + fixed_s;
    if (!(est > 0) || !std::isfinite(measured)) return;
    double& s = flop_s * flop_scale >= byte_s * byte_scale ? flop_scale : byte_scale;
    s = std::clamp(s * std::sqrt(measured / est), 1e-3, 1e3);
}

WorkRates initial_work_rates(const std::string& type) {
    WorkRates r; // rates the shaders reach, not peaks: an estimate too fast would let a submit run long
    if (type == "discrete") r.flop_rate = 2e12, r.byte_rate = 1.5e11; // Polaris-class (RX 580: ~6 TFLOP/s peak)
    else if (type == "integrated") r.flop_rate = 3e11, r.byte_rate = 3e10;
    else if (type == "cpu") r.flop_rate = 2e10, r.byte_rate = 5e9; // a software rasterizer (lavapipe)
    else r.flop_rate = 5e11, r.byte_rate = 5e10;
    return r;
}

bool HazardTracker::conflicts(const Range* reads, size_t n_reads, const Range* writes, size_t n_writes) const {
    auto overlap = [](const Range& a, const Range& b) { return a.buf == b.buf && a.lo < b.hi && b.lo < a.hi; };
    for (const Range& w : writes_) {
        for (size_t i = 0; i < n_reads; ++i)
            if (overlap(w, reads[i])) return true;
        for (size_t i = 0; i < n_writes; ++i)
            if (overlap(w, writes[i])) return true;
    }
    for (const Range& r : reads_)
        for (size_t i = 0; i < n_writes; ++i)
            if (overlap(r, writes[i])) return true;
    return false;
}

void HazardTracker::add(const Range* reads, size_t n_reads, const Range* writes, size_t n_writes) {
    reads_.insert(reads_.end(), reads, reads + n_reads);
    writes_.insert(writes_.end(), writes, writes + n_writes);
}

namespace {
bool env_on(const char* name) {
    const char* v = std::getenv(name);
    return v && *v && std::strcmp(v, "0") != 0;
}

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Adds the seconds of its scope to `acc` when `on` (VKAI_VK_STATS).
struct ScopeTimer {
    double* acc;
    double t0;
    ScopeTimer(bool on, double& a) : acc(on ? &a : nullptr), t0(on ? now_s() : 0) {}
    ~ScopeTimer() {
        if (acc) *acc += now_s() - t0;
    }
};
} // namespace

Recorder::Recorder(const Device& dev) : dev_(dev), f_(dev.fns()) {
    profile_ = env_on("VKAI_VK_PROFILE") && dev.info().timestamp_valid_bits > 0;
    stats_ = env_on("VKAI_VK_STATS");
    full_barriers_ = env_on("VKAI_VK_FULL_BARRIERS"); // debugging: a barrier between every two commands
    // Early submits: the first buffer of a pass goes out soon so the GPU starts while the host
    // records the rest. VKAI_VK_SUBMIT_EVERY=0 submits only at sync (the old behaviour).
    submit_every_ = kSubmitEvery;
    if (const char* v = std::getenv("VKAI_VK_SUBMIT_EVERY")) submit_every_ = uint32_t(std::strtoul(v, nullptr, 10));
    if (profile_) submit_every_ = 0; // timestamps are read per submit at flush
    rates_ = initial_work_rates(dev.info().type);
    budget_s_ = kSubmitBudgetS;
    if (const char* v = std::getenv("VKAI_VK_SUBMIT_MS")) budget_s_ = std::max(0.0, std::strtod(v, nullptr)) * 1e-3;
}

Recorder::~Recorder() {
    VkDevice d = dev_.handle();
    if (recording_) {
        f_.vkEndCommandBuffer(cmd_);
        recording_ = false;
    }
    for (Frame& fr : frames_)
        if (fr.submitted) f_.vkWaitForFences(d, 1, &fr.fence, VK_TRUE, UINT64_MAX);
    if (profile_) print_profile();
    if (stats_) print_stats();
    if (qpool_) f_.vkDestroyQueryPool(d, qpool_, nullptr);
    if (tpool_) f_.vkDestroyQueryPool(d, tpool_, nullptr);
    for (Frame& fr : frames_) {
        if (fr.dpool) f_.vkDestroyDescriptorPool(d, fr.dpool, nullptr);
        if (fr.fence) f_.vkDestroyFence(d, fr.fence, nullptr);
    }
    if (pool_) f_.vkDestroyCommandPool(d, pool_, nullptr);
    destroy_buffer(dev_, ring_);
}

Status Recorder::init(uint64_t ring_bytes) {
    VkDevice d = dev_.handle();
    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pci.queueFamilyIndex = dev_.info().compute_family;
    VK_TRY(f_.vkCreateCommandPool(d, &pci, nullptr, &pool_), "vkCreateCommandPool");
    frames_.resize(kFrames);
    for (Frame& fr : frames_) {
        VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
        ai.commandPool = pool_;
        ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        ai.commandBufferCount = 1;
        VK_TRY(f_.vkAllocateCommandBuffers(d, &ai, &fr.cmd), "vkAllocateCommandBuffers");
        VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        VK_TRY(f_.vkCreateFence(d, &fci, nullptr, &fr.fence), "vkCreateFence");
        VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kSetsPerPool * kMaxBindings};
        VkDescriptorPoolCreateInfo dci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
        dci.maxSets = kSetsPerPool;
        dci.poolSizeCount = 1;
        dci.pPoolSizes = &ps;
        VK_TRY(f_.vkCreateDescriptorPool(d, &dci, nullptr, &fr.dpool), "vkCreateDescriptorPool");
    }
    cur_ = 0;
    cmd_ = frames_[0].cmd;
    sets_left_ = kSetsPerPool;
    VKAI_ASSIGN_OR_RETURN(ring_, create_buffer(dev_, ring_bytes,
                                               VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                                               true));
    if (profile_) {
        VkQueryPoolCreateInfo qci{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
        qci.queryType = VK_QUERY_TYPE_TIMESTAMP;
        qci.queryCount = kMaxQueries;
        if (f_.vkCreateQueryPool(d, &qci, nullptr, &qpool_) != VK_SUCCESS) profile_ = false;
    }
    if (dev_.info().timestamp_valid_bits > 0) { // calibration of the submit budget's estimates
        VkQueryPoolCreateInfo qci{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
        qci.queryType = VK_QUERY_TYPE_TIMESTAMP;
        qci.queryCount = 2 * kFrames;
        if (f_.vkCreateQueryPool(d, &qci, nullptr, &tpool_) != VK_SUCCESS) tpool_ = VK_NULL_HANDLE;
    }
    return {};
}

// A new pass (after a flush) starts with no hazards; a frame that continues a pass after an early
// submit keeps them: a barrier in it orders against the earlier submissions of the same queue.
Status Recorder::begin() {
    if (recording_) return {};
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    VK_TRY(f_.vkBeginCommandBuffer(cmd_, &bi), "vkBeginCommandBuffer");
    recording_ = true;
    recorded_ = 0;
    acc_s_ = 0;
    Frame& fr = frames_[cur_];
    fr.flop_s = fr.byte_s = fr.fixed_s = 0;
    fr.timed = tpool_ != VK_NULL_HANDLE;
    if (fr.timed) {
        f_.vkCmdResetQueryPool(cmd_, tpool_, 2 * cur_, 2);
        f_.vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, tpool_, 2 * cur_);
    }
    if (in_flight_ == 0) hazards_.clear();
    if (profile_) {
        f_.vkCmdResetQueryPool(cmd_, qpool_, 0, kMaxQueries);
        queries_used_ = 0;
        query_kinds_.clear();
    }
    return {};
}

Status Recorder::submit_current() {
    Frame& fr = frames_[cur_];
    recording_ = false;
    if (fr.timed) f_.vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, tpool_, 2 * cur_ + 1);
    VK_TRY(f_.vkEndCommandBuffer(cmd_), "vkEndCommandBuffer");
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd_;
    {
        ScopeTimer t(stats_, hs_.submit_s);
        VK_TRY(fault_submit() ? VK_ERROR_DEVICE_LOST : f_.vkQueueSubmit(dev_.queue(), 1, &si, fr.fence), "vkQueueSubmit");
    }
    fr.submitted = true;
    fr.sets_used = kSetsPerPool - sets_left_;
    ++in_flight_;
    ++submits_;
    return {};
}

Status Recorder::wait_frame(Frame& fr) {
    if (fr.submitted) {
        fr.submitted = false;
        --in_flight_;
        {
            ScopeTimer t(stats_, hs_.wait_s);
            VK_TRY(f_.vkWaitForFences(dev_.handle(), 1, &fr.fence, VK_TRUE, UINT64_MAX), "waiting for the GPU");
        }
        VK_TRY(f_.vkResetFences(dev_.handle(), 1, &fr.fence), "vkResetFences");
        VK_TRY(f_.vkResetCommandBuffer(fr.cmd, 0), "vkResetCommandBuffer");
        if (fr.timed) read_frame_time(fr);
    }
    fr.timed = false;
    if (fr.sets_used) {
        VK_TRY(f_.vkResetDescriptorPool(dev_.handle(), fr.dpool, 0), "vkResetDescriptorPool");
        fr.sets_used = 0;
    }
    return {};
}

void Recorder::read_frame_time(Frame& fr) {
    const uint32_t i = uint32_t(&fr - frames_.data());
    uint64_t ts[2] = {};
    if (f_.vkGetQueryPoolResults(dev_.handle(), tpool_, 2 * i, 2, sizeof ts, ts, 8, VK_QUERY_RESULT_64_BIT) != VK_SUCCESS) return;
    const uint32_t bits = dev_.info().timestamp_valid_bits;
    const uint64_t mask = bits >= 64 ? ~0ull : (1ull << bits) - 1;
    const double dt = double((ts[1] - ts[0]) & mask) * double(dev_.info().timestamp_period) * 1e-9;
    hs_.gpu_s += dt;
    ++hs_.frames_timed;
    rates_.calibrate(fr.flop_s, fr.byte_s, fr.fixed_s, dt);
}

Status Recorder::charge(double flops, double bytes) {
    const double fs = flops / rates_.flop_rate, bs = bytes / rates_.byte_rate;
    const double est = fs * rates_.flop_scale + bs * rates_.byte_scale + rates_.per_command_s;
    // Not while profiling: its rotate() is a flush, which would reset ring slices taken for this dispatch.
    if (budget_s_ > 0 && !profile_ && recording_ && acc_s_ > 0 && acc_s_ + est > budget_s_) {
        VKAI_TRY(rotate());
        ++budget_submits_;
    }
    VKAI_TRY(begin());
    acc_s_ += est;
    Frame& fr = frames_[cur_];
    fr.flop_s += fs;
    fr.byte_s += bs;
    fr.fixed_s += rates_.per_command_s;
    return {};
}

Status Recorder::rotate() {
    if (profile_) return flush(); // one query pool, read at flush
    if (!recording_) return {};
    VKAI_TRY(submit_current());
    cur_ = (cur_ + 1) % uint32_t(frames_.size());
    VKAI_TRY(wait_frame(frames_[cur_]));
    cmd_ = frames_[cur_].cmd;
    sets_left_ = kSetsPerPool;
    return {};
}

// The barrier itself is one global memory barrier (every compute/transfer write before every later
// compute/transfer access): with buffers sub-allocated from a few big blocks, buffer barriers would
// name the same VkBuffers anyway. What is tracked is *whether* one is needed.
void Recorder::barrier() {
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    const VkPipelineStageFlags st = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    f_.vkCmdPipelineBarrier(cmd_, st, st, 0, 1, &mb, 0, nullptr, 0, nullptr);
    hazards_.clear();
    ++barriers_;
}

void Recorder::barrier_for(const HazardTracker::Range* reads, size_t n_reads, const HazardTracker::Range* writes, size_t n_writes) {
    if (hazards_.size() > 0 && (full_barriers_ || hazards_.size() > 64 || hazards_.conflicts(reads, n_reads, writes, n_writes))) barrier();
    else if (hazards_.size() > 0) ++skipped_barriers_;
    hazards_.add(reads, n_reads, writes, n_writes);
}

void Recorder::host_barrier() {
    if (!recording_) return;
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    f_.vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0,
                            nullptr, 0, nullptr);
}

Result<RingSlice> Recorder::ring_alloc(uint64_t bytes, uint64_t align) {
    if (bytes > ring_.size) return fail(Code::internal, "staging request of %llu bytes exceeds the ring (%llu)", (unsigned long long)bytes, (unsigned long long)ring_.size);
    uint64_t off = (ring_used_ + align - 1) / align * align;
    if (off + bytes > ring_.size || (profile_ && queries_used_ + 4 > kMaxQueries)) {
        VKAI_TRY(flush());
        off = 0;
    } else if (sets_left_ < 2) {
        VKAI_TRY(rotate()); // earlier slices stay valid: the ring is reset only by flush()
        off = (ring_used_ + align - 1) / align * align; // 0 when rotate() flushed (profiling)
    }
    ring_used_ = off + bytes;
    return RingSlice{off, static_cast<uint8_t*>(ring_.mapped) + off};
}

Status Recorder::reserve(uint32_t sets) {
    if (profile_ && queries_used_ + 2 * sets > kMaxQueries) return flush();
    if (sets_left_ < sets) return rotate();
    return {};
}

Status Recorder::dispatch(const Pipeline& p, const Binding* b, const void* push, uint32_t gx, uint32_t gy, uint32_t gz, const char* kind) {
    double bytes = 0; // what the dispatch may touch: its bindings
    for (uint32_t i = 0; i < p.n_bindings; ++i) bytes += double(b[i].range);
    const double flops = pending_flops_;
    pending_flops_ = 0;
    if (profile_ && queries_used_ + 2 > kMaxQueries) VKAI_TRY(flush());
    else if (sets_left_ == 0 || (submit_every_ && recorded_ >= submit_every_)) VKAI_TRY(rotate());
    VKAI_TRY(charge(flops, bytes));
    // Recording time from here on: the submits and waits above count on their own.
    ScopeTimer timer(stats_, hs_.record_s);
    hs_.dispatches += stats_ ? 1 : 0;
    ++recorded_;
    VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    ai.descriptorPool = frames_[cur_].dpool;
    ai.descriptorSetCount = 1;
    ai.pSetLayouts = &p.set_layout;
    VkDescriptorSet set = VK_NULL_HANDLE;
    VK_TRY(f_.vkAllocateDescriptorSets(dev_.handle(), &ai, &set), "vkAllocateDescriptorSets");
    --sets_left_;
    VkDescriptorBufferInfo bi[kMaxBindings];
    VkWriteDescriptorSet wr[kMaxBindings];
    for (uint32_t i = 0; i < p.n_bindings; ++i) {
        bi[i] = {b[i].buf, b[i].offset, b[i].range};
        wr[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
        wr[i].dstSet = set;
        wr[i].dstBinding = i;
        wr[i].descriptorCount = 1;
        wr[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        wr[i].pBufferInfo = &bi[i];
    }
    f_.vkUpdateDescriptorSets(dev_.handle(), p.n_bindings, wr, 0, nullptr);
    // The bindings the shader writes (reflected, vk_pipelines.h) are writes, the others reads.
    HazardTracker::Range rd[kMaxBindings], wt[kMaxBindings];
    size_t n_rd = 0, n_wt = 0;
    for (uint32_t i = 0; i < p.n_bindings; ++i) {
        const HazardTracker::Range r{b[i].buf, b[i].offset, b[i].offset + b[i].range};
        if (p.written >> i & 1u) wt[n_wt++] = r;
        else rd[n_rd++] = r;
    }
    barrier_for(rd, n_rd, wt, n_wt);
    if (profile_) {
        f_.vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, qpool_, queries_used_++);
        query_kinds_.push_back(kind);
    }
    f_.vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.pipe);
    f_.vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout, 0, 1, &set, 0, nullptr);
    if (p.push_bytes) f_.vkCmdPushConstants(cmd_, p.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, p.push_bytes, push);
    f_.vkCmdDispatch(cmd_, gx, gy, gz);
    if (profile_) f_.vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, qpool_, queries_used_++);
    return {};
}

Status Recorder::copy(VkBuffer src, uint64_t src_off, VkBuffer dst, uint64_t dst_off, uint64_t bytes) {
    if (bytes == 0) return {};
    VKAI_TRY(charge(0, 2.0 * double(bytes)));
    const HazardTracker::Range r{src, src_off, src_off + bytes}, w{dst, dst_off, dst_off + bytes};
    barrier_for(&r, 1, &w, 1);
    VkBufferCopy c{src_off, dst_off, bytes};
    f_.vkCmdCopyBuffer(cmd_, src, dst, 1, &c);
    return {};
}

Status Recorder::flush() {
    if (recording_) VKAI_TRY(submit_current());
    // Wait for every frame in submission order (the current one last), then reset them all.
    Status st;
    for (uint32_t i = 1; i <= frames_.size(); ++i) {
        Status s2 = wait_frame(frames_[(cur_ + i) % uint32_t(frames_.size())]);
        if (st.ok() && !s2.ok()) st = s2;
    }
    VKAI_TRY(st);
    if (profile_) read_profile();
    cur_ = (cur_ + 1) % uint32_t(frames_.size());
    cmd_ = frames_[cur_].cmd;
    sets_left_ = kSetsPerPool;
    ring_used_ = 0;
    ++ring_gen_;
    return {};
}

void Recorder::read_profile() {
    if (!queries_used_) return;
    std::vector<uint64_t> ts(queries_used_);
    if (f_.vkGetQueryPoolResults(dev_.handle(), qpool_, 0, queries_used_, ts.size() * 8, ts.data(), 8,
                                 VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT) == VK_SUCCESS) {
        for (uint32_t q = 0; q + 1 < queries_used_; q += 2) {
            Prof& p = prof_[query_kinds_[q / 2]];
            p.count++;
            p.ns += double(ts[q + 1] - ts[q]) * double(dev_.info().timestamp_period);
        }
    }
    queries_used_ = 0;
}

void Recorder::print_stats() const {
    std::fprintf(stderr,
                 "vulkan stats (%s): %llu dispatches, %llu submits; host: recording %.3f ms (%.2f us per dispatch), vkQueueSubmit %.3f ms, "
                 "waiting %.3f ms; GPU: %.3f ms in %llu timed frames\n",
                 dev_.info().name.c_str(), (unsigned long long)hs_.dispatches, (unsigned long long)submits_, hs_.record_s * 1e3,
                 hs_.dispatches ? hs_.record_s * 1e6 / double(hs_.dispatches) : 0.0, hs_.submit_s * 1e3, hs_.wait_s * 1e3, hs_.gpu_s * 1e3,
                 (unsigned long long)hs_.frames_timed);
}

void Recorder::print_profile() const {
    if (prof_.empty()) return;
    double total = 0;
    for (auto& [k, p] : prof_) total += p.ns;
    std::fprintf(stderr, "vulkan profile (%s, %llu submits (%llu closed by the %.0f ms budget), %llu barriers, %llu skipped):\n",
                 dev_.info().name.c_str(), (unsigned long long)submits_, (unsigned long long)budget_submits_, budget_s_ * 1e3,
                 (unsigned long long)barriers_, (unsigned long long)skipped_barriers_);
    for (auto& [k, p] : prof_)
        std::fprintf(stderr, "  %-14s %8llu dispatches %10.3f ms %5.1f%%\n", k.c_str(), (unsigned long long)p.count, p.ns * 1e-6,
                     total > 0 ? 100.0 * p.ns / total : 0.0);
}

} // namespace vkai::vk
