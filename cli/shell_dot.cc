// The dot-commands of `litevfs shell`: argument splitting as the sqlite3 shell does it,
// dispatch, and the commands small enough to live here.
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common.h"
#include "remote_db.h"
#include "shell_session.h"
#include "shell_signals.h"

namespace cli {
namespace {

// Nested .read files deeper than this are refused (a file that reads itself).
constexpr int kMaxReadDepth = 16;

constexpr const char* kHelp =
    ".backup [DB] FILE        Copy the database (DB: main by default) to local FILE\n"
    ".databases               Attached databases: name, file, r/w or r/o\n"
    ".dump [OPTIONS] [TABLE...]\n"
    "                         SQL text that recreates the database (Debian's sqlite3)\n"
    ".exit / .quit            Leave the shell\n"
    ".headers on|off          Show column names (default on)\n"
    ".help                    This text\n"
    ".import [--csv] [--skip N] FILE TABLE\n"
    "                         Insert the rows of CSV FILE into TABLE (created from the\n"
    "                         header row when it does not exist), in one transaction\n"
    ".indexes [TABLE]         Indexes (of tables matching the LIKE pattern TABLE)\n"
    ".lease acquire|release|status\n"
    "                         The database's write lease (writes need it)\n"
    ".mode table|csv|json|line\n"
    "                         Output mode\n"
    ".nullvalue STRING        Show NULL as STRING (default: empty)\n"
    ".once FILE|'|COMMAND'    Send the next command's output to FILE or COMMAND\n"
    ".output [FILE|'|COMMAND']\n"
    "                         Send output to FILE or COMMAND; no argument: standard output\n"
    ".pos                     Current position (PRAGMA litevfs_position)\n"
    ".read FILE               Run the SQL and dot-commands in FILE\n"
    ".schema [TABLE]          CREATE statements (of TABLE, a LIKE pattern)\n"
    ".show                    Current settings\n"
    ".stats                   VFS counters (PRAGMA litevfs_stats)\n"
    ".sync                    Sync with the service now, print the position\n"
    ".tables [PATTERN]        Tables and views\n"
    ".timer on|off            Print the run time of each statement\n";

std::string Usage(const std::string& cmd) {
  std::string help = kHelp;
  size_t at = 0;
  while (at < help.size()) {
    size_t end = help.find('\n', at);
    std::string l = help.substr(at, end - at);
    if (l.rfind(cmd + " ", 0) == 0 || l == cmd) return l.substr(0, l.find("  "));
    at = end + 1;
  }
  return cmd;
}

// Splits a dot-command line like the sqlite3 shell: words separated by blanks; '...' is
// taken literally, "..." resolves \\, \", \n and \t. Sets `error` on an unterminated quote.
std::vector<std::string> SplitArgs(const std::string& line, std::string* error) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i >= line.size()) break;
    std::string word;
    const char q = line[i];
    if (q == '\'' || q == '"') {
      ++i;
      while (i < line.size() && line[i] != q) {
        char c = line[i++];
        if (q == '"' && c == '\\' && i < line.size()) {
          c = line[i++];
          c = c == 'n' ? '\n' : c == 't' ? '\t' : c;
        }
        word += c;
      }
      if (i >= line.size()) {
        *error = std::string("unterminated ") + q + "quote" + q + " in: " + line;
        return {};
      }
      ++i;  // the closing quote
    } else {
      while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i])))
        word += line[i++];
    }
    out.push_back(std::move(word));
  }
  return out;
}

}  // namespace

bool Shell::RunDot(const std::string& line) {
  std::string error;
  Args args = SplitArgs(line, &error);
  if (!error.empty()) return Fail(error);
  if (args.empty()) return true;
  const bool redirecting = args[0] == ".once" || args[0] == ".output";
  const bool ok = Dispatch(args);
  std::fflush(out());
  if (once_ && !redirecting) CloseOutput();
  return ok;
}

