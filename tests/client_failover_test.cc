// Several hosts (LITEFS_CLOUD_HOST=http://a,http://b): the list's grammar, which requests
// may be sent again elsewhere, and the client against real hosts where one is down: a dead
// port (nothing listening: the request never leaves, so even a commit goes to the next
// host), and a gateway answering 502 to everything (a proxy whose backend died: reads go to
// the next host, a commit upload is not resent, and the next request starts elsewhere).
// The live host is the real mockcloud, in-process on a loopback port.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <thread>

#include "host_list.h"
#include "litevfs/client.h"
#include "mockcloud_test_util.h"

namespace litevfs {
namespace {

using ltx::Code;
using mctest::FilledPage;
using mctest::Harness;
using mctest::Model;

// A loopback port nobody listens on (bound without listen, then closed: connections to it
// are refused).
int DeadPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

// A gateway whose backend is gone: 502 to every request, counted by "METHOD PATH".
class BadGateway {
 public:
  BadGateway() {
    auto h = [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> l(mu_);
      seen_.push_back(req.method + " " + req.path);
      res.status = 502;
      res.set_content("{\"code\":\"EBADGATEWAY\",\"error\":\"no backend\"}", "application/json");
    };
    svr_.Get(".*", h);
    svr_.Post(".*", h);
    svr_.Delete(".*", h);
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
  }
  ~BadGateway() {
    svr_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> seen() {
    std::lock_guard<std::mutex> l(mu_);
    return seen_;
  }

 private:
  httplib::Server svr_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> seen_;  // guarded by mu_
};

// Counts the requests that reach one host's transport.
class CountingTransport final : public Transport {
 public:
  CountingTransport(std::unique_ptr<Transport> t, std::atomic<int>* n) : t_(std::move(t)), n_(n) {}
  Result<HttpResponse> Do(const HttpRequest& req) override {
    (*n_)++;
    return t_->Do(req);
  }

 private:
  std::unique_ptr<Transport> t_;
  std::atomic<int>* n_;
};

TEST(HostListTest, ParsesAndNormalises) {
  auto one = ParseHostList("127.0.0.1:20202/");
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(*one, std::vector<std::string>{"http://127.0.0.1:20202"});
  auto three = ParseHostList(" http://a:1 ,b:2,https://c ");
  ASSERT_TRUE(three.ok()) << three.status().ToString();
  EXPECT_EQ(*three, (std::vector<std::string>{"http://a:1", "http://b:2", "https://c"}));
}

TEST(HostListTest, RefusesBadListsNamingTheItem) {
  auto empty = ParseHostList("http://a,,http://b");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), Code::kInvalidArgument);
  EXPECT_NE(empty.status().message().find("host 2 of 3 is empty"), std::string::npos)
      << empty.status().message();
  auto trailing = ParseHostList("http://a,");
  ASSERT_FALSE(trailing.ok());
  EXPECT_NE(trailing.status().message().find("host 2 of 2 is empty"), std::string::npos);
  auto scheme = ParseHostList("http://a,ftp://b");
  ASSERT_FALSE(scheme.ok());
  EXPECT_NE(scheme.status().message().find("host 2 of 2: unsupported scheme \"ftp\""),
            std::string::npos)
      << scheme.status().message();
  auto twice = ParseHostList("http://a:1,a:1/");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("(http://a:1) is listed twice"), std::string::npos)
      << twice.status().message();
  std::string many = "h0";
  for (size_t i = 1; i <= kMaxHosts; i++) many += ",h" + std::to_string(i);
  EXPECT_FALSE(ParseHostList(many).ok());
}

TEST(HostListTest, ClientConfigNamesTheSource) {
  ClientConfig c;
  c.token = "t";
  c.host = "http://a,,http://b";
  c.host_source = "--host";
  auto r = Client::Create(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("--host: host 2 of 3 is empty"), std::string::npos)
      << r.status().message();
}

TEST(HostListTest, IdempotentRequests) {
  auto req = [](std::string method, std::string path,
                std::vector<std::pair<std::string, std::string>> q = {}) {
    HttpRequest r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.query = std::move(q);
    return r;
  };
  EXPECT_TRUE(IsIdempotentRequest(req("GET", "/db/page")));
  EXPECT_TRUE(IsIdempotentRequest(req("POST", "/sync")));
  EXPECT_TRUE(IsIdempotentRequest(req("POST", "/lease", {{"db", "x"}, {"id", "L"}})));
  EXPECT_TRUE(IsIdempotentRequest(req("DELETE", "/lease", {{"db", "x"}, {"id", "L"}})));
  EXPECT_FALSE(IsIdempotentRequest(req("POST", "/lease", {{"db", "x"}})));  // an acquire
  HttpRequest mine = req("POST", "/lease", {{"db", "x"}});  // an acquire naming its client
  mine.headers.emplace_back("Lfsc-Lease-Client", "0123456789abcdef0123456789abcdef");
  EXPECT_TRUE(IsIdempotentRequest(mine));
  EXPECT_FALSE(IsIdempotentRequest(req("POST", "/db/tx", {{"db", "x"}})));
}

class ClientFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override { live_.Start(); }
  std::string LiveUrl() { return "http://127.0.0.1:" + std::to_string(live_.server->port()); }
  ClientConfig Config(const std::string& hosts) {
    ClientConfig c;
    c.host = hosts;
    c.token = "secret";
    c.max_retries = 0;  // every failover here is the transport's, not a retry
    c.connect_timeout_ms = 2000;
    c.request_timeout_ms = 5000;
    return c;
  }
  // A client over counting per-host transports, so a test can see where requests went.
  std::unique_ptr<Client> CountingClient(const std::vector<std::string>& hosts,
                                         std::vector<std::atomic<int>>* counts,
                                         FailoverTransport** ft) {
    std::vector<std::unique_ptr<Transport>> ts;
    for (size_t i = 0; i < hosts.size(); i++) {
      ts.push_back(std::make_unique<CountingTransport>(MakeCurlTransport(hosts[i], 2000, 5000),
                                                       &(*counts)[i]));
    }
    auto t = std::make_unique<FailoverTransport>(hosts, std::move(ts));
    *ft = t.get();
    return Client::CreateWithTransport(Config(hosts[0]), std::move(t));
  }

  Harness live_;
};

TEST_F(ClientFailoverTest, DeadFirstHostEverythingWorksThroughTheSecond) {
  const std::string dead = "http://127.0.0.1:" + std::to_string(DeadPort());
  auto cr = Client::Create(Config(dead + "," + LiveUrl()));
  ASSERT_TRUE(cr.ok()) << cr.status().ToString();
  auto& c = *cr;
  EXPECT_EQ(c->config().host, dead + "," + LiveUrl());
  Model m;
  // A commit upload is not idempotent, but a refused connection never reached a server.
  auto p = c->UploadTx("db", m.Tx({{1, FilledPage(4096, 1)}, {2, FilledPage(4096, 2)}}, 2), "");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(*p, m.pos());
  auto s = c->Sync("db", Pos{});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->pos, m.pos());
  auto b = c->GetPages("db", m.pos(), {2});
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->pages.size(), 1u);
  EXPECT_EQ(b->pages[0].second, m.Page(2));
  EXPECT_EQ(c->stats().retries.load(), 0u);
}

TEST_F(ClientFailoverTest, StickyToTheLastHostThatAnswered) {
  const std::vector<std::string> hosts{"http://127.0.0.1:" + std::to_string(DeadPort()),
                                       LiveUrl()};
  std::vector<std::atomic<int>> n(2);
  FailoverTransport* ft = nullptr;
  auto c = CountingClient(hosts, &n, &ft);
  ASSERT_TRUE(c->GetPositions().ok());
  EXPECT_EQ(n[0].load(), 1);  // tried once, refused
  EXPECT_EQ(n[1].load(), 1);
  EXPECT_EQ(ft->current(), 1u);
  for (int i = 0; i < 5; i++) ASSERT_TRUE(c->GetPositions().ok());
  EXPECT_EQ(n[0].load(), 1);  // never again while the second answers
  EXPECT_EQ(n[1].load(), 6);
}

TEST_F(ClientFailoverTest, GatewayErrorReadsMoveOnCommitsAreNotResent) {
  BadGateway gw;
  const std::vector<std::string> hosts{gw.url(), LiveUrl()};
  std::vector<std::atomic<int>> n(2);
  FailoverTransport* ft = nullptr;
  auto c = CountingClient(hosts, &n, &ft);

  // A read: 502 from the first host, answered by the second.
  ASSERT_TRUE(c->GetPositions().ok());
  EXPECT_EQ(n[0].load(), 1);
  EXPECT_EQ(n[1].load(), 1);

  // Back to the gateway first (as after a restart of the client's view), then a commit:
  // a 502 may come after the backend applied it, so it is not sent to the next host; the
  // caller gets kUnavailable and settles it by position, and the next request starts at
  // the second host.
  auto c2 = CountingClient(hosts, &n, &ft);
  n[0] = n[1] = 0;
  Model m;
  auto p = c2->UploadTx("db", m.Tx({{1, FilledPage(4096, 1)}}, 1), "");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::kUnavailable) << p.status().ToString();
  EXPECT_EQ(n[0].load(), 1);
  EXPECT_EQ(n[1].load(), 0);  // not resent
  EXPECT_EQ(ft->current(), 1u);
  auto s = c2->Sync("db", Pos{});  // the settle's question goes to the live host
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kNotFound);  // nothing was applied there
  EXPECT_EQ(n[0].load(), 1);
  EXPECT_EQ(gw.seen(), (std::vector<std::string>{"GET /pos", "POST /db/tx"}));
}

TEST_F(ClientFailoverTest, AllHostsDownNamesThem) {
  const std::string a = "http://127.0.0.1:" + std::to_string(DeadPort());
  const std::string b = "http://127.0.0.1:" + std::to_string(DeadPort());
  auto cr = Client::Create(Config(a + "," + b));
  ASSERT_TRUE(cr.ok());
  auto r = (*cr)->GetPositions();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("hosts tried: " + a + ", " + b), std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace litevfs
