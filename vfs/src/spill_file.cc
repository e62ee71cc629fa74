#include "spill_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace litevfs {

int SpillIo::OpenTemp(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) return -errno;
  // A file system without O_TMPFILE: a named file, unlinked at once.
  std::string tmpl = dir + "/.litevfs-spill-XXXXXX";
  fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0) return -errno;
  ::unlink(tmpl.c_str());
  return fd;
}
ssize_t SpillIo::PWrite(int fd, const void* buf, size_t n, off_t off) {
  return ::pwrite(fd, buf, n, off);
}
ssize_t SpillIo::PRead(int fd, void* buf, size_t n, off_t off) { return ::pread(fd, buf, n, off); }
int SpillIo::FTruncate(int fd, off_t size) { return ::ftruncate(fd, size); }

SpillIo* DefaultSpillIo() {
  static SpillIo* io = new SpillIo();  // leaked: used by objects that may outlive statics
  return io;
}

std::vector<std::string> SpillDirs(const std::string& preferred) {
  std::vector<std::string> dirs;
  if (!preferred.empty()) dirs.push_back(preferred);
  if (const char* t = std::getenv("TMPDIR"); t && *t) dirs.emplace_back(t);
  dirs.emplace_back("/tmp");
  return dirs;
}

SpillFile::SpillFile(std::vector<std::string> dirs, std::string what, SpillIo* io)
    : dirs_(std::move(dirs)), what_(std::move(what)), io_(io ? io : DefaultSpillIo()) {}

SpillFile::~SpillFile() {
  if (fd_ >= 0) ::close(fd_);
}

ltx::Status SpillFile::Error(int err, const std::string& op) const {
  std::string msg = "litevfs: " + op + " the spill file of " + what_ + " in " + dir_ + ": " +
                    std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) {
    return ltx::Status(ltx::Code::kResourceExhausted,
                       msg + " (the transaction does not fit in memory; free disk space in " +
                           dir_ + " or set TMPDIR to a larger file system)",
                       "ENOSPACE");
  }
  return ltx::Status::IOError(std::move(msg));
}

ltx::Status SpillFile::Open() {
  std::string tried;
  int last = 0;
  for (const std::string& d : dirs_) {
    int fd = io_->OpenTemp(d);
    if (fd >= 0) {
      fd_ = fd;
      dir_ = d;
      return ltx::Status::OK();
    }
    last = -fd;
    tried += (tried.empty() ? "" : ", ") + d + " (" + std::strerror(last) + ")";
  }
  std::string msg = "litevfs: cannot create a spill file for " + what_ + " in " +
                    (tried.empty() ? std::string("any directory") : tried);
  if (last == ENOSPC || last == EDQUOT) {
    return ltx::Status(ltx::Code::kResourceExhausted, msg, "ENOSPACE");
  }
  return ltx::Status::IOError(msg + "; set TMPDIR to a writable directory");
}

ltx::Status SpillFile::Write(uint64_t off, const void* buf, size_t n) {
  if (fd_ < 0) LTX_RETURN_IF_ERROR(Open());
  const auto* p = static_cast<const uint8_t*>(buf);
  size_t done = 0;
  while (done < n) {
    ssize_t r = io_->PWrite(fd_, p + done, n - done, off_t(off + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Error(errno, "writing");
    if (r == 0) return Error(ENOSPC, "writing");  // no progress: the disk is full
    done += size_t(r);
  }
  return ltx::Status::OK();
}

ltx::Status SpillFile::Read(uint64_t off, void* buf, size_t n) const {
  if (fd_ < 0) return ltx::Status::IOError("litevfs: reading the spill file of " + what_ + " before any write");
  auto* p = static_cast<uint8_t*>(buf);
  size_t done = 0;
  while (done < n) {
    ssize_t r = io_->PRead(fd_, p + done, n - done, off_t(off + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Error(errno, "reading");
    if (r == 0) {
      return ltx::Status::IOError("litevfs: the spill file of " + what_ + " in " + dir_ +
                                  " is shorter than what was written (offset " +
                                  std::to_string(off + done) + ")");
    }
    done += size_t(r);
  }
  return ltx::Status::OK();
}

ltx::Status SpillFile::Truncate(uint64_t size) {
  if (fd_ < 0) return ltx::Status::OK();
  if (io_->FTruncate(fd_, off_t(size)) != 0) return Error(errno, "truncating");
  return ltx::Status::OK();
}

}  // namespace litevfs
