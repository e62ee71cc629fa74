// Shared machinery of the benchmarks (tests/bench/*_bench.cc): command line, child processes
// (a mockcloud server in its own process so its memory can be measured, and "fresh process"
// readers), importing a local database, the VFS environment, timing and the Markdown row.
//
// Every program prints its results as Markdown table rows on stdout:
//   | row | what | baseline | measured | ratio / target | met |
// and everything else (progress, details) on stderr. scripts/bench adds the header.
#pragma once

#include <fcntl.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "litevfs/client.h"
#include "litevfs/vfs.h"
#include "ltx/file.h"
#include "ltx/format.h"
#include "ltx/io.h"
#include "mockcloud/server.h"
#include "../vfs_static.h"
#include "../../vfs/src/cache_map.h"

extern char** environ;

namespace bench {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kToken = "bench-token";
constexpr const char* kAdminToken = "bench-admin";

// Temp dirs of this process, removed by Die() too (it exits without running destructors).
inline std::vector<std::string>& LiveTempDirs() {
  static std::vector<std::string> dirs;
  return dirs;
}

[[noreturn]] inline void Die(const std::string& msg) {
  std::fprintf(stderr, "bench: %s\n", msg.c_str());
  std::fflush(stderr);
  for (const auto& d : LiveTempDirs()) {
    std::error_code ec;
    std::filesystem::remove_all(d, ec);
  }
  std::_Exit(2);
}

inline void Log(const std::string& msg) {
  std::fprintf(stderr, "  %s\n", msg.c_str());
  std::fflush(stderr);
}

inline double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline std::string Fmt(double v, int prec = 2) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  return buf;
}

inline std::string FmtBytes(double b) {
  if (b >= 1024.0 * 1024) return Fmt(b / (1024.0 * 1024), 2) + " MiB";
  if (b >= 1024.0) return Fmt(b / 1024.0, 1) + " KiB";
  return Fmt(b, 0) + " B";
}

// Decimal units (the peers' table uses KB = 1000 bytes, MB = 10^6 bytes).
inline std::string FmtDec(double b) {
  if (b >= 1e6) return Fmt(b / 1e6, 2) + " MB";
  if (b >= 1e3) return Fmt(b / 1e3, 1) + " KB";
  return Fmt(b, 0) + " B";
}

// One Markdown row on stdout (flushed: the parent script reads it as it comes).
inline void Row(const std::string& row, const std::string& what, const std::string& baseline,
                const std::string& measured, const std::string& ratio_target,
                const std::string& met) {
  std::printf("| %s | %s | %s | %s | %s | %s |\n", row.c_str(), what.c_str(), baseline.c_str(),
              measured.c_str(), ratio_target.c_str(), met.c_str());
  std::fflush(stdout);
}

inline std::string Met(bool ok) { return ok ? "met" : "**missed**"; }

// ---- command line ----
struct Args {
  bool smoke = false;
  int size_mb = 0;            // 0 = the program's default
  std::string serve_dir;      // --serve DIR: internal, run a mockcloud server
  std::string child;          // --child MODE: internal, a measured child process
  std::vector<std::string> rest;
};

inline Args ParseArgs(int argc, char** argv, const std::string& description) {
  Args a;
  CLI::App app(description);
  app.add_flag("--smoke", a.smoke, "tiny sizes, finishes in a few seconds");
  app.add_option("--size-mb", a.size_mb, "database size in MiB (where the benchmark has one)")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--serve", a.serve_dir, "internal: run a mockcloud server on DIR");
  app.add_option("--child", a.child, "internal: run a measured child MODE");
  app.add_option("args", a.rest, "internal: child arguments");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  return a;
}

inline std::string SelfExe() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  if (ec) Die("cannot resolve /proc/self/exe: " + ec.message());
  return p.string();
}

