#include "plan/measure_backend.h"

#include "base/check.h"

namespace vkai::plan {

uint64_t MeasureBackend::bytes(const std::string& tag) const {
    auto it = by_tag_.find(tag);
    return it == by_tag_.end() ? 0 : it->second;
}

Result<void*> MeasureBackend::alloc(uint64_t bytes, const char* what) {
    // Addresses are never dereferenced: a page-aligned gap keeps every allocation distinct.
    const uint64_t at = next_;
    next_ += ((bytes + 4095) / 4096 + 1) * 4096;
    allocs_[at] = {bytes, what ? what : ""};
    by_tag_[allocs_[at].tag] += bytes;
    live_ += bytes;
    if (live_ > peak_) peak_ = live_;
    return reinterpret_cast<void*>(at);
}

void MeasureBackend::free(void* base) {
    auto it = allocs_.find(reinterpret_cast<uint64_t>(base));
    if (it == allocs_.end()) return;
    by_tag_[it->second.tag] -= it->second.bytes;
    live_ -= it->second.bytes;
    allocs_.erase(it);
}

void MeasureBackend::no_op(const char* op) { ::vkai::assert_fail(__FILE__, __LINE__, "dry run", "MeasureBackend runs no op (%s called)", op); }

} // namespace vkai::plan
