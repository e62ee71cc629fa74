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

namespace {
// Calls `step(done)` (one write of the bytes from `done` on) until all `n` bytes are written.
// 0, or the errno of the failed write (EIO when a write moves nothing); EINTR is retried.
template <typename Step>
int WriteLoop(size_t n, Step step) noexcept {
  size_t done = 0;
  while (done < n) {
    ssize_t w = step(done);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (w == 0) return EIO;
    done += size_t(w);
  }
  return 0;
}
}  // namespace

int PwriteFull(int fd, const void* buf, size_t n, uint64_t off) noexcept {
  const char* p = static_cast<const char*>(buf);
  return WriteLoop(n, [&](size_t done) { return ::pwrite(fd, p + done, n - done, off_t(off + done)); });
}

int WriteFull(int fd, const void* buf, size_t n) noexcept {
  const char* p = static_cast<const char*>(buf);
  return WriteLoop(n, [&](size_t done) { return ::write(fd, p + done, n - done); });
}

}  // namespace ltx
