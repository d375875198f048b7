// Device memory: large VkBuffers (blocks, each one allocation within maxMemoryAllocationSize) that
// tensors are sub-allocated from, and the fake address range that Tensor::data of Vulkan tensors
// live in: a sorted table maps any pointer inside an allocation back to (VkBuffer, offset).
#pragma once

#include "vulkan/vk_device.h"

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

namespace vkai::vk {

// Index of a memory type with all of `want` among `bits`, or -1.
int find_memory_type(const VkPhysicalDeviceMemoryProperties& mp, uint32_t bits, VkMemoryPropertyFlags want);

// A buffer with its own memory (staging, small tables). Destroyed with the owner.
struct RawBuffer {
    VkBuffer buf = VK_NULL_HANDLE;
    VkDeviceMemory mem = VK_NULL_HANDLE;
    uint64_t size = 0;
    void* mapped = nullptr; // host-visible buffers only
};
Result<RawBuffer> create_buffer(const Device& dev, uint64_t size, VkBufferUsageFlags usage, bool host_visible);
void destroy_buffer(const Device& dev, RawBuffer& b);

// Where a device pointer lives.
struct Loc {
    VkBuffer buf = VK_NULL_HANDLE;
    uint64_t offset = 0;    // byte offset of the pointer in buf
    uint64_t buf_size = 0;  // size of buf (bindings may not reach past it)
    uint64_t alloc_left = 0; // bytes from the pointer to the end of its allocation
};

class DeviceMemory {
public:
    explicit DeviceMemory(const Device& dev);
    ~DeviceMemory();

    Result<void*> alloc(uint64_t bytes, const char* what);
    void free(void* p);
    // false when p is not inside a live allocation of this backend (a caller bug or a host pointer).
    bool resolve(const void* p, Loc& out) const;
    uint64_t in_use() const { return in_use_; }
    uint64_t block_bytes() const { return block_bytes_; }
    uint64_t device_local_heap_size() const;
    void set_cap(uint64_t bytes) { cap_ = bytes; } // device bytes (whole blocks) this may hold; 0 = no cap
    uint64_t cap() const { return cap_; }

private:
    struct Block {
        RawBuffer b;
        std::map<uint64_t, uint64_t> free_ranges; // offset -> size
        uint64_t used = 0;
    };
    struct Alloc {
        uint64_t size; // bytes handed out (rounded)
        size_t block;
        uint64_t offset;
    };
    // ok when `size` more bytes of blocks stay under --vram and the heap budget.
    Status check_room(uint64_t size, const char* what) const;
    Result<size_t> new_block(uint64_t size, const char* what);

    const Device& dev_;
    VkPhysicalDeviceMemoryProperties mp_{};
    std::vector<std::unique_ptr<Block>> blocks_; // null entries are freed blocks
    std::map<uint64_t, Alloc> allocs_;           // fake base address -> allocation
    uint64_t next_fake_;
    uint64_t in_use_ = 0, block_bytes_ = 0, default_block_ = 0, cap_ = 0;
};

} // namespace vkai::vk
