// .import [--csv] [--skip N] FILE TABLE: inserts the records of CSV file FILE into TABLE
// through the shell's own connection (so under the lease it holds), all in one savepoint:
// one commit, one upload, or nothing at all. As in the sqlite3 shell: when TABLE does not
// exist the first record names its columns (all TEXT); when it exists every record is data
// (--skip 1 drops a header). Unlike the sqlite3 shell, a record with the wrong number of
// fields is an error naming its line (sqlite3 pads or drops fields and goes on).
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "common.h"
#include "remote_db.h"
#include "shell_csv.h"
#include "shell_session.h"
#include "shell_signals.h"

namespace cli {
namespace {

constexpr const char* kImportUsage = "usage: .import [--csv] [--skip N] FILE TABLE";

struct ImportArgs {
  std::string file, table;
  long skip = 0;
};

// Parses the options; "" on success, else the message.
std::string ParseImportArgs(const std::vector<std::string>& args, ImportArgs* out) {
  std::vector<std::string> pos;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--csv") continue;
    if (a == "--skip") {
      if (++i == args.size()) return "--skip needs a number of records";
      char* end = nullptr;
      out->skip = std::strtol(args[i].c_str(), &end, 10);
      if (*end || args[i].empty() || out->skip < 0) return "--skip: not a count: " + args[i];
    } else if (a.size() > 1 && a[0] == '-') {
      return "unknown option " + a + " (only CSV is imported; " + kImportUsage + ")";
    } else {
      pos.push_back(a);
    }
  }
  if (pos.size() != 2) return kImportUsage;
  out->file = pos[0];
  out->table = pos[1];
  return "";
}

}  // namespace

bool Shell::Import(const Args& args) {
  ImportArgs ia;
  if (std::string err = ParseImportArgs(args, &ia); !err.empty()) return Fail(".import: " + err);
  struct stat st {};
  if (stat(ia.file.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return Fail(".import: " + ia.file + " is a directory");
  }
  std::unique_ptr<FILE, int (*)(FILE*)> in(std::fopen(ia.file.c_str(), "rb"), &std::fclose);
  if (!in) return Fail(".import: cannot open " + ia.file + ": " + std::strerror(errno));
  CsvReader csv(in.get());
  std::vector<std::string> row;
  const std::string where = ".import " + ia.file + ": ";
  for (long i = 0; i < ia.skip; ++i) {
    if (!csv.Next(&row)) return csv.error().empty() ? true : Fail(where + csv.error());
  }
  const std::string table = SqlIdent(ia.table);
  size_t ncol = 0;
  try {
    ncol = size_t(std::stoul(
        QueryValue(db_, "SELECT count(*) FROM pragma_table_info(" + SqlQuote(ia.table) + ")")));
  } catch (const CliError& e) {
    return Fail(where + e.what());
  }
  const int failures_before = failures_;
  auto run = [&](const std::string& sql) {
    try {
      QueryRows(db_, sql);
      return true;
    } catch (const CliError& e) {
      return Fail(where + e.what());
    }
  };
  if (!run("SAVEPOINT litevfs_import")) return false;
  auto rollback = [&] {
    run("ROLLBACK TO litevfs_import");
    run("RELEASE litevfs_import");
    return false;
  };
  if (ncol == 0) {  // a new table: the first record names the columns
    if (!csv.Next(&row)) {
      const std::string empty =
          "is empty: its first record must name the columns of the new table " + ia.table;
      Fail(where + (csv.error().empty() ? empty : csv.error()));
      return rollback();
    }
    std::string create = "CREATE TABLE " + table + "(";
    for (size_t i = 0; i < row.size(); ++i) {
      if (row[i].empty()) {
        Fail(where + "column " + std::to_string(i + 1) + " of the header record has no name");
        return rollback();
      }
      create += (i ? ", " : "") + SqlIdent(row[i]) + " TEXT";
    }
    if (!run(create + ")")) return rollback();
    ncol = row.size();
  }
  std::string insert = "INSERT INTO " + table + " VALUES (";
  for (size_t i = 0; i < ncol; ++i) insert += i ? ", ?" : "?";
  sqlite3_stmt* raw = nullptr;
  const std::string vfs_err_before = VfsLastError();
  if (sqlite3_prepare_v2(db_, (insert + ")").c_str(), -1, &raw, nullptr) != SQLITE_OK) {
    FailSql(vfs_err_before);
    return rollback();
  }
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, &sqlite3_finalize);
  while (csv.Next(&row)) {
    if (InterruptSeen() || StopSignal() != 0) {
      Fail(where + "interrupted; nothing was imported");
      return rollback();
    }
    if (row.size() != ncol) {
      Fail(where + "line " + std::to_string(csv.record_line()) + ": " + std::to_string(row.size()) +
           " fields, but " + ia.table + " has " + std::to_string(ncol) +
           " columns; nothing was imported");
      return rollback();
    }
    for (size_t i = 0; i < ncol; ++i) {
      sqlite3_bind_text(raw, int(i + 1), row[i].data(), int(row[i].size()), SQLITE_TRANSIENT);
    }
    if (sqlite3_step(raw) != SQLITE_DONE) {
      FailSql(vfs_err_before);
      Fail(where + "line " + std::to_string(csv.record_line()) +
           " was refused; nothing was imported");
      sqlite3_reset(raw);
      return rollback();
    }
    sqlite3_reset(raw);
  }
  if (!csv.error().empty()) {
    Fail(where + csv.error() + "; nothing was imported");
    return rollback();
  }
  stmt.reset();
  if (!run("RELEASE litevfs_import")) return rollback();
  return failures_ == failures_before;
}

}  // namespace cli
