// Random-access bytes behind FFmpeg's custom I/O: a memory span (HTTP upload) or a file read with
// pread (no mmap, so a file truncated under us gives a short read, not SIGBUS). Using our own I/O for
// files too means FFmpeg never opens a path or URL itself (no protocol handlers, no nested files).
// Counts bytes read and seeks so the reader can give up on a demuxer that loops.
#pragma once

#include "base/status.h"

#include <cstdint>
#include <span>
#include <string>

namespace vkai::media {

class ByteSource {
public:
    ByteSource() = default;
    ByteSource(ByteSource&& o) noexcept { *this = std::move(o); }
    ByteSource& operator=(ByteSource&& o) noexcept;
    ByteSource(const ByteSource&) = delete;
    ByteSource& operator=(const ByteSource&) = delete;
    ~ByteSource();

    static Result<ByteSource> open_file(const std::string& path);
    static ByteSource memory(std::span<const uint8_t> data);

    // Copies up to n bytes from the cursor and advances it; returns the count (0 at the end) or -errno.
    int64_t read(uint8_t* dst, size_t n);
    // Copies up to n bytes at `offset` without moving the cursor (header peeks); same return as read().
    int64_t read_at(uint64_t offset, uint8_t* dst, size_t n);
    // whence = SEEK_SET / SEEK_CUR / SEEK_END; returns the new position, or -1 when it would be negative.
    // Positions past the end are allowed (reads there return 0), as with a file.
    int64_t seek(int64_t offset, int whence);

    uint64_t size() const { return size_; }
    uint64_t position() const { return pos_; }
    uint64_t bytes_read() const { return bytes_read_; }
    uint64_t seeks() const { return seeks_; }

private:
    int fd_ = -1;                       // file mode when >= 0
    const uint8_t* data_ = nullptr;     // memory mode
    uint64_t size_ = 0;
    uint64_t pos_ = 0;
    uint64_t bytes_read_ = 0;
    uint64_t seeks_ = 0;
};

} // namespace vkai::media
