// Block sub-allocation (first fit with coalescing) and the fake-address table.
#include "vulkan/vk_memory.h"

#include "base/text.h"
#include "vulkan/vk_fault.h"

#include <algorithm>

namespace vkai::vk {
namespace {

// Fake addresses are non-canonical on x86-64 and aarch64: a stray host dereference faults at once
// instead of reading unrelated memory.
constexpr uint64_t kFakeBase = 0xB000000000000000ull;
constexpr uint64_t kAlign = 256; // covers every minStorageBufferOffsetAlignment seen in practice

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

} // namespace

int find_memory_type(const VkPhysicalDeviceMemoryProperties& mp, uint32_t bits, VkMemoryPropertyFlags want) {
    for (uint32_t i = 0; i < mp.memoryTypeCount; ++i)
        if ((bits & (1u << i)) && (mp.memoryTypes[i].propertyFlags & want) == want) return int(i);
    return -1;
}

Result<RawBuffer> create_buffer(const Device& dev, uint64_t size, VkBufferUsageFlags usage, bool host_visible) {
    const Fns& f = dev.fns();
    RawBuffer r;
    r.size = size;
    VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bi.size = size;
    bi.usage = usage;
    bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    VK_TRY(f.vkCreateBuffer(dev.handle(), &bi, nullptr, &r.buf), "vkCreateBuffer");
    VkMemoryRequirements req{};
    f.vkGetBufferMemoryRequirements(dev.handle(), r.buf, &req);
    VkPhysicalDeviceMemoryProperties mp{};
    dev.instance().fns().vkGetPhysicalDeviceMemoryProperties(dev.info().phys, &mp);
    int type = -1;
    if (host_visible) {
        type = find_memory_type(mp, req.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT |
                                                            VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
        if (type < 0) type = find_memory_type(mp, req.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    } else {
        type = find_memory_type(mp, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
        if (type < 0) type = find_memory_type(mp, req.memoryTypeBits, 0);
    }
    if (type < 0) {
        f.vkDestroyBuffer(dev.handle(), r.buf, nullptr);
        return fail(Code::unsupported, "no suitable Vulkan memory type for a %s buffer", host_visible ? "host-visible" : "device");
    }
    VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    ai.allocationSize = req.size;
    ai.memoryTypeIndex = uint32_t(type);
    VkResult res = !host_visible && fault_alloc() ? VK_ERROR_OUT_OF_DEVICE_MEMORY : f.vkAllocateMemory(dev.handle(), &ai, nullptr, &r.mem);
    if (res == VK_SUCCESS) res = f.vkBindBufferMemory(dev.handle(), r.buf, r.mem, 0);
    if (res == VK_SUCCESS && host_visible) res = f.vkMapMemory(dev.handle(), r.mem, 0, VK_WHOLE_SIZE, 0, &r.mapped);
    if (res != VK_SUCCESS) {
        destroy_buffer(dev, r);
        Status st = vk_status(res, "allocating a Vulkan buffer");
        return st.with_context(format_bytes(size));
    }
    return r;
}

void destroy_buffer(const Device& dev, RawBuffer& b) {
    const Fns& f = dev.fns();
    if (b.mapped) f.vkUnmapMemory(dev.handle(), b.mem);
    if (b.buf) f.vkDestroyBuffer(dev.handle(), b.buf, nullptr);
    if (b.mem) f.vkFreeMemory(dev.handle(), b.mem, nullptr);
    b = RawBuffer{};
}

DeviceMemory::DeviceMemory(const Device& dev) : dev_(dev), next_fake_(kFakeBase) {
    dev.instance().fns().vkGetPhysicalDeviceMemoryProperties(dev.info().phys, &mp_);
    default_block_ = std::min<uint64_t>(256ull << 20, dev.info().max_allocation);
}

DeviceMemory::~DeviceMemory() {
    for (auto& b : blocks_)
        if (b) destroy_buffer(dev_, b->b);
}

uint64_t DeviceMemory::device_local_heap_size() const {
    uint64_t best = 0;
    for (const HeapInfo& h : dev_.info().heaps)
        if (h.device_local) best = std::max(best, h.size);
    return best;
}

Status DeviceMemory::check_room(uint64_t size, const char* what) const {
    // Respect the heap budget before asking the driver (drivers overcommit and then page or fail late).
    DeviceInfo info = dev_.info();
    dev_.instance().refresh_heaps(info);
    uint64_t budget = 0, usage = 0;
    for (const HeapInfo& h : info.heaps)
        if (h.device_local && h.budget > budget) budget = h.budget, usage = h.usage;
    if (cap_ && block_bytes_ + size > cap_)
        return fail(Code::out_of_memory, "%s: %s more would exceed --vram %s (%s held)", what, format_bytes(size).c_str(),
                    format_bytes(cap_).c_str(), format_bytes(block_bytes_).c_str());
    if (info.features.memory_budget && budget && usage + size > budget)
        return fail(Code::out_of_memory, "%s: %s more would exceed the Vulkan memory budget (%s used of %s)", what,
                    format_bytes(size).c_str(), format_bytes(usage).c_str(), format_bytes(budget).c_str());
    return {};
}

Result<size_t> DeviceMemory::new_block(uint64_t size, const char* what) {
    VKAI_TRY(check_room(size, what));
    Result<RawBuffer> rb = create_buffer(dev_, size,
                                         VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT, false);
    if (!rb.ok()) {
        Status st = rb.status();
        return st.with_context(what);
    }
    auto blk = std::make_unique<Block>();
    blk->b = *rb;
    blk->free_ranges[0] = size;
    block_bytes_ += size;
    for (size_t i = 0; i < blocks_.size(); ++i)
        if (!blocks_[i]) {
            blocks_[i] = std::move(blk);
            return i;
        }
    blocks_.push_back(std::move(blk));
    return blocks_.size() - 1;
}

Result<void*> DeviceMemory::alloc(uint64_t bytes, const char* what) {
    const uint64_t size = align_up(std::max<uint64_t>(bytes, 1) + 16, kAlign); // +16: word reads past a tail stay inside
    if (size > dev_.info().max_allocation)
        return fail(Code::out_of_memory, "%s: %s is more than one Vulkan allocation may hold (maxMemoryAllocationSize %s)", what,
                    format_bytes(bytes).c_str(), format_bytes(dev_.info().max_allocation).c_str());
    size_t bi = SIZE_MAX;
    uint64_t off = 0;
    for (size_t i = 0; i < blocks_.size() && bi == SIZE_MAX; ++i) {
        if (!blocks_[i]) continue;
        for (auto& [o, s] : blocks_[i]->free_ranges)
            if (s >= size) {
                bi = i, off = o;
                break;
            }
    }
    if (bi == SIZE_MAX) {
        // A request of a quarter block or more gets a block of its own size: the tails that big
        // tensors leave in shared blocks added up to 12 % of a MoE model's expert tensors (113 MB
        // each in 256 MiB blocks), which --vram then refused although the plan fit. Small ones share
        // a default-size block, or get an exact one when no default block fits under --vram or the
        // heap budget any more.
        uint64_t bsize = size >= default_block_ / 4 ? size : std::max(size, default_block_);
        if (bsize > size && !check_room(bsize, what).ok()) bsize = size;
        VKAI_ASSIGN_OR_RETURN(bi, new_block(bsize, what));
        off = 0;
    }
    Block& b = *blocks_[bi];
    auto it = b.free_ranges.find(off);
    const uint64_t rest = it->second - size;
    b.free_ranges.erase(it);
    if (rest) b.free_ranges[off + size] = rest;
    b.used += size;
    in_use_ += size;
    const uint64_t fake = next_fake_;
    next_fake_ += align_up(size, 4096) + 4096; // a gap: one allocation's end never equals the next's start
    allocs_[fake] = Alloc{size, bi, off};
    return reinterpret_cast<void*>(fake);
}

void DeviceMemory::free(void* p) {
    auto it = allocs_.find(reinterpret_cast<uint64_t>(p));
    if (it == allocs_.end()) return;
    const Alloc a = it->second;
    allocs_.erase(it);
    Block& b = *blocks_[a.block];
    b.used -= a.size;
    in_use_ -= a.size;
    auto ins = b.free_ranges.emplace(a.offset, a.size).first;
    auto next = std::next(ins);
    if (next != b.free_ranges.end() && ins->first + ins->second == next->first) {
        ins->second += next->second;
        b.free_ranges.erase(next);
    }
    if (ins != b.free_ranges.begin()) {
        auto prev = std::prev(ins);
        if (prev->first + prev->second == ins->first) {
            prev->second += ins->second;
            b.free_ranges.erase(ins);
        }
    }
    if (b.used == 0) { // give whole blocks back: a model unload returns its memory to the driver
        block_bytes_ -= b.b.size;
        destroy_buffer(dev_, b.b);
        blocks_[a.block].reset();
    }
}

bool DeviceMemory::resolve(const void* p, Loc& out) const {
    const uint64_t a = reinterpret_cast<uint64_t>(p);
    auto it = allocs_.upper_bound(a);
    if (it == allocs_.begin()) return false;
    --it;
    if (a >= it->first + it->second.size) return false;
    const Block& b = *blocks_[it->second.block];
    out.buf = b.b.buf;
    out.offset = it->second.offset + (a - it->first);
    out.buf_size = b.b.size;
    out.alloc_left = it->second.size - (a - it->first);
    return true;
}

} // namespace vkai::vk
