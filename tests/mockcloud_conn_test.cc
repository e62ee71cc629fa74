// The mockcloud's connection handling (issue 13): idle, slow and long-polling connections
// must not stall other requests; deadlines close idle and slow connections; beyond capacity
// the answer is 503 with Retry-After; bad Content-Length is an immediate 400; an empty POST
// needs no Content-Length; lease ids never reach the request log.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <thread>

#include "../mockcloud/src/fd_limit.h"
#include "mockcloud_test_util.h"

using namespace mctest;

namespace {

using Ms = std::chrono::milliseconds;

double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// A raw TCP connection to the server, for what httplib::Client will not send.
class Raw {
 public:
  explicit Raw(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Raw() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return ok_; }
  bool Send(const std::string& s) { return send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == ssize_t(s.size()); }
  // Reads until `until` appears, EOF, or timeout_ms; returns what arrived.
  std::string Read(int timeout_ms, const std::string& until = "") {
    const auto t0 = std::chrono::steady_clock::now();
    for (;;) {
      if (!until.empty() && in_.find(until) != std::string::npos) break;
      int left = timeout_ms - int(MsSince(t0));
      pollfd p{fd_, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, left) <= 0) break;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        eof_ = true;
        break;
      }
      in_.append(buf, size_t(n));
    }
    return in_;
  }
  // True when the server closed the connection within timeout_ms.
  bool ClosedWithin(int timeout_ms) {
    Read(timeout_ms);
    return eof_;
  }

 private:
  int fd_ = -1;
  bool ok_ = false, eof_ = false;
  std::string in_;
};

// GET /healthz on a fresh connection; its latency in ms, or -1 on failure.
double HealthzMs(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(5, 0);
  c.set_read_timeout(5, 0);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = c.Get("/healthz");
  return r && r->status == 200 ? MsSince(t0) : -1;
}

TEST(MockcloudConn, IdleAndSlowConnectionsBeyondTheWorkerCountDoNotStallRequests) {
  // Issue 13: with one worker thread per connection, 64 such connections stopped the server.
  Harness h;
  h.opts.threads = 4;
  h.Start();
  std::vector<std::unique_ptr<Raw>> idle, slow;
  for (int i = 0; i < 150; i++) {
    idle.push_back(std::make_unique<Raw>(h.server->port()));
    ASSERT_TRUE(idle.back()->ok());
    slow.push_back(std::make_unique<Raw>(h.server->port()));
    ASSERT_TRUE(slow.back()->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));  // never finished
  }
  for (int i = 0; i < 5; i++) {
    double ms = HealthzMs(h.server->port());
    EXPECT_GE(ms, 0);
    EXPECT_LT(ms, 1000);
  }
}

TEST(MockcloudConn, LongPollsBeyondTheWorkerCountHoldNoWorker) {
  Harness h;
  h.opts.threads = 4;
  h.opts.max_long_polls = 1000;
  h.Start();
  auto c = h.Client();
  Model m;
  std::map<uint32_t, std::string> w{{1, FilledPage(4096, 1)}, {2, FilledPage(4096, 2)}};
  ASSERT_EQ(c->Post("/db/tx?db=db", m.Tx(w, 2), "application/octet-stream")->status, 200);
  const std::string q = "GET /db/sync?db=db&wait=20000&pos=" + ltx::FormatPos(m.pos()) +
                        " HTTP/1.1\r\nHost: x\r\nAuthorization: secret\r\n\r\n";
  std::vector<std::unique_ptr<Raw>> polls;
  for (int i = 0; i < 40; i++) {
    polls.push_back(std::make_unique<Raw>(h.server->port()));
    ASSERT_TRUE(polls.back()->Send(q));
  }
  std::this_thread::sleep_for(Ms(200));
  auto t0 = std::chrono::steady_clock::now();
  auto r = c->Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_LT(MsSince(t0), 1000);
  EXPECT_NE(r->body.find("\nmockcloud_long_polls 40\n"), std::string::npos);
  // A commit answers every one of them promptly.
  Model next = m;
  ASSERT_EQ(c->Post("/db/tx?db=db", next.Tx({{2, FilledPage(4096, 3)}}, 2), "application/octet-stream")->status,
            200);
  for (auto& p : polls) {
    const std::string moved = "\"txid\":\"" + ltx::FormatTxid(next.pos().txid) + "\"";
    const std::string got = p->Read(3000, moved);
    EXPECT_NE(got.find(moved), std::string::npos) << got;
  }
}

