// The store's writes to the data directory, behind one interface so tests can inject faults
// (a full disk, EIO) into any of them without #ifdefs: StoreOptions::io replaces the real one.
// Every pwrite, fdatasync, fsync and ftruncate the store makes goes through a StoreIo.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "util.h"

namespace mockcloud {

class StoreIo {
 public:
  virtual ~StoreIo() = default;
  // The system calls' contracts: -1 with errno set on failure (a short pwrite is allowed).
  virtual ssize_t Pwrite(int fd, const void* buf, size_t n, off_t off);
  virtual int Fdatasync(int fd);
  virtual int Fsync(int fd);
  virtual int Ftruncate(int fd, off_t size);
};

// The real system calls.
StoreIo* RealStoreIo();

// Whole writes and syncs through `io`, naming `path` in errors; a full disk is
// kResourceExhausted / ENOSPACE (WriteErrno).
Status IoPwriteAll(StoreIo* io, int fd, const void* data, size_t n, uint64_t off,
                   const std::string& path);
Status IoFdatasync(StoreIo* io, int fd, const std::string& path);
Status IoFsync(StoreIo* io, int fd, const std::string& path);
Status IoFtruncate(StoreIo* io, int fd, uint64_t size, const std::string& path);

}  // namespace mockcloud
