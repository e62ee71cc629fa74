#include "shell_session.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>

#include "common.h"
#include "remote_db.h"

namespace cli {
namespace {

// Colour only for a terminal, and never when NO_COLOR is set (https://no-color.org).
bool UseColor(int fd) {
  const char* nc = std::getenv("NO_COLOR");
  if (nc && *nc) return false;
  return isatty(fd) == 1;
}

struct CpuTimes {
  double user = 0, sys = 0;
};
CpuTimes Cpu() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return {double(ru.ru_utime.tv_sec) + double(ru.ru_utime.tv_usec) / 1e6,
          double(ru.ru_stime.tv_sec) + double(ru.ru_stime.tv_usec) / 1e6};
}

}  // namespace

const char* ResultCodeName(int rc) {
  switch (rc) {
    // clang-format off
#define C(x) \
  case x:    \
    return #x;
    C(SQLITE_ERROR) C(SQLITE_INTERNAL) C(SQLITE_PERM) C(SQLITE_ABORT) C(SQLITE_BUSY)
    C(SQLITE_LOCKED) C(SQLITE_NOMEM) C(SQLITE_READONLY) C(SQLITE_INTERRUPT) C(SQLITE_IOERR)
    C(SQLITE_CORRUPT) C(SQLITE_NOTFOUND) C(SQLITE_FULL) C(SQLITE_CANTOPEN) C(SQLITE_PROTOCOL)
    C(SQLITE_SCHEMA) C(SQLITE_TOOBIG) C(SQLITE_CONSTRAINT) C(SQLITE_MISMATCH) C(SQLITE_MISUSE)
    C(SQLITE_AUTH) C(SQLITE_RANGE) C(SQLITE_NOTADB) C(SQLITE_ERROR_MISSING_COLLSEQ)
    C(SQLITE_ERROR_RETRY) C(SQLITE_ERROR_SNAPSHOT) C(SQLITE_IOERR_READ)
    C(SQLITE_IOERR_SHORT_READ) C(SQLITE_IOERR_WRITE) C(SQLITE_IOERR_FSYNC) C(SQLITE_IOERR_TRUNCATE)
    C(SQLITE_IOERR_FSTAT) C(SQLITE_IOERR_UNLOCK) C(SQLITE_IOERR_RDLOCK) C(SQLITE_IOERR_DELETE)
    C(SQLITE_IOERR_NOMEM) C(SQLITE_IOERR_ACCESS) C(SQLITE_IOERR_LOCK) C(SQLITE_IOERR_CLOSE)
    C(SQLITE_IOERR_SHMOPEN) C(SQLITE_IOERR_SHMSIZE) C(SQLITE_IOERR_SHMMAP) C(SQLITE_IOERR_SEEK)
    C(SQLITE_IOERR_CORRUPTFS) C(SQLITE_LOCKED_SHAREDCACHE) C(SQLITE_BUSY_RECOVERY)
    C(SQLITE_BUSY_SNAPSHOT) C(SQLITE_BUSY_TIMEOUT) C(SQLITE_CANTOPEN_ISDIR)
    C(SQLITE_CANTOPEN_FULLPATH) C(SQLITE_CORRUPT_VTAB) C(SQLITE_CORRUPT_INDEX)
    C(SQLITE_READONLY_RECOVERY) C(SQLITE_READONLY_CANTLOCK) C(SQLITE_READONLY_ROLLBACK)
    C(SQLITE_READONLY_DBMOVED) C(SQLITE_READONLY_DIRECTORY) C(SQLITE_ABORT_ROLLBACK)
    C(SQLITE_CONSTRAINT_CHECK) C(SQLITE_CONSTRAINT_COMMITHOOK) C(SQLITE_CONSTRAINT_FOREIGNKEY)
    C(SQLITE_CONSTRAINT_FUNCTION) C(SQLITE_CONSTRAINT_NOTNULL) C(SQLITE_CONSTRAINT_PRIMARYKEY)
    C(SQLITE_CONSTRAINT_TRIGGER) C(SQLITE_CONSTRAINT_UNIQUE) C(SQLITE_CONSTRAINT_VTAB)
    C(SQLITE_CONSTRAINT_ROWID) C(SQLITE_CONSTRAINT_DATATYPE)
#undef C
        // clang-format on
        default : return "";
  }
}

std::string SqlQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

