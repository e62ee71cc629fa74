#include "page_file_writer.h"

#include <fcntl.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "ltx/fd_io.h"

namespace cli {
namespace {

constexpr size_t kDirectAlign = 4096;  // covers every block size direct I/O asks for

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};

// One aligned staging buffer per writing thread, grown to the largest run it wrote.
std::span<uint8_t> StagingBuffer(size_t bytes) {
  thread_local std::unique_ptr<uint8_t, FreeDeleter> buf;
  thread_local size_t cap = 0;
  if (cap < bytes) {
    const size_t want = (bytes + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
    buf.reset(static_cast<uint8_t*>(std::aligned_alloc(kDirectAlign, want)));
    if (!buf) throw std::bad_alloc();
    cap = want;
  }
  return {buf.get(), bytes};
}

}  // namespace

PageFileWriter::PageFileWriter(int fd, std::string path) : fd_(fd), path_(std::move(path)) {
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags >= 0 && ::fcntl(fd_, F_SETFL, flags | O_DIRECT) == 0) direct_ = true;
}

void PageFileWriter::FallBackToBuffered() {
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags >= 0) ::fcntl(fd_, F_SETFL, flags & ~O_DIRECT);
  direct_ = false;
}

ltx::Status PageFileWriter::WriteDirect(uint64_t off, std::span<const std::string_view> pages,
                                        size_t page_size, bool* refused) {
  *refused = false;
  std::span<uint8_t> buf = StagingBuffer(pages.size() * page_size);
  for (size_t i = 0; i < pages.size(); i++)
    std::memcpy(buf.data() + i * page_size, pages[i].data(), page_size);
  const int err = ltx::PwriteFull(fd_, buf.data(), buf.size(), off);
  if (err == EINVAL) {  // this file or size refuses direct I/O: written again buffered
    *refused = true;
    return ltx::Status::OK();
  }
  if (err != 0) return ltx::Status::IOError("write " + path_ + ": " + std::strerror(err));
  return ltx::Status::OK();
}

ltx::Status PageFileWriter::WriteRun(uint32_t first_pgno, std::span<const std::string_view> pages) {
  if (pages.empty()) return ltx::Status::OK();
  const size_t page_size = pages.front().size();
  for (std::string_view p : pages) {
    if (p.size() != page_size)
      return ltx::Status::InvalidArgument("write " + path_ + ": pages of unequal sizes");
  }
  const uint64_t off = uint64_t(first_pgno - 1) * page_size;
  if (direct_.load()) {
    bool refused = false;
    LTX_RETURN_IF_ERROR(WriteDirect(off, pages, page_size, &refused));
    if (!refused) return ltx::Status::OK();
    FallBackToBuffered();
  }
  std::vector<iovec> iov;
  iov.reserve(pages.size());
  for (std::string_view p : pages) iov.push_back({const_cast<char*>(p.data()), p.size()});
  if (int err = ltx::PwritevFull(fd_, std::move(iov), off)) {
    return ltx::Status::IOError("write " + path_ + ": " + std::strerror(err));
  }
  return ltx::Status::OK();
}

}  // namespace cli
