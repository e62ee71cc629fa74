// A real single-member etcd and an s3rver (npm) started for a test on loopback ports it
// picks, stopped by the destructor. `skip` says why when either tool is not installed
// (scripts/deps installs etcd-server; s3rver from build/npm-s3, installed by scripts/deps-cluster,
// or LITEVFS_S3RVER=path/to/s3rver), `error` what went wrong starting them. No gtest: the
// benchmarks (tests/bench/dist_bench.cc) use it too.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "mockcloud/server.h"

namespace distfix {

namespace fs = std::filesystem;

class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/litevfs-dist-XXXXXX";
    path_ = mkdtemp(tmpl) ? tmpl : "";
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t n = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
  close(fd);
  return ntohs(a.sin_port);
}

inline pid_t Spawn(const std::vector<std::string>& argv, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execv(a[0], a.data());
    _exit(127);
  }
  return pid;
}

inline std::string FindS3rver() {
  if (const char* e = getenv("LITEVFS_S3RVER"); e && *e) return e;
  const char* b = getenv("LITEVFS_BUILD_DIR");
  const std::string npm = std::string(b ? b : "build/release") + "/../npm-s3/node_modules/";
  for (const std::string& p : {npm + "s3rver/bin/s3rver.js", npm + ".bin/s3rver"})
    if (access(p.c_str(), R_OK) == 0) return p;
  return "";
}

struct DistCluster {
  static constexpr auto kReadyTimeout = std::chrono::seconds(20);
  static constexpr int kStartAttempts = 3;
  static constexpr char kBucket[] = "litevfs-test";
  ScratchDir dir;
  std::string skip;   // non-empty: the tools are missing, the test should skip
  std::string error;  // non-empty: they did not start
  pid_t etcd_pid = -1, s3_pid = -1;
  int etcd_port = 0, s3_port = 0;

  DistCluster() {
    const std::string s3rver = FindS3rver();
    if (access("/usr/bin/etcd", X_OK) != 0) skip = "etcd not installed (scripts/deps installs etcd-server)";
    else if (s3rver.empty()) skip = "s3rver not installed (scripts/deps-cluster installs it into build/npm-s3; or set LITEVFS_S3RVER)";
    if (!skip.empty()) return;
    // FreePort's port can be taken by another test before etcd or s3rver binds it: then
    // start again on new ports (bounded), the last attempt's error kept.
    for (int attempt = 1; attempt <= kStartAttempts; attempt++) {
      error.clear();
      if (StartOnce(s3rver, std::to_string(attempt))) return;
      StopAll();
    }
  }
  ~DistCluster() { StopAll(); }
  bool StartOnce(const std::string& s3rver, const std::string& tag) {
    etcd_port = FreePort();
    const int peer = FreePort();
    const std::string client = "http://127.0.0.1:" + std::to_string(etcd_port);
    const std::string peer_url = "http://127.0.0.1:" + std::to_string(peer);
    etcd_pid = Spawn({"/usr/bin/etcd", "--name", "t", "--data-dir", dir.path() + "/etcd" + tag,
                      "--listen-client-urls", client, "--advertise-client-urls", client,
                      "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
                      "--initial-cluster", "t=" + peer_url},
                     dir.path() + "/etcd" + tag + ".log");
    s3_port = FreePort();
    fs::create_directories(dir.path() + "/s3" + tag);
    s3_pid = Spawn({"/usr/bin/node", s3rver, "-d", dir.path() + "/s3" + tag, "-a", "127.0.0.1", "-p",
                    std::to_string(s3_port), "--silent", "--configure-bucket", kBucket},
                   dir.path() + "/s3" + tag + ".log");
    std::ofstream(dir.path() + "/aws") << "[default]\naws_access_key_id = S3RVER\n"
                                          "aws_secret_access_key = S3RVER\n";
    return WaitReady(etcd_port, "/health") && WaitReady(s3_port, "/");
  }
  void StopAll() {
    for (pid_t* p : {&etcd_pid, &s3_pid}) {
      if (*p <= 0) continue;
      kill(*p, SIGTERM);
      waitpid(*p, nullptr, 0);
      *p = -1;
    }
  }
  bool WaitReady(int port, const char* path) {
    const auto end = std::chrono::steady_clock::now() + kReadyTimeout;
    while (std::chrono::steady_clock::now() < end) {
      httplib::Client c("127.0.0.1", port);
      c.set_connection_timeout(0, 200000);
      if (auto r = c.Get(path); r && r->status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    error += "not ready on port " + std::to_string(port) + " within 20 s (logs in " + dir.path() + ") ";
    return false;
  }
  std::string StoreUrl() const {
    return std::string("s3://") + kBucket + "/t?endpoint=http://127.0.0.1:" + std::to_string(s3_port);
  }
  std::string EtcdUrl() const { return "http://127.0.0.1:" + std::to_string(etcd_port); }
  // Options of one instance (its cache under the cluster's temp dir).
  mockcloud::ServerOptions Instance(const std::string& name) const {
    mockcloud::ServerOptions o;
    o.data_dir = dir.path() + "/" + name;
    o.store_url = StoreUrl();
    o.etcd = EtcdUrl();
    o.aws_credentials_file = dir.path() + "/aws";
    o.tokens = {{"secret", "*"}};
    o.compact_interval_ms = 0;
    o.log_level = mockcloud::LogLevel::kWarn;
    return o;
  }
};

}  // namespace distfix
