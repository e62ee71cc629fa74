// Reads many pages with few system calls: pages stored back to back in one file (a run of
// base.db, or frames of one segment) are read with one preadv, each page into its own
// destination. The store locates every page of a batch, adds it here, and checks each
// page's checksum once its run is read.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ltx/status.h"

namespace mockcloud {

using ltx::Status;

class PageRuns {
 public:
  // Checks one page once it is read: (pgno, bytes, expected sum, file, offset).
  using Check = std::function<Status(uint32_t, const uint8_t*, uint64_t, const std::string&, uint64_t)>;
  explicit PageRuns(size_t page_size, Check check) : page_size_(page_size), check_(std::move(check)) {}

  // Reads page `pgno` (checksum `sum`) of `file` (open as fd) at `off` into `out`: joins the
  // pending run when it continues it, else reads the pending run first. `file` must outlive
  // the next Flush.
  Status Add(int fd, const std::string& file, uint64_t off, uint32_t pgno, uint64_t sum, uint8_t* out);
  // Reads the pending run (call once after the last Add).
  Status Flush();

 private:
  struct Pending {
    uint32_t pgno;
    uint64_t sum;
    uint8_t* out;
  };
  const size_t page_size_;
  const Check check_;
  int fd_ = -1;
  const std::string* file_ = nullptr;
  uint64_t start_ = 0;  // offset of the run's first page
  std::vector<iovec> iov_;
  std::vector<Pending> pending_;
};

}  // namespace mockcloud
