// `litevfs shell DB`: a SQL shell on a remote database, opened as file:DB?vfs=litevfs.
// Input: interactive (libedit, history in $LITEVFS_HISTORY or ~/.litevfs_history, Tab
// completes keywords, tables, columns and dot-commands) when stdin is a terminal, else SQL
// and dot-commands from stdin; or only the -c arguments, in order. Output modes
// table/csv/json/line. Statement errors print SQLite's message ("Error: ...", plus the
// extended result code name when it says more than SQLITE_ERROR); outside interactive use
// any failed statement makes the exit code 1 (--bail stops at the first). Colour (red
// errors, bold headers) only on a terminal and only when NO_COLOR is unset.
#include <editline/readline.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "common.h"
#include "remote_db.h"
#include "shell_complete.h"
#include "shell_output.h"

namespace cli {
namespace {

struct ShellOptions {
  std::string db;
  std::vector<std::string> commands;
  std::string mode = "table";
  bool no_headers = false;
  bool create = false;
  bool read_only = false;
  bool lease = false;
  bool bail = false;
  bool json = false;
};

// Colour only for a terminal, and never when NO_COLOR is set (https://no-color.org).
bool UseColor(int fd) {
  const char* nc = std::getenv("NO_COLOR");
  if (nc && *nc) return false;
  return isatty(fd) == 1;
}

// The name of an (extended) result code, e.g. "SQLITE_CONSTRAINT_UNIQUE"; empty if unknown.
const char* ResultCodeName(int rc) {
  switch (rc) {
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
    default:
      return "";
  }
}

constexpr const char* kHelp =
    ".headers on|off          Show column names (default on)\n"
    ".help                    This text\n"
    ".lease acquire|release|status\n"
    "                         The database's write lease (writes need it)\n"
    ".mode table|csv|json|line\n"
    "                         Output mode\n"
    ".pos                     Current position (PRAGMA litevfs_position)\n"
    ".quit / .exit            Leave the shell\n"
    ".schema [TABLE]          CREATE statements (of TABLE, a LIKE pattern)\n"
    ".stats                   VFS counters (PRAGMA litevfs_stats)\n"
    ".sync                    Sync with the service now, print the position\n"
    ".tables [PATTERN]        Tables and views\n"
    ".timer on|off            Print the run time of each statement\n";

class Shell {
 public:
  Shell(sqlite3* db, const ShellOptions& opt, OutputMode mode)
      : db_(db),
        mode_(mode),
        headers_(!opt.no_headers),
        color_out_(UseColor(STDOUT_FILENO)),
        color_err_(UseColor(STDERR_FILENO)) {}

  int failures() const { return failures_; }
  bool quit() const { return quit_; }

  // Runs every statement of `sql`; false (and the error printed) on the first failure.
  bool RunSql(const std::string& sql) {
    const char* tail = sql.c_str();
    while (tail && *tail) {
      sqlite3_stmt* stmt = nullptr;
      const int64_t start = NowMicros();
      const CpuTimes cpu0 = Cpu();
      const std::string vfs_err_before = VfsLastError();
      if (sqlite3_prepare_v2(db_, tail, -1, &stmt, &tail) != SQLITE_OK) {
        return FailSql(vfs_err_before);
      }
      if (!stmt) continue;
      std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(stmt, &sqlite3_finalize);
      ResultPrinter printer(mode_, headers_, stdout);
      printer.set_color(color_out_);
      printer.Begin(stmt);
      int rc;
      while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) printer.Row(stmt);
      printer.End();
      if (rc != SQLITE_DONE) return FailSql(vfs_err_before);
      if (timer_) {
        const CpuTimes cpu1 = Cpu();
        std::printf("Run Time: real %.3f user %.6f sys %.6f\n",
                    double(NowMicros() - start) / 1e6, cpu1.user - cpu0.user,
                    cpu1.sys - cpu0.sys);
      }
    }
    std::fflush(stdout);
    return true;
  }

