// The litevfs SQLite VFS, public entry points.
//
// Loadable module: `.load liblitevfs` (entry sqlite3_litevfs_init, defined in
// vfs/module/module.cc) registers the VFS "litevfs" and stays loaded permanently.
// `.load liblitevfsdefault` (entry sqlite3_litevfsdefault_init) also makes litevfs the
// default VFS for plain names `litevfs:NAME` (see litevfs_core_init_default).
//
// Static use (the CLI, tests): register the core as an automatic extension, then open any
// connection once so it runs (SQLite resolves `vfs=litevfs` before it runs automatic
// extensions, so the very first open must not name the VFS):
//
//   sqlite3_auto_extension(reinterpret_cast<void (*)(void)>(litevfs_core_init));
//   sqlite3* tmp; sqlite3_open(":memory:", &tmp); sqlite3_close(tmp);   // registers "litevfs"
//   sqlite3_open_v2("file:mydb?vfs=litevfs", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI, nullptr);
//
// See man/litevfs.7 for the environment, URI parameters and pragmas.
#pragma once

#include <sqlite3.h>

#ifdef __cplusplus
extern "C" {
#endif

// Registers the "litevfs" VFS (not as the default) in the SQLite whose API table is `api`.
// Idempotent: later calls (one per connection under sqlite3_auto_extension) only return
// SQLITE_OK. Returns SQLITE_OK (not SQLITE_OK_LOAD_PERMANENTLY, which SQLite treats as an
// error from an automatic extension); the module entry point converts it.
int litevfs_core_init(sqlite3* db, char** pzErrMsg, const sqlite3_api_routines* api);

// As litevfs_core_init, then makes "litevfs-default" the default VFS: a name whose last path
// component is `litevfs:NAME` opens remote database NAME; every other file goes to the VFS
// that was the default before (local databases and temp files keep working). For hosts
// that cannot pass a URI. The module's entry point for it is sqlite3_litevfsdefault_init.
int litevfs_core_init_default(sqlite3* db, char** pzErrMsg, const sqlite3_api_routines* api);

// For a static host that shows the user every error SQLite returns (the litevfs CLI): the
// VFS then stops also logging those errors to stderr, so each is printed once. They still
// go to LITEVFS_LOG_FILE when it is set, and errors nobody is told about (a commit that
// fails at unlock, a lost lease) are logged as always. Default: off.
void litevfs_core_host_reports_errors(int on);

#ifdef __cplusplus
}
#endif
