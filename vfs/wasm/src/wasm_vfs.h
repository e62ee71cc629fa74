// The browser build's SQLite VFS "litevfs": read-only files backed by a RemoteDb. A file
// name must have been bound to a RemoteDb (Bind) before sqlite3_open_v2 opens it; a
// journal, WAL or other side file is never there (xAccess says so) and cannot be opened.
// Each read transaction (xLock to SHARED) starts with RemoteDb::BeginRead, so reads are
// pinned to one position while SQLite holds its shared lock.
#pragma once

#include <string>

#include "remote_db.h"

namespace litevfs::wasm {

inline constexpr const char* kVfsName = "litevfs";

// Registers the VFS with SQLite once; SQLITE_OK or SQLite's error.
int RegisterVfs();
// Makes `path` open `db` (borrowed until Unbind).
void Bind(const std::string& path, RemoteDb* db);
void Unbind(const std::string& path);
// The message of the last failed remote operation (SQLite sees only SQLITE_IOERR_*).
const std::string& LastRemoteError();

}  // namespace litevfs::wasm