TEST(MockcloudConn, HeaderAndIdleDeadlinesCloseConnections) {
  Harness h;
  h.opts.header_timeout_ms = 300;
  h.opts.idle_timeout_ms = 600;
  h.Start();
  Raw slow(h.server->port()), idle(h.server->port()), used(h.server->port());
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(slow.Send("GET /healthz HTTP/1.1\r\n"));
  std::thread trickle([&] {  // a header line every 100 ms: a slowloris that never finishes
    for (int i = 0; i < 12; i++) {
      std::this_thread::sleep_for(Ms(100));
      if (!slow.Send("X-A: 1\r\n")) break;
    }
  });
  EXPECT_TRUE(slow.ClosedWithin(3000));
  const double slow_ms = MsSince(t0);
  trickle.join();
  EXPECT_GE(slow_ms, 250);
  EXPECT_LT(slow_ms, 1000);
  ASSERT_TRUE(used.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_NE(used.Read(2000, "ok").find("200 OK"), std::string::npos);
  EXPECT_TRUE(idle.ClosedWithin(3000));
  EXPECT_TRUE(used.ClosedWithin(3000));  // idle after its request: the idle deadline again
  EXPECT_GE(MsSince(t0), 550);
  const std::string metrics = h.Client()->Get("/metrics")->body;
  EXPECT_NE(metrics.find("mockcloud_connections_timed_out_total{deadline=\"header\"} 1\n"),
            std::string::npos) << metrics;
  EXPECT_NE(metrics.find("mockcloud_connections_timed_out_total{deadline=\"idle\"} 2\n"),
            std::string::npos) << metrics;
}

TEST(MockcloudConn, BeyondMaxConnectionsIs503WithRetryAfter) {
  Harness h;
  h.opts.max_connections = 3;
  h.Start();
  std::vector<std::unique_ptr<Raw>> held;
  for (int i = 0; i < 3; i++) held.push_back(std::make_unique<Raw>(h.server->port()));
  std::this_thread::sleep_for(Ms(100));  // accepted
  Raw extra(h.server->port());
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(extra.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  const std::string got = extra.Read(2000, "}");
  EXPECT_LT(MsSince(t0), 1000);
  EXPECT_EQ(got.rfind("HTTP/1.1 503", 0), 0u) << got;
  EXPECT_NE(got.find("Retry-After: 1\r\n"), std::string::npos) << got;
  EXPECT_NE(got.find("EUNAVAILABLE"), std::string::npos) << got;
  held.clear();  // capacity again
  std::this_thread::sleep_for(Ms(100));
  EXPECT_GE(HealthzMs(h.server->port()), 0);
  const std::string metrics = h.Client()->Get("/metrics")->body;
  EXPECT_NE(metrics.find("\nmockcloud_connections_rejected_total 1\n"), std::string::npos) << metrics;
}

TEST(MockcloudConn, BadContentLengthIsAnImmediate400) {
  Harness h;
  h.Start();
  for (const char* v : {"1e20", "-1", "18446744073709551615"}) {
    Raw r(h.server->port());
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(r.Send(std::string("POST /db/tx?db=x HTTP/1.1\r\nHost: x\r\nAuthorization: secret\r\n"
                                   "Content-Length: ") + v + "\r\n\r\nabc"));
    const std::string got = r.Read(5000, "}");
    EXPECT_LT(MsSince(t0), 1000) << v;
    EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << v << ": " << got;
    EXPECT_NE(got.find("Content-Length"), std::string::npos) << got;
    EXPECT_TRUE(r.ClosedWithin(3000));
  }
  EXPECT_GE(HealthzMs(h.server->port()), 0);
}

TEST(MockcloudConn, PostWithoutBodyOrContentLengthIsAnEmptyBody) {
  // What `curl -X POST` sends; it used to get "could not read the request body".
  Harness h;
  h.Start();
  Raw r(h.server->port());
  ASSERT_TRUE(r.Send("POST /lease?db=db&duration=5000 HTTP/1.1\r\nHost: x\r\nAuthorization: secret\r\n\r\n"));
  const std::string got = r.Read(3000, "}");
  EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
  EXPECT_NE(got.find("\"id\""), std::string::npos) << got;
}

TEST(MockcloudConn, PipelinedRequestsAreAnsweredInOrder) {
  Harness h;
  h.Start();
  Raw r(h.server->port());
  ASSERT_TRUE(r.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n"
                     "Authorization: secret\r\n\r\nGET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"));
  const std::string got = r.Read(3000, "Connection: close\r\n\r\nok");
  const size_t a = got.find("200 OK"), b = got.find("404 Not Found"), c = got.rfind("200 OK");
  ASSERT_NE(a, std::string::npos) << got;
  ASSERT_NE(b, std::string::npos) << got;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_TRUE(r.ClosedWithin(3000));
}

TEST(MockcloudConn, LeaseIdsNeverReachTheLog) {
  Harness h;
  h.opts.log_level = mockcloud::LogLevel::kDebug;
  h.Start();
  auto c = h.Client();
  auto r = c->Post("/lease?db=db&duration=5000", "", "text/plain");
  ASSERT_EQ(r->status, 200);
  const std::string id = json::parse(r->body)["id"];
  EXPECT_EQ(c->Post(("/lease?db=db&duration=5000&id=" + id).c_str(), "", "text/plain")->status, 200);
  Model m;
  httplib::Headers hd{{"Lfsc-Lease-Id", id}};
  EXPECT_EQ(c->Post("/db/tx?db=db", hd, m.Tx({{1, FilledPage(4096, 1)}}, 1), "application/octet-stream")->status,
            200);
  EXPECT_EQ(c->Delete(("/lease?db=db&id=" + id).c_str())->status, 204);
  httplib::Headers stale{{"Lfsc-Lease-Id", id}};
  r = c->Post("/db/tx?db=db", stale, m.Tx({{1, FilledPage(4096, 2)}}, 1), "application/octet-stream");
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(r->body.find(id), std::string::npos) << r->body;
  h.Stop();
  bool saw_release = false;
  for (const auto& l : h.log) {
    EXPECT_EQ(l.find(id), std::string::npos) << l;
    if (l.find("DELETE /lease?db=db&id=REDACTED 204") != std::string::npos) saw_release = true;
  }
  EXPECT_TRUE(saw_release);
}

TEST(MockcloudConn, OpenFileLimitIsRaisedAsFarAsNeededAndAShortfallIsLogged) {
  rlimit orig{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &orig), 0);
  if (orig.rlim_max == RLIM_INFINITY || orig.rlim_max < 4096) GTEST_SKIP() << "hard limit too low";
  rlimit low = orig;
  low.rlim_cur = 1024;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  mockcloud::FdFit fit = mockcloud::FitConnectionsToFdLimit(2000);
  rlimit now{};
  getrlimit(RLIMIT_NOFILE, &now);
  EXPECT_TRUE(fit.raised);
  EXPECT_EQ(fit.available, 2000u);
  EXPECT_EQ(now.rlim_cur, 2000u);
  {
    Harness h;
    h.opts.max_connections = int64_t(orig.rlim_max) + 1000;  // more than the hard limit allows
    h.Start();
    h.Stop();
    bool said = false;
    for (const auto& l : h.log) {
      if (l.find("WARN open-file limit " + std::to_string(orig.rlim_max)) != std::string::npos &&
          l.find("serving at most") != std::string::npos)
        said = true;
    }
    EXPECT_TRUE(said);
  }
  setrlimit(RLIMIT_NOFILE, &orig);
}

TEST(MockcloudConn, TokenFile) {
  TempDir d;
  auto write = [&](const std::string& text) {
    std::string p = d.path() + "/tok";
    FILE* f = fopen(p.c_str(), "w");
    fputs(text.c_str(), f);
    fclose(f);
    return p;
  };
  auto t = mockcloud::LoadTokenFile(write("s3cret value \r\n\n"));
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t, "s3cret value");
  EXPECT_FALSE(mockcloud::LoadTokenFile(write("\n \n")).ok());
  auto two = mockcloud::LoadTokenFile(write("a\nb\n"));
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.status().message().find("more than one line"), std::string::npos);
  auto missing = mockcloud::LoadTokenFile(d.path() + "/none");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/none"), std::string::npos);
}

}  // namespace
