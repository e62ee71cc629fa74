// The loadable SQLite extension: liblitevfs.so. The static core (litevfs_core) is linked
// with --exclude-libs,ALL, so the only exported symbol is the entry point below; SQLite
// finds it by name (sqlite3_<basename without "lib">_init). Staying loaded permanently is
// required: the VFS and its background threads outlive the loading connection.
#include <sqlite3ext.h>

#include "litevfs/vfs.h"

extern "C" __attribute__((visibility("default"))) int sqlite3_litevfs_init(
    sqlite3* db, char** pzErrMsg, const sqlite3_api_routines* api) {
  int rc = litevfs_core_init(db, pzErrMsg, api);
  return rc == SQLITE_OK ? SQLITE_OK_LOAD_PERMANENTLY : rc;
}
