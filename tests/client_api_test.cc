// The cloud client against a fake server (cpp-httplib on a random loopback port) that serves
// canned answers: every method's request shape and response parsing, both page paths
// (JSON+base64 and binary, plain and zstd), error mapping, hostile answers (garbage, wrong
// sizes, missing/extra pages, truncation, closed sockets, slow servers) and keep-alive.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zstd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "client_codec.h"
#include "commit_upload.h"
#include "litevfs/client.h"
#include "ltx/coding.h"
#include "ltx/format.h"

namespace litevfs {
namespace {

using json = nlohmann::json;
using ltx::Code;

constexpr Pos kPos3{3, 0x9c74a15b4e4f246cULL};
constexpr char kPos3Text[] = "0000000000000003/9c74a15b4e4f246c";

std::string PosJson(const Pos& p) {
  return json{{"txid", ltx::FormatTxid(p.txid)},
              {"postApplyChecksum", ltx::FormatChecksum(p.post_apply_checksum)}}
      .dump();
}

std::string Page(uint32_t pgno, uint32_t size) {
  std::string s(size, '\0');
  for (uint32_t i = 0; i < size; i++) s[i] = static_cast<char>((pgno * 31 + i) & 0xff);
  return s;
}

std::string Frames(const std::vector<uint32_t>& pgnos, uint32_t size) {
  std::string out;
  for (uint32_t p : pgnos) {
    ltx::AppendU32(&out, p);
    out += Page(p, size);
  }
  return out;
}

// pages+sums frames: pgno ‖ sum ‖ page, the sum made up from the pgno (the client keeps
// whatever the server says; the cache checks it).
uint64_t SumOf(uint32_t pgno) { return 0x0123456789abcdefULL ^ pgno; }
std::string FramesWithSums(const std::vector<uint32_t>& pgnos, uint32_t size) {
  std::string out;
  for (uint32_t p : pgnos) {
    ltx::AppendU32(&out, p);
    ltx::AppendU64(&out, SumOf(p));
    out += Page(p, size);
  }
  return out;
}

std::string PagesJson(const std::vector<uint32_t>& pgnos, uint32_t size) {
  json arr = json::array();
  for (uint32_t p : pgnos) {
    arr.push_back({{"pgno", p}, {"data", internal::Base64Encode(Page(p, size))}});
  }
  return json{{"pages", arr}}.dump();
}

std::string Zstd(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

// A minimal v1 LTX: header, `npages` frames, zero pgno, trailer. The client reads only the
// header and trailer, so the checksums need not be real (the server's job to verify).
std::string MakeLtx(uint64_t min_txid, uint64_t max_txid, uint64_t pre, uint64_t post,
                    uint32_t npages = 1, uint32_t page_size = 4096) {
  ltx::Header h;
  h.page_size = page_size;
  h.commit = npages;
  h.min_txid = min_txid;
  h.max_txid = max_txid;
  h.pre_apply_checksum = pre;
  h.timestamp = 1700000000000;
  uint8_t hb[ltx::kHeaderSize];
  h.EncodeTo(hb);
  std::string out(reinterpret_cast<char*>(hb), sizeof(hb));
  for (uint32_t p = 1; p <= npages; p++) {
    ltx::AppendU32(&out, p);
    out += Page(p, page_size);
  }
  ltx::AppendU32(&out, 0);
  ltx::Trailer t{post, 0x8000000000001234ULL};
  uint8_t tb[ltx::kTrailerSize];
  t.EncodeTo(tb);
  out.append(reinterpret_cast<char*>(tb), sizeof(tb));
  return out;
}

struct SeenRequest {
  std::string method, path, body;
  std::multimap<std::string, std::string> params;
  httplib::Headers headers;
  int remote_port = 0;
  std::string Param(const std::string& k) const {
    auto it = params.find(k);
    return it == params.end() ? std::string("<absent>") : it->second;
  }
  std::string Header(const std::string& k) const {
    auto it = headers.find(k);
    return it == headers.end() ? std::string("<absent>") : it->second;
  }
};

// cpp-httplib on 127.0.0.1:<random>, recording every request before routing.
class FakeServer {
 public:
  FakeServer() {
    svr_.set_keep_alive_max_count(1000);
    // cpp-httplib writes headers and body separately; with Nagle on, every response would
    // wait out the client's delayed ACK (~40 ms).
    svr_.set_tcp_nodelay(true);
    svr_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response&) {
      SeenRequest s;
      s.method = req.method;
      s.path = req.path;
      s.body = req.body;
      s.params = req.params;
      s.headers = req.headers;
      s.remote_port = req.remote_port;
      std::lock_guard<std::mutex> l(mu_);
      seen_.push_back(std::move(s));
      return httplib::Server::HandlerResponse::Unhandled;
    });
  }
  ~FakeServer() { Stop(); }

  httplib::Server& svr() { return svr_; }

  void Start() {
    port_ = svr_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    for (int i = 0; i < 5000 && !svr_.is_running(); i++) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_TRUE(svr_.is_running());
  }
  void Stop() {
    if (thread_.joinable()) {
      svr_.stop();
      thread_.join();
    }
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::vector<SeenRequest> seen() {
    std::lock_guard<std::mutex> l(mu_);
    return seen_;
  }
  SeenRequest last() {
    std::lock_guard<std::mutex> l(mu_);
    return seen_.empty() ? SeenRequest{} : seen_.back();
  }
  size_t count() {
    std::lock_guard<std::mutex> l(mu_);
    return seen_.size();
  }

  // /info with the given features.
  // /info with the given features; returns the body it serves.
  std::string ServeInfo(std::vector<std::string> features) {
    std::string body =
        json{{"clusterID", "LFSC0123456789abcdef"}, {"features", features}}.dump();
    svr_.Get("/info", [body](const httplib::Request&, httplib::Response& res) {
      res.set_content(body, "application/json");
    });
    return body;
  }

 private:
  httplib::Server svr_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<SeenRequest> seen_;
};

// The shape of an LTX upload: POST /db/tx?db=db, octet-stream, the lease header.
void ExpectTxRequest(const SeenRequest& s, const std::string& lease) {
  EXPECT_EQ(s.method, "POST");
  EXPECT_EQ(s.path, "/db/tx");
  EXPECT_EQ(s.Param("db"), "db");
  EXPECT_EQ(s.Header("Lfsc-Lease-Id"), lease);
  EXPECT_EQ(s.Header("Content-Type"), "application/octet-stream");
}

void JsonError(httplib::Response& res, int status, const std::string& code,
               const std::string& text, const std::string& extra = "") {
  res.status = status;
  std::string body = "{\"code\":\"" + code + "\",\"error\":\"" + text + "\"" + extra + "}";
  res.set_content(body, "application/json");
}

class ClientApiTest : public ::testing::Test {
 protected:
  void SetUp() override { server_.Start(); }
  void TearDown() override { server_.Stop(); }

  ClientConfig Config() {
    ClientConfig c;
    c.host = server_.url();
    c.token = "secret-token";
    c.connect_timeout_ms = 2000;
    c.request_timeout_ms = 5000;
    c.max_retries = 2;
    c.retry_backoff_ms = 1;
    return c;
  }
  std::unique_ptr<Client> NewClient(ClientConfig c) {
    auto r = Client::Create(c);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  std::unique_ptr<Client> NewClient() { return NewClient(Config()); }

  FakeServer server_;
};

// ---- configuration ----

TEST(ClientConfigTest, CreateWithoutTokenNamesTheVariable) {
  ClientConfig c;
  c.token = "";
  auto r = Client::Create(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("LITEFS_CLOUD_TOKEN"), std::string::npos)
      << r.status().message();
}

TEST(ClientConfigTest, FromEnvReadsTheThreeVariables) {
  unsetenv("LITEFS_CLOUD_HOST");
  unsetenv("LITEFS_CLOUD_TOKEN");
  unsetenv("LITEFS_CLOUD_CLUSTER");
  ClientConfig d = ClientConfig::FromEnv();
  EXPECT_EQ(d.host, "http://127.0.0.1:20202");
  EXPECT_EQ(d.token, "");
  EXPECT_EQ(d.cluster, "");
  setenv("LITEFS_CLOUD_HOST", "example.com:8080", 1);
  setenv("LITEFS_CLOUD_TOKEN", "tok en", 1);
  setenv("LITEFS_CLOUD_CLUSTER", "prod", 1);
  ClientConfig c = ClientConfig::FromEnv();
  EXPECT_EQ(c.host, "example.com:8080");
  EXPECT_EQ(c.token, "tok en");
  EXPECT_EQ(c.cluster, "prod");
  unsetenv("LITEFS_CLOUD_HOST");
  unsetenv("LITEFS_CLOUD_TOKEN");
  unsetenv("LITEFS_CLOUD_CLUSTER");
}

TEST(ClientConfigTest, CreateRejectsBadHostAndCluster) {
  ClientConfig c;
  c.token = "t";
  c.host = "ftp://example.com";
  auto r = Client::Create(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("ftp"), std::string::npos);
  c.host = "http://127.0.0.1:1";
  c.cluster = "../etc";
  r = Client::Create(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("LITEFS_CLOUD_CLUSTER"), std::string::npos);
}

TEST(ClientConfigTest, HostIsNormalised) {
  ClientConfig c;
  c.token = "t";
  c.host = "127.0.0.1:20202/";
  auto r = Client::Create(c);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->config().host, "http://127.0.0.1:20202");
  c.host = "HTTPS://h.example";
  r = Client::Create(c);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->config().host, "https://h.example");
}

TEST(ClientConfigTest, ValidateDatabaseName) {
  EXPECT_TRUE(ValidateDatabaseName("my-db_1.sqlite").ok());
  EXPECT_TRUE(ValidateDatabaseName(std::string(255, 'a')).ok());
  EXPECT_FALSE(ValidateDatabaseName("").ok());
  EXPECT_FALSE(ValidateDatabaseName(std::string(256, 'a')).ok());
  EXPECT_FALSE(ValidateDatabaseName(".hidden").ok());
  EXPECT_FALSE(ValidateDatabaseName("a..b").ok());
  EXPECT_FALSE(ValidateDatabaseName("a/b").ok());
  EXPECT_FALSE(ValidateDatabaseName("a b").ok());
  EXPECT_FALSE(ValidateDatabaseName(std::string("a\0b", 3)).ok());
  EXPECT_EQ(ValidateDatabaseName("a/b").code(), Code::kInvalidArgument);
}

// ---- request shape ----

TEST_F(ClientApiTest, EveryRequestCarriesAuthClusterIdAndEchoesInstance) {
  server_.svr().Get("/info", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Lfsc-Instance-Id", "inst-42");
    res.set_content(R"({"clusterID":"LFSCx","features":[]})", "application/json");
  });
  server_.svr().Get("/pos", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });
  ClientConfig cfg = Config();
  cfg.cluster = "prod";
  auto c = NewClient(cfg);
  ASSERT_TRUE(c);
  auto info = c->GetInfo();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->cluster_id, "LFSCx");
  auto pos = c->GetPositions();
  ASSERT_TRUE(pos.ok()) << pos.status().ToString();
  auto seen = server_.seen();
  ASSERT_EQ(seen.size(), 2u);
  for (const auto& s : seen) {
    EXPECT_EQ(s.Header("Authorization"), "secret-token");
    EXPECT_EQ(s.Param("cluster"), "prod");
    EXPECT_TRUE(std::regex_match(s.Header("Litefs-Cluster-Id"), std::regex("LFSC[0-9a-f]{16}")))
        << s.Header("Litefs-Cluster-Id");
  }
  EXPECT_EQ(seen[0].Header("Litefs-Cluster-Id"), seen[1].Header("Litefs-Cluster-Id"));
  EXPECT_EQ(seen[0].Header("fly-force-instance-id"), "<absent>");
  EXPECT_EQ(seen[1].Header("fly-force-instance-id"), "inst-42");
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].path, "/info");
  EXPECT_EQ(seen[1].path, "/pos");
}

