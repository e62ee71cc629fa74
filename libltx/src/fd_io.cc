#include "ltx/fd_io.h"

#include <unistd.h>

#include <cerrno>

namespace ltx {

ssize_t PreadFull(int fd, void* buf, size_t n, uint64_t off) noexcept {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, static_cast<char*>(buf) + got, n - got, off_t(off + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (r == 0) break;
    got += size_t(r);
  }
  return ssize_t(got);
}

int PwriteFull(int fd, const void* buf, size_t n, uint64_t off) noexcept {
  size_t done = 0;
  while (done < n) {
    ssize_t w = ::pwrite(fd, static_cast<const char*>(buf) + done, n - done, off_t(off + done));
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (w == 0) return EIO;
    done += size_t(w);
  }
  return 0;
}

int WriteFull(int fd, const void* buf, size_t n) noexcept {
  size_t done = 0;
  while (done < n) {
    ssize_t w = ::write(fd, static_cast<const char*>(buf) + done, n - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (w == 0) return EIO;
    done += size_t(w);
  }
  return 0;
}

}  // namespace ltx
