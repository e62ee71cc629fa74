// Opening remote databases through the litevfs VFS from the CLI: the VFS is registered in
// this process's SQLite with sqlite3_auto_extension(litevfs_core_init), configured by the
// environment with the global flags over it (litevfs/process_config.h), and databases are
// opened as "file:NAME?vfs=litevfs".
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>
#include <vector>

namespace cli {

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using SqlitePtr = std::unique_ptr<sqlite3, SqliteCloser>;

// Registers the VFS once per process (throws CliError when this build has none).
void RegisterVfs();
// The VFS's most recent error detail (xGetLastError), e.g. "litevfs: no write lease on
// app: run PRAGMA litevfs_acquire_lease"; empty without one.
std::string VfsLastError();
// SQLite's message for `db` (or for `rc` when db is null), plus the VFS's detail when the
// failing call produced a new one (`vfs_err_before`: VfsLastError() before the call) that
// the message does not already hold. SQLite's own text ("unable to open database file")
// often says nothing of the cause (a wrong token, an unreachable host).
std::string SqliteError(sqlite3* db, int rc, const std::string& vfs_err_before);
// Opens remote database `name` through the VFS. `create`: allow a database that does not
// exist yet (the first commit creates it). Throws CliError with SQLite's message.
SqlitePtr OpenRemote(const std::string& name, bool read_only, bool create = false);

// Runs `sql` (one or more statements) and returns every row of the last one, as text
// (NULL becomes ""). Throws CliError with SQLite's message.
std::vector<std::vector<std::string>> QueryRows(sqlite3* db, const std::string& sql);
// The first column of the first row, or "" when there is none.
std::string QueryValue(sqlite3* db, const std::string& sql);

}  // namespace cli
