// VulkanBackend: creation, memory, transfers through the staging ring, sync and error reporting.
#include "vulkan/vulkan_backend_impl.h"

#include "base/log.h"
#include "base/text.h"
#include "base/timer.h"
#include "tensor/quant.h"

#include <algorithm>
#include <cstring>

namespace vkai::vk {

Status probe() {
    VKAI_ASSIGN_OR_RETURN(Instance * inst, Instance::get());
    if (inst->devices().empty()) return fail(Code::not_found, "the Vulkan loader reports no device with Vulkan 1.1 compute (install a driver, e.g. mesa-vulkan-drivers)");
    return {};
}

Result<std::unique_ptr<Backend>> create_vulkan_backend(const VulkanOptions& opt) {
    const bool baseline = opt.baseline || baseline_forced();
    VKAI_ASSIGN_OR_RETURN(std::unique_ptr<Device> dev, Device::create(opt.device, baseline));
    auto be = std::make_unique<VulkanBackendImpl>(std::move(dev), opt);
    VKAI_TRY(be->init());
    return std::unique_ptr<Backend>(std::move(be));
}

VulkanBackendImpl::VulkanBackendImpl(std::unique_ptr<Device> dev, const VulkanOptions& opt)
    : dev_(std::move(dev)), opt_(opt), name_("vulkan" + std::to_string(dev_->info().index)) {}

VulkanBackendImpl::~VulkanBackendImpl() {
    if (rec_) {
        Status st = rec_->flush();
        (void)st; // nothing to report to at destruction
    }
    for (void* p : deferred_free_) mem_->free(p);
    if (split_scratch_) mem_->free(split_scratch_);
    rec_.reset();
    pipes_.reset();
    mem_.reset();
}

Status VulkanBackendImpl::init() {
    const DeviceInfo& info = dev_->info();
    align_ = std::max<uint64_t>(4, info.min_storage_align);
    // Leave room for the alignment slack of a binding's start and the word rounding of its end.
    uint64_t dev_range = std::min<uint64_t>(info.max_storage_buffer_range, 0xFFFFFFFFull);
    max_binding_ = dev_range - 2 * align_ - 16;
    if (opt_.max_binding) max_binding_ = std::min(max_binding_, opt_.max_binding);
    mem_ = std::make_unique<DeviceMemory>(*dev_);
    mem_->set_cap(opt_.max_device_bytes);
    pipes_ = std::make_unique<Pipelines>(*dev_);
    rec_ = std::make_unique<Recorder>(*dev_);
    VKAI_TRY(rec_->init(opt_.staging_bytes));
    const int64_t t0 = now_ns();
    VKAI_TRY(prepare_pipelines());
    const double pipe_ms = double(now_ns() - t0) * 1e-6;
    VKAI_LOG_INFO("%s: %s (%s %s), %s path, subgroup %u, max binding %s, %zu pipelines in %.0f ms", name_.c_str(), info.name.c_str(),
                  info.driver_name.c_str(), info.driver_info.c_str(), dev_->baseline() ? "baseline" : "fast", info.subgroup_size,
                  format_bytes(max_binding_).c_str(), pipes_->created(), pipe_ms);
    return {};
}

bool VulkanBackendImpl::supports(Op op, DType type) const {
    auto weight = [](DType t) {
        switch (t) {
        case DType::F32: case DType::F16: case DType::BF16: case DType::Q4_0: case DType::Q4_1: case DType::Q5_0:
        case DType::Q5_1: case DType::Q8_0: case DType::Q2_K: case DType::Q3_K: case DType::Q4_K: case DType::Q5_K:
        case DType::Q6_K: case DType::IQ4_NL: case DType::IQ4_XS: return true;
        default: return false;
        }
    };
    switch (op) {
    case Op::mul_mat:
    case Op::get_rows:
    case Op::copy: return weight(type); // copy: any of these as source; f32/f16/bf16 (or the same type) as destination
    case Op::set_rows:
    case Op::attention: return type == DType::F32 || type == DType::F16;
    case Op::layer_norm:
    case Op::gelu_erf:
    case Op::im2col: return type == DType::F32; // whisper's ops (vk_ops_whisper.cpp)
    default: return type == DType::F32;
    }
}

void VulkanBackendImpl::set_error(Status st) {
    if (err_.ok() && !st.ok()) err_ = std::move(st);
}

Result<void*> VulkanBackendImpl::alloc(uint64_t bytes, const char* what) { return mem_->alloc(bytes, what); }

void VulkanBackendImpl::free(void* base) {
    if (!base) return;
    // Recorded work may still read it: free after the next submit completes.
    if (rec_->pending()) deferred_free_.push_back(base);
    else mem_->free(base);
}

Status VulkanBackendImpl::upload(void* dst, const void* host, uint64_t bytes) {
    if (!err_.ok()) return err_;
    if (bytes == 0) return {};
    Loc loc;
    if (!mem_->resolve(dst, loc) || loc.alloc_left < bytes)
        return fail(Code::invalid_argument, "upload of %llu bytes to %p: not inside one %s allocation", (unsigned long long)bytes, dst, name_.c_str());
    const uint8_t* src = static_cast<const uint8_t*>(host);
    const uint64_t chunk_max = rec_->ring_capacity() / 2;
    for (uint64_t done = 0; done < bytes;) {
        const uint64_t n = std::min(chunk_max, bytes - done);
        VKAI_ASSIGN_OR_RETURN(RingSlice s, rec_->ring_alloc(n, 16));
        std::memcpy(s.host, src + done, n);
        VKAI_TRY(rec_->copy(rec_->ring().buf, s.offset, loc.buf, loc.offset + done, n));
        done += n;
    }
    return {};
}

Status VulkanBackendImpl::download(void* host, const void* src, uint64_t bytes) {
    if (!err_.ok()) return sync();
    if (bytes == 0) return sync();
    Loc loc;
    if (!mem_->resolve(src, loc) || loc.alloc_left < bytes)
        return fail(Code::invalid_argument, "download of %llu bytes from %p: not inside one %s allocation", (unsigned long long)bytes, src, name_.c_str());
    uint8_t* dst = static_cast<uint8_t*>(host);
    const uint64_t chunk_max = rec_->ring_capacity() / 2;
    for (uint64_t done = 0; done < bytes;) {
        const uint64_t n = std::min(chunk_max, bytes - done);
        VKAI_ASSIGN_OR_RETURN(RingSlice s, rec_->ring_alloc(n, 16));
        VKAI_TRY(rec_->copy(loc.buf, loc.offset + done, rec_->ring().buf, s.offset, n));
        rec_->host_barrier();
        VKAI_TRY(sync());
        std::memcpy(dst + done, s.host, n);
        done += n;
    }
    return {};
}

Status VulkanBackendImpl::sync() {
    Status st = rec_->flush();
    for (void* p : deferred_free_) mem_->free(p);
    deferred_free_.clear();
    if (!st.ok()) set_error(st);
    if (!err_.ok()) {
        Status e = err_;
        // A lost device stays lost; other errors belong to the work that was just dropped.
        if (e.code() != Code::device_lost) err_ = Status();
        return e;
    }
    return {};
}

MemoryInfo VulkanBackendImpl::memory() const {
    MemoryInfo m;
    DeviceInfo info = dev_->info();
    dev_->instance().refresh_heaps(info);
    uint64_t total = 0, budget = 0, usage = 0;
    for (const HeapInfo& h : info.heaps)
        if (h.device_local && h.size > total) total = h.size, budget = h.budget, usage = h.usage;
    m.total = budget ? budget : total;
    m.in_use = mem_->in_use();
    if (info.features.memory_budget) m.free = budget > usage ? budget - usage : 0;
    else m.free = m.total > mem_->block_bytes() ? m.total - mem_->block_bytes() : 0;
    if (const uint64_t cap = mem_->cap()) { // --vram: what is left under the cap (whole blocks)
        m.total = std::min(m.total, cap);
        m.free = std::min(m.free, cap > mem_->block_bytes() ? cap - mem_->block_bytes() : 0);
    }
    return m;
}

} // namespace vkai::vk
