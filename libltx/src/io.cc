// File and memory sources, file sink, and the internal buffered reader.
#include "ltx/io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "internal.h"
#include "ltx/fd_io.h"

namespace ltx {

namespace internal {

std::string Fmt(const char* fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  if (n < 0) return std::string();
  if (size_t(n) < sizeof(small)) return std::string(small, size_t(n));
  std::string out(size_t(n) + 1, '\0');
  va_start(ap, fmt);
  std::vsnprintf(out.data(), out.size(), fmt, ap);
  va_end(ap);
  out.resize(size_t(n));
  return out;
}

Status BufReader::Fill(size_t n) {
  if (buffered() >= n) return Status::OK();
  if (n > cap_) {
    std::unique_ptr<uint8_t[]> bigger(new uint8_t[n]);
    std::memcpy(bigger.get(), buf_.get() + begin_, buffered());
    end_ -= begin_;
    begin_ = 0;
    buf_ = std::move(bigger);
    cap_ = n;
  } else if (begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, buffered());
    end_ -= begin_;
    begin_ = 0;
  }
  while (end_ < n && !eof_) {
    LTX_ASSIGN_OR_RETURN(size_t got, src_->Read(buf_.get() + end_, cap_ - end_));
    if (got == 0) eof_ = true;
    end_ += got;
  }
  return Status::OK();
}

Status BufReader::FillSome() {
  if (buffered() > 0) return Status::OK();
  return Fill(1);
}

Status BufReader::Read(void* dst, size_t n, size_t* got) {
  uint8_t* out = static_cast<uint8_t*>(dst);
  *got = 0;
  while (*got < n) {
    if (buffered() == 0) {
      // Large reads bypass the buffer.
      if (n - *got >= cap_) {
        if (eof_) return Status::OK();
        LTX_ASSIGN_OR_RETURN(size_t r, src_->Read(out + *got, n - *got));
        if (r == 0) {
          eof_ = true;
          return Status::OK();
        }
        *got += r;
        offset_ += r;
        continue;
      }
      LTX_RETURN_IF_ERROR(FillSome());
      if (buffered() == 0) return Status::OK();
    }
    size_t take = std::min(buffered(), n - *got);
    std::memcpy(out + *got, data(), take);
    Consume(take);
    *got += take;
  }
  return Status::OK();
}

}  // namespace internal

Result<size_t> Source::ReadAt(uint64_t, void*, size_t) {
  return Status::Unsupported("ltx: source does not support positional reads");
}

namespace {

class FileSource final : public Source {
 public:
  FileSource(int fd, std::string path, uint64_t size)
      : fd_(fd), path_(std::move(path)), size_(size) {}
  ~FileSource() override { ::close(fd_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  Result<size_t> Read(void* buf, size_t n) override {
    for (;;) {
      ssize_t r = ::read(fd_, buf, n);
      if (r >= 0) return size_t(r);
      if (errno == EINTR) continue;
      return Status::IOError("ltx: read " + path_ + ": " + std::strerror(errno));
    }
  }
  std::optional<uint64_t> Size() const override { return size_; }
  Result<size_t> ReadAt(uint64_t offset, void* buf, size_t n) override {
    const ssize_t got = PreadFull(fd_, buf, n, offset);
    if (got < 0) return Status::IOError("ltx: read " + path_ + ": " + std::strerror(int(-got)));
    return size_t(got);
  }

 private:
  int fd_;
  std::string path_;
  uint64_t size_;
};

class MemSource final : public Source {
 public:
  explicit MemSource(std::span<const uint8_t> data) : data_(data) {}
  Result<size_t> Read(void* buf, size_t n) override {
    size_t take = std::min(n, data_.size() - pos_);
    if (take > 0) std::memcpy(buf, data_.data() + pos_, take);
    pos_ += take;
    return take;
  }
  std::optional<uint64_t> Size() const override { return data_.size(); }
  Result<size_t> ReadAt(uint64_t offset, void* buf, size_t n) override {
    if (offset >= data_.size()) return size_t{0};
    size_t take = std::min<uint64_t>(n, data_.size() - offset);
    if (take > 0) std::memcpy(buf, data_.data() + offset, take);
    return take;
  }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

}  // namespace

Result<std::unique_ptr<Source>> OpenFileSource(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    std::string msg = "ltx: open " + path + ": " + std::strerror(e);
    return e == ENOENT ? Status::NotFound(msg) : Status::IOError(msg);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return Status::IOError("ltx: stat " + path + ": " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument("ltx: " + path + " is not a regular file");
  }
  return std::unique_ptr<Source>(new FileSource(fd, path, uint64_t(st.st_size)));
}

std::unique_ptr<Source> MemorySource(std::span<const uint8_t> data) {
  return std::make_unique<MemSource>(data);
}

Result<std::unique_ptr<FileSink>> FileSink::Create(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    int e = errno;
    std::string msg = "ltx: create " + path + ": " + std::strerror(e);
    return e == ENOENT ? Status::NotFound(msg) : Status::IOError(msg);
  }
  return std::unique_ptr<FileSink>(new FileSink(fd, path));
}

FileSink::~FileSink() {
  if (fd_ >= 0) ::close(fd_);
}

Status FileSink::Write(const void* data, size_t n) {
  if (fd_ < 0) return Status::InvalidArgument("ltx: write to closed file " + path_);
  if (int e = WriteFull(fd_, data, n); e != 0) {
    std::string msg = "ltx: write " + path_ + ": " + std::strerror(e);
    return e == ENOSPC ? Status::ResourceExhausted(msg) : Status::IOError(msg);
  }
  return Status::OK();
}

Status FileSink::Sync() {
  if (fd_ < 0) return Status::InvalidArgument("ltx: sync of closed file " + path_);
  if (::fsync(fd_) != 0)
    return Status::IOError("ltx: fsync " + path_ + ": " + std::strerror(errno));
  return Status::OK();
}

Status FileSink::Close() {
  if (fd_ < 0) return Status::OK();
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return Status::IOError("ltx: close " + path_ + ": " + std::strerror(errno));
  return Status::OK();
}

}  // namespace ltx