TEST_F(ClientApiTest, NoClusterParamWhenUnsetAndClusterIdDiffersPerClient) {
  server_.ServeInfo({});
  auto a = NewClient();
  auto b = NewClient();
  ASSERT_TRUE(a->GetInfo().ok());
  ASSERT_TRUE(b->GetInfo().ok());
  auto seen = server_.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].Param("cluster"), "<absent>");
  EXPECT_NE(seen[0].Header("Litefs-Cluster-Id"), seen[1].Header("Litefs-Cluster-Id"));
}

TEST_F(ClientApiTest, InfoIsCachedAfterFirstSuccess) {
  server_.ServeInfo({"pages-binary", "history"});
  auto c = NewClient();
  auto i1 = c->GetInfo();
  ASSERT_TRUE(i1.ok());
  EXPECT_TRUE(i1->Has("pages-binary"));
  EXPECT_FALSE(i1->Has("interior"));
  EXPECT_EQ(c->stats().requests.load(), 1u);
  auto i2 = c->GetInfo();
  ASSERT_TRUE(i2.ok());
  EXPECT_EQ(c->stats().requests.load(), 1u);
  EXPECT_EQ(server_.count(), 1u);
}

TEST_F(ClientApiTest, GetPositionsParsesAndValidates) {
  std::string body = "{\"a\":" + PosJson(kPos3) + ",\"b.db\":" + PosJson({1, 0x8000000000000001ULL}) + "}";
  server_.svr().Get("/pos", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(body, "application/json");
  });
  auto c = NewClient();
  auto r = c->GetPositions();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ(r->at("a"), kPos3);
  EXPECT_EQ(r->at("b.db").txid, 1u);

  body = "{\"../x\":" + PosJson(kPos3) + "}";
  r = c->GetPositions();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  body = R"({"a":{"txid":"3","postApplyChecksum":"0000000000000000"}})";
  r = c->GetPositions();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_NE(r.status().message().find("16 hex"), std::string::npos) << r.status().message();
  body = "[1,2";
  r = c->GetPositions();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_NE(r.status().message().find("not valid JSON"), std::string::npos);
}

TEST_F(ClientApiTest, SyncRequestShapeAndParse) {
  server_.ServeInfo({"sync-wait"});
  std::string body = R"({"pos":{"txid":"0000000000000005","postApplyChecksum":"8000000000000abc"},"pgnos":[1,4,9],"all":false,"commit":12,"pageSize":4096})";
  server_.svr().Get("/db/sync", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(body, "application/json");
  });
  auto c = NewClient();
  auto r = c->Sync("mydb", kPos3, 250);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pos, (Pos{5, 0x8000000000000abcULL}));
  EXPECT_FALSE(r->all);
  EXPECT_EQ(r->pgnos, (std::vector<uint32_t>{1, 4, 9}));
  EXPECT_EQ(r->commit, 12u);
  EXPECT_EQ(r->page_size, 4096u);
  SeenRequest s = server_.last();
  EXPECT_EQ(s.method, "GET");
  EXPECT_EQ(s.path, "/db/sync");
  EXPECT_EQ(s.Param("db"), "mydb");
  EXPECT_EQ(s.Param("pos"), kPos3Text);
  EXPECT_EQ(s.Param("wait"), "250");

  // Zero position: no pos, no wait; the server says all.
  body = R"({"pos":{"txid":"0000000000000005","postApplyChecksum":"8000000000000abc"},"pgnos":null,"all":true})";
  r = c->Sync("mydb", Pos{}, 250);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->all);
  EXPECT_TRUE(r->pgnos.empty());
  EXPECT_EQ(server_.last().Param("pos"), "<absent>");
  EXPECT_EQ(server_.last().Param("wait"), "<absent>");

  EXPECT_EQ(c->Sync("bad/name", kPos3).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c->Sync("mydb", kPos3, -1).status().code(), Code::kInvalidArgument);
  ASSERT_TRUE(c->Sync("mydb", kPos3, 3600000).ok());
  EXPECT_EQ(server_.last().Param("wait"), "30000");
}

TEST_F(ClientApiTest, SyncWaitOnlyWhenAnnounced) {
  server_.ServeInfo({});
  server_.svr().Get("/db/sync", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"pos\":" + PosJson(kPos3) + ",\"pgnos\":[],\"all\":false}",
                    "application/json");
  });
  auto c = NewClient();
  auto r = c->Sync("mydb", kPos3, 1000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(server_.last().Param("wait"), "<absent>");
}

TEST_F(ClientApiTest, SyncRejectsInconsistentAnswers) {
  server_.ServeInfo({});
  std::string body;
  server_.svr().Get("/db/sync", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(body, "application/json");
  });
  auto c = NewClient();
  const std::string p5 = R"({"txid":"0000000000000005","postApplyChecksum":"8000000000000abc"})";
  for (std::string b : {
           std::string(R"({"pos":)") + p5 + R"(,"pgnos":[4,1],"all":false})",      // unsorted
           std::string(R"({"pos":)") + p5 + R"(,"pgnos":[1,1],"all":false})",      // duplicate
           std::string(R"({"pos":)") + p5 + R"(,"pgnos":[0],"all":false})",        // pgno 0
           std::string(R"({"pos":)") + p5 + R"(,"pgnos":[-3],"all":false})",       // negative
           std::string(R"({"pos":)") + p5 + R"(,"pgnos":"x","all":false})",        // not array
           std::string(R"({"pos":)") + p5 + R"(,"pgnos":[1],"all":true})",         // all + list
           std::string(R"({"pos":)") + p5 + R"(,"all":"yes"})",                    // all type
           std::string(R"({"pos":)") + p5 + R"(,"pageSize":1000})",                // page size
           std::string(R"({"pos":)") + p5 + R"(,"commit":4294967296})",            // commit
           std::string(R"({"pgnos":[]})"),                                          // no pos
           std::string(R"({"pos":{"txid":"0000000000000001","postApplyChecksum":"8000000000000abc"},"pgnos":[],"all":false})"),  // backwards
           std::string("garbage"),
           std::string(""),
       }) {
    body = b;
    auto r = c->Sync("db", kPos3);
    ASSERT_FALSE(r.ok()) << b;
    EXPECT_EQ(r.status().code(), Code::kCorruption) << b << " -> " << r.status().ToString();
  }
}

TEST_F(ClientApiTest, SyncManyBodyAndParse) {
  std::string sent_body;  // the pre-routing recorder runs before the body is read
  server_.svr().Post("/sync", [&](const httplib::Request& req, httplib::Response& res) {
    sent_body = req.body;
    json in = json::parse(req.body);
    json changes = json::object();
    for (auto& [db, pos] : in["positions"].items()) {
      changes[db] = {{"pos", json::parse(PosJson(kPos3))}, {"pgnos", {2}}, {"all", false},
                     {"commit", 7}};
      if (db == "fresh") changes[db] = {{"pos", json::parse(PosJson(kPos3))}, {"pgnos", nullptr}, {"all", true}};
    }
    res.set_content(json{{"changes", changes}}.dump(), "application/json");
  });
  auto c = NewClient();
  std::map<std::string, Pos> since{{"a", {2, 0x8000000000000002ULL}}, {"fresh", {}}};
  auto r = c->SyncMany(since);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ(r->at("a").pgnos, std::vector<uint32_t>{2});
  EXPECT_EQ(r->at("a").commit, 7u);
  EXPECT_TRUE(r->at("fresh").all);
  SeenRequest s = server_.last();
  EXPECT_EQ(s.method, "POST");
  EXPECT_EQ(s.path, "/sync");
  EXPECT_EQ(s.Header("Content-Type"), "application/json");
  json sent = json::parse(sent_body);
  EXPECT_EQ(sent["positions"]["a"]["txid"], "0000000000000002");
  EXPECT_EQ(sent["positions"]["a"]["postApplyChecksum"], "8000000000000002");
  EXPECT_EQ(sent["positions"]["fresh"]["txid"], "0000000000000000");

  // Empty input: no request at all.
  uint64_t before = c->stats().requests.load();
  auto e = c->SyncMany({});
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(c->stats().requests.load(), before);
}