// ---- memory ----
// A field of /proc/PID/status in KiB (VmHWM = peak RSS, VmRSS = current). 0 when unknown.
inline uint64_t ProcStatusKb(const std::string& pid, const std::string& field) {
  std::ifstream in("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::strtoull(line.c_str() + field.size() + 1, nullptr, 10);
  }
  return 0;
}
inline uint64_t SelfPeakRssKb() { return ProcStatusKb("self", "VmHWM"); }

// CPU time (user + system, every thread) a process has used so far, in seconds: fields 14
// and 15 of /proc/PID/stat, counted after the ")" that ends the command name.
inline double ProcCpuSeconds(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 1));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; i++) {
    if (i >= 14) ticks += std::strtod(f.c_str(), nullptr);
  }
  return ticks / double(sysconf(_SC_CLK_TCK));
}

// What the VFS's cache file map may keep resident (pages read through it count in the RSS):
// configured cache memory, like SQLite's page cache, in the RSS limits of rows 3, 4 and 15c.
inline constexpr double kVfsMapResidentBytes = double(litevfs::PagesMap::kMaxResidentBytes);

// The largest RssAnon (heap, stacks: what is not a file's page) seen while alive.
class AnonPeak {
 public:
  AnonPeak()
      : thread_([this] {
          while (!stop_) {
            peak_kb_ = std::max<uint64_t>(peak_kb_, ProcStatusKb("self", "RssAnon"));
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
          }
        }) {}
  ~AnonPeak() { Stop(); }
  uint64_t Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return peak_kb_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> peak_kb_{0};
  std::thread thread_;
};

// ---- temp dirs ----
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    const char* base = getenv("LITEVFS_BENCH_TMP");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/litevfs-bench-" + tag + "-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) Die("mkdtemp " + tmpl + ": " + std::strerror(errno));
    path_ = buf.data();
    LiveTempDirs().push_back(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
    auto& live = LiveTempDirs();
    live.erase(std::remove(live.begin(), live.end(), path_), live.end());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// ---- child processes ----
// A child with a pipe on its stdin (closing it tells the child to finish) and its stdout
// (line protocol). stderr is inherited.
class Child {
 public:
  static std::unique_ptr<Child> Spawn(const std::vector<std::string>& args) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) Die("pipe: " + std::string(std::strerror(errno)));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    std::vector<char*> argv;
    for (const auto& s : args) argv.push_back(const_cast<char*>(s.c_str()));
    argv.push_back(nullptr);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, args[0].c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (rc != 0) Die("spawn " + args[0] + ": " + std::strerror(rc));
    auto c = std::unique_ptr<Child>(new Child());
    c->pid_ = pid;
    c->in_ = in[1];
    c->out_ = out[0];
    return c;
  }
  static std::unique_ptr<Child> SpawnSelf(const std::vector<std::string>& args) {
    std::vector<std::string> all{SelfExe()};
    all.insert(all.end(), args.begin(), args.end());
    return Spawn(all);
  }

  ~Child() {
    CloseStdin();
    if (pid_ > 0 && Wait(30000) < -1) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
  }

  pid_t pid() const { return pid_; }

  // Next line of the child's stdout (without '\n'), or nullopt on EOF/timeout.
  std::optional<std::string> ReadLine(int timeout_ms) {
    const double deadline = Now() + timeout_ms / 1000.0;
    for (;;) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      int left = int((deadline - Now()) * 1000);
      if (left <= 0) return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      int r = poll(&p, 1, left);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return std::nullopt;
      char tmp[4096];
      ssize_t n = read(out_, tmp, sizeof tmp);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::nullopt;
      buf_.append(tmp, size_t(n));
    }
  }

  bool WriteLine(const std::string& s) {
    std::string l = s + "\n";
    return in_ >= 0 && write(in_, l.data(), l.size()) == ssize_t(l.size());
  }

  void CloseStdin() {
    if (in_ >= 0) close(in_);
    in_ = -1;
  }

  // Waits up to timeout_ms: exit status (>= 0), -1 for a signal, -2 on timeout.
  int Wait(int timeout_ms) {
    if (pid_ <= 0) return status_;
    const double deadline = Now() + timeout_ms / 1000.0;
    for (;;) {
      int st = 0;
      pid_t r = waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        return status_;
      }
      if (Now() > deadline) return -2;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  // /proc/PID/status field of the running child (KiB).
  uint64_t StatusKb(const std::string& field) const {
    return pid_ > 0 ? ProcStatusKb(std::to_string(pid_), field) : 0;
  }

 private:
  Child() = default;
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  int status_ = -1;
  std::string buf_;
};

