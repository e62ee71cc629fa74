#include "page_runs.h"

#include <limits.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ltx/fd_io.h"

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
  const ssize_t got = ltx::PreadvFull(fd_, std::move(iov_), start_);
  iov_.clear();  // moved from: valid, unspecified
  if (got < 0) return Status::IOError(*file_ + ": preadv: " + std::strerror(int(-got)));
  if (size_t(got) < total) {
    return Status::Corruption(*file_ + ": short read at offset " + std::to_string(start_ + uint64_t(got)));
  }
  for (size_t i = 0; i < pending_.size(); i++) {
    LTX_RETURN_IF_ERROR(check_(pending_[i].pgno, pending_[i].out, pending_[i].sum, *file_, start_ + i * page_size_));
  }
  pending_.clear();
  fd_ = -1;
  return Status::OK();
}

}  // namespace mockcloud
