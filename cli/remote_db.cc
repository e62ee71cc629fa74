#include "remote_db.h"

#include <mutex>

#include "common.h"
#include "litevfs/vfs.h"

namespace cli {

void RegisterVfs() {
  static std::once_flag once;
  static int rc = SQLITE_OK;
  std::call_once(once, [] {
    ConfigureVfs();
    // Every error reaches the user through our own message; the VFS's stderr log line
    // would print it a second time.
    litevfs_core_host_reports_errors(1);
    rc = sqlite3_auto_extension(reinterpret_cast<void (*)(void)>(&litevfs_core_init));
    if (rc != SQLITE_OK) return;
    // SQLite resolves "vfs=litevfs" before it runs automatic extensions, so one plain open
    // has to run the registration first.
    sqlite3* tmp = nullptr;
    rc = sqlite3_open(":memory:", &tmp);
    sqlite3_close(tmp);
  });
  if (rc != SQLITE_OK) {
    throw CliError(std::string("register the litevfs VFS: ") + sqlite3_errstr(rc));
  }
}

std::string VfsLastError() {
  sqlite3_vfs* vfs = sqlite3_vfs_find("litevfs");
  if (!vfs || !vfs->xGetLastError) return std::string();
  char buf[1024] = {0};
  vfs->xGetLastError(vfs, int(sizeof buf) - 1, buf);
  return buf;
}

std::string SqliteError(sqlite3* db, int rc, const std::string& vfs_err_before) {
  std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const std::string detail = VfsLastError();
  if (!detail.empty() && detail != vfs_err_before && msg.find(detail) == std::string::npos) {
    msg += ": " + detail;
  }
  return msg;
}

SqlitePtr OpenRemote(const std::string& name, bool read_only, bool create) {
  RegisterVfs();
  const std::string vfs_err_before = VfsLastError();
  std::string uri = "file:" + name + "?vfs=litevfs";
  int flags = SQLITE_OPEN_URI | (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE);
  if (create && !read_only) flags |= SQLITE_OPEN_CREATE;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(uri.c_str(), &raw, flags, nullptr);
  SqlitePtr db(raw);
  if (rc != SQLITE_OK) throw CliError(name + ": " + SqliteError(raw, rc, vfs_err_before));
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

std::vector<std::vector<std::string>> QueryRows(sqlite3* db, const std::string& sql) {
  std::vector<std::vector<std::string>> rows;
  const char* tail = sql.c_str();
  const std::string vfs_err_before = VfsLastError();
  while (tail && *tail) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, tail, -1, &stmt, &tail) != SQLITE_OK) {
      throw CliError(SqliteError(db, SQLITE_ERROR, vfs_err_before));
    }
    if (!stmt) continue;  // whitespace or comment
    rows.clear();
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        const unsigned char* t = sqlite3_column_text(stmt, i);
        row.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
      }
      rows.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) {
      std::string msg = SqliteError(db, rc, vfs_err_before);
      sqlite3_finalize(stmt);
      throw CliError(msg);
    }
    sqlite3_finalize(stmt);
  }
  return rows;
}

std::string QueryValue(sqlite3* db, const std::string& sql) {
  auto rows = QueryRows(db, sql);
  if (rows.empty() || rows[0].empty()) return "";
  return rows[0][0];
}

}  // namespace cli
