// Whole reads and writes on a file descriptor: the one loop (retry on EINTR, continue
// after a short transfer) that the LTX library, the client, the server and the CLI share.
// They return errno values rather than Status so that each caller words its own message.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ltx {

// Reads up to n bytes at `off`. Returns the bytes read (fewer than n only at end of file),
// or -errno.
ssize_t PreadFull(int fd, void* buf, size_t n, uint64_t off) noexcept;
// Writes all n bytes at `off`. Returns 0, or an errno (EIO when the file takes no bytes).
int PwriteFull(int fd, const void* buf, size_t n, uint64_t off) noexcept;
// Writes all n bytes at the descriptor's position. Returns 0 or an errno, as PwriteFull.
int WriteFull(int fd, const void* buf, size_t n) noexcept;
// The same for the buffers of `iov`, back to back from `off` (IOV_MAX at a time, a short
// transfer resumed mid-buffer): preadv returns the bytes read or -errno; pwritev 0 or an errno.
ssize_t PreadvFull(int fd, std::vector<iovec> iov, uint64_t off) noexcept;
int PwritevFull(int fd, std::vector<iovec> iov, uint64_t off) noexcept;

}  // namespace ltx