  // A dot-command line. False on failure (printed).
  bool RunDot(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> args{std::istream_iterator<std::string>(in), {}};
    if (args.empty()) return true;
    const std::string& cmd = args[0];
    auto want = [&](size_t lo, size_t hi) {
      if (args.size() - 1 < lo || args.size() - 1 > hi) {
        return Fail("usage: " + Usage(cmd));
      }
      return true;
    };
    if (cmd == ".quit" || cmd == ".exit") {
      quit_ = true;
      return true;
    }
    if (cmd == ".help") {
      std::fputs(kHelp, stdout);
      return true;
    }
    if (cmd == ".mode") {
      if (!want(0, 1)) return false;
      if (args.size() == 1) {
        std::printf("current output mode: %s\n", OutputModeName(mode_));
        return true;
      }
      auto m = ParseOutputMode(args[1]);
      if (!m) return Fail("unknown mode '" + args[1] + "' (table, csv, json, line)");
      mode_ = *m;
      return true;
    }
    if (cmd == ".headers" || cmd == ".timer") {
      if (!want(1, 1)) return false;
      bool* flag = cmd == ".headers" ? &headers_ : &timer_;
      if (args[1] == "on" || args[1] == "1") {
        *flag = true;
      } else if (args[1] == "off" || args[1] == "0") {
        *flag = false;
      } else {
        return Fail("usage: " + Usage(cmd));
      }
      return true;
    }
    if (cmd == ".tables") {
      if (!want(0, 1)) return false;
      std::string sql =
          "SELECT name FROM sqlite_schema WHERE type IN ('table','view') AND name NOT LIKE "
          "'sqlite_%'";
      if (args.size() == 2) sql += " AND name LIKE " + Quote(args[1]);
      return PrintList(sql + " ORDER BY 1", "");
    }
    if (cmd == ".schema") {
      if (!want(0, 1)) return false;
      std::string sql =
          "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'";
      if (args.size() == 2) sql += " AND tbl_name LIKE " + Quote(args[1]);
      return PrintList(sql + " ORDER BY tbl_name, type DESC, name", ";");
    }
    if (cmd == ".stats") {
      if (!want(0, 0)) return false;
      return PrintPragma("litevfs_stats", true);
    }
    if (cmd == ".pos") {
      if (!want(0, 0)) return false;
      return PrintPragma("litevfs_position", false);
    }
    if (cmd == ".sync") {
      if (!want(0, 0)) return false;
      return Sync();
    }
    if (cmd == ".lease") {
      if (!want(1, 1)) return false;
      if (args[1] == "acquire") return PrintPragma("litevfs_acquire_lease", false);
      if (args[1] == "release") return PrintPragma("litevfs_release_lease", false);
      if (args[1] == "status") return LeaseStatus();
      return Fail("usage: " + Usage(cmd));
    }
    return Fail("unknown command '" + cmd + "' (try .help)");
  }