TEST_F(ClientApiTest, SyncManyRejectsMissingAndExtraDatabases) {
  std::string body;
  server_.svr().Post("/sync", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(body, "application/json");
  });
  auto c = NewClient();
  body = "{\"changes\":{\"a\":{\"pos\":" + PosJson(kPos3) + ",\"all\":true}}}";
  auto r = c->SyncMany({{"a", {}}, {"b", {}}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_NE(r.status().message().find("\"b\""), std::string::npos) << r.status().message();
  r = c->SyncMany({{"a", {}}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  body = "{\"changes\":{\"a\":{\"pos\":" + PosJson(kPos3) + ",\"all\":true},\"z\":{\"pos\":" +
         PosJson(kPos3) + ",\"all\":true}}}";
  r = c->SyncMany({{"a", {}}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not asked for"), std::string::npos);
}

// ---- pages: JSON path ----

TEST_F(ClientApiTest, GetPagesJsonPath) {
  server_.ServeInfo({});  // no pages-binary: plain API
  server_.svr().Get("/db/page", [&](const httplib::Request& req, httplib::Response& res) {
    EXPECT_EQ(req.get_param_value("pgno"), "1,2,5");
    res.set_content(PagesJson({1, 2, 5}, 4096), "application/json");
  });
  auto c = NewClient();
  auto r = c->GetPages("db", kPos3, {5, 1, 2, 2});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pos, kPos3);
  EXPECT_EQ(r->page_size, 4096u);
  ASSERT_EQ(r->pages.size(), 3u);
  EXPECT_EQ(r->pages[0].first, 1u);
  EXPECT_EQ(r->pages[2].first, 5u);
  EXPECT_EQ(r->pages[2].second, Page(5, 4096));
  EXPECT_EQ(c->stats().pages_fetched.load(), 3u);
  SeenRequest s = server_.last();
  EXPECT_EQ(s.Param("db"), "db");
  EXPECT_EQ(s.Param("pos"), kPos3Text);
  EXPECT_EQ(s.Header("Accept"), "application/json");
}

TEST_F(ClientApiTest, UseExtensionsOffSkipsInfoAndUsesJson) {
  server_.ServeInfo({"pages-binary"});
  server_.svr().Get("/db/page", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(PagesJson({1}, 1024), "application/json");
  });
  ClientConfig cfg = Config();
  cfg.use_extensions = false;
  auto c = NewClient(cfg);
  auto r = c->GetPages("db", kPos3, {1});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->page_size, 1024u);
  auto seen = server_.seen();
  ASSERT_EQ(seen.size(), 1u);  // no /info
  EXPECT_EQ(seen[0].path, "/db/page");
  EXPECT_EQ(c->GetInterior("db", kPos3).status().code(), Code::kUnsupported);
}

TEST_F(ClientApiTest, ServerWithoutInfoFallsBackToPlainApi) {
  // No /info route: 404 means a plain LiteFS Cloud.
  server_.svr().Get("/db/page", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(PagesJson({1}, 512), "application/json");
  });
  auto c = NewClient();
  auto r = c->GetPages("db", kPos3, {1});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->page_size, 512u);
  // The 404 is remembered: the next call goes straight to /db/page.
  size_t n = server_.count();
  ASSERT_TRUE(c->GetPages("db", kPos3, {1}).ok());
  EXPECT_EQ(server_.count(), n + 1);
}

TEST_F(ClientApiTest, GetPagesJsonRejectsBadAnswers) {
  server_.ServeInfo({});
  std::string body;
  server_.svr().Get("/db/page", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(body, "application/json");
  });
  auto c = NewClient();
  struct Case {
    std::string body;
    std::string want_msg;
  };
  json mixed = json::parse(PagesJson({1}, 4096));
  mixed["pages"].push_back({{"pgno", 2}, {"data", internal::Base64Encode(Page(2, 1024))}});
  std::vector<Case> cases = {
      {PagesJson({1, 3}, 4096), "page 2 was asked for but is missing"},
      {PagesJson({1, 2, 3, 4}, 4096), "page 4 was not asked for"},
      {PagesJson({1}, 1000), "not a power of two"},
      {PagesJson({1}, 256), "not a power of two"},
      {mixed.dump(), "others are 4096"},
      {R"({"pages":[{"pgno":2,"data":""},{"pgno":1,"data":""}]})", ""},
      {R"({"pages":[{"pgno":1,"data":"!!!!"}]})", "base64"},
      {R"({"pages":[{"pgno":1}]})", "no data"},
      {R"({"pages":[{"pgno":"1","data":""}]})", "bad pgno"},
      {R"({"pages":{}})", "\"pages\" array"},
      {R"([])", "not an object"},
      {"{\"pages\":[" + std::string(100, '[') + std::string(100, ']') + "]}", "deeply"},
      {"<html>oops</html>", "not valid JSON"},
  };
  for (const auto& k : cases) {
    body = k.body;
    auto r = c->GetPages("db", kPos3, {1, 2, 3});
    ASSERT_FALSE(r.ok()) << k.body.substr(0, 80);
    EXPECT_EQ(r.status().code(), Code::kCorruption) << r.status().ToString();
    EXPECT_NE(r.status().message().find(k.want_msg), std::string::npos)
        << "got: " << r.status().message();
    EXPECT_NE(r.status().message().find("GET /db/page db=db"), std::string::npos)
        << r.status().message();
  }
  // A tail past commit may be omitted.
  body = PagesJson({1, 2}, 4096);
  auto r = c->GetPages("db", kPos3, {1, 2, 3});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pages.size(), 2u);
  body = R"({"pages":[]})";
  r = c->GetPages("db", kPos3, {7});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->pages.empty());
}

TEST_F(ClientApiTest, GetPagesRejectsBadArguments) {
  auto c = NewClient();
  EXPECT_EQ(c->GetPages("db", Pos{}, {1}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c->GetPages("db", kPos3, {}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c->GetPages("db", kPos3, {0}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c->GetPages("db", kPos3, {0x80000000u}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c->GetPages("..", kPos3, {1}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(server_.count(), 0u);
}

// ---- pages: binary path ----

class BinaryPagesTest : public ClientApiTest {
 protected:
  void SetUp() override {
    ClientApiTest::SetUp();
    // The fake server is on loopback, where zstd is not offered by default.
    setenv("LITEVFS_WIRE_COMPRESSION", "zstd", 1);
    info_body_ = server_.ServeInfo({"pages-binary", "zstd", "interior", "history", "sync-wait"});
    server_.svr().Get("/db/page", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> l(mu_);
      if (echo_) {
        std::vector<uint32_t> asked;
        std::string list = req.get_param_value("pgno");
        for (size_t start = 0; start < list.size();) {
          size_t end = std::min(list.find(',', start), list.size());
          asked.push_back(static_cast<uint32_t>(std::stoul(list.substr(start, end - start))));
          start = end + 1;
        }
        res.set_header("Litevfs-Page-Size", "512");
        res.set_header("Litevfs-Pos", kPos3Text);
        res.set_content(Frames(asked, 512), "application/vnd.litevfs.pages");
        return;
      }
      res.set_header("Litevfs-Page-Size", page_size_hdr_);
      if (!pos_hdr_.empty()) res.set_header("Litevfs-Pos", pos_hdr_);
      if (!commit_hdr_.empty()) res.set_header("Litevfs-Commit", commit_hdr_);
      std::string body = body_;
      if (zstd_ && req.get_header_value("Accept-Encoding").find("zstd") != std::string::npos) {
        res.set_header("Content-Encoding", "zstd");
        body = Zstd(body);
      }
      if (!encoding_.empty()) res.set_header("Content-Encoding", encoding_);
      res.set_content(body, content_type_.c_str());
    });
  }
  void Serve(std::string body, std::string page_size = "4096", std::string pos = kPos3Text,
             std::string commit = "100") {
    std::lock_guard<std::mutex> l(mu_);
    body_ = std::move(body);
    page_size_hdr_ = std::move(page_size);
    pos_hdr_ = std::move(pos);
    commit_hdr_ = std::move(commit);
  }

  void TearDown() override {
    unsetenv("LITEVFS_WIRE_COMPRESSION");
    ClientApiTest::TearDown();
  }

  std::string info_body_;
  std::mutex mu_;
  std::string body_, page_size_hdr_ = "4096", pos_hdr_ = kPos3Text, commit_hdr_ = "100";
  std::string content_type_ = "application/vnd.litevfs.pages";
  std::string encoding_;
  bool zstd_ = false;
  bool echo_ = false;
};

TEST_F(BinaryPagesTest, PlainFrames) {
  Serve(Frames({2, 3, 10}, 4096));
  auto c = NewClient();
  auto r = c->GetPages("db", kPos3, {10, 3, 2});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->page_size, 4096u);
  EXPECT_EQ(r->commit, 100u);
  EXPECT_EQ(r->pos, kPos3);
  ASSERT_EQ(r->pages.size(), 3u);
  EXPECT_EQ(r->pages[1].first, 3u);
  EXPECT_EQ(r->pages[1].second, Page(3, 4096));
  SeenRequest s = server_.last();
  // Frames with sums are asked for first; this server answers plain frames, which parse.
  EXPECT_EQ(s.Header("Accept"), "application/vnd.litevfs.pages+sums, application/vnd.litevfs.pages");
  EXPECT_EQ(s.Header("Accept-Encoding"), "zstd");
  EXPECT_EQ(s.Param("pgno"), "2,3,10");
  // Stats: /info + /db/page, bytes = both bodies exactly.
  EXPECT_EQ(c->stats().requests.load(), 2u);
  EXPECT_EQ(c->stats().pages_fetched.load(), 3u);
  EXPECT_EQ(c->stats().bytes_received.load(), info_body_.size() + 3u * 4100);
  EXPECT_EQ(c->stats().bytes_sent.load(), 0u);
}

// A server with page-sums answers pages+sums: each page's sum comes with it, parallel to
// the pages, through zstd too; a body cut inside a frame is corruption, as for plain frames.
TEST_F(BinaryPagesTest, FramesWithSums) {
  content_type_ = "application/vnd.litevfs.pages+sums";
  Serve(FramesWithSums({2, 3, 10}, 4096));
  auto c = NewClient();
  auto r = c->GetPageBlock("db", kPos3, {10, 3, 2});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->pages.size(), 3u);
  ASSERT_EQ(r->sums.size(), 3u);
  for (size_t i = 0; i < 3; i++) {
    EXPECT_EQ(r->sums[i], SumOf(r->pages[i].first));
    EXPECT_EQ(r->pages[i].second, Page(r->pages[i].first, 4096));
  }
  zstd_ = true;
  r = c->GetPageBlock("db", kPos3, {2, 3, 10});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->sums.size(), 3u);
  EXPECT_EQ(r->sums[2], SumOf(10));
  zstd_ = false;
  std::string cut = FramesWithSums({2, 3}, 4096);
  cut.resize(cut.size() - 8);
  Serve(cut);
  r = c->GetPageBlock("db", kPos3, {2, 3});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption) << r.status().ToString();
  // Plain frames from a server without sums: no sums, the cache hashes the pages itself.
  content_type_ = "application/vnd.litevfs.pages";
  Serve(Frames({2, 3}, 4096));
  r = c->GetPageBlock("db", kPos3, {2, 3});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->sums.empty());
}

TEST_F(BinaryPagesTest, ZstdFrames) {
  zstd_ = true;
  Serve(Frames({1, 2, 3, 4}, 65536), "65536");
  auto c = NewClient();
  auto r = c->GetPages("db", kPos3, {1, 2, 3, 4});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->pages.size(), 4u);
  EXPECT_EQ(r->pages[3].second, Page(4, 65536));
  EXPECT_EQ(r->page_size, 65536u);
  // The wire carried the compressed bytes.
  EXPECT_LT(c->stats().bytes_received.load(), 4u * 65540);
}