bool Shell::Want(const Args& args, size_t lo, size_t hi) {
  if (args.size() - 1 < lo || args.size() - 1 > hi) return Fail("usage: " + Usage(args[0]));
  return true;
}

bool Shell::Dispatch(const Args& args) {
  const std::string& cmd = args[0];
  if (cmd == ".quit" || cmd == ".exit") return Want(args, 0, 0) && (quit_ = true);
  if (cmd == ".help") return Want(args, 0, 0) && std::fputs(kHelp, out()) >= 0;
  if (cmd == ".mode") return Want(args, 0, 1) && Mode(args);
  if (cmd == ".headers") return SetFlag(args, &s_.headers);
  if (cmd == ".timer") return SetFlag(args, &s_.timer);
  if (cmd == ".nullvalue") return Want(args, 1, 1) && ((s_.null_text = args[1]), true);
  if (cmd == ".show") return Want(args, 0, 0) && Show();
  if (cmd == ".tables") return Want(args, 0, 1) && Tables(args);
  if (cmd == ".schema") return Want(args, 0, 1) && Schema(args);
  if (cmd == ".indexes" || cmd == ".indices") return Want(args, 0, 1) && Indexes(args);
  if (cmd == ".databases") return Want(args, 0, 0) && Databases();
  if (cmd == ".output") return Want(args, 0, 1) && Redirect(args, false);
  if (cmd == ".once") return Want(args, 1, 1) && Redirect(args, true);
  if (cmd == ".read") return Want(args, 1, 1) && Read(args[1]);
  if (cmd == ".dump") return Dump(args);
  if (cmd == ".import") return Import(args);
  if (cmd == ".backup") return Want(args, 1, 2) && Backup(args);
  if (cmd == ".stats") return Want(args, 0, 0) && PrintPragma("litevfs_stats", true);
  if (cmd == ".pos") return Want(args, 0, 0) && PrintPragma("litevfs_position", false);
  if (cmd == ".sync") return Want(args, 0, 0) && Sync();
  if (cmd == ".lease") {
    if (!Want(args, 1, 1)) return false;
    if (args[1] == "acquire") return PrintPragma("litevfs_acquire_lease", false);
    if (args[1] == "release") return PrintPragma("litevfs_release_lease", false);
    if (args[1] == "status") return LeaseStatus();
    return Fail("usage: " + Usage(cmd));
  }
  return Fail("unknown command '" + cmd + "' (try .help)");
}

bool Shell::SetFlag(const Args& args, bool* flag) {
  if (!Want(args, 1, 1)) return false;
  if (args[1] == "on" || args[1] == "1") {
    *flag = true;
  } else if (args[1] == "off" || args[1] == "0") {
    *flag = false;
  } else {
    return Fail("usage: " + Usage(args[0]));
  }
  return true;
}

bool Shell::Mode(const Args& args) {
  if (args.size() == 1) {
    PrintLine(std::string("current output mode: ") + OutputModeName(s_.mode));
    return true;
  }
  auto m = ParseOutputMode(args[1]);
  if (!m) return Fail("unknown mode '" + args[1] + "' (table, csv, json, line)");
  s_.mode = *m;
  return true;
}

bool Shell::Show() {
  auto row = [&](const char* name, const std::string& value) {
    std::fprintf(out(), "%10s: %s\n", name, value.c_str());
  };
  row("headers", s_.headers ? "on" : "off");
  row("mode", OutputModeName(s_.mode));
  row("nullvalue", nlohmann::json(s_.null_text).dump());
  row("output", out_name_);
  row("timer", s_.timer ? "on" : "off");
  row("database", db_name_);
  return true;
}

bool Shell::Tables(const Args& args) {
  std::string sql =
      "SELECT name FROM sqlite_schema WHERE type IN ('table','view') AND name NOT LIKE "
      "'sqlite_%'";
  if (args.size() == 2) sql += " AND name LIKE " + SqlQuote(args[1]);
  return PrintList(sql + " ORDER BY 1", "");
}