 private:
  static std::string Usage(const std::string& cmd) {
    std::istringstream in(kHelp);
    std::string l;
    while (std::getline(in, l)) {
      if (l.rfind(cmd + " ", 0) == 0 || l == cmd) return l.substr(0, l.find("  "));
    }
    return cmd;
  }
  static std::string Quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
    return q + "'";
  }
  struct CpuTimes {
    double user = 0, sys = 0;
  };
  static CpuTimes Cpu() {
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    return {double(ru.ru_utime.tv_sec) + double(ru.ru_utime.tv_usec) / 1e6,
            double(ru.ru_stime.tv_sec) + double(ru.ru_stime.tv_usec) / 1e6};
  }
  bool Fail(const std::string& msg) {
    std::fflush(stdout);
    if (color_err_) {
      std::fprintf(stderr, "\033[1;31mError:\033[0m \033[31m%s\033[0m\n", msg.c_str());
    } else {
      std::fprintf(stderr, "Error: %s\n", msg.c_str());
    }
    ++failures_;
    return false;
  }
  // A failed prepare/step: SQLite's message, plus the extended code's name when it says
  // more than the generic SQLITE_ERROR (e.g. "(SQLITE_CONSTRAINT_UNIQUE)"), plus the VFS's
  // own explanation when this statement produced a new one (SQLite's "attempt to write a
  // readonly database" says nothing about the missing lease).
  bool FailSql(const std::string& vfs_err_before) {
    std::string msg = sqlite3_errmsg(db_);
    const int ext = sqlite3_extended_errcode(db_);
    if (ext != SQLITE_ERROR) {
      const char* name = ResultCodeName(ext);
      if (!*name) name = ResultCodeName(ext & 0xff);
      msg += *name ? std::string(" (") + name + ")"
                   : " (result code " + std::to_string(ext) + ": " + sqlite3_errstr(ext) + ")";
      const std::string detail = VfsLastError();
      if (!detail.empty() && detail != vfs_err_before && msg.find(detail) == std::string::npos) {
        msg += ": " + detail;
      }
    }
    return Fail(msg);
  }
  bool PrintList(const std::string& sql, const char* suffix) {
    std::vector<std::vector<std::string>> rows;
    try {
      rows = QueryRows(db_, sql);
    } catch (const CliError& e) {  // turned into a statement failure, not an exit
      return Fail(e.what());
    }
    for (const auto& r : rows) std::printf("%s%s\n", r.empty() ? "" : r[0].c_str(), suffix);
    std::fflush(stdout);
    return true;
  }
  bool PrintPragma(const std::string& pragma, bool pretty_json) {
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
    std::printf("%s\n", v.c_str());
    std::fflush(stdout);
    return true;
  }
  bool Sync() {
    // A read transaction syncs when its sync period has passed; make it "now" for one
    // transaction, then restore the configured period.
    try {
      std::string period = QueryValue(db_, "PRAGMA litevfs_cache_sync_period");
      QueryRows(db_, "PRAGMA litevfs_cache_sync_period = 0");
      std::string err;
      try {
        QueryRows(db_, "SELECT count(*) FROM sqlite_schema");
      } catch (const CliError& e) {
        err = e.what();
      }
      if (!period.empty()) QueryRows(db_, "PRAGMA litevfs_cache_sync_period = " + Quote(period));
      if (!err.empty()) return Fail(err);
    } catch (const CliError& e) {
      return Fail(e.what());
    }
    return PrintPragma("litevfs_position", false);
  }
  bool LeaseStatus() {
    std::string stats;
    try {
      stats = QueryValue(db_, "PRAGMA litevfs_stats");
    } catch (const CliError& e) {
      return Fail(e.what());
    }
    auto j = nlohmann::json::parse(stats, nullptr, false);
    if (!j.is_object() || !j.contains("lease") || !j["lease"].is_string()) {
      return Fail("PRAGMA litevfs_stats has no lease field: " + stats);
    }
    const std::string id = j["lease"].get<std::string>();
    if (id.empty()) {
      std::printf("no lease held by this process\n");
    } else {
      std::printf("lease %s held by this process\n", id.c_str());
    }
    std::fflush(stdout);
    return true;
  }

  sqlite3* db_;
  OutputMode mode_;
  bool headers_;
  bool color_out_;
  bool color_err_;
  bool timer_ = false;
  bool quit_ = false;
  int failures_ = 0;
};

// Feeds lines: dot-commands when no SQL is pending, SQL until sqlite3_complete().
class LineFeeder {
 public:
  explicit LineFeeder(Shell* shell) : shell_(shell) {}
  bool pending() const { return !buf_.empty(); }
  // Returns false when the line (or the statement it completed) failed.
  bool Feed(const std::string& line) {
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
  // End of input: run an unterminated last statement too.
  bool Finish() {
    if (buf_.find_first_not_of(" \t\r\n") == std::string::npos) return true;
    std::string sql;
    sql.swap(buf_);
    return shell_->RunSql(sql);
  }

 private:
  Shell* shell_;
  std::string buf_;
};

// The connection Ctrl-C interrupts while the interactive shell runs a statement.
std::atomic<sqlite3*> g_interrupt_db{nullptr};
extern "C" void OnSigint(int) {
  sqlite3* db = g_interrupt_db.load();
  if (db) sqlite3_interrupt(db);  // async-signal-safe enough: sets a flag (sqlite3 shell does this)
}

// $LITEVFS_HISTORY (empty: no history file), else ~/.litevfs_history.
std::string HistoryPath() {
  if (const char* h = std::getenv("LITEVFS_HISTORY")) return h;
  const char* home = std::getenv("HOME");
  return home && *home ? std::string(home) + "/.litevfs_history" : std::string();
}

void RunInteractive(Shell& shell, const std::string& db_name, sqlite3* db) {
  std::string pos;
  try {
    pos = QueryValue(db, "PRAGMA litevfs_position");
  } catch (const CliError&) {
  }
  std::printf("litevfs shell: %s%s%s\nEnter \".help\" for usage hints.\n", db_name.c_str(),
              pos.empty() ? "" : " at ", pos.c_str());
  std::fflush(stdout);
  const std::string hist = HistoryPath();
  using_history();
  stifle_history(1000);
  if (!hist.empty()) read_history(hist.c_str());
  InstallCompletion(db);
  g_interrupt_db.store(db);
  struct sigaction sa {};
  sa.sa_handler = OnSigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);  // Ctrl-C stops the running statement, not the shell
  LineFeeder feeder(&shell);
  while (!shell.quit()) {
    char* raw = readline(feeder.pending() ? "   ...> " : "litevfs> ");
    if (raw == nullptr) {  // EOF (Ctrl-D)
      std::printf("\n");
      break;
    }
    std::string line(raw);
    std::free(raw);
    if (line.find_first_not_of(" \t") != std::string::npos) add_history(line.c_str());
    feeder.Feed(line);
  }
  feeder.Finish();
  signal(SIGINT, SIG_DFL);
  g_interrupt_db.store(nullptr);
  if (!hist.empty() && write_history(hist.c_str()) != 0) {
    std::fprintf(stderr, "litevfs: cannot write the history file %s\n", hist.c_str());
  }
}

