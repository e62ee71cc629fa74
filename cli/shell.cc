// `litevfs shell DB`: a SQL shell on a remote database, opened as file:DB?vfs=litevfs.
// Input: interactive (libedit, history in $LITEVFS_HISTORY or ~/.litevfs_history, Tab
// completes keywords, tables, columns and dot-commands) when stdin is a terminal, else SQL
// and dot-commands from stdin; or only the -c arguments, in order. The session itself
// (statements, output modes, dot-commands) is shell_session.h; this file holds the input
// loops and what happens at a signal: Ctrl-C at the prompt abandons the pending input;
// SIGTERM, SIGHUP (and Ctrl-C when not interactive) release the write lease and close the
// database before the process dies of that signal.
#include <editline/readline.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.h"
#include "common.h"
#include "remote_db.h"
#include "shell_complete.h"
#include "shell_output.h"
#include "shell_session.h"
#include "shell_signals.h"

namespace cli {
namespace {

constexpr size_t kReadChunk = 64 * 1024;

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

// Lines of a non-terminal standard input, read with poll() so that a signal ends the wait.
class StdinLines {
 public:
  // The next line (without its newline): true; false at the end of the input or at a stop.
  bool Next(std::string* line) {
    for (;;) {
      const size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        line->assign(buf_, 0, nl);
        buf_.erase(0, nl + 1);
        return true;
      }
      if (eof_) {
        if (buf_.empty()) return false;
        line->swap(buf_);
        buf_.clear();
        return true;
      }
      if (!WaitReadable(STDIN_FILENO)) return false;
      char chunk[kReadChunk];
      const ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw CliError(std::string("reading standard input: ") + std::strerror(errno));
      if (n == 0) eof_ = true;
      buf_.append(chunk, size_t(n > 0 ? n : 0));
    }
  }

 private:
  std::string buf_;
  bool eof_ = false;
};

// $LITEVFS_HISTORY (empty: no history file), else ~/.litevfs_history.
std::string HistoryPath() {
  if (const char* h = std::getenv("LITEVFS_HISTORY")) return h;
  const char* home = std::getenv("HOME");
  return home && *home ? std::string(home) + "/.litevfs_history" : std::string();
}

void RunInteractive(Shell& shell, const std::string& db_name, sqlite3* db) {
  // libedit decodes typed characters with the locale's encoding: without this, a UTF-8
  // character such as 'é' is silently dropped from the line.
  std::setlocale(LC_CTYPE, "");
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
  LineFeeder feeder(&shell);
  while (!shell.quit() && StopSignal() == 0) {
    ClearInterrupts();
    char* raw = readline(feeder.pending() ? "   ...> " : "litevfs> ");
    std::unique_ptr<char, void (*)(void*)> owned(raw, &std::free);
    if (StopSignal() != 0) break;
    if (InterruptSeen()) {  // Ctrl-C at the prompt: drop the pending input, keep the shell
      feeder.Discard();
      std::printf("^C\n");
      std::fflush(stdout);
      continue;
    }
    if (raw == nullptr) {  // EOF (Ctrl-D)
      std::printf("\n");
      feeder.Finish();
      break;
    }
    std::string line(raw);
    if (line.find_first_not_of(" \t") != std::string::npos) add_history(line.c_str());
    feeder.Feed(line);
  }
  if (!hist.empty() && write_history(hist.c_str()) != 0) {
    std::fprintf(stderr, "litevfs: cannot write the history file %s\n", hist.c_str());
  }
}

void RunPiped(Shell& shell, bool bail) {
  LineFeeder feeder(&shell);
  StdinLines in;
  std::string line;
  while (!shell.quit() && in.Next(&line)) {
    if (!feeder.Feed(line) && bail) return;
    if (StopSignal() != 0) return;
  }
  if (!shell.quit() && StopSignal() == 0) feeder.Finish();
}

void RunCommands(Shell& shell, const ShellOptions& opt) {
  for (const std::string& c : opt.commands) {
    size_t first = c.find_first_not_of(" \t\r\n");
    bool ok = first != std::string::npos && c[first] == '.' ? shell.RunDot(c.substr(first))
                                                            : shell.RunSql(c);
    if ((!ok && opt.bail) || shell.quit() || StopSignal() != 0) break;
  }
}

// After SIGTERM/SIGHUP (or Ctrl-C when not interactive): roll back an open transaction
// and release the write lease now, so that another client can take it at once instead of
// waiting for it to expire.
void ReleaseBeforeDying(sqlite3* db, const std::string& name) {
  try {
    if (sqlite3_get_autocommit(db) == 0) QueryRows(db, "ROLLBACK");
    QueryRows(db, "PRAGMA litevfs_release_lease");
  } catch (const CliError& e) {
    std::fprintf(stderr, "litevfs: %s: releasing the write lease: %s (it expires by itself)\n",
                 name.c_str(), e.what());
  }
}

void PrintJsonError(const std::string& msg) {
  std::fprintf(stderr, "%s\n",
               nlohmann::json({{"error", msg}})
                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                   .c_str());
}

void run_shell(const ShellOptions& opt) {
  auto mode = ParseOutputMode(opt.json ? std::string("json") : opt.mode);
  if (!mode) throw UsageError("--mode: unknown mode '" + opt.mode + "' (table, csv, json, line)");
  if (opt.read_only && (opt.create || opt.lease)) {
    throw UsageError("--readonly cannot be combined with --create or --lease");
  }
  ShellSettings settings;
  settings.mode = *mode;
  settings.headers = !opt.no_headers;
  settings.json_errors = *mode == OutputMode::kJson;
  const bool interactive = opt.commands.empty() && StdinIsTty();
  InstallShellSignals();
  SetSigintStops(!interactive);
  SqlitePtr db;
  try {
    db = OpenRemote(opt.db, opt.read_only, opt.create);
    if (opt.lease) QueryRows(db.get(), "PRAGMA litevfs_acquire_lease");
  } catch (const CliError& e) {
    if (!settings.json_errors) throw;
    PrintJsonError(e.what());
    throw ExitRequest(kExitError);
  }
  SetInterruptTarget(db.get());
  int failures = 0;
  if (StopSignal() == 0) {
    Shell shell(db.get(), opt.db, settings);
    if (!opt.commands.empty()) {
      RunCommands(shell, opt);
    } else if (interactive) {
      RunInteractive(shell, opt.db, db.get());
    } else {
      RunPiped(shell, opt.bail);
    }
    failures = interactive ? 0 : shell.failures();  // interactive: errors were shown live
  }
  SetInterruptTarget(nullptr);
  if (const int sig = StopSignal()) {
    ReleaseBeforeDying(db.get(), opt.db);
    db.reset();
    std::fflush(stdout);
    DieOfSignal(sig);
  }
  if (failures > 0) throw ExitRequest(kExitError);
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
  sub->add_flag("--json", opt->json,
                "Same as --mode json: one JSON array per statement on one line ([] when no "
                "rows); errors as JSON objects on stderr");
  sub->add_flag("--no-headers", opt->no_headers, "Do not print column names");
  sub->add_flag("--create", opt->create, "Create the database if it does not exist (first commit)");
  sub->add_flag("--readonly", opt->read_only, "Open read-only");
  sub->add_flag("--lease", opt->lease, "Acquire the write lease right after opening");
  sub->add_flag("--bail", opt->bail, "Stop at the first failing statement");
  sub->callback([opt]() { run_shell(*opt); });
}

}  // namespace cli
