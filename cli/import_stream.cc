// The LTX of `litevfs import`, encoded as the upload reads it (import_stream.h).
#include "import_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "errors.h"
#include "ltx/checksum.h"
#include "ltx/fd_io.h"
#include "vfs/src/commit_stream.h"

namespace cli {
namespace {

// Reads pages [first, first + n) of `fd` into `out`: an error naming the file, or a short
// read (the file shrank since it was inspected).
ltx::Status ReadPages(int fd, const std::string& path, uint32_t page_size, uint32_t first,
                      uint32_t n, std::vector<uint8_t>* out) {
  const size_t bytes = size_t(n) * page_size;
  out->resize(bytes);
  const uint64_t off = uint64_t(first - 1) * page_size;
  const ssize_t got = ltx::PreadFull(fd, out->data(), bytes, off);
  if (got < 0) return ltx::Status::IOError(path + ": read: " + std::strerror(int(-got)));
  if (size_t(got) < bytes) {
    return ltx::Status::IOError(path + ": short read at page " +
                                std::to_string(first + uint32_t(size_t(got) / page_size)) +
                                " (the file shrank while it was imported)");
  }
  return ltx::Status::OK();
}

int OpenOrThrow(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw CliError(path + ": " + std::strerror(errno));
  return fd;
}

}  // namespace

ImportLtxStream::ImportLtxStream(const std::string& path, const DbFileInfo& fi,
                                 const ltx::Header& header, Progress* progress)
    : path_(path), fi_(fi), header_(header),
      size_(litevfs::LtxSize(fi.page_size, fi.page_count - (ltx::LockPgno(fi.page_size) <= fi.page_count))),
      end_pos_{header.max_txid, 0}, progress_(progress), fd_(OpenOrThrow(path)) {}

ImportLtxStream::~ImportLtxStream() { ::close(fd_); }

ltx::Status ImportLtxStream::Restart() {
  next_pgno_ = 1;
  sum_ = ltx::DatabaseChecksum();
  end_pos_.post_apply_checksum = 0;
  ltx::EncodeOptions eo;
  eo.version = ltx::Version::kV1;
  return OpenEncoder(header_, eo).WithContext("encode " + path_);
}

ltx::Status ImportLtxStream::Produce() {
  if (next_pgno_ > fi_.page_count) {
    const uint64_t post = encoder_sums() ? enc_->snapshot_checksum() : sum_.value();
    LTX_RETURN_IF_ERROR(enc_->Finish(post).WithContext("encode " + path_));
    end_pos_.post_apply_checksum = post;
    finished_ = true;
    if (buf_start_ + buf_.size() != size_) {
      return ltx::Status::Corruption("the import's LTX is " + std::to_string(buf_start_ + buf_.size()) +
                                     " bytes, planned " + std::to_string(size_));
    }
    return ltx::Status::OK();
  }
  const uint32_t first = next_pgno_;
  const uint32_t n = std::min(kImportBatchPages, fi_.page_count - first + 1);
  LTX_RETURN_IF_ERROR(ReadPages(fd_, path_, fi_.page_size, first, n, &pages_));
  const uint32_t lock = ltx::LockPgno(fi_.page_size);
  for (uint32_t i = 0; i < n; i++) {
    if (first + i == lock) continue;
    std::span<const uint8_t> page(pages_.data() + size_t(i) * fi_.page_size, fi_.page_size);
    if (!encoder_sums()) sum_.Toggle(ltx::PageChecksum(first + i, page));
    LTX_RETURN_IF_ERROR(enc_->AddPage(first + i, page).WithContext("encode page " + std::to_string(first + i)));
  }
  next_pgno_ = first + n;
  if (progress_) progress_->Add(n, uint64_t(n) * fi_.page_size);
  return ltx::Status::OK();
}

}  // namespace cli
