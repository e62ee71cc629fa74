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

// Opens FILE for reading; on failure null and *err says why.
std::unique_ptr<FILE, int (*)(FILE*)> OpenCsv(const std::string& file, std::string* err) {
  std::unique_ptr<FILE, int (*)(FILE*)> none(nullptr, &std::fclose);
  struct stat st {};
  if (stat(file.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    *err = file + " is a directory";
    return none;
  }
  std::unique_ptr<FILE, int (*)(FILE*)> in(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!in) *err = "cannot open " + file + ": " + std::strerror(errno);
  return in;
}

// "CREATE TABLE t(a TEXT, ...)" for a header record; "" (and *err) when a name is empty.
std::string CreateTableSql(const std::string& table, const std::vector<std::string>& header,
                           std::string* err) {
  std::string create = "CREATE TABLE " + SqlIdent(table) + "(";
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i].empty()) {
      *err = "column " + std::to_string(i + 1) + " of the header record has no name";
      return "";
    }
    create += (i ? ", " : "") + SqlIdent(header[i]) + " TEXT";
  }
  return create + ")";
}

}  // namespace

bool Shell::ImportSql(const std::string& where, const std::string& sql) {
  try {
    QueryRows(db_, sql);
    return true;
  } catch (const CliError& e) {
    return Fail(where + e.what());
  }
}

bool Shell::ImportHeader(CsvReader& csv, const std::string& table, const std::string& where,
                         size_t* ncol) {
  std::vector<std::string> row;
  if (!csv.Next(&row)) {
    const std::string empty =
        "is empty: its first record must name the columns of the new table " + table;
    return Fail(where + (csv.error().empty() ? empty : csv.error()));
  }
  std::string err;
  const std::string create = CreateTableSql(table, row, &err);
  if (create.empty()) return Fail(where + err);
  if (!ImportSql(where, create)) return false;
  *ncol = row.size();
  return true;
}

bool Shell::ImportRecords(CsvReader& csv, const std::string& table, const std::string& where,
                          size_t ncol) {
  std::string insert = "INSERT INTO " + SqlIdent(table) + " VALUES (";
  for (size_t i = 0; i < ncol; ++i) insert += i ? ", ?" : "?";
  sqlite3_stmt* raw = nullptr;
  const std::string vfs_err_before = VfsLastError();
  if (sqlite3_prepare_v2(db_, (insert + ")").c_str(), -1, &raw, nullptr) != SQLITE_OK) {
    return FailSql(vfs_err_before);
  }
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, &sqlite3_finalize);
  std::vector<std::string> row;
  while (csv.Next(&row)) {
    if (InterruptSeen() || StopSignal() != 0) {
      return Fail(where + "interrupted; nothing was imported");
    }
    if (row.size() != ncol) {
      return Fail(where + "line " + std::to_string(csv.record_line()) + ": " +
                  std::to_string(row.size()) + " fields, but " + table + " has " +
                  std::to_string(ncol) + " columns; nothing was imported");
    }
    for (size_t i = 0; i < ncol; ++i) {
      sqlite3_bind_text(raw, int(i + 1), row[i].data(), int(row[i].size()), SQLITE_TRANSIENT);
    }
    const bool done = sqlite3_step(raw) == SQLITE_DONE;
    if (!done) FailSql(vfs_err_before);
    sqlite3_reset(raw);
    if (!done) {
      return Fail(where + "line " + std::to_string(csv.record_line()) +
                  " was refused; nothing was imported");
    }
  }
  if (!csv.error().empty()) return Fail(where + csv.error() + "; nothing was imported");
  return true;
}

bool Shell::Import(const Args& args) {
  ImportArgs ia;
  if (std::string err = ParseImportArgs(args, &ia); !err.empty()) return Fail(".import: " + err);
  std::string err;
  auto in = OpenCsv(ia.file, &err);
  if (!in) return Fail(".import: " + err);
  CsvReader csv(in.get());
  std::vector<std::string> row;
  const std::string where = ".import " + ia.file + ": ";
  for (long i = 0; i < ia.skip; ++i) {
    if (!csv.Next(&row)) return csv.error().empty() ? true : Fail(where + csv.error());
  }
  size_t ncol = 0;
  try {
    ncol = size_t(std::stoul(
        QueryValue(db_, "SELECT count(*) FROM pragma_table_info(" + SqlQuote(ia.table) + ")")));
  } catch (const CliError& e) {
    return Fail(where + e.what());
  }
  const int failures_before = failures_;
  if (!ImportSql(where, "SAVEPOINT litevfs_import")) return false;
  // A new table (no columns yet): the first record names the columns.
  const bool ok = (ncol > 0 || ImportHeader(csv, ia.table, where, &ncol)) &&
                  ImportRecords(csv, ia.table, where, ncol) &&
                  ImportSql(where, "RELEASE litevfs_import");
  if (!ok) {
    ImportSql(where, "ROLLBACK TO litevfs_import");
    ImportSql(where, "RELEASE litevfs_import");
    return false;
  }
  return failures_ == failures_before;
}

}  // namespace cli
