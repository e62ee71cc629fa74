// The litevfs VFS linked statically into a test or benchmark program (as the CLI does):
// registration and the VFS's last error detail. Shared by tests/vfs_test_util.h and
// tests/bench/bench_common.h.
#pragma once

#include <sqlite3.h>

#include <string>

#include "litevfs/vfs.h"

namespace vfsstatic {

// Registers "litevfs" in this process's SQLite once. SQLite resolves `vfs=litevfs` before it
// runs automatic extensions, so one plain open runs the registration first.
inline void RegisterVfsOnce() {
  static bool done = [] {
    sqlite3_auto_extension(reinterpret_cast<void (*)(void)>(litevfs_core_init));
    sqlite3* tmp = nullptr;
    sqlite3_open(":memory:", &tmp);  // runs the auto extension: registers "litevfs"
    sqlite3_close(tmp);
    return true;
  }();
  (void)done;
}

// The VFS's most recent error detail (xGetLastError); empty without one.
inline std::string VfsLastError() {
  sqlite3_vfs* v = sqlite3_vfs_find("litevfs");
  if (!v) return "";
  char buf[1024] = {0};
  v->xGetLastError(v, sizeof buf, buf);
  return buf;
}

}  // namespace vfsstatic