TEST_F(BinaryPagesTest, NoZstdWhenConfiguredOff) {
  zstd_ = true;
  Serve(Frames({1}, 4096));
  ClientConfig cfg = Config();
  cfg.accept_zstd = false;
  auto c = NewClient(cfg);
  auto r = c->GetPages("db", kPos3, {1});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(server_.last().Header("Accept-Encoding"), "<absent>");
}

// LITEVFS_WIRE_COMPRESSION: auto (also unset) offers zstd only off loopback (this fake
// server is on 127.0.0.1), zstd offers it anyway, a bad value is an error naming it.
TEST_F(BinaryPagesTest, WireCompressionAutoSkipsZstdOnLoopback) {
  zstd_ = true;
  Serve(Frames({1}, 4096));
  for (const char* mode : {"auto", ""}) {
    setenv("LITEVFS_WIRE_COMPRESSION", mode, 1);
    auto c = NewClient();
    ASSERT_TRUE(c->GetPages("db", kPos3, {1}).ok());
    EXPECT_EQ(server_.last().Header("Accept-Encoding"), "<absent>") << mode;
  }
  setenv("LITEVFS_WIRE_COMPRESSION", "fast", 1);
  auto bad = Client::Create(Config());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("LITEVFS_WIRE_COMPRESSION \"fast\" is not one of auto, zstd, off"),
            std::string::npos) << bad.status().message();
  setenv("LITEVFS_WIRE_COMPRESSION", "zstd", 1);  // as the fixture left it
}

TEST_F(BinaryPagesTest, ZstdBombIsRefused) {
  // One page asked for (bound 4100 bytes), the server sends 1 MiB of zeros compressed.
  {
    std::lock_guard<std::mutex> l(mu_);
    encoding_ = "zstd";
  }
  Serve(Zstd(std::string(1 << 20, '\0')), "4096");
  auto c = NewClient();
  auto r = c->GetPages("db", kPos3, {1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_NE(r.status().message().find("zstd"), std::string::npos) << r.status().message();
}

TEST_F(BinaryPagesTest, GarbageZstdAndUnknownEncoding) {
  {
    std::lock_guard<std::mutex> l(mu_);
    encoding_ = "zstd";
  }
  Serve("definitely not zstd");
  auto c = NewClient();
  auto r = c->GetPages("db", kPos3, {1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  {
    std::lock_guard<std::mutex> l(mu_);
    encoding_ = "br";
  }
  Serve(Frames({1}, 4096));
  r = c->GetPages("db", kPos3, {1});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("Content-Encoding"), std::string::npos);
}

TEST_F(BinaryPagesTest, RejectsHostileAnswers) {
  auto c = NewClient();
  struct Case {
    std::string body, ps, pos, commit, msg;
  };
  std::string truncated = Frames({1, 2}, 4096);
  truncated.resize(truncated.size() - 1);
  std::vector<Case> cases = {
      {Frames({1, 2}, 4096), "1024", kPos3Text, "100", "not a multiple"},
      {Frames({1, 2}, 4096), "1000", kPos3Text, "100", "Litevfs-Page-Size"},
      {Frames({1, 2}, 4096), "04096", kPos3Text, "100", "Litevfs-Page-Size"},
      {Frames({1, 2}, 4096), "131072", kPos3Text, "100", "Litevfs-Page-Size"},
      {Frames({1, 2}, 4096), "", kPos3Text, "100", "Litevfs-Page-Size"},
      {Frames({1, 2}, 4096), "4096", "", "100", "missing Litevfs-Pos"},
      {Frames({1, 2}, 4096), "4096", "3/9c74a15b4e4f246c", "100", "bad Litevfs-Pos"},
      {Frames({1, 2}, 4096), "4096", "0000000000000004/9c74a15b4e4f246c", "100", "as of"},
      {Frames({1, 2}, 4096), "4096", kPos3Text, "x", "Litevfs-Commit"},
      {truncated, "4096", kPos3Text, "100", "not a multiple"},
      {Frames({1, 2, 3}, 4096), "4096", kPos3Text, "100", "3 pages for 2 asked"},
      {Frames({1, 3}, 4096), "4096", kPos3Text, "100", "page 3 was not asked for"},
      {Frames({2, 1}, 4096), "4096", kPos3Text, "100", "follows page 2"},
      {Frames({1, 1}, 4096), "4096", kPos3Text, "100", "appears twice"},
      {Frames({0}, 4096), "4096", kPos3Text, "100", "page number 0"},
      {Frames({1}, 4096), "4096", kPos3Text, "100", "page 2 was asked for but is missing"},
      {Frames({1, 2}, 4096), "4096", kPos3Text, "1", "past commit"},
  };
  for (const auto& k : cases) {
    Serve(k.body, k.ps, k.pos, k.commit);
    auto r = c->GetPages("db", kPos3, {1, 2});
    ASSERT_FALSE(r.ok()) << k.msg;
    EXPECT_EQ(r.status().code(), Code::kCorruption) << r.status().ToString();
    EXPECT_NE(r.status().message().find(k.msg), std::string::npos)
        << "want \"" << k.msg << "\" got: " << r.status().message();
  }
  // Past commit: the server may omit the tail, and must, when commit says so.
  Serve(Frames({1}, 4096), "4096", kPos3Text, "1");
  auto r = c->GetPages("db", kPos3, {1, 2});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pages.size(), 1u);
  EXPECT_EQ(r->commit, 1u);
}

TEST_F(BinaryPagesTest, JsonAnswerToBinaryRequestIsAccepted) {
  {
    std::lock_guard<std::mutex> l(mu_);
    content_type_ = "application/json";
  }
  Serve(PagesJson({1}, 4096));
  auto c = NewClient();
  auto r = c->GetPages("db", kPos3, {1});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pages.size(), 1u);
}

TEST_F(BinaryPagesTest, LargeRequestsAreSplitUnderTheUriLimit) {
  // The fake serves exactly what each request asks for; cpp-httplib answers 414 to a
  // request URI over 8 KiB, so this fails unless the client splits long page lists.
  {
    std::lock_guard<std::mutex> l(mu_);
    echo_ = true;
  }
  std::vector<uint32_t> want;
  for (uint32_t p = 1000000; p < 1000000 + 3000; p++) want.push_back(p);
  auto c = NewClient();
  auto r = c->GetPages("db", kPos3, want);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->pages.size(), want.size());
  for (size_t i = 0; i < want.size(); i++) ASSERT_EQ(r->pages[i].first, want[i]);
  EXPECT_EQ(r->pages.back().second, Page(want.back(), 512));
  size_t page_requests = 0;
  for (const auto& s : server_.seen()) page_requests += s.path == "/db/page";
  EXPECT_GE(page_requests, 4u);
  EXPECT_EQ(c->stats().pages_fetched.load(), want.size());
}

// With pgno-ranges announced, runs of 3+ pages go as "A-B": a scan's batch is one item.
TEST_F(ClientApiTest, PageRangesWhenAnnounced) {
  for (bool announced : {true, false}) {
    FakeServer srv;
    std::vector<std::string> features = {"pages-binary"};
    if (announced) features.push_back("pgno-ranges");
    srv.ServeInfo(features);
    srv.svr().Get("/db/page", [](const httplib::Request& req, httplib::Response& res) {
      std::vector<uint32_t> asked;
      std::string list = req.get_param_value("pgno");
      for (size_t start = 0; start < list.size();) {
        size_t end = std::min(list.find(',', start), list.size());
        std::string item = list.substr(start, end - start);
        size_t dash = item.find('-');
        uint32_t a = uint32_t(std::stoul(item.substr(0, dash)));
        uint32_t b = dash == std::string::npos ? a : uint32_t(std::stoul(item.substr(dash + 1)));
        for (uint32_t p = a; p <= b; p++) asked.push_back(p);
        start = end + 1;
      }
      res.set_header("Litevfs-Page-Size", "512");
      res.set_header("Litevfs-Pos", kPos3Text);
      res.set_content(Frames(asked, 512), "application/vnd.litevfs.pages");
    });
    srv.Start();
    ClientConfig cfg = Config();
    cfg.host = srv.url();
    auto c = NewClient(cfg);
    std::vector<uint32_t> want = {1, 2, 3, 4, 5, 7, 9, 10};
    for (uint32_t p = 100000; p < 100000 + 4000; p++) want.push_back(p);
    auto r = c->GetPages("db", kPos3, want);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->pages.size(), want.size());
    EXPECT_EQ(r->pages.back().second, Page(want.back(), 512));
    std::vector<std::string> lists;
    for (const auto& q : srv.seen()) {
      if (q.path == "/db/page") lists.push_back(q.Param("pgno"));
    }
    if (announced) {
      ASSERT_EQ(lists.size(), 1u);  // 4,008 pages, one short list
      EXPECT_EQ(lists[0], "1-5,7,9,10,100000-103999");
    } else {
      EXPECT_GE(lists.size(), 4u);  // 7 characters a page: split under the URI limit
      EXPECT_EQ(lists[0].substr(0, 16), "1,2,3,4,5,7,9,10");
    }
    c.reset();  // its kept-alive connection would hold Stop() for the keep-alive timeout
    srv.Stop();
  }
}

TEST_F(BinaryPagesTest, BatchThroughputBinaryZstdJson) {
  // Informational numbers for the hot path: 256 x 4 KiB pages per batch.
  std::vector<uint32_t> want;
  for (uint32_t p = 1; p <= 256; p++) want.push_back(p);
  const std::string frames = Frames(want, 4096);
  const std::string zframes = Zstd(frames);
  const std::string json_body = PagesJson(want, 4096);
  // m: 0 binary, 1 binary + zstd, 2 JSON + base64.
  auto run = [&](int m, const char* label) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (m == 2) {
        content_type_ = "application/json";
        body_ = json_body;
        encoding_.clear();
      } else {
        content_type_ = "application/vnd.litevfs.pages";
        body_ = m == 1 ? zframes : frames;
        encoding_ = m == 1 ? "zstd" : "";
      }
      page_size_hdr_ = "4096";
      pos_hdr_ = kPos3Text;
      commit_hdr_ = "256";
    }
    auto c = NewClient();
    ASSERT_TRUE(c->GetInfo().ok());
    constexpr int kRounds = 20;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kRounds; i++) {
      auto r = c->GetPages("db", kPos3, want);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_EQ(r->pages.size(), 256u);
      ASSERT_EQ(r->pages[255].second, Page(256, 4096));
    }
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - t0)
                  .count() /
              kRounds;
    std::printf("GetPages 256 x 4 KiB, %-6s: %6lld us/batch (%llu wire bytes)\n", label,
                static_cast<long long>(us),
                static_cast<unsigned long long>(c->stats().bytes_received.load() / kRounds));
  };
  run(0, "binary");
  run(1, "zstd");
  run(2, "json");
}

