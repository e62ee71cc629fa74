// The browser build's read-only SQLite VFS (see wasm_vfs.h).
#include "wasm_vfs.h"

#include <sqlite3.h>

#include <cstring>
#include <map>

namespace litevfs::wasm {
namespace {

std::map<std::string, RemoteDb*>& Bound() {
  static auto* m = new std::map<std::string, RemoteDb*>;
  return *m;
}
std::string& LastError() {
  static auto* s = new std::string;
  return *s;
}

struct File {
  sqlite3_file base;
  RemoteDb* db;
  int lock;
};

int Fail(const Status& st, int code) {
  LastError() = st.message();
  return code;
}

int Close(sqlite3_file*) { return SQLITE_OK; }

int Read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  bool short_read = false;
  Status st = reinterpret_cast<File*>(f)->db->Read(uint64_t(off), static_cast<uint8_t*>(buf),
                                                   size_t(n), &short_read);
  if (!st.ok()) return Fail(st, SQLITE_IOERR_READ);
  return short_read ? SQLITE_IOERR_SHORT_READ : SQLITE_OK;
}

int ReadOnly(sqlite3_file*, const void*, int, sqlite3_int64) { return SQLITE_READONLY; }
int TruncateReadOnly(sqlite3_file*, sqlite3_int64) { return SQLITE_READONLY; }
int Sync(sqlite3_file*, int) { return SQLITE_OK; }

int FileSize(sqlite3_file* f, sqlite3_int64* size) {
  *size = sqlite3_int64(reinterpret_cast<File*>(f)->db->FileSize());
  return SQLITE_OK;
}

// NONE -> SHARED starts a read transaction: the one place the position moves.
int Lock(sqlite3_file* f, int level) {
  File* file = reinterpret_cast<File*>(f);
  if (level > SQLITE_LOCK_SHARED) return SQLITE_READONLY;
  if (file->lock == SQLITE_LOCK_NONE && level == SQLITE_LOCK_SHARED) {
    Status st = file->db->BeginRead();
    if (!st.ok()) return Fail(st, SQLITE_IOERR_LOCK);
  }
  file->lock = level;
  return SQLITE_OK;
}

int Unlock(sqlite3_file* f, int level) {
  reinterpret_cast<File*>(f)->lock = level;
  return SQLITE_OK;
}

int CheckReservedLock(sqlite3_file*, int* out) {
  *out = 0;
  return SQLITE_OK;
}
int FileControl(sqlite3_file*, int, void*) { return SQLITE_NOTFOUND; }
int SectorSize(sqlite3_file*) { return 512; }
int DeviceCharacteristics(sqlite3_file*) { return 0; }

const sqlite3_io_methods kIoMethods = [] {
  sqlite3_io_methods m{};
  m.iVersion = 1;
  m.xClose = Close;
  m.xRead = Read;
  m.xWrite = ReadOnly;
  m.xTruncate = TruncateReadOnly;
  m.xSync = Sync;
  m.xFileSize = FileSize;
  m.xLock = Lock;
  m.xUnlock = Unlock;
  m.xCheckReservedLock = CheckReservedLock;
  m.xFileControl = FileControl;
  m.xSectorSize = SectorSize;
  m.xDeviceCharacteristics = DeviceCharacteristics;
  return m;
}();

int Open(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  f->pMethods = nullptr;
  auto it = name ? Bound().find(name) : Bound().end();
  if (it == Bound().end() || !(flags & SQLITE_OPEN_MAIN_DB)) {
    LastError() = std::string("litevfs (browser): no remote database bound to ") +
                  (name ? name : "(temp file)") + " (read-only: no journal or temp files)";
    return SQLITE_CANTOPEN;
  }
  File* file = reinterpret_cast<File*>(f);
  file->db = it->second;
  file->lock = SQLITE_LOCK_NONE;
  f->pMethods = &kIoMethods;
  if (out_flags) *out_flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_MAIN_DB;
  return SQLITE_OK;
}

int Delete(sqlite3_vfs*, const char*, int) { return SQLITE_READONLY; }

int Access(sqlite3_vfs*, const char* name, int, int* out) {
  *out = Bound().count(name) ? 1 : 0;  // side files (journal, wal) never exist
  return SQLITE_OK;
}

int FullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
  sqlite3_snprintf(n, out, "%s", name);
  return SQLITE_OK;
}

sqlite3_vfs* Vfs() {
  static sqlite3_vfs vfs = [] {
    sqlite3_vfs v{};
    sqlite3_vfs* base = sqlite3_vfs_find(nullptr);  // randomness, time, sleep
    v.iVersion = 1;
    v.szOsFile = sizeof(File);
    v.mxPathname = 512;
    v.zName = kVfsName;
    v.xOpen = Open;
    v.xDelete = Delete;
    v.xAccess = Access;
    v.xFullPathname = FullPathname;
    v.xRandomness = base->xRandomness;
    v.xSleep = base->xSleep;
    v.xCurrentTime = base->xCurrentTime;
    v.xGetLastError = base->xGetLastError;
    return v;
  }();
  return &vfs;
}

}  // namespace

int RegisterVfs() {
  if (sqlite3_vfs_find(kVfsName) != nullptr) return SQLITE_OK;
  return sqlite3_vfs_register(Vfs(), 0);
}
void Bind(const std::string& path, RemoteDb* db) { Bound()[path] = db; }
void Unbind(const std::string& path) { Bound().erase(path); }
const std::string& LastRemoteError() { return LastError(); }

}  // namespace litevfs::wasm