// A measured child's one-line JSON answer; dies with the child's story if there is none.
inline json ReadJsonLine(Child* c, int timeout_ms, const std::string& what) {
  auto line = c->ReadLine(timeout_ms);
  if (!line) Die(what + ": child gave no answer within " + std::to_string(timeout_ms) + " ms");
  try {
    return json::parse(*line);
  } catch (const std::exception& e) {
    Die(what + ": child answered '" + *line + "': " + e.what());
  }
}

// ---- mockcloud in its own process ----
// Starts a server with `o`, prints "PORT n" and serves until stdin closes.
inline int ServeUntilStdinCloses(const mockcloud::ServerOptions& o) {
  auto srv = mockcloud::Server::Start(o);
  if (!srv.ok()) Die("mockcloud start: " + srv.status().ToString());
  std::printf("PORT %d\n", (*srv)->port());
  std::fflush(stdout);
  char b[256];
  while (read(0, b, sizeof b) > 0) {
  }
  (*srv)->Stop();
  return 0;
}

// `--serve DIR [--faults SPEC]` mode: a server for the benchmark's children.
inline int RunServe(const Args& a) {
  mockcloud::ServerOptions o;
  o.data_dir = a.serve_dir;
  o.tokens = {{kToken, "*"}};
  o.admin_token = kAdminToken;
  o.compact_interval_ms = 0;
  o.threads = 64;
  o.log_level = mockcloud::LogLevel::kError;
  if (!a.rest.empty()) o.faults = a.rest[0];
  return ServeUntilStdinCloses(o);
}

// A benchmark program's main: `--serve DIR` runs the mockcloud, `--child MODE` runs
// child_fn (the fresh-process half of a benchmark), anything else main_fn.
inline int Run(int argc, char** argv, const char* what, int (*main_fn)(const Args&),
               int (*child_fn)(const Args&) = nullptr) {
  Args a = ParseArgs(argc, argv, what);
  if (!a.serve_dir.empty()) return RunServe(a);
  if (!a.child.empty() && child_fn) return child_fn(a);
  return main_fn(a);
}

class ServerProc {
 public:
  explicit ServerProc(const std::string& data_dir, const std::string& faults = "") {
    std::vector<std::string> args{"--serve", data_dir};
    if (!faults.empty()) args.push_back(faults);
    child_ = Child::SpawnSelf(args);
    auto line = child_->ReadLine(30000);
    if (!line || line->rfind("PORT ", 0) != 0) Die("mockcloud child did not start");
    port_ = std::atoi(line->c_str() + 5);
  }
  ~ServerProc() { Stop(); }
  void Stop() {
    if (!child_) return;
    child_->CloseStdin();
    if (child_->Wait(30000) == -2) Die("mockcloud child did not stop");
    child_.reset();
  }
  int port() const { return port_; }
  std::string host() const { return "http://127.0.0.1:" + std::to_string(port_); }
  uint64_t PeakRssKb() const { return child_ ? child_->StatusKb("VmHWM") : 0; }
  double CpuSeconds() const { return child_ ? ProcCpuSeconds(std::to_string(child_->pid())) : 0; }
  uint64_t RssKb() const { return child_ ? child_->StatusKb("VmRSS") : 0; }

  void SetFaults(const std::string& spec) {
    httplib::Client c("127.0.0.1", port_);
    auto r = c.Put("/admin/faults", {{"Authorization", kAdminToken}}, spec, "text/plain");
    if (!r || r->status != 200) Die("PUT /admin/faults failed");
  }

