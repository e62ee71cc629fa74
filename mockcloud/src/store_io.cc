#include "store_io.h"

#include <unistd.h>

#include <cerrno>

namespace mockcloud {

ssize_t StoreIo::Pwrite(int fd, const void* buf, size_t n, off_t off) {
  return ::pwrite(fd, buf, n, off);
}
int StoreIo::Fdatasync(int fd) { return ::fdatasync(fd); }
int StoreIo::Fsync(int fd) { return ::fsync(fd); }
int StoreIo::Ftruncate(int fd, off_t size) { return ::ftruncate(fd, size); }

StoreIo* RealStoreIo() {
  static StoreIo real;
  return &real;
}

Status IoPwriteAll(StoreIo* io, int fd, const void* data, size_t n, uint64_t off,
                   const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = io->Pwrite(fd, p, n, off_t(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return WriteErrno("pwrite", path);
    }
    p += w;
    n -= size_t(w);
    off += uint64_t(w);
  }
  return Status::OK();
}

Status IoFdatasync(StoreIo* io, int fd, const std::string& path) {
  return io->Fdatasync(fd) == 0 ? Status::OK() : WriteErrno("fdatasync", path);
}

Status IoFsync(StoreIo* io, int fd, const std::string& path) {
  return io->Fsync(fd) == 0 ? Status::OK() : WriteErrno("fsync", path);
}

Status IoFtruncate(StoreIo* io, int fd, uint64_t size, const std::string& path) {
  return io->Ftruncate(fd, off_t(size)) == 0 ? Status::OK() : WriteErrno("ftruncate", path);
}

}  // namespace mockcloud
