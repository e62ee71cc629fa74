#include "page_runs.h"

#include <limits.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace mockcloud {
namespace {

constexpr size_t kMaxRun = std::min<size_t>(IOV_MAX, 1024);  // pages per preadv

}  // namespace

Status PageRuns::Add(int fd, const std::string& file, uint64_t off, uint32_t pgno, uint64_t sum,
                     uint8_t* out) {
  const bool continues = fd == fd_ && off == start_ + pending_.size() * page_size_ &&
                         pending_.size() < kMaxRun;
  if (!continues) {
    LTX_RETURN_IF_ERROR(Flush());
    fd_ = fd;
    file_ = &file;
    start_ = off;
  }
  iov_.push_back({out, page_size_});
  pending_.push_back({pgno, sum, out});
  return Status::OK();
}

Status PageRuns::Flush() {
  if (pending_.empty()) return Status::OK();
  const size_t total = pending_.size() * page_size_;
  size_t done = 0, first = 0;  // first: the first iovec not yet fully read
  while (done < total) {
    const ssize_t r = ::preadv(fd_, iov_.data() + first, int(iov_.size() - first), off_t(start_ + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::IOError(*file_ + ": preadv: " + std::strerror(errno));
    if (r == 0) {
      return Status::Corruption(*file_ + ": short read at offset " + std::to_string(start_ + done));
    }
    done += size_t(r);
    for (size_t left = size_t(r); left > 0 && first < iov_.size();) {
      const size_t step = std::min(left, iov_[first].iov_len);
      iov_[first].iov_base = static_cast<uint8_t*>(iov_[first].iov_base) + step;
      iov_[first].iov_len -= step;
      left -= step;
      if (iov_[first].iov_len == 0) first++;
    }
  }
  for (size_t i = 0; i < pending_.size(); i++) {
    LTX_RETURN_IF_ERROR(check_(pending_[i].pgno, pending_[i].out, pending_[i].sum, *file_, start_ + i * page_size_));
  }
  iov_.clear();
  pending_.clear();
  fd_ = -1;
  return Status::OK();
}

}  // namespace mockcloud
