// Request-local cache of read-only descriptors of stored files (closed when it goes).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <unordered_map>

#include "util.h"

namespace mockcloud {

class FdCache {
 public:
  FdCache() = default;
  FdCache(const FdCache&) = delete;
  FdCache& operator=(const FdCache&) = delete;
  ~FdCache() {
    for (auto& [_, fd] : fds_) close(fd);
  }
  Result<int> Get(const std::string& path) {
    auto it = fds_.find(path);
    if (it != fds_.end()) return it->second;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::IOError(ErrnoText("open", path));
    fds_[path] = fd;
    return fd;
  }

 private:
  std::unordered_map<std::string, int> fds_;
};

}  // namespace mockcloud