bool Shell::Schema(const Args& args) {
  std::string sql =
      "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'";
  if (args.size() == 2) sql += " AND tbl_name LIKE " + SqlQuote(args[1]);
  return PrintList(sql + " ORDER BY tbl_name, type DESC, name", ";");
}

bool Shell::Indexes(const Args& args) {
  std::string sql = "SELECT name FROM sqlite_schema WHERE type = 'index'";
  if (args.size() == 2) sql += " AND tbl_name LIKE " + SqlQuote(args[1]);
  return PrintList(sql + " ORDER BY 1", "");
}

bool Shell::Databases() {
  std::vector<std::vector<std::string>> rows;
  try {
    rows = QueryRows(db_, "SELECT name, file FROM pragma_database_list ORDER BY seq");
  } catch (const CliError& e) {
    return Fail(e.what());
  }
  for (const auto& r : rows) {
    const int ro = sqlite3_db_readonly(db_, r[0].c_str());
    PrintLine(r[0] + ": " + (r[1].empty() ? "\"\"" : r[1]) + (ro == 1 ? " r/o" : " r/w"));
  }
  return true;
}

bool Shell::Read(const std::string& path) {
  if (read_depth_ >= kMaxReadDepth) {
    return Fail(".read " + path + ": files nested more than " + std::to_string(kMaxReadDepth) +
                " deep (does a file read itself?)");
  }
  std::ifstream in(path);
  if (!in) return Fail(".read: cannot open " + path + ": " + std::strerror(errno));
  ++read_depth_;
  LineFeeder feeder(this);
  const int failures_before = failures_;
  std::string line;
  auto go_on = [&] { return !quit_ && StopSignal() == 0 && !InterruptSeen(); };
  while (go_on() && std::getline(in, line)) feeder.Feed(line);
  if (in.bad()) Fail(".read: error reading " + path + ": " + std::strerror(errno));
  if (go_on()) feeder.Finish();
  --read_depth_;
  return failures_ == failures_before;
}

bool Shell::Sync() {
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
    if (!period.empty()) QueryRows(db_, "PRAGMA litevfs_cache_sync_period = " + SqlQuote(period));
    if (!err.empty()) return Fail(err);
  } catch (const CliError& e) {
    return Fail(e.what());
  }
  return PrintPragma("litevfs_position", false);
}

bool Shell::LeaseStatus() {
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
  PrintLine(id.empty() ? "no lease held by this process" : "lease " + id + " held by this process");
  return true;
}

// .output FILE / .once FILE, or '|COMMAND' for a pipe into COMMAND's standard input.
bool Shell::Redirect(const Args& args, bool once) {
  CloseOutput();
  if (args.size() == 1 || args[1] == "stdout") return true;
  const std::string& target = args[1];
  if (target[0] == '|') {
    std::fflush(stdout);
    out_ = popen(target.c_str() + 1, "w");
    out_is_pipe_ = true;
  } else {
    out_ = std::fopen(target.c_str(), "w");
    out_is_pipe_ = false;
  }
  if (!out_) return Fail(args[0] + ": cannot open " + target + ": " + std::strerror(errno));
  out_name_ = target;
  once_ = once;
  return true;
}

void Shell::CloseOutput() {
  once_ = false;
  if (!out_) return;
  FILE* f = out_;
  const bool pipe = out_is_pipe_;
  const std::string name = out_name_;
  out_ = nullptr;
  out_is_pipe_ = false;
  out_name_ = "stdout";
  const bool write_failed = std::ferror(f) != 0;
  const int rc = pipe ? pclose(f) : std::fclose(f);
  if (write_failed || (!pipe && rc != 0)) {
    Fail("writing " + name + " failed: " + std::strerror(errno));
  } else if (pipe && rc != 0) {
    Fail("the output command '" + name.substr(1) + "' failed (wait status " + std::to_string(rc) +
         ")");
  }
}

}  // namespace cli
