// Files the CLI writes whole (export, ltx encode-db, .backup): written to a temporary file
// beside the target and renamed over it only when complete, so a failure or an interrupt
// never leaves a half-written file under the final name.
#pragma once

#include <string>
#include <utility>

#include "ltx/io.h"
#include "ltx/status.h"

namespace cli {

// A temporary file next to `final_path` (".NAME.tmp-XXXXXX", created 0644 by mkstemp) that
// is removed on destruction unless Commit() renamed it over final_path (after fsync of the
// file; the directory is fsynced after the rename).
class TempFile {
 public:
  explicit TempFile(const std::string& final_path);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return tmp_path_; }
  int fd() const { return fd_; }
  void Commit();

 private:
  std::string final_path_;
  std::string tmp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

// ltx::Sink over a descriptor someone else owns (e.g. a TempFile's), which must stay open
// while the sink is used.
class FdSink : public ltx::Sink {
 public:
  FdSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ltx::Status Write(const void* data, size_t n) override;

 private:
  int fd_;
  std::string path_;
};

}  // namespace cli
