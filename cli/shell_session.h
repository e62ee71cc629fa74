// One `litevfs shell` session on an open connection: runs SQL and prints each statement's
// rows in the chosen mode to the current output (standard output, or an .output/.once
// file or pipe), runs dot-commands, and counts failures. Errors go to standard error as
// "Error: MESSAGE" (red on a terminal), or as one JSON object per line with --json.
//
// The dot-commands are spread over shell_dot.cc (dispatch and the small ones),
// shell_dump.cc (.dump, run by Debian's sqlite3), shell_import.cc (.import CSV) and
// shell_backup.cc (.backup).
#pragma once

#include <sqlite3.h>

#include <cstdio>
#include <string>
#include <vector>

#include "shell_output.h"

namespace cli {

class CsvReader;

struct ShellSettings {
  OutputMode mode = OutputMode::kTable;
  bool headers = true;
  bool timer = false;
  std::string null_text;     // how NULL is shown in table, csv and line modes (.nullvalue)
  bool json_errors = false;  // --json: errors are JSON objects on standard error
};

class Shell {
 public:
  // `db` is borrowed and must outlive the Shell; `db_name` is the remote database's name.
  Shell(sqlite3* db, std::string db_name, const ShellSettings& settings);
  ~Shell();
  Shell(const Shell&) = delete;
  Shell& operator=(const Shell&) = delete;

  int failures() const { return failures_; }
  bool quit() const { return quit_; }

  // Runs every statement of `sql`; false (and the error printed) on the first failure.
  bool RunSql(const std::string& sql);
  // A dot-command line ("." first). False on failure (printed).
  bool RunDot(const std::string& line);
  // Reports a failure (counted; printed as "Error: MSG" or JSON). Always false.
  bool Fail(const std::string& msg, const char* code = nullptr);

 private:
  using Args = std::vector<std::string>;
  bool Dispatch(const Args& args);
  bool Want(const Args& args, size_t lo, size_t hi);
  bool FailSql(const std::string& vfs_err_before);
  // dot-commands
  bool SetFlag(const Args& args, bool* flag);
  bool Mode(const Args& args);
  bool Tables(const Args& args);
  bool Schema(const Args& args);
  bool Indexes(const Args& args);
  bool Databases();
  bool Show();
  bool Sync();
  bool LeaseStatus();
  bool Read(const std::string& path);
  bool Dump(const Args& args);    // shell_dump.cc
  bool Import(const Args& args);  // shell_import.cc, with its three steps:
  bool ImportSql(const std::string& where, const std::string& sql);
  bool ImportHeader(CsvReader& csv, const std::string& table, const std::string& where,
                    size_t* ncol);
  bool ImportRecords(CsvReader& csv, const std::string& table, const std::string& where,
                     size_t ncol);
  bool Backup(const Args& args);  // shell_backup.cc
  // output
  FILE* out() const { return out_ ? out_ : stdout; }
  bool Redirect(const Args& args, bool once);
  void CloseOutput();
  bool PrintList(const std::string& sql, const char* suffix);
  bool PrintPragma(const std::string& pragma, bool pretty_json);
  void PrintLine(const std::string& s);

  sqlite3* db_;
  std::string db_name_;
  ShellSettings s_;
  bool color_out_;
  bool color_err_;
  FILE* out_ = nullptr;  // nullptr: standard output
  bool out_is_pipe_ = false;
  std::string out_name_ = "stdout";
  bool once_ = false;  // out_ ends after the next command (.once)
  int read_depth_ = 0;
  bool quit_ = false;
  int failures_ = 0;
};

// Feeds input lines: dot-commands when no SQL is pending, SQL until sqlite3_complete().
class LineFeeder {
 public:
  explicit LineFeeder(Shell* shell) : shell_(shell) {}
  bool pending() const { return !buf_.empty(); }
  // Returns false when the line (or the statement it completed) failed.
  bool Feed(const std::string& line);
  // End of input: runs an unterminated last statement too.
  bool Finish();
  // Ctrl-C at the prompt: forget the statement typed so far.
  void Discard() { buf_.clear(); }

 private:
  Shell* shell_;
  std::string buf_;
};

// The name of an (extended) result code, e.g. "SQLITE_CONSTRAINT_UNIQUE"; empty if unknown.
const char* ResultCodeName(int rc);
// 'text' as an SQL string literal; "name" as an SQL identifier.
std::string SqlQuote(const std::string& s);
std::string SqlIdent(const std::string& s);

}  // namespace cli
