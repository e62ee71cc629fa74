#include "quarantine.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <vector>

namespace mockcloud {
namespace {

constexpr int kMaxNameTries = 1000;  // ".1" ... before giving up on a free name

bool Exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

}  // namespace

Result<std::string> CopyToQuarantine(StoreIo* io, int fd, const std::string& src_path,
                                     uint64_t off, uint64_t n, const std::string& qdir) {
  LTX_RETURN_IF_ERROR(MakeDirs(qdir));
  const size_t slash = src_path.find_last_of('/');
  char at[32];
  snprintf(at, sizeof at, "@%016" PRIx64, off);
  const std::string stem =
      qdir + "/" + (slash == std::string::npos ? src_path : src_path.substr(slash + 1)) + at;
  std::string path = stem + ".rec";
  for (int i = 1; Exists(path); i++) {
    if (i > kMaxNameTries) return Status::IOError("no free quarantine file name for " + stem);
    path = stem + ".rec." + std::to_string(i);
  }
  const std::string tmp = path + ".tmp";
  int out = open(tmp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (out < 0) return WriteErrno("create", tmp);
  std::vector<uint8_t> buf(1 << 20);
  Status st;
  for (uint64_t done = 0; st.ok() && done < n;) {
    const size_t k = size_t(std::min<uint64_t>(buf.size(), n - done));
    st = PreadAll(fd, buf.data(), k, off + done).WithContext(src_path);
    if (st.ok()) st = IoPwriteAll(io, out, buf.data(), k, done, tmp);
    done += k;
  }
  if (st.ok()) st = IoFsync(io, out, tmp);
  close(out);
  if (st.ok() && rename(tmp.c_str(), path.c_str()) != 0) st = Status::IOError(ErrnoText("rename", tmp));
  if (st.ok()) st = FsyncPath(qdir);
  if (!st.ok()) {
    unlink(tmp.c_str());
    return st;
  }
  return path;
}

}  // namespace mockcloud
