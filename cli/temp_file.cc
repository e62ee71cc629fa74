#include "temp_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "errors.h"
#include "ltx/fd_io.h"

namespace cli {
namespace {

constexpr mode_t kFileMode = 0644;  // what a plain `cp` or SQLite would create

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

TempFile::TempFile(const std::string& final_path) : final_path_(final_path) {
  std::string tmpl = DirName(final_path) + "/." + BaseName(final_path) + ".tmp-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  fd_ = ::mkstemp(buf.data());
  if (fd_ < 0)
    throw CliError("create temporary file for " + final_path + ": " + std::strerror(errno));
  tmp_path_ = buf.data();
  if (::fchmod(fd_, kFileMode) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    ::unlink(tmp_path_.c_str());
    throw CliError("chmod " + tmp_path_ + ": " + std::strerror(err));
  }
}

TempFile::~TempFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_path_.c_str());
}

void TempFile::Commit() {
  if (::fsync(fd_) != 0) throw CliError("fsync " + tmp_path_ + ": " + std::strerror(errno));
  if (::close(fd_) != 0) {
    fd_ = -1;
    throw CliError("close " + tmp_path_ + ": " + std::strerror(errno));
  }
  fd_ = -1;
  if (::rename(tmp_path_.c_str(), final_path_.c_str()) != 0) {
    throw CliError("rename " + tmp_path_ + " to " + final_path_ + ": " + std::strerror(errno));
  }
  committed_ = true;
  int dfd = ::open(DirName(final_path_).c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    int rc = ::fsync(dfd);
    int err = errno;
    ::close(dfd);
    if (rc != 0) throw CliError("fsync directory of " + final_path_ + ": " + std::strerror(err));
  }
}

ltx::Status FdSink::Write(const void* data, size_t n) {
  if (int e = ltx::WriteFull(fd_, data, n); e != 0) {
    return ltx::Status::IOError("write " + path_ + ": " + std::strerror(e));
  }
  return ltx::Status::OK();
}

}  // namespace cli