void run_shell(const ShellOptions& opt) {
  auto mode = ParseOutputMode(opt.json ? std::string("json") : opt.mode);
  if (!mode) throw UsageError("--mode: unknown mode '" + opt.mode + "' (table, csv, json, line)");
  if (opt.read_only && (opt.create || opt.lease)) {
    throw UsageError("--readonly cannot be combined with --create or --lease");
  }
  SqlitePtr db = OpenRemote(opt.db, opt.read_only, opt.create);
  Shell shell(db.get(), opt, *mode);
  if (opt.lease)
    QueryRows(db.get(), "PRAGMA litevfs_acquire_lease");  // throws with SQLite's message

  if (!opt.commands.empty()) {
    for (const std::string& c : opt.commands) {
      size_t first = c.find_first_not_of(" \t\r\n");
      bool ok = first != std::string::npos && c[first] == '.' ? shell.RunDot(c.substr(first))
                                                              : shell.RunSql(c);
      if ((!ok && opt.bail) || shell.quit()) break;
    }
  } else if (StdinIsTty()) {
    RunInteractive(shell, opt.db, db.get());
    return;  // interactive: errors were shown, the session itself succeeded
  } else {
    LineFeeder feeder(&shell);
    std::string line;
    while (!shell.quit() && std::getline(std::cin, line)) {
      if (!feeder.Feed(line) && opt.bail) break;
    }
    if (!shell.quit() && !(opt.bail && shell.failures() > 0)) feeder.Finish();
  }
  if (shell.failures() > 0) throw ExitRequest(kExitError);
}

}  // namespace

void setup_shell(CLI::App& app) {
  auto opt = std::make_shared<ShellOptions>();
  CLI::App* sub = app.add_subcommand("shell", "SQL shell on a remote database (through the VFS)");
  sub->add_option("DB", opt->db, "Database name")->required();
  sub->add_option("-c,--command", opt->commands,
                  "Run this SQL or dot-command instead of reading stdin (repeatable, in order)")
      ->allow_extra_args(false);
  sub->add_option("--mode", opt->mode, "Output mode: table, csv, json or line")
      ->check(CLI::IsMember({"table", "csv", "json", "line"}))
      ->capture_default_str();
  sub->add_flag("--json", opt->json, "Same as --mode json (an array of objects per statement)");
  sub->add_flag("--no-headers", opt->no_headers, "Do not print column names");
  sub->add_flag("--create", opt->create, "Create the database if it does not exist (first commit)");
  sub->add_flag("--readonly", opt->read_only, "Open read-only");
  sub->add_flag("--lease", opt->lease, "Acquire the write lease right after opening");
  sub->add_flag("--bail", opt->bail, "Stop at the first failing statement");
  sub->callback([opt]() { run_shell(*opt); });
}

}  // namespace cli
