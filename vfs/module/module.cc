// The loadable SQLite extension: liblitevfs.so. The static core (litevfs_core) is linked
// with --exclude-libs,ALL, so the only exported symbols are the entry points below; SQLite
// finds it by name (sqlite3_<basename without "lib">_init). Staying loaded permanently is
// required: the VFS and its background threads outlive the loading connection.
//
// A second entry point, sqlite3_litevfsdefault_init, also makes "litevfs-default" the
// process's default VFS (for hosts that cannot pass a URI). The build puts a hard link
// liblitevfsdefault.so to liblitevfs.so beside the module, so hosts that cannot name an
// entry point reach it through the file name (a symlink would not do: PHP resolves it).
#include <sqlite3ext.h>

#include "litevfs/vfs.h"

extern "C" __attribute__((visibility("default"))) int sqlite3_litevfs_init(
    sqlite3* db, char** pzErrMsg, const sqlite3_api_routines* api) {
  int rc = litevfs_core_init(db, pzErrMsg, api);
  return rc == SQLITE_OK ? SQLITE_OK_LOAD_PERMANENTLY : rc;
}

extern "C" __attribute__((visibility("default"))) int sqlite3_litevfsdefault_init(
    sqlite3* db, char** pzErrMsg, const sqlite3_api_routines* api) {
  int rc = litevfs_core_init_default(db, pzErrMsg, api);
  return rc == SQLITE_OK ? SQLITE_OK_LOAD_PERMANENTLY : rc;
}
