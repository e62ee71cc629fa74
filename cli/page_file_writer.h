// Writes runs of database pages at their offsets into a file many threads fill at once
// (`litevfs export`). It asks for direct I/O (O_DIRECT) first: the pages go from an aligned
// copy to the disk, without the page cache. Buffered, the 1 GiB of new page-cache memory
// cost 2-3 s of kernel CPU on the benchmark's VM (a fresh page is slow to touch there), and
// writers of one file spin on its inode lock while one copies (issue 19, RESULTS.md). A
// filesystem or page size that refuses direct I/O (tmpfs on older kernels, pages smaller
// than the device's blocks: EINVAL) gets buffered writes, with the same result.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "ltx/status.h"

namespace cli {

class PageFileWriter {
 public:
  // `fd` stays owned by the caller and open while this writer is used.
  PageFileWriter(int fd, std::string path);
  PageFileWriter(const PageFileWriter&) = delete;
  PageFileWriter& operator=(const PageFileWriter&) = delete;

  // `pages` (all of one page size, a power of two) as pages `first_pgno`, `first_pgno + 1`,
  // ... (1-based). Thread-safe: each call writes its own range.
  ltx::Status WriteRun(uint32_t first_pgno, std::span<const std::string_view> pages);

  // Whether writes still go around the page cache (false after a refusal).
  bool direct() const { return direct_.load(); }

 private:
  ltx::Status WriteDirect(uint64_t off, std::span<const std::string_view> pages, size_t page_size,
                          bool* refused);
  void FallBackToBuffered();

  const int fd_;
  const std::string path_;
  std::atomic<bool> direct_{false};
};

}  // namespace cli