// ---- interior ----

TEST_F(BinaryPagesTest, GetInterior) {
  std::string body = Frames({1, 7, 20}, 4096);
  server_.svr().Get("/db/interior", [&](const httplib::Request& req, httplib::Response& res) {
    res.set_header("Litevfs-Page-Size", "4096");
    res.set_header("Litevfs-Pos", std::string(kPos3Text));
    res.set_header("Litevfs-Commit", "50");
    std::string b = body;
    if (req.get_header_value("Accept-Encoding") == "zstd") {
      res.set_header("Content-Encoding", "zstd");
      b = Zstd(b);
    }
    res.set_content(b, "application/vnd.litevfs.pages");
  });
  auto c = NewClient();
  auto r = c->GetInterior("db", Pos{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pos, kPos3);
  EXPECT_EQ(r->commit, 50u);
  EXPECT_EQ(r->page_size, 4096u);
  ASSERT_EQ(r->pages.size(), 3u);
  EXPECT_EQ(r->pages[1].first, 7u);
  EXPECT_EQ(r->pages[2].second, Page(20, 4096));
  EXPECT_EQ(server_.last().Param("pos"), "<absent>");
  EXPECT_EQ(server_.last().Param("db"), "db");
  EXPECT_EQ(server_.last().Header("Accept"), "application/vnd.litevfs.pages+sums, application/vnd.litevfs.pages");
  r = c->GetInterior("db", kPos3);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(server_.last().Param("pos"), kPos3Text);
  // The server answering at another position than asked is corruption.
  r = c->GetInterior("db", Pos{9, 9});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  // Interior batches must hold page 1 and stay within commit.
  body = Frames({7, 20}, 4096);
  r = c->GetInterior("db", kPos3);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("lacks page 1"), std::string::npos);
  body = Frames({1, 51}, 4096);
  r = c->GetInterior("db", kPos3);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("past commit"), std::string::npos);
}

TEST_F(ClientApiTest, GetInteriorUnsupportedWithoutFeature) {
  server_.ServeInfo({"pages-binary"});
  auto c = NewClient();
  // Nothing known yet: the client asks /db/interior directly (no /info round trip); the
  // fake's 404 carries no Litevfs-Features header, so the route is missing: kUnsupported.
  auto r = c->GetInterior("db", kPos3);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnsupported) << r.status().ToString();
  EXPECT_EQ(server_.count(), 1u);
  EXPECT_EQ(server_.last().path, "/db/interior");
  // Once /info has answered, the client knows and asks nothing.
  ASSERT_TRUE(c->GetInfo().ok());
  r = c->GetInterior("db", kPos3);
  EXPECT_EQ(r.status().code(), Code::kUnsupported);
  EXPECT_EQ(server_.count(), 2u);  // the probe and /info
}

TEST_F(ClientApiTest, FeaturesHeaderReplacesInfo) {
  // A server that names its features in every response: a 404 with the header is "no
  // such database", and no request ever goes to /info.
  server_.svr().Get("/db/interior", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Litevfs-Features", "pages-binary, interior,sync-wait");
    JsonError(res, 404, "ENOTFOUND", "database not found");
  });
  auto c = NewClient();
  auto r = c->GetInterior("nope", Pos{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound) << r.status().ToString();
  for (const char* f : {"pages-binary", "interior", "sync-wait"}) {
    auto has = c->HasFeature(f);
    ASSERT_TRUE(has.ok());
    EXPECT_TRUE(*has) << f;
  }
  auto has = c->HasFeature("history");
  ASSERT_TRUE(has.ok());
  EXPECT_FALSE(*has);
  EXPECT_EQ(server_.count(), 1u);
  // Extensions off: never a feature, never a probe.
  ClientConfig off = Config();
  off.use_extensions = false;
  auto plain = NewClient(off);
  EXPECT_EQ(plain->GetInterior("db", Pos{}).status().code(), Code::kUnsupported);
  EXPECT_FALSE(*plain->HasFeature("interior"));
  EXPECT_EQ(server_.count(), 1u);
}

// ---- snapshot ----

TEST_F(ClientApiTest, GetSnapshotStreamsIntoTheSink) {
  const std::string ltx = MakeLtx(1, 4, 0, 0x8000000000000777ULL, 3);
  server_.svr().Get("/db/snapshot", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(ltx, "application/octet-stream");
  });
  auto c = NewClient();
  std::string got;
  ltx::StringSink sink(&got);
  auto r = c->GetSnapshot("db", &sink);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, ltx.size());
  EXPECT_EQ(got, ltx);
  EXPECT_EQ(server_.last().Param("db"), "db");
  EXPECT_EQ(c->stats().bytes_received.load(), ltx.size());
}

TEST_F(ClientApiTest, GetSnapshotRejectsNonSnapshots) {
  std::string body;
  server_.svr().Get("/db/snapshot", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(body, "application/octet-stream");
  });
  auto c = NewClient();
  for (auto [b, msg] : std::vector<std::pair<std::string, std::string>>{
           {MakeLtx(2, 4, 0x8000000000000001ULL, 0x8000000000000777ULL), "not 1"},
           {std::string(200, 'x'), "magic"},
           {"LTX1", "shorter than an LTX header"}}) {
    body = b;
    std::string got;
    ltx::StringSink sink(&got);
    auto r = c->GetSnapshot("db", &sink);
    ASSERT_FALSE(r.ok()) << msg;
    EXPECT_EQ(r.status().code(), Code::kCorruption);
    EXPECT_NE(r.status().message().find(msg), std::string::npos) << r.status().message();
    EXPECT_TRUE(got.empty());  // nothing reached the caller before the header checked out
  }
}

// ---- upload ----

TEST_F(ClientApiTest, UploadTxSendsBytesAndReturnsNewPosition) {
  const std::string ltx = MakeLtx(4, 4, 0x8000000000000003ULL, 0x80000000000000aaULL);
  server_.svr().Post("/db/tx", [&](const httplib::Request& req, httplib::Response& res) {
    EXPECT_EQ(req.body, ltx);
    res.set_header("Litefs-Hwm", "0000000000000004");
    res.set_content(R"({"pos":{"txid":"0000000000000004","postApplyChecksum":"80000000000000aa"}})",
                    "application/json");
  });
  auto c = NewClient();
  auto r = c->UploadTx("db", ltx, "lease-1");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (Pos{4, 0x80000000000000aaULL}));
  SeenRequest s = server_.last();
  ExpectTxRequest(s, "lease-1");
  EXPECT_EQ(c->stats().bytes_sent.load(), ltx.size());
  // No lease: no header.
  ASSERT_TRUE(c->UploadTx("db", ltx, "").ok());
  EXPECT_EQ(server_.last().Header("Lfsc-Lease-Id"), "<absent>");
}

TEST_F(ClientApiTest, UploadTxRejectsBadLtxWithoutARequest) {
  auto c = NewClient();
  EXPECT_EQ(c->UploadTx("db", "short", "").status().code(), Code::kInvalidArgument);
  std::string bad = MakeLtx(4, 4, 0x8000000000000003ULL, 1);
  bad[0] = 'X';
  auto r = c->UploadTx("db", bad, "");
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("magic"), std::string::npos) << r.status().message();
  EXPECT_EQ(server_.count(), 0u);
}

TEST_F(ClientApiTest, UploadPositionMismatchIsConflictAndNotRetried) {
  server_.svr().Post("/db/tx", [&](const httplib::Request&, httplib::Response& res) {
    JsonError(res, 409, "EPOSMISMATCH", "position mismatch", ",\"pos\":" + PosJson(kPos3));
  });
  auto c = NewClient();
  auto r = c->UploadTx("db", MakeLtx(9, 9, 0x8000000000000003ULL, 0x8000000000000009ULL), "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kConflict);
  EXPECT_EQ(r.status().api_code(), "EPOSMISMATCH");
  EXPECT_NE(r.status().message().find(kPos3Text), std::string::npos) << r.status().message();
  EXPECT_EQ(c->stats().retries.load(), 0u);
}

TEST_F(ClientApiTest, UploadIsNotRetriedOn503) {
  server_.svr().Post("/db/tx", [&](const httplib::Request&, httplib::Response& res) {
    JsonError(res, 503, "EUNAVAILABLE", "injected");
  });
  auto c = NewClient();
  auto r = c->UploadTx("db", MakeLtx(1, 1, 0, 0x8000000000000009ULL), "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_EQ(server_.count(), 1u);
  EXPECT_EQ(c->stats().retries.load(), 0u);
}

// ---- leases ----

TEST_F(ClientApiTest, LeaseAcquireRefreshRelease) {
  server_.svr().Post("/lease", [](const httplib::Request& req, httplib::Response& res) {
    std::string id = req.has_param("id") ? req.get_param_value("id") : "0123456789abcdef0123456789abcdef";
    res.set_content(json{{"id", id}, {"expires_at", "2026-11-21T08:00:00.123Z"}}.dump(),
                    "application/json");
  });
  server_.svr().Delete("/lease", [](const httplib::Request&, httplib::Response& res) {
    res.status = 204;
  });
  auto c = NewClient();
  auto l = c->AcquireLease("db", 10000);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->id, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(l->expires_at, "2026-11-21T08:00:00.123Z");
  SeenRequest s = server_.last();
  EXPECT_EQ(s.method, "POST");
  EXPECT_EQ(s.Param("db"), "db");
  EXPECT_EQ(s.Param("duration"), "10000");
  EXPECT_EQ(s.Param("id"), "<absent>");
  l = c->AcquireLease("db", 10000, l->id);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(server_.last().Param("id"), "0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(c->ReleaseLease("db", l->id).ok());
  s = server_.last();
  EXPECT_EQ(s.method, "DELETE");
  EXPECT_EQ(s.path, "/lease");
  EXPECT_EQ(s.Param("id"), l->id);

  auto bad = c->AcquireLease("db", 999);
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("[1000, 600000]"), std::string::npos);
  EXPECT_EQ(c->AcquireLease("db", 600001).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c->ReleaseLease("db", "").code(), Code::kInvalidArgument);
}

TEST_F(ClientApiTest, LeaseErrors) {
  std::string body;
  int status = 200;
  server_.svr().Post("/lease", [&](const httplib::Request&, httplib::Response& res) {
    res.status = status;
    res.set_content(body, "application/json");
  });
  auto c = NewClient();
  status = 409;
  body = R"({"code":"ELEASE","error":"lease held by another"})";
  auto r = c->AcquireLease("db", 5000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kConflict);
  EXPECT_EQ(r.status().api_code(), "ELEASE");
  EXPECT_EQ(r.status().message(),
            "litevfs: server: ELEASE: lease held by another (POST /lease db=db)");
  status = 200;
  body = R"({"id":"abc","expires_at":"tomorrow"})";
  r = c->AcquireLease("db", 5000);
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  body = R"({"expires_at":"2026-11-21T08:00:00Z"})";
  r = c->AcquireLease("db", 5000);
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  body = R"({"id":"other","expires_at":"2026-11-21T08:00:00Z"})";
  r = c->AcquireLease("db", 5000, "mine");
  EXPECT_EQ(r.status().code(), Code::kCorruption);
}

// ---- history ----

TEST_F(ClientApiTest, GetHistory) {
  server_.ServeInfo({"history"});
  std::string body = json{{"history",
                           {{{"pos", json::parse(PosJson({1, 0x8000000000000001ULL}))},
                             {"timestamp", "2026-11-21T08:00:00.250Z"},
                             {"commit", 2},
                             {"pageCount", 2}},
                            {{"pos", json::parse(PosJson(kPos3))},
                             {"timestamp", "2026-11-21T09:00:00+01:00"},
                             {"commit", 3},
                             {"pageCount", 1}}}}}
                         .dump();
  server_.svr().Get("/db/history", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(body, "application/json");
  });
  auto c = NewClient();
  auto r = c->GetHistory("db");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].pos.txid, 1u);
  EXPECT_EQ((*r)[0].timestamp_ms, 1795248000250LL);
  EXPECT_EQ((*r)[1].timestamp_ms, 1795248000000LL);  // 09:00+01:00 == 08:00Z
  EXPECT_EQ((*r)[1].commit, 3u);
  EXPECT_EQ((*r)[1].page_count, 1u);
  EXPECT_EQ(server_.last().Param("db"), "db");

  body = json{{"history", {{{"pos", json::parse(PosJson(kPos3))}, {"timestamp", "2026-11-21T08:00:00Z"}},
                           {{"pos", json::parse(PosJson({1, 1}))}, {"timestamp", "2026-11-21T08:00:00Z"}}}}}
             .dump();
  r = c->GetHistory("db");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("ascending"), std::string::npos);
  body = json{{"history", {{{"pos", json::parse(PosJson(kPos3))}, {"timestamp", "yesterday"}}}}}.dump();
  EXPECT_EQ(c->GetHistory("db").status().code(), Code::kCorruption);
}

