#include "sqlite_file.h"

#include <sys/stat.h>

#include "errors.h"

namespace cli {

void RequireNoWal(const std::string& path) {
  struct stat st {};
  std::string wal = path + "-wal";
  if (::stat(wal.c_str(), &st) == 0 && st.st_size > 0) {
    throw CliError(path + ": has a non-empty WAL file (" + wal +
                   "); checkpoint it first (PRAGMA wal_checkpoint(TRUNCATE))");
  }
}

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa {
  }, sb{};
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace cli
