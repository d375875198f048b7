// Fault injection for the fallback tests, on any driver (lavapipe included):
//   VKAI_FAULT=alloc:N  the N-th device-memory allocation (vkAllocateMemory of a device buffer)
//                       fails with VK_ERROR_OUT_OF_DEVICE_MEMORY
//   VKAI_FAULT=lost:N   the N-th vkQueueSubmit reports VK_ERROR_DEVICE_LOST
// Both may be given, comma-separated ("alloc:3,lost:40"); counts start at 1 and each fault fires
// once. The variable is read once, at the first hook call. A bad value is logged and ignored.
#pragma once

#include <cstdint>
#include <string_view>

namespace vkai::vk {

enum class FaultKind { alloc, lost };

// The hooks: count one event of the kind; true = this one must fail.
bool fault_alloc();
bool fault_submit();

// Events of a kind seen so far (both hooks count whether or not a fault is armed).
uint64_t fault_count(FaultKind k);
// Tests: make the n-th event from now (n >= 1) of that kind fail; n = 0 disarms.
void fault_arm(FaultKind k, uint64_t n);
// Parses a VKAI_FAULT value; false for a malformed one (then nothing is armed).
bool fault_parse(std::string_view spec, uint64_t& alloc_at, uint64_t& lost_at);

} // namespace vkai::vk