TEST_F(ClientApiTest, GetHistoryUnsupportedWithoutFeature) {
  server_.ServeInfo({});
  auto c = NewClient();
  EXPECT_EQ(c->GetHistory("db").status().code(), Code::kUnsupported);
}

// ---- error mapping ----

TEST_F(ClientApiTest, StatusMapping) {
  int status = 0;
  std::string body;
  server_.svr().Get("/pos", [&](const httplib::Request&, httplib::Response& res) {
    res.status = status;
    res.set_content(body, "application/json");
  });
  ClientConfig cfg = Config();
  cfg.max_retries = 0;
  auto c = NewClient(cfg);
  struct Case {
    int status;
    std::string code;
    Code want;
  };
  for (const Case& k : std::vector<Case>{{400, "EBADREQUEST", Code::kInvalidArgument},
                                         {401, "EUNAUTHORIZED", Code::kPermissionDenied},
                                         {404, "ENOTFOUND", Code::kNotFound},
                                         {409, "EPOSMISMATCH", Code::kConflict},
                                         {409, "ELEASE", Code::kConflict},
                                         {413, "ETOOLARGE", Code::kResourceExhausted},
                                         {500, "EINTERNAL", Code::kUnavailable},
                                         {503, "EUNAVAILABLE", Code::kUnavailable}}) {
    status = k.status;
    body = R"({"code":")" + k.code + R"(","error":"some text"})";
    auto r = c->GetPositions();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), k.want) << k.status;
    EXPECT_EQ(r.status().api_code(), k.code);
    EXPECT_EQ(r.status().message().rfind("litevfs: server: " + k.code + ": some text (GET /pos)", 0),
              0u)
        << r.status().message();
  }
}

TEST_F(ClientApiTest, PositionNotRetainedMessage) {
  server_.ServeInfo({});
  server_.svr().Get("/db/page", [&](const httplib::Request&, httplib::Response& res) {
    JsonError(res, 409, "EPOSMISMATCH", "position not retained");
  });
  auto c = NewClient();
  auto r = c->GetPages("x", kPos3, {1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kConflict);
  EXPECT_EQ(r.status().api_code(), "EPOSMISMATCH");
  EXPECT_EQ(r.status().message(),
            "litevfs: server: EPOSMISMATCH: position not retained (GET /db/page db=x)");
  EXPECT_EQ(c->stats().retries.load(), 0u);  // a conflict is not retried
}

TEST_F(ClientApiTest, UnauthorizedTellsUserAboutToken) {
  server_.svr().Get("/pos", [&](const httplib::Request&, httplib::Response& res) {
    JsonError(res, 401, "EUNAUTHORIZED", "bad token");
  });
  auto c = NewClient();
  auto r = c->GetPositions();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kPermissionDenied);
  EXPECT_NE(r.status().message().find("LITEFS_CLOUD_TOKEN"), std::string::npos);
  EXPECT_EQ(c->stats().retries.load(), 0u);
}

TEST_F(ClientApiTest, NonJsonErrorBodyStillGivesAClearMessage) {
  server_.svr().Get("/pos", [&](const httplib::Request&, httplib::Response& res) {
    res.status = 502;
    res.set_content("<html>Bad Gateway</html>\n", "text/html");
  });
  auto c = NewClient();
  auto r = c->GetPositions();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_EQ(r.status().api_code(), "");
  EXPECT_EQ(r.status().message(),
            "litevfs: server: HTTP 502: <html>Bad Gateway</html> (GET /pos)");
  // 502 is retryable and /pos is a GET: 1 + max_retries attempts.
  EXPECT_EQ(server_.count(), 3u);
  EXPECT_EQ(c->stats().retries.load(), 2u);
  EXPECT_EQ(c->stats().requests.load(), 3u);
}

TEST_F(ClientApiTest, HugeErrorBodyIsStillAnErrorWithAShortMessage) {
  server_.svr().Get("/pos", [&](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
    res.set_content("overloaded " + std::string(2 << 20, 'x'), "text/plain");
  });
  ClientConfig cfg = Config();
  cfg.max_retries = 0;
  auto c = NewClient(cfg);
  auto r = c->GetPositions();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_EQ(r.status().message().rfind("litevfs: server: HTTP 503: overloaded xxx", 0), 0u);
  EXPECT_LT(r.status().message().size(), 300u);
}

TEST_F(ClientApiTest, RetryThenSucceed) {
  std::atomic<int> n{0};
  server_.svr().Get("/pos", [&](const httplib::Request&, httplib::Response& res) {
    if (n++ < 2) {
      JsonError(res, 503, "EUNAVAILABLE", "injected");
      return;
    }
    res.set_content("{}", "application/json");
  });
  auto c = NewClient();
  auto r = c->GetPositions();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(c->stats().retries.load(), 2u);
  EXPECT_EQ(c->stats().requests.load(), 3u);
}

TEST_F(ClientApiTest, OversizedBodyIsRefused) {
  server_.ServeInfo({});
  server_.svr().Get("/db/page", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(400 * 1024, 'A'), "application/json");
  });
  auto c = NewClient();
  auto r = c->GetPages("db", kPos3, {1});  // one page: at most ~88 KiB of JSON
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_NE(r.status().message().find("exceeds"), std::string::npos) << r.status().message();
}

// ---- network failures ----

TEST_F(ClientApiTest, SlowServerHitsTheTimeout) {
  server_.svr().Get("/pos", [&](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    res.set_content("{}", "application/json");
  });
  ClientConfig cfg = Config();
  cfg.request_timeout_ms = 150;
  cfg.max_retries = 1;
  auto c = NewClient(cfg);
  auto t0 = std::chrono::steady_clock::now();
  auto r = c->GetPositions();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0)
                .count();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("/pos"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("imeout"), std::string::npos) << r.status().message();
  EXPECT_EQ(c->stats().retries.load(), 1u);
  EXPECT_LT(ms, 1000);
}

TEST(ClientNetworkTest, ConnectionRefusedIsUnavailableAndNamesTheUrlNotTheToken) {
  // Find a port nobody listens on: bind, note, close.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  socklen_t len = sizeof(a);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  int port = ntohs(a.sin_port);
  close(fd);

  ClientConfig cfg;
  cfg.host = "127.0.0.1:" + std::to_string(port);
  cfg.token = "very-secret";
  cfg.max_retries = 2;
  cfg.retry_backoff_ms = 1;
  auto c = Client::Create(cfg);
  ASSERT_TRUE(c.ok());
  auto r = (*c)->GetPositions();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("http://127.0.0.1:" + std::to_string(port) + "/pos"),
            std::string::npos)
      << r.status().message();
  EXPECT_EQ(r.status().message().find("very-secret"), std::string::npos);
  EXPECT_EQ((*c)->stats().retries.load(), 2u);
  EXPECT_EQ((*c)->stats().requests.load(), 3u);
}

// A raw TCP server that answers each connection with fixed bytes and closes: for answers
// cpp-httplib will not produce (no response at all, a body shorter than its length).
class RawServer {
 public:
  // hold: after the first read, keep the connection open without reading (until destroyed)
  // instead of answering.
  explicit RawServer(std::string reply, bool hold = false) : reply_(std::move(reply)), hold_(hold) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    socklen_t len = sizeof(a);
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port_ = ntohs(a.sin_port);
    EXPECT_EQ(listen(fd_, 16), 0);
    thread_ = std::thread([this] {
      for (int i = 0; i < 64 && !stop_; i++) {  // bounded
        int c = accept(fd_, nullptr, nullptr);
        if (c < 0) break;
        if (stop_) {
          close(c);
          break;
        }
        accepted_++;
        char buf[4096];
        (void)!recv(c, buf, sizeof(buf), 0);  // the request (small; one read is enough)
        for (int j = 0; hold_ && j < 1000 && !stop_; j++) {  // bounded: 20 s
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        if (!reply_.empty()) (void)!send(c, reply_.data(), reply_.size(), MSG_NOSIGNAL);
        close(c);
      }
    });
  }
  ~RawServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    // Unblock accept() on kernels where shutdown of a listening socket does not.
    int c = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(uint16_t(port_));
    (void)!connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    close(c);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int accepted() const { return accepted_; }

