// Test helpers for the distributed store's tests: a mockcloud instance of a DistCluster and
// the requests the tests send it.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "mockcloud_dist_fixture.h"
#include "mockcloud_test_util.h"

namespace mctest {

struct Instance {
  std::unique_ptr<mockcloud::Server> server;
  explicit Instance(const mockcloud::ServerOptions& o) {
    auto s = mockcloud::Server::Start(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (s.ok()) server = std::move(s).value();
  }
  std::unique_ptr<httplib::Client> Client() const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", server->port());
    c->set_read_timeout(20, 0);
    c->set_default_headers({{"Authorization", "secret"}});
    return c;
  }
};

inline httplib::Result Post(const Instance& in, const std::string& db, const std::string& body,
                     const std::string& lease = "") {
  httplib::Headers h;
  if (!lease.empty()) h.emplace("Lfsc-Lease-Id", lease);
  return in.Client()->Post("/db/tx?db=" + db, h, body, "application/octet-stream");
}

inline std::string TakeLease(const Instance& in, const std::string& db, int ms) {
  auto r = in.Client()->Post("/lease?db=" + db + "&duration=" + std::to_string(ms), "", "text/plain");
  if (!r || r->status != 200) return "";
  return json::parse(r->body)["id"].get<std::string>();
}

inline std::string PosOf(const Instance& in, const std::string& db) {
  auto r = in.Client()->Get("/pos");
  if (!r || r->status != 200) return "";
  json j = json::parse(r->body);
  if (!j.contains(db)) return "";
  return j[db]["txid"].get<std::string>() + "/" + j[db]["postApplyChecksum"].get<std::string>();
}

// Pages `pgnos` ("1,2") of `db` at `pos` (PosUrl form) through `in`, by page number; empty
// (and a test failure naming the answer) when the request does not succeed.
inline std::map<uint32_t, std::string> PagesAt(const Instance& in, const std::string& db, const std::string& pos,
                                               const std::string& pgnos) {
  auto r = in.Client()->Get("/db/page?db=" + db + "&pgno=" + pgnos + "&pos=" + pos,
                            {{"Accept", "application/vnd.litevfs.pages"}});
  EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no reply");
  return r && r->status == 200 ? ParseFrames(r->body, 4096) : std::map<uint32_t, std::string>{};
}

// The value of the unlabelled metric `name` (or name{labels}) in GET /metrics; -1 = absent.
inline double Metric(const Instance& in, const std::string& name) {
  auto r = in.Client()->Get("/metrics");
  if (!r || r->status != 200) return -1;
  const std::string body = "\n" + r->body;
  const size_t at = body.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(body.substr(at + name.size() + 2));
}

}  // namespace mctest