 private:
  std::unique_ptr<Child> child_;
  int port_ = 0;
};

inline std::unique_ptr<litevfs::Client> MakeClient(const std::string& host) {
  litevfs::ClientConfig cfg;
  cfg.host = host;
  cfg.token = kToken;
  cfg.request_timeout_ms = 600000;
  auto c = litevfs::Client::Create(cfg);
  if (!c.ok()) Die("client: " + c.status().ToString());
  return std::move(c).value();
}

// Uploads the local database file `path` as the snapshot of a new remote database `name`.
inline ltx::Pos Import(const std::string& host, const std::string& name, const std::string& path) {
  auto client = MakeClient(host);
  std::string bytes;
  {
    ltx::StringSink sink(&bytes);
    auto info = ltx::EncodeDatabaseFile(path, &sink);
    if (!info.ok()) Die("encode " + path + ": " + info.status().ToString());
  }
  auto pos = client->UploadTx(name, bytes, "");
  if (!pos.ok()) Die("upload " + name + ": " + pos.status().ToString());
  return *pos;
}

// One plain HTTP GET of /db/snapshot (cpp-httplib, body counted and dropped). Returns
// {bytes, seconds}.
inline std::pair<uint64_t, double> PlainSnapshotGet(int port, const std::string& name) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(600, 0);
  uint64_t n = 0;
  const double t0 = Now();
  auto r = c.Get(("/db/snapshot?db=" + name).c_str(), {{"Authorization", kToken}},
                 [&](const char*, size_t len) {
                   n += len;
                   return true;
                 });
  const double t = Now() - t0;
  if (!r || r->status != 200) Die("GET /db/snapshot failed");
  return {n, t};
}

// ---- SQLite ----
inline void RegisterVfs() { vfsstatic::RegisterVfsOnce(); }

// Points the VFS at `host` with cache root `cache_dir` (before the first open).
inline void SetVfsEnv(const std::string& host, const std::string& cache_dir) {
  setenv("LITEFS_CLOUD_HOST", host.c_str(), 1);
  setenv("LITEFS_CLOUD_TOKEN", kToken, 1);
  setenv("LITEVFS_CACHE_DIR", cache_dir.c_str(), 1);
  unsetenv("LITEFS_CLOUD_CLUSTER");
  RegisterVfs();
}

using vfsstatic::VfsLastError;

inline sqlite3* OpenDb(const std::string& uri, int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(uri.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    Die("open " + uri + ": " + msg + " / " + VfsLastError());
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);
  return db;
}
inline sqlite3* OpenRemote(const std::string& name, int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI) {
  return OpenDb("file:" + name + "?vfs=litevfs", flags);
}

// Runs every statement of `sql`; returns the first column of the last row (or "").
inline std::string Exec(sqlite3* db, const std::string& sql) {
  const char* tail = sql.c_str();
  std::string last;
  while (tail && *tail) {
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db, tail, -1, &st, &tail);
    if (rc != SQLITE_OK) Die("prepare '" + sql.substr(0, 120) + "': " + sqlite3_errmsg(db) + " / " + VfsLastError());
    if (!st) break;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(st, 0);
      last = t ? reinterpret_cast<const char*>(t) : "NULL";
    }
    if (rc != SQLITE_DONE) {
      std::string msg = sqlite3_errmsg(db);
      sqlite3_finalize(st);
      Die("step '" + sql.substr(0, 120) + "': " + msg + " / " + VfsLastError());
    }
    sqlite3_finalize(st);
  }
  return last;
}

inline json Stats(sqlite3* db) { return json::parse(Exec(db, "PRAGMA litevfs_stats")); }

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = size_t(std::ceil(p / 100.0 * double(v.size()))) ;
  if (i > 0) i--;
  return v[std::min(i, v.size() - 1)];
}

}  // namespace bench
