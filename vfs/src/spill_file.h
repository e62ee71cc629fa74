// SpillFile: an unlinked temporary file that holds what a transaction cannot keep in memory
// (dirty pages beyond their bound, a rollback journal beyond its bound). It is created on
// the first write in the first directory of a list that takes one (the cache directory,
// then $TMPDIR, then /tmp), never has a name (O_TMPFILE, else mkstemp + unlink), so a crash
// leaves nothing behind, and is closed with the object. I/O goes through SpillIo so tests
// can fail the Nth write (ENOSPC) without a full disk.
//
// Errors: a full disk (ENOSPC, EDQUOT) is kResourceExhausted with api_code "ENOSPACE" (the
// VFS answers SQLITE_FULL, as for a full service); other failures are kIOError. Messages
// name the directory and what was being stored.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ltx/status.h"

namespace litevfs {

// The system calls a SpillFile makes (the default is POSIX); a test wraps it to inject faults.
class SpillIo {
 public:
  virtual ~SpillIo() = default;
  // An unlinked file open for reading and writing in `dir`: its fd, or -errno.
  virtual int OpenTemp(const std::string& dir);
  virtual ssize_t PWrite(int fd, const void* buf, size_t n, off_t off);
  virtual ssize_t PRead(int fd, void* buf, size_t n, off_t off);
  virtual int FTruncate(int fd, off_t size);
};
// The process-wide POSIX SpillIo (never destroyed).
SpillIo* DefaultSpillIo();

// The directories a spill file goes to when `preferred` (a cache directory) is empty or
// refuses one: $TMPDIR when set, then /tmp.
std::vector<std::string> SpillDirs(const std::string& preferred);

class SpillFile {
 public:
  // `what` names the contents in messages ("dirty pages of NAME"). `io` must outlive this
  // (nullptr: DefaultSpillIo()).
  SpillFile(std::vector<std::string> dirs, std::string what, SpillIo* io = nullptr);
  ~SpillFile();
  SpillFile(const SpillFile&) = delete;
  SpillFile& operator=(const SpillFile&) = delete;

  // Writes n bytes at off, creating the file first if needed.
  ltx::Status Write(uint64_t off, const void* buf, size_t n);
  // Reads n bytes at off; reading past what was written is kIOError (a bug, not a hole).
  ltx::Status Read(uint64_t off, void* buf, size_t n) const;
  // Cuts the file to `size` bytes (what lies past it reads as zeros when written again).
  ltx::Status Truncate(uint64_t size);
  // Gives the disk space back (size 0); the file stays open for the next transaction.
  ltx::Status Clear() { return Truncate(0); }
  bool is_open() const { return fd_ >= 0; }
  const std::string& dir() const { return dir_; }  // where it lives, once open

 private:
  ltx::Status Open();
  ltx::Status Error(int err, const std::string& op) const;

  const std::vector<std::string> dirs_;
  const std::string what_;
  SpillIo* const io_;
  int fd_ = -1;
  std::string dir_;
};

}  // namespace litevfs
