// The physical baselines of the bulk rows (issue 19): what "just download the file" and
// "just copy the file" cost on this machine, measured in the same run as litevfs:
//  - StaticHttpServer: a plain static file server (Debian's python3 -m http.server) over
//    the directory holding the database file; CurlGet fetches it with curl into a file.
//  - CopyAndFsync: `cp` of the file, then fsync of the copy (what an upload must at least
//    do: read every byte and make it durable).
// Programs are looked up on PATH; a missing one is a clear error naming its package.
#pragma once

#include <sys/resource.h>

#include "bench_common.h"

namespace bench {

// Absolute path of `prog` on PATH; dies naming the Debian package that provides it.
inline std::string Which(const std::string& prog, const std::string& package) {
  const char* path = getenv("PATH");
  std::stringstream ss(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    const std::string p = (dir.empty() ? "." : dir) + "/" + prog;
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  Die(prog + " not found on PATH (install Debian's " + package + ": bash scripts/deps)");
}

// A program run to completion: wall seconds and its peak RSS (KiB, from wait4's rusage).
struct RunResult {
  double seconds = 0;
  uint64_t peak_rss_kb = 0;
};

// Runs argv (argv[0] absolute), stdout to stderr's log; dies unless it exits 0 within
// timeout_s. Its peak RSS comes from wait4, so the program needs no help to report it.
inline RunResult RunProgram(const std::vector<std::string>& argv, int timeout_s = 3600) {
  std::vector<char*> cargv;
  for (const auto& s : argv) cargv.push_back(const_cast<char*>(s.c_str()));
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, 2, 1);  // results are ours to print, not the child's
  const double t0 = Now();
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) Die("spawn " + argv[0] + ": " + std::strerror(rc));
  for (;;) {
    int st = 0;
    struct rusage ru {};
    const pid_t r = wait4(pid, &st, WNOHANG, &ru);
    if (r == pid) {
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) Die(argv[0] + " " + argv[1] + " failed");
      return {Now() - t0, uint64_t(ru.ru_maxrss)};
    }
    if (r < 0) Die("wait4 " + argv[0] + ": " + std::strerror(errno));
    if (Now() - t0 > timeout_s) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      Die(argv[0] + " did not finish within " + std::to_string(timeout_s) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// python3 -m http.server on 127.0.0.1, a port it picks, serving `dir`; stopped on
// destruction (its stdin closes and it is killed: http.server does not read stdin).
class StaticHttpServer {
 public:
  explicit StaticHttpServer(const std::string& dir) {
    child_ = Child::Spawn({Which("python3", "python3"), "-u", "-m", "http.server", "0", "--bind",
                           "127.0.0.1", "--directory", dir});
    // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
    auto line = child_->ReadLine(30000);
    const size_t at = line ? line->find(" port ") : std::string::npos;
    if (at == std::string::npos) Die("python3 -m http.server did not say its port");
    port_ = std::atoi(line->c_str() + at + 6);
    if (port_ <= 0) Die("python3 -m http.server: bad port line '" + *line + "'");
  }
  ~StaticHttpServer() {
    kill(child_->pid(), SIGTERM);
    child_->Wait(10000);
  }
  StaticHttpServer(const StaticHttpServer&) = delete;
  StaticHttpServer& operator=(const StaticHttpServer&) = delete;
  std::string Url(const std::string& file) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/" + file;
  }

 private:
  std::unique_ptr<Child> child_;
  int port_ = 0;
};

// fsync of a file just written.
inline void FsyncFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fsync(fd) != 0) Die("fsync " + path + ": " + std::strerror(errno));
  close(fd);
}

// curl of `url` into `out` (removed afterwards), then fsync(out) if `durable`: seconds.
inline double CurlGet(const std::string& url, const std::string& out, bool durable = false) {
  const double t0 = Now();
  RunProgram({Which("curl", "curl"), "-sS", "--fail", "-o", out, url});
  if (durable) FsyncFile(out);
  const double t = Now() - t0;
  std::error_code ec;
  fs::remove(out, ec);
  return t;
}

// `cp src dst` then fsync(dst), dst removed afterwards: seconds for both.
inline double CopyAndFsync(const std::string& src, const std::string& dst) {
  const double t0 = Now();
  RunProgram({Which("cp", "coreutils"), src, dst});
  FsyncFile(dst);
  const double t = Now() - t0;
  std::error_code ec;
  fs::remove(dst, ec);
  return t;
}

}  // namespace bench
