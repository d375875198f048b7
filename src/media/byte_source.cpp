#include "media/byte_source.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace vkai::media {

ByteSource& ByteSource::operator=(ByteSource&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.fd_;
        data_ = o.data_;
        size_ = o.size_;
        pos_ = o.pos_;
        bytes_read_ = o.bytes_read_;
        seeks_ = o.seeks_;
        o.fd_ = -1;
        o.data_ = nullptr;
        o.size_ = 0;
    }
    return *this;
}

ByteSource::~ByteSource() {
    if (fd_ >= 0) ::close(fd_);
}

Result<ByteSource> ByteSource::open_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return fail(e == ENOENT ? Code::not_found : Code::io, "%s: cannot open: %s", path.c_str(), strerror(e));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return fail(Code::invalid_argument, "%s: not a regular file", path.c_str());
    }
    ByteSource s;
    s.fd_ = fd;
    s.size_ = uint64_t(st.st_size);
    return s;
}

ByteSource ByteSource::memory(std::span<const uint8_t> data) {
    ByteSource s;
    s.data_ = data.data();
    s.size_ = data.size();
    return s;
}

int64_t ByteSource::read(uint8_t* dst, size_t n) {
    int64_t got = read_at(pos_, dst, n);
    if (got > 0) pos_ += uint64_t(got);
    return got;
}

int64_t ByteSource::read_at(uint64_t offset, uint8_t* dst, size_t n) {
    if (offset >= size_ || n == 0) return 0;
    const size_t want = size_t(std::min<uint64_t>(n, size_ - offset));
    size_t got = 0;
    if (fd_ >= 0) {
        while (got < want) {
            ssize_t r = ::pread(fd_, dst + got, want - got, off_t(offset + got));
            if (r < 0) {
                if (errno == EINTR) continue;
                return -int64_t(errno);
            }
            if (r == 0) break; // the file shrank since open: a short read, then the end
            got += size_t(r);
        }
    } else {
        std::memcpy(dst, data_ + offset, want);
        got = want;
    }
    bytes_read_ += got;
    return int64_t(got);
}

int64_t ByteSource::seek(int64_t offset, int whence) {
    int64_t base = 0;
    if (whence == SEEK_CUR) base = int64_t(pos_);
    else if (whence == SEEK_END) base = int64_t(size_);
    else if (whence != SEEK_SET) return -1;
    if ((offset < 0 && base + offset < 0) || (offset > 0 && offset > INT64_MAX - base)) return -1;
    pos_ = uint64_t(base + offset);
    ++seeks_;
    return int64_t(pos_);
}

} // namespace vkai::media
