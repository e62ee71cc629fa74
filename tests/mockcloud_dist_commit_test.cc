// The distributed store's commit when etcd applied the commit txn but its answer was lost
// (an etcd leader killed mid-request; a member that timed a proposal out and committed it
// after): the instance's etcd client tries the next member, whose compare then fails on the
// position the first attempt wrote. That is this commit's own position, not another
// writer's: the upload must be answered 200, and its object, which the position names, must
// stay in S3. The same for a compaction's base, a delete and a lease refresh or release.
// A lossy TCP proxy in front of a real etcd drops exactly that answer.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "../mockcloud/src/dist/etcd_client.h"
#include "mockcloud_dist_instance.h"

namespace mctest {
namespace {

using distfix::DistCluster;

// Forwards TCP connections to etcd byte for byte (watch streams too). Once armed with a key
// part, the first txn whose success branch puts or deletes a key containing it ("/tx/": a
// commit, "/base/": a compaction, "/pos/" with no commit running: a delete) is forwarded, and once etcd has started to answer, both
// connections are closed: applied, answer lost.
class LossyEtcdProxy {
 public:
  explicit LossyEtcdProxy(int etcd_port) : upstream_port_(etcd_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = Loopback(0);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listen_fd_, 64) != 0) return;
    socklen_t n = sizeof a;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &n);
    port_ = ntohs(a.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~LossyEtcdProxy() {
    stop_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    if (accept_thread_.joinable()) accept_thread_.join();
    std::lock_guard l(mu_);
    for (int fd : fds_) shutdown(fd, SHUT_RDWR);
    for (auto& t : conns_) t.join();
    for (int fd : fds_) close(fd);
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void ArmDrop(const std::string& key_part) {
    std::lock_guard l(mu_);
    armed_key_ = key_part;
  }
  int dropped() const { return dropped_; }

 private:
  static sockaddr_in Loopback(int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(uint16_t(port));
    return a;
  }
  void AcceptLoop() {
    while (!stop_) {
      const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) return;
      const int up = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a = Loopback(upstream_port_);
      if (connect(up, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(client);
        close(up);
        continue;
      }
      std::lock_guard l(mu_);
      fds_.push_back(client);
      fds_.push_back(up);
      conns_.emplace_back([this, client, up] { Serve(client, up); });
    }
  }
  // The request's head and body (Content-Length), as read so far from the client.
  static bool ReadRequest(int fd, std::string* req) {
    char buf[16384];
    size_t body_at = std::string::npos, length = 0;
    for (;;) {
      if (body_at == std::string::npos && (body_at = req->find("\r\n\r\n")) != std::string::npos) {
        body_at += 4;
        const size_t cl = req->find("Content-Length: ");
        length = cl < body_at ? std::stoul(req->substr(cl + 16)) : 0;
      }
      if (body_at != std::string::npos && req->size() >= body_at + length) return true;
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) return false;
      req->append(buf, size_t(n));
    }
  }
  static bool WritesKey(const std::string& req, const std::string& key_part) {
    if (key_part.empty() || req.rfind("POST /v3/kv/txn ", 0) != 0) return false;
    const json j = json::parse(req.substr(req.find("\r\n\r\n") + 4), nullptr, false);
    if (j.is_discarded() || !j.contains("success")) return false;
    for (const auto& op : j["success"]) {
      for (const char* kind : {"request_put", "request_delete_range"}) {
        if (op.contains(kind) &&
            mockcloud::dist::Base64Decode(op[kind].value("key", "")).find(key_part) != std::string::npos) {
          return true;
        }
      }
    }
    return false;
  }
  void Serve(int client, int up) {
    std::string req;
    if (!ReadRequest(client, &req)) return;
    bool drop = false;
    {
      std::lock_guard l(mu_);
      drop = WritesKey(req, armed_key_);
      if (drop) armed_key_.clear();
    }
    if (write(up, req.data(), req.size()) != ssize_t(req.size())) return;
    if (drop) {
      char b;
      if (read(up, &b, 1) == 1) dropped_++;  // etcd answers: the txn was applied
      shutdown(client, SHUT_RDWR);
      shutdown(up, SHUT_RDWR);
      return;
    }
    Pump(client, up);
  }
  static void Pump(int a, int b) {
    pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    char buf[16384];
    for (;;) {
      if (poll(p, 2, -1) <= 0) return;
      for (int i = 0; i < 2; i++) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const ssize_t n = read(p[i].fd, buf, sizeof buf);
        if (n <= 0 || write(p[1 - i].fd, buf, size_t(n)) != n) return;
      }
    }
  }

  const int upstream_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> dropped_{0};
  std::thread accept_thread_;
  std::mutex mu_;  // guards conns_, fds_ (the accept thread adds, the destructor ends them), armed_key_
  std::string armed_key_;  // empty: forward everything
  std::vector<std::thread> conns_;
  std::vector<int> fds_;
};

class DistCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cluster.skip.empty()) GTEST_SKIP() << cluster.skip;
    ASSERT_EQ(cluster.error, "");
    proxy = std::make_unique<LossyEtcdProxy>(cluster.etcd_port);
  }
  // An instance's options with the proxy as its first etcd member, etcd itself the next.
  mockcloud::ServerOptions ViaProxy(const std::string& name) const {
    mockcloud::ServerOptions o = cluster.Instance(name);
    o.etcd = proxy->Url() + "," + cluster.EtcdUrl();
    return o;
  }
  // Takes a lease on "app" through `a`, then arms the proxy for the next lease write.
  std::string LeaseThenArm(const Instance& a) {
    if (!a.server) return "";
    const std::string id = TakeLease(a, "app", 30000);
    proxy->ArmDrop("/lease/");
    return id;
  }
  DistCluster cluster;
  std::unique_ptr<LossyEtcdProxy> proxy;
};

TEST_F(DistCommitTest, CommitWhoseEtcdAnswerWasLostIsAppliedNotRefused) {
  Instance a(ViaProxy("a"));
  ASSERT_TRUE(a.server);
  Model m;
  ASSERT_EQ(Post(a, "app", m.Tx({{1, FilledPage(4096, 1)}, {2, FilledPage(4096, 2)}}, 2))->status, 200);

  proxy->ArmDrop("/tx/");
  auto r = Post(a, "app", m.Tx({{2, FilledPage(4096, 22)}, {3, FilledPage(4096, 3)}}, 3));
  ASSERT_TRUE(r);
  ASSERT_EQ(proxy->dropped(), 1) << "the fault was never injected";
  EXPECT_EQ(r->status, 200) << "its own commit was refused: " << r->body;
  const std::string pos = PosUrl(m.txid, m.Checksum());
  EXPECT_EQ(PosOf(a, "app"), pos);

  // A new instance (etcd directly) loads the position from S3: the object is still there.
  Instance b(cluster.Instance("b"));
  auto frames = PagesAt(b, "app", pos, "2,3");
  EXPECT_EQ(frames[2], m.Page(2));
  EXPECT_EQ(frames[3], m.Page(3));
}

TEST_F(DistCommitTest, CompactionWhoseEtcdAnswerWasLostKeepsItsBase) {
  mockcloud::ServerOptions o = ViaProxy("a");
  o.retention_ms = 1;
  o.retain_txids = 1;
  Instance a(o);
  ASSERT_TRUE(a.server);
  Model m;
  for (uint32_t i = 1; i <= 3; i++) {
    ASSERT_EQ(Post(a, "app", m.Tx({{1, FilledPage(4096, i)}, {i + 1, FilledPage(4096, 10 + i)}}, i + 1))->status, 200);
  }
  proxy->ArmDrop("/base/");
  ASSERT_TRUE(a.server->CompactAt(mockcloud::NowUnixMs() + 60 * 1000).ok());
  ASSERT_EQ(proxy->dropped(), 1) << "the fault was never injected";

  // A new instance loads the database from the base the compaction wrote.
  Instance b(cluster.Instance("b"));
  const std::string pos = PosUrl(m.txid, m.Checksum());
  EXPECT_EQ(PosOf(b, "app"), pos);
  auto frames = PagesAt(b, "app", pos, "1,2,4");
  EXPECT_EQ(frames[1], m.Page(1));
  EXPECT_EQ(frames[2], m.Page(2));
  EXPECT_EQ(frames[4], m.Page(4));
}

TEST_F(DistCommitTest, DeleteWhoseEtcdAnswerWasLostIsDone) {
  Instance a(ViaProxy("a"));
  ASSERT_TRUE(a.server);
  Model m;
  ASSERT_EQ(Post(a, "app", m.Tx({{1, FilledPage(4096, 1)}}, 1))->status, 200);
  proxy->ArmDrop("/pos/");
  auto del = a.Client()->Delete("/db?db=app");
  ASSERT_TRUE(del);
  ASSERT_EQ(proxy->dropped(), 1) << "the fault was never injected";
  EXPECT_EQ(del->status, 204) << "a delete that happened was answered: " << del->body;
  EXPECT_EQ(PosOf(a, "app"), "");
}

TEST_F(DistCommitTest, LeaseRefreshWhoseEtcdAnswerWasLostSucceeds) {
  Instance a(ViaProxy("a"));
  const std::string id = LeaseThenArm(a);
  ASSERT_FALSE(id.empty());
  auto refresh = a.Client()->Post("/lease?db=app&duration=30000&id=" + id, "", "text/plain");
  ASSERT_TRUE(refresh);
  ASSERT_EQ(proxy->dropped(), 1) << "the fault was never injected";
  ASSERT_EQ(refresh->status, 200) << "a refresh that happened was refused: " << refresh->body;
  EXPECT_EQ(json::parse(refresh->body)["id"], id);
}

// (After a lost answer the instance's etcd client stays on the next member, past the proxy:
// one fault per instance.)
TEST_F(DistCommitTest, LeaseReleaseWhoseEtcdAnswerWasLostSucceeds) {
  Instance a(ViaProxy("a"));
  const std::string id = LeaseThenArm(a);
  ASSERT_FALSE(id.empty());
  auto release = a.Client()->Delete("/lease?db=app&id=" + id);
  ASSERT_TRUE(release);
  ASSERT_EQ(proxy->dropped(), 1) << "the fault was never injected";
  EXPECT_LT(release->status, 300) << "a release that happened was refused: " << release->body;
  EXPECT_FALSE(TakeLease(a, "app", 30000).empty()) << "the lease is still held";
}

}  // namespace
}  // namespace mctest
