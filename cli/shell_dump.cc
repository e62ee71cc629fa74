// .dump [OPTIONS] [TABLE...]: the SQL text that recreates the database, written by Debian's
// own sqlite3 program, whose .dump is complete (virtual tables, sqlite_sequence, generated
// columns, WITHOUT ROWID, the exact quoting of every value) and maintained with SQLite.
// The child loads the litevfs module, opens the same remote database read-only and writes
// to the shell's current output. It sees what is committed, so a transaction this shell
// has open must end first.
//
// The module is $LITEVFS_MODULE when set, else liblitevfs.so next to the litevfs binary,
// in the build tree (../vfs/) or in the installed library directory (../LIBDIR/).
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "shell_session.h"
#include "shell_signals.h"

extern char** environ;

#ifndef LITEVFS_INSTALL_LIBDIR
#define LITEVFS_INSTALL_LIBDIR "lib"
#endif

namespace cli {
namespace {

constexpr const char* kSqlite3Program = "sqlite3";
constexpr const char* kModuleFile = "liblitevfs.so";
constexpr const char* kModuleEnv = "LITEVFS_MODULE";

bool IsFile(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string ExeDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, size_t(n));
  return p.substr(0, p.rfind('/'));
}

// The module's path, or "" with `where` listing the places tried.
std::string FindModule(std::string* where) {
  if (const char* env = std::getenv(kModuleEnv); env && *env) {
    *where = std::string("$") + kModuleEnv + " = " + env;
    return IsFile(env) ? env : "";
  }
  const std::string dir = ExeDir();
  for (const std::string& cand : {dir + "/" + kModuleFile, dir + "/../vfs/" + kModuleFile,
                                  dir + "/../" + LITEVFS_INSTALL_LIBDIR + "/" + kModuleFile}) {
    if (IsFile(cand)) return cand;
    *where += (where->empty() ? "" : ", ") + cand;
  }
  return "";
}

// An argument of a sqlite3 dot-command: '...' is literal; "..." when it holds a quote.
std::string DotQuote(const std::string& s) {
  if (s.find('\'') == std::string::npos) return "'" + s + "'";
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

// Runs argv with standard output on `out_fd` and standard input from /dev/null; returns
// its wait status, or -1 with errno. A SIGTERM to the shell is passed on to the child.
int RunChild(const std::vector<std::string>& argv, int out_fd) {
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (out_fd != STDOUT_FILENO) posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    errno = rc;
    return -1;
  }
  int status = 0;
  bool forwarded = false;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
    if (StopSignal() != 0 && !forwarded) {
      kill(pid, SIGTERM);
      forwarded = true;
    }
  }
  return status;
}

}  // namespace

bool Shell::Dump(const Args& args) {
  if (sqlite3_get_autocommit(db_) == 0) {
    return Fail(
        ".dump: finish the open transaction first (COMMIT or ROLLBACK): the dump is "
        "written by a separate sqlite3 process that sees only committed data");
  }
  std::string where;
  const std::string module = FindModule(&where);
  if (module.empty()) {
    return Fail(std::string(".dump: the litevfs module ") + kModuleFile + " was not found (" +
                where + "); set " + kModuleEnv + " to its path");
  }
  std::string dump = ".dump";
  for (size_t i = 1; i < args.size(); ++i) dump += " " + DotQuote(args[i]);
  const std::vector<std::string> argv = {
      kSqlite3Program,
      "-batch",
      "-bail",
      "-cmd",
      ".load " + DotQuote(module),
      "-cmd",
      ".open --readonly " + DotQuote("file:" + db_name_ + "?vfs=litevfs"),
      ":memory:",
      dump};
  std::fflush(out());
  const int status = RunChild(argv, fileno(out()));
  if (status < 0 && errno == ENOENT) {
    return Fail(std::string(".dump runs Debian's ") + kSqlite3Program +
                " program, which is not on PATH: install it (apt-get install sqlite3)");
  }
  if (status < 0) return Fail(std::string(".dump: running sqlite3: ") + std::strerror(errno));
  if (WIFSIGNALED(status)) {
    return Fail(".dump: sqlite3 was killed by signal " + std::to_string(WTERMSIG(status)));
  }
  if (WEXITSTATUS(status) != 0) {
    return Fail(".dump: sqlite3 exited with status " + std::to_string(WEXITSTATUS(status)) +
                " (its message is above)");
  }
  return true;
}

}  // namespace cli
