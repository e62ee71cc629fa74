// .backup [DB] FILE: SQLite's online backup API copies schema DB (main by default) of the
// shell's connection into the local file FILE. The pages come through the VFS, from the
// page cache or the service, as of one consistent position; FILE is opened with the "unix"
// VFS whatever the process's default VFS is. Ctrl-C stops it between steps; a file the
// backup created is removed again when it fails.
#include <sys/stat.h>
#include <unistd.h>

#include "remote_db.h"
#include "shell_session.h"
#include "shell_signals.h"

namespace cli {
namespace {

constexpr int kBackupStepPages = 256;  // pages per step: Ctrl-C is seen within one step
constexpr int kBusyRetryMs = 50;
constexpr int kMaxBusyRetries = 200;  // 10 s of a locked source or destination
constexpr const char* kLocalVfs = "unix";

bool Exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

}  // namespace

bool Shell::Backup(const Args& args) {
  const std::string schema = args.size() == 3 ? args[1] : "main";
  const std::string& path = args.back();
  const bool existed = Exists(path);
  const std::string vfs_err_before = VfsLastError();
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, kLocalVfs);
  SqlitePtr dest(raw);
  if (rc != SQLITE_OK) {
    return Fail(".backup: cannot open " + path + ": " + SqliteError(raw, rc, vfs_err_before));
  }
  std::string error;
  sqlite3_backup* b = sqlite3_backup_init(raw, "main", db_, schema.c_str());
  if (!b) {
    error = sqlite3_errmsg(raw);
  } else {
    int busy = 0;
    do {
      rc = sqlite3_backup_step(b, kBackupStepPages);
      if (InterruptSeen() || StopSignal() != 0) {
        error = "interrupted";
        break;
      }
      if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        if (++busy > kMaxBusyRetries) break;
        sqlite3_sleep(kBusyRetryMs);
      }
    } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    rc = sqlite3_backup_finish(b);
    if (error.empty() && rc != SQLITE_OK) error = SqliteError(raw, rc, vfs_err_before);
  }
  dest.reset();
  if (error.empty()) return true;
  if (!existed) unlink(path.c_str());
  return Fail(".backup " + schema + " to " + path + ": " + error);
}

}  // namespace cli