std::string SqlIdent(const std::string& s) {
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

Shell::Shell(sqlite3* db, std::string db_name, const ShellSettings& settings)
    : db_(db),
      db_name_(std::move(db_name)),
      s_(settings),
      color_out_(UseColor(STDOUT_FILENO)),
      color_err_(UseColor(STDERR_FILENO)) {}

Shell::~Shell() { CloseOutput(); }

bool Shell::RunSql(const std::string& sql) {
  const char* tail = sql.c_str();
  bool ok = true;
  while (ok && tail && *tail) {
    sqlite3_stmt* stmt = nullptr;
    const int64_t start = NowMicros();
    const CpuTimes cpu0 = Cpu();
    const std::string vfs_err_before = VfsLastError();
    if (sqlite3_prepare_v2(db_, tail, -1, &stmt, &tail) != SQLITE_OK) {
      ok = FailSql(vfs_err_before);
      break;
    }
    if (!stmt) continue;
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(stmt, &sqlite3_finalize);
    ResultPrinter printer(s_.mode, s_.headers, out());
    printer.set_color(color_out_ && out_ == nullptr);
    printer.set_null_text(s_.null_text);
    printer.Begin(stmt);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) printer.Row(stmt);
    printer.End();
    if (rc != SQLITE_DONE) {
      ok = FailSql(vfs_err_before);
      break;
    }
    if (s_.timer) {
      const CpuTimes cpu1 = Cpu();
      std::fprintf(out(), "Run Time: real %.3f user %.6f sys %.6f\n",
                   double(NowMicros() - start) / 1e6, cpu1.user - cpu0.user, cpu1.sys - cpu0.sys);
    }
  }
  std::fflush(out());
  if (once_) CloseOutput();
  return ok;
}

bool Shell::Fail(const std::string& msg, const char* code) {
  std::fflush(out());
  ++failures_;
  if (s_.json_errors) {
    nlohmann::ordered_json j = {{"error", msg}};
    if (code && *code) j["code"] = code;
    std::fprintf(stderr, "%s\n",
                 j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else if (color_err_) {
    std::fprintf(stderr, "\033[1;31mError:\033[0m \033[31m%s\033[0m\n", msg.c_str());
  } else {
    std::fprintf(stderr, "Error: %s\n", msg.c_str());
  }
  return false;
}

// A failed prepare/step: SQLite's message, plus the extended code's name when it says
// more than the generic SQLITE_ERROR (e.g. "(SQLITE_CONSTRAINT_UNIQUE)"), plus the VFS's
// own explanation when this statement produced a new one (SQLite's "attempt to write a
// readonly database" says nothing about the missing lease).
bool Shell::FailSql(const std::string& vfs_err_before) {
  std::string msg = sqlite3_errmsg(db_);
  const int ext = sqlite3_extended_errcode(db_);
  const char* name = ResultCodeName(ext);
  if (!*name) name = ResultCodeName(ext & 0xff);
  if (ext != SQLITE_ERROR) {
    msg += *name ? std::string(" (") + name + ")"
                 : " (result code " + std::to_string(ext) + ": " + sqlite3_errstr(ext) + ")";
    const std::string detail = VfsLastError();
    if (!detail.empty() && detail != vfs_err_before && msg.find(detail) == std::string::npos) {
      msg += ": " + detail;
    }
  }
  return Fail(msg, name);
}

void Shell::PrintLine(const std::string& s) {
  std::fputs(s.c_str(), out());
  std::fputc('\n', out());
}

bool Shell::PrintList(const std::string& sql, const char* suffix) {
  std::vector<std::vector<std::string>> rows;
  try {
    rows = QueryRows(db_, sql);
  } catch (const CliError& e) {  // turned into a statement failure, not an exit
    return Fail(e.what());
  }
  for (const auto& r : rows) PrintLine((r.empty() ? "" : r[0]) + suffix);
  std::fflush(out());
  return true;
}

bool Shell::PrintPragma(const std::string& pragma, bool pretty_json) {
  std::string v;
  try {
    v = QueryValue(db_, "PRAGMA " + pragma);
  } catch (const CliError& e) {
    return Fail(e.what());
  }
  if (pretty_json) {
    auto j = nlohmann::json::parse(v, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded()) v = j.dump(2);
  }
  PrintLine(v);
  std::fflush(out());
  return true;
}

bool LineFeeder::Feed(const std::string& line) {
  if (buf_.empty()) {
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos) return true;
    if (line[first] == '.') return shell_->RunDot(line.substr(first));
  }
  buf_ += line;
  buf_ += '\n';
  if (!sqlite3_complete(buf_.c_str())) return true;
  std::string sql;
  sql.swap(buf_);
  return shell_->RunSql(sql);
}

bool LineFeeder::Finish() {
  if (buf_.find_first_not_of(" \t\r\n") == std::string::npos) return true;
  std::string sql;
  sql.swap(buf_);
  return shell_->RunSql(sql);
}

}  // namespace cli
