#include "ltx/fd_io.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

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
// Moves past `n` transferred bytes of iov from *first (the first buffer not yet done),
// and past empty buffers.
void Advance(std::vector<iovec>* iov, size_t* first, size_t n) noexcept {
  for (; *first < iov->size(); ++*first) {
    iovec& v = (*iov)[*first];
    const size_t step = std::min(n, v.iov_len);
    v.iov_base = static_cast<char*>(v.iov_base) + step;
    v.iov_len -= step;
    n -= step;
    if (v.iov_len != 0) break;
  }
}

int Batch(const std::vector<iovec>& iov, size_t first) noexcept {
  return int(std::min<size_t>(iov.size() - first, IOV_MAX));
}
}  // namespace

ssize_t PreadvFull(int fd, std::vector<iovec> iov, uint64_t off) noexcept {
  size_t first = 0, got = 0;
  while (first < iov.size()) {
    const ssize_t r = ::preadv(fd, iov.data() + first, Batch(iov, first), off_t(off + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (r == 0) break;
    got += size_t(r);
    Advance(&iov, &first, size_t(r));
  }
  return ssize_t(got);
}

int PwritevFull(int fd, std::vector<iovec> iov, uint64_t off) noexcept {
  size_t first = 0;
  while (first < iov.size()) {
    const ssize_t w = ::pwritev(fd, iov.data() + first, Batch(iov, first), off_t(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (w == 0) return EIO;
    off += uint64_t(w);
    Advance(&iov, &first, size_t(w));
  }
  return 0;
}

int PwriteFull(int fd, const void* buf, size_t n, uint64_t off) noexcept {
  const char* p = static_cast<const char*>(buf);
  return WriteLoop(n, [&](size_t done) { return ::pwrite(fd, p + done, n - done, off_t(off + done)); });
}

int WriteFull(int fd, const void* buf, size_t n) noexcept {
  const char* p = static_cast<const char*>(buf);
  return WriteLoop(n, [&](size_t done) { return ::write(fd, p + done, n - done); });
}

}  // namespace ltx
