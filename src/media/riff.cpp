#include "media/riff.h"

#include <cstring>

namespace vkai::media {

std::optional<uint64_t> riff_data_size(ByteSource& src) {
    uint8_t h[12];
    if (src.read_at(0, h, 12) != 12 || std::memcmp(h, "RIFF", 4) != 0 || std::memcmp(h + 8, "WAVE", 4) != 0)
        return std::nullopt;
    // Walk chunk headers (id, u32 little-endian size, payload padded to even); a bounded number of them.
    uint64_t at = 12;
    for (int i = 0; i < 64 && at + 8 <= src.size(); ++i) {
        uint8_t c[8];
        if (src.read_at(at, c, 8) != 8) return std::nullopt;
        const uint32_t len = uint32_t(c[4]) | uint32_t(c[5]) << 8 | uint32_t(c[6]) << 16 | uint32_t(c[7]) << 24;
        if (std::memcmp(c, "data", 4) == 0) {
            if (len == 0 || len >= 0x7FFFF000u) return std::nullopt;
            return len;
        }
        at += 8 + uint64_t(len) + (len & 1);
    }
    return std::nullopt;
}

} // namespace vkai::media
