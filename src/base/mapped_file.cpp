#include "base/mapped_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace vkai {

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
    if (this != &o) {
        this->~MappedFile();
        data_ = o.data_;
        size_ = o.size_;
        mapped_ = o.mapped_;
        path_ = std::move(o.path_);
        o.data_ = nullptr;
        o.size_ = 0;
        o.mapped_ = false;
    }
    return *this;
}

MappedFile::~MappedFile() {
    if (mapped_) munmap(const_cast<uint8_t*>(data_), size_);
    data_ = nullptr;
    size_ = 0;
    mapped_ = false;
}

Result<MappedFile> MappedFile::open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return fail(e == ENOENT ? Code::not_found : Code::io, "cannot open '%s': %s", path.c_str(), std::strerror(e));
    }
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        int e = errno;
        ::close(fd);
        return fail(Code::io, "cannot stat '%s': %s", path.c_str(), std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return fail(Code::invalid_argument, "'%s' is not a regular file", path.c_str());
    }
    MappedFile f;
    f.path_ = path;
    f.size_ = static_cast<size_t>(st.st_size);
    if (f.size_ > 0) {
        void* p = mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            ::close(fd);
            return fail(Code::io, "cannot mmap '%s' (%zu bytes): %s", path.c_str(), f.size_, std::strerror(e));
        }
        f.data_ = static_cast<const uint8_t*>(p);
        f.mapped_ = true;
    } else {
        static const uint8_t empty = 0;
        f.data_ = &empty;
    }
    ::close(fd);
    return f;
}

Result<std::string> read_file(const std::string& path) {
    VKAI_ASSIGN_OR_RETURN(MappedFile f, MappedFile::open(path));
    return std::string(reinterpret_cast<const char*>(f.data()), f.size());
}

} // namespace vkai