 private:
  std::string reply_;
  bool hold_ = false;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

ClientConfig RawConfig(const RawServer& s) {
  ClientConfig cfg;
  cfg.host = s.url();
  cfg.token = "t";
  cfg.max_retries = 2;
  cfg.retry_backoff_ms = 1;
  cfg.request_timeout_ms = 2000;
  return cfg;
}

TEST(ClientNetworkTest, ClosedSocketIsUnavailableAndGetIsRetried) {
  RawServer s("");  // read the request, close without a response
  auto c = Client::Create(RawConfig(s));
  ASSERT_TRUE(c.ok());
  auto r = (*c)->GetPositions();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
  EXPECT_EQ((*c)->stats().retries.load(), 2u);
  EXPECT_GE(s.accepted(), 3);
}

TEST(ClientNetworkTest, ClosedSocketOnUploadIsNotRetried) {
  RawServer s("");
  auto c = Client::Create(RawConfig(s));
  ASSERT_TRUE(c.ok());
  auto r = (*c)->UploadTx("db", MakeLtx(1, 1, 0, 0x8000000000000001ULL), "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_EQ((*c)->stats().retries.load(), 0u);
}

TEST(ClientNetworkTest, TruncatedBodyIsUnavailable) {
  RawServer s(
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":");
  auto c = Client::Create(RawConfig(s));
  ASSERT_TRUE(c.ok());
  auto r = (*c)->GetPositions();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
  EXPECT_EQ((*c)->stats().retries.load(), 2u);
}

TEST(ClientNetworkTest, SnapshotCutMidStreamIsUnavailableAndNotRetried) {
  const std::string ltx = MakeLtx(1, 2, 0, 0x8000000000000002ULL, 4);
  RawServer s("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
              std::to_string(ltx.size()) + "\r\n\r\n" + ltx.substr(0, 5000));
  auto c = Client::Create(RawConfig(s));
  ASSERT_TRUE(c.ok());
  std::string got;
  ltx::StringSink sink(&got);
  auto r = (*c)->GetSnapshot("db", &sink);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
  // Bytes reached the sink, so a retry would duplicate them: none was made.
  EXPECT_EQ((*c)->stats().retries.load(), 0u);
  EXPECT_EQ(got, ltx.substr(0, got.size()));
  EXPECT_GT(got.size(), 0u);
}

TEST(ClientNetworkTest, TruncatedBinaryBatchNeverYieldsPages) {
  std::string frames = Frames({1, 2}, 4096);
  std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.litevfs.pages\r\n"
                     "Litevfs-Page-Size: 4096\r\nLitevfs-Pos: " + std::string(kPos3Text) +
                     "\r\nContent-Length: " + std::to_string(frames.size()) + "\r\n\r\n";
  RawServer s(head + frames.substr(0, frames.size() / 2));
  ClientConfig cfg = RawConfig(s);
  cfg.use_extensions = false;  // the raw server answers everything alike; skip /info
  auto c = Client::Create(cfg);
  ASSERT_TRUE(c.ok());
  auto r = (*c)->GetPages("db", kPos3, {1, 2});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
}

// ---- keep-alive ----

TEST_F(ClientApiTest, SequentialRequestsReuseOneConnection) {
  server_.svr().Get("/pos", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });
  auto c = NewClient();
  for (int i = 0; i < 20; i++) ASSERT_TRUE(c->GetPositions().ok());
  std::set<int> ports;
  for (const auto& s : server_.seen()) ports.insert(s.remote_port);
  EXPECT_EQ(ports.size(), 1u) << "20 sequential requests used " << ports.size()
                              << " connections";
  EXPECT_EQ(c->stats().requests.load(), 20u);
}

TEST_F(ClientApiTest, ConcurrentThreadsAreSafe) {
  server_.ServeInfo({});
  server_.svr().Get("/db/page", [&](const httplib::Request& req, httplib::Response& res) {
    uint32_t p = static_cast<uint32_t>(std::stoul(req.get_param_value("pgno")));
    res.set_content(PagesJson({p}, 1024), "application/json");
  });
  auto c = NewClient();
  std::vector<std::thread> ts;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; t++) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 10; i++) {
        uint32_t p = uint32_t(t * 100 + i + 1);
        auto r = c->GetPages("db", kPos3, {p});
        if (!r.ok() || r->pages.size() != 1 || r->pages[0].second != Page(p, 1024)) bad++;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(c->stats().pages_fetched.load(), 40u);
}

// ---- upload from a file (streamed) ----

// A file under the test's temporary directory holding `contents`, removed on destruction.
class TestFile {
 public:
  explicit TestFile(const std::string& contents) {
    static std::atomic<int> n{0};
    path_ = ::testing::TempDir() + "client_api_test." + std::to_string(getpid()) + "." +
            std::to_string(n++) + ".ltx";
    FILE* f = std::fopen(path_.c_str(), "wb");
    EXPECT_NE(f, nullptr) << path_;
    if (!f) return;
    EXPECT_EQ(std::fwrite(contents.data(), 1, contents.size(), f), contents.size());
    EXPECT_EQ(std::fclose(f), 0);
  }
  ~TestFile() { ::unlink(path_.c_str()); }
  TestFile(const TestFile&) = delete;
  TestFile& operator=(const TestFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Acknowledges every upload at *ack (read at each request); the last body received goes
// to *body.
void ServeTxAck(FakeServer& server, const Pos* ack, std::string* body) {
  server.svr().Post("/db/tx", [=](const httplib::Request& req, httplib::Response& res) {
    *body = req.body;
    res.set_header("Litefs-Hwm", ltx::FormatTxid(ack->txid));
    res.set_content(json{{"pos", json::parse(PosJson(*ack))}}.dump(), "application/json");
  });
}

TEST_F(ClientApiTest, UploadTxFileSendsTheFileAndReturnsNewPosition) {
  // ~3.3 MB: many read callbacks, more than one upload buffer.
  const std::string ltx = MakeLtx(4, 4, 0x8000000000000003ULL, 0x80000000000000aaULL, 800);
  TestFile f(ltx);
  std::string got;
  Pos ack{4, 0x80000000000000aaULL};
  ServeTxAck(server_, &ack, &got);
  auto c = NewClient();
  auto r = c->UploadTxFile("db", f.path(), "lease-1");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (Pos{4, 0x80000000000000aaULL}));
  SeenRequest s = server_.last();
  ExpectTxRequest(s, "lease-1");
  EXPECT_TRUE(got == ltx) << "sent " << got.size() << " bytes, the file has " << ltx.size();
  EXPECT_EQ(s.Header("Content-Length"), std::to_string(ltx.size()));
  EXPECT_EQ(s.Header("Transfer-Encoding"), "<absent>");
  EXPECT_EQ(s.Header("Authorization"), "secret-token");
  EXPECT_EQ(c->stats().bytes_sent.load(), ltx.size());
  EXPECT_EQ(c->stats().requests.load(), 1u);
  // No lease: no header. The same connection carries the next upload.
  ASSERT_TRUE(c->UploadTxFile("db", f.path(), "").ok());
  EXPECT_EQ(server_.last().Header("Lfsc-Lease-Id"), "<absent>");
  EXPECT_TRUE(got == ltx);
  EXPECT_EQ(c->stats().bytes_sent.load(), 2 * ltx.size());
  // A minimal file (header, one page, trailer) goes the same way.
  const std::string small = MakeLtx(5, 5, 0x80000000000000aaULL, 0x80000000000000bbULL);
  TestFile g(small);
  got.clear();
  ack = Pos{5, 0x80000000000000bbULL};
  r = c->UploadTxFile("db", g.path(), "");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (Pos{5, 0x80000000000000bbULL}));
  EXPECT_EQ(got, small);
}

TEST_F(ClientApiTest, UploadTxFileWaitsForAServerStoringALargeBodyButNotForever) {
  // 30 MB: after the last byte the client allows the 1 s stall limit plus 3 s (10 MB/s) for
  // the server to verify and store it. Progress is checked about once a second.
  const std::string ltx = MakeLtx(4, 4, 0x8000000000000003ULL, 0x80000000000000aaULL, 7300);
  TestFile f(ltx);
  std::atomic<int> think_ms{2200};
  std::atomic<bool> release{false};
  Pos ack{4, 0x80000000000000aaULL};
  server_.svr().Post("/db/tx", [&](const httplib::Request&, httplib::Response& res) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(think_ms.load());
    while (!release && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    res.set_header("Litefs-Hwm", ltx::FormatTxid(ack.txid));
    res.set_content(json{{"pos", json::parse(PosJson(ack))}}.dump(), "application/json");
  });
  ClientConfig cfg = Config();
  cfg.request_timeout_ms = 1000;
  auto c = NewClient(cfg);
  auto r = c->UploadTxFile("db", f.path(), "");
  ASSERT_TRUE(r.ok()) << r.status().ToString();  // 2.2 s of silence: more than the stall limit
  EXPECT_EQ(*r, ack);
  // A server that never answers: given up after the allowance, with a message that says so.
  think_ms = 20000;
  const auto t0 = std::chrono::steady_clock::now();
  r = c->UploadTxFile("db", f.path(), "");
  const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  release = true;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("no answer 4 s after the whole body (" +
                                      std::to_string(ltx.size()) + " bytes) was sent"),
            std::string::npos)
      << r.status().message();
  EXPECT_GE(secs, 3.9);
  EXPECT_LT(secs, 8.0);
}

