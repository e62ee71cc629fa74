// What `litevfs import FILE` uploads: exactly the database SQLite would read from FILE.
//  - A directory, a non-SQLite file, or a file whose size disagrees with the page count in
//    its header (truncated or padded) is refused with the reason.
//  - A non-empty FILE-journal (a writer died mid-transaction: a hot journal) or FILE-wal
//    (commits not yet checkpointed) is applied by SQLite itself, on a private copy of FILE and
//    that file in TMPDIR: a hot journal is rolled back, a WAL is checkpointed. FILE and its
//    journal are never written. The copy is removed afterwards, also on SIGINT/SIGTERM/SIGHUP
//    (inside an InterruptScope).
//  - With `check`, PRAGMA integrity_check must answer "ok" first.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "interrupt.h"

namespace cli {

struct DbFileInfo {
  uint32_t page_size = 0;
  uint32_t page_count = 0;  // file size / page size
  uint64_t file_size = 0;
};

// Reads the 100-byte header of a SQLite database file and checks the file against it;
// CliError on a directory, anything that is not a database, or a size that disagrees.
DbFileInfo InspectDbFile(const std::string& path);

class ImportSource {
 public:
  ImportSource(const std::string& file, bool check);
  ~ImportSource();
  ImportSource(const ImportSource&) = delete;
  ImportSource& operator=(const ImportSource&) = delete;

  const std::string& path() const { return path_; }  // FILE, or the private copy
  const DbFileInfo& info() const { return info_; }
  // What SQLite applied to the copy ("rolled back the hot journal F-journal"), or "".
  const std::string& applied() const { return applied_; }

 private:
  void ApplySidecarOnCopy(const std::string& file, const std::string& sidecar, bool wal);
  std::string path_;
  DbFileInfo info_;
  std::string applied_;
  std::string copy_dir_;  // "" when FILE is used as it is
  std::unique_ptr<OnInterrupt> remove_copy_;
};

}  // namespace cli