TEST_F(ClientApiTest, UploadTxFileRejectsBadFilesWithoutARequest) {
  auto c = NewClient();
  {
    TestFile f("short");
    auto r = c->UploadTxFile("db", f.path(), "");
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(r.status().message(),
              "litevfs: LTX upload " + f.path() + " is 5 bytes, shorter than a header and trailer");
  }
  {
    // Truncated inside the trailer. (Cut inside the pages, the last 16 bytes decode as a
    // trailer: that is for the server to find, as with UploadTx.)
    const std::string ltx = MakeLtx(4, 4, 0x8000000000000003ULL, 1);
    TestFile f(ltx.substr(0, ltx::kHeaderSize + ltx::kTrailerSize - 1));
    auto r = c->UploadTxFile("db", f.path(), "");
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << r.status().ToString();
    EXPECT_NE(r.status().message().find(f.path()), std::string::npos) << r.status().message();
  }
  {
    std::string bad = MakeLtx(4, 4, 0x8000000000000003ULL, 1);
    bad[0] = 'X';
    TestFile f(bad);
    auto r = c->UploadTxFile("db", f.path(), "");
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    // The same message as UploadTx's, naming the file.
    auto from_memory = c->UploadTx("db", bad, "");
    EXPECT_EQ(from_memory.status().code(), Code::kInvalidArgument);
    const std::string detail =
        from_memory.status().message().substr(std::string("litevfs: LTX upload").size());
    EXPECT_NE(r.status().message().find("magic"), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message(), "litevfs: LTX upload " + f.path() + detail);
  }
  {
    const std::string missing = ::testing::TempDir() + "client_api_test.no-such-file.ltx";
    auto r = c->UploadTxFile("db", missing, "");
    EXPECT_EQ(r.status().code(), Code::kNotFound);
    EXPECT_NE(r.status().message().find(missing), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("No such file"), std::string::npos) << r.status().message();
  }
  {
    auto r = c->UploadTxFile("db", ::testing::TempDir(), "");  // a directory
    EXPECT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find(::testing::TempDir()), std::string::npos)
        << r.status().message();
  }
  {
    TestFile f(MakeLtx(4, 4, 0x8000000000000003ULL, 1));
    EXPECT_EQ(c->UploadTxFile("../x", f.path(), "").status().code(), Code::kInvalidArgument);
  }
  EXPECT_EQ(server_.count(), 0u);
  EXPECT_EQ(c->stats().requests.load(), 0u);
}

// Both upload forms (bytes in memory, a file streamed from disk) check the answer alike.
TEST_F(ClientApiTest, UploadTxAndUploadTxFileCheckTheAcknowledgement) {
  const std::string ltx = MakeLtx(4, 4, 0x8000000000000003ULL, 0x80000000000000aaULL);
  TestFile f(ltx);
  std::string hwm, body;
  server_.svr().Post("/db/tx", [&](const httplib::Request&, httplib::Response& res) {
    if (!hwm.empty()) res.set_header("Litefs-Hwm", hwm);
    res.set_content(body, "application/json");
  });
  auto c = NewClient();
  for (auto [h, b, msg] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"", "", "without Litefs-Hwm"},
           {"4", "", "bad Litefs-Hwm"},
           {"0000000000000005", "", "does not match"},
           {"0000000000000004",
            R"({"pos":{"txid":"0000000000000004","postApplyChecksum":"80000000000000ab"}})",
            "after upload"},
           {"0000000000000004", "nope", "not valid JSON"}}) {
    hwm = h;
    body = b;
    for (bool from_file : {false, true}) {
      auto r = from_file ? c->UploadTxFile("db", f.path(), "") : c->UploadTx("db", ltx, "");
      ASSERT_FALSE(r.ok()) << msg << (from_file ? " (file)" : " (bytes)");
      EXPECT_EQ(r.status().code(), Code::kCorruption);
      EXPECT_NE(r.status().message().find(msg), std::string::npos) << r.status().message();
    }
  }
}

TEST_F(ClientApiTest, UploadTxFileServerErrorsMapLikeUploadTxAndAreNotRetried) {
  int status = 409;
  server_.svr().Post("/db/tx", [&](const httplib::Request&, httplib::Response& res) {
    if (status == 409) {
      JsonError(res, 409, "EPOSMISMATCH", "position mismatch", ",\"pos\":" + PosJson(kPos3));
    } else if (status == 413) {
      JsonError(res, 413, "ETOOLARGE", "request body over 1024 bytes");
    } else {
      JsonError(res, status, "EUNAVAILABLE", "injected");
    }
  });
  TestFile f(MakeLtx(9, 9, 0x8000000000000003ULL, 0x8000000000000009ULL));
  auto c = NewClient();
  for (auto [st, code] : std::vector<std::pair<int, Code>>{
           {409, Code::kConflict}, {413, Code::kResourceExhausted}, {503, Code::kUnavailable}}) {
    status = st;
    const size_t before = server_.count();
    auto from_file = c->UploadTxFile("db", f.path(), "");
    ASSERT_FALSE(from_file.ok()) << st;
    EXPECT_EQ(from_file.status().code(), code) << from_file.status().ToString();
    EXPECT_EQ(server_.count(), before + 1) << "status " << st << " was retried";
    auto from_memory =
        c->UploadTx("db", MakeLtx(9, 9, 0x8000000000000003ULL, 0x8000000000000009ULL), "");
    EXPECT_EQ(from_file.status().code(), from_memory.status().code());
    EXPECT_EQ(from_file.status().message(), from_memory.status().message());
    EXPECT_EQ(from_file.status().api_code(), from_memory.status().api_code());
  }
  status = 409;
  auto r = c->UploadTxFile("db", f.path(), "");
  EXPECT_EQ(r.status().api_code(), "EPOSMISMATCH");
  EXPECT_NE(r.status().message().find(kPos3Text), std::string::npos) << r.status().message();
  EXPECT_EQ(c->stats().retries.load(), 0u);
}

TEST(ClientNetworkTest, ClosedSocketOnFileUploadIsNotRetried) {
  RawServer s("");
  TestFile f(MakeLtx(1, 1, 0, 0x8000000000000001ULL, 64));
  auto c = Client::Create(RawConfig(s));
  ASSERT_TRUE(c.ok());
  auto r = (*c)->UploadTxFile("db", f.path(), "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
  EXPECT_EQ((*c)->stats().retries.load(), 0u);
  EXPECT_EQ(s.accepted(), 1);
}

TEST(ClientNetworkTest, FileUploadThatStopsMovingFailsAtTheStallLimit) {
  // The server reads the request line and then nothing: once the socket buffers are full,
  // no byte moves.
  RawServer s("", /*hold=*/true);
  TestFile f(MakeLtx(1, 1, 0, 0x8000000000000001ULL, 16000));  // 64 MB
  ClientConfig cfg = RawConfig(s);
  cfg.request_timeout_ms = 1000;
  auto c = Client::Create(cfg);
  ASSERT_TRUE(c.ok());
  const auto t0 = std::chrono::steady_clock::now();
  auto r = (*c)->UploadTxFile("db", f.path(), "");
  const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("the upload made no progress for 1 s"), std::string::npos)
      << r.status().message();
  EXPECT_LT(secs, 5.0);
  EXPECT_EQ((*c)->stats().retries.load(), 0u);
}

TEST_F(ClientApiTest, CurlTransportBodyFileRequests) {
  std::string got;
  server_.svr().Put("/put", [&](const httplib::Request& req, httplib::Response& res) {
    got = req.body;
    res.set_content("ok", "text/plain");
  });
  auto t = MakeCurlTransport(server_.url(), 2000, 5000);
  const std::string contents = Page(7, 70000);
  TestFile f(contents);
  HttpRequest req;
  req.method = "PUT";
  req.path = "/put";
  // Not curl's default form type, which cpp-httplib would parse (and refuse past 8 KiB).
  req.headers.emplace_back("Content-Type", "application/octet-stream");
  req.body_path = f.path();
  auto r = t->Do(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(got == contents);
  TestFile empty("");
  req.body_path = empty.path();
  r = t->Do(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(got, "");
  EXPECT_EQ(server_.last().Header("Content-Length"), "0");

  const size_t before = server_.count();
  req.body_path = ::testing::TempDir() + "client_api_test.missing-body";
  r = t->Do(req);
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find(req.body_path), std::string::npos) << r.status().message();
  req.body_path = f.path();
  req.body = "x";  // both a body and a file
  EXPECT_EQ(t->Do(req).status().code(), Code::kInvalidArgument);
  req.body.clear();
  req.method = "GET";  // a file body needs POST or PUT
  EXPECT_EQ(t->Do(req).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(server_.count(), before);
}

// ---- settling a commit whose answer was lost (commit_upload.h) ----

// The first upload is applied but its answer is lost (503); a replica behind still reports
// the old position, so the commit is sent again and refused for its position. Only the
// service's history can say the commit is there: it must be settled as applied, never as a
// failure the app would retry (a transfer applied twice).
TEST_F(ClientApiTest, ResendRefusedForItsPositionIsSettledByTheHistory) {
  server_.ServeInfo({"history", "sync-wait"});
  const Pos pin = kPos3, want{4, 0x80000000000000aaULL};
  std::atomic<int> uploads{0};
  server_.svr().Post("/db/tx", [&](const httplib::Request&, httplib::Response& res) {
    if (uploads++ == 0) return JsonError(res, 503, "EUNAVAILABLE", "answer lost");
    JsonError(res, 409, "EPOSMISMATCH", "position mismatch", ",\"pos\":" + PosJson(want));
  });
  server_.svr().Get("/db/sync", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(json{{"pos", json::parse(PosJson(pin))}, {"pgnos", json::array()}, {"all", false}}.dump(),
                    "application/json");
  });
  server_.svr().Get("/db/history", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(json{{"history",
                          {{{"pos", json::parse(PosJson(pin))}, {"timestamp", "2026-12-06T08:00:00Z"}},
                           {{"pos", json::parse(PosJson(want))}, {"timestamp", "2026-12-06T08:00:01Z"}}}}}
                        .dump(),
                    "application/json");
  });
  auto c = NewClient();
  const std::string body = MakeLtx(4, 4, 0x8000000000000003ULL, 0x80000000000000aaULL);
  UploadRequest req;
  req.db = "db";
  req.size = body.size();
  req.body = [&](uint64_t off, uint8_t* buf, size_t n) -> Result<size_t> {
    const size_t k = std::min<size_t>(n, body.size() - std::min<size_t>(off, body.size()));
    std::memcpy(buf, body.data() + off, k);
    return k;
  };
  req.lease_id = "lease-1";
  req.pin = pin;
  req.want = want;
  req.settle_for = std::chrono::milliseconds(5000);
  UploadResult r = UploadAndSettle(*c, req);
  EXPECT_EQ(r.outcome, UploadOutcome::kApplied) << r.status.ToString();
  EXPECT_EQ(r.pos, want);
  EXPECT_EQ(uploads.load(), 2);

  // Under a lease, even a first answer refusing the position may be about our own commit
  // (an instance that retried its store write): the history settles it, no resend.
  uploads = 1;  // every upload now answers EPOSMISMATCH
  UploadResult again = UploadAndSettle(*c, req);
  EXPECT_EQ(again.outcome, UploadOutcome::kApplied) << again.status.ToString();
  EXPECT_EQ(again.pos, want);
  EXPECT_EQ(uploads.load(), 2);
  // Without a lease (optimistic) a refusal is a conflict: the app retries.
  req.lease_id.clear();
  EXPECT_EQ(UploadAndSettle(*c, req).outcome, UploadOutcome::kRejected);
}
}  // namespace
}  // namespace litevfs
