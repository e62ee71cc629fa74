// In-process tests of litevfs-mockcloud's HTTP contract (mockcloud/PROTOCOL.md): every
// route, every error code, auth, names, leases, positions, limits, faults.
#include <xxhash.h>
#include <zstd.h>

#include <atomic>
#include <set>
#include <thread>

#include "mockcloud_test_util.h"

using namespace mctest;

namespace {

std::string Snapshot(Model* m, uint32_t pages) {
  std::map<uint32_t, std::string> w;
  for (uint32_t p = 1; p <= pages; p++) w[p] = FilledPage(m->page_size, p);
  return m->Tx(w, pages);
}

httplib::Result Upload(httplib::Client& c, const std::string& db, const std::string& body,
                       const std::string& lease = "", const std::string& cluster = "") {
  httplib::Headers hd;
  if (!lease.empty()) hd.emplace("Lfsc-Lease-Id", lease);
  std::string path = "/db/tx?db=" + db + (cluster.empty() ? "" : "&cluster=" + cluster);
  return c.Post(path.c_str(), hd, body, "application/octet-stream");
}

std::string PgnoList(uint32_t from, uint32_t to) {
  std::string s;
  for (uint32_t p = from; p <= to; p++) s += (s.empty() ? "" : ",") + std::to_string(p);
  return s;
}

// Checks every page 1..upto as of m's position through both encodings.
void ExpectPagesAt(httplib::Client& c, const std::string& db, const Model& m, uint32_t upto) {
  const std::string q =
      "/db/page?db=" + db + "&pos=" + ltx::FormatPos(m.pos()) + "&pgno=" + PgnoList(1, upto);
  auto r = c.Get(q.c_str());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json j = J(r);
  ASSERT_TRUE(j["pages"].is_array());
  uint32_t expect_n = std::min(upto, m.commit);
  ASSERT_EQ(j["pages"].size(), expect_n) << "txid " << m.txid;
  uint32_t prev = 0;
  for (const auto& pg : j["pages"]) {
    uint32_t p = pg["pgno"];
    EXPECT_GT(p, prev);
    prev = p;
    EXPECT_EQ(Base64Decode(pg["data"].get<std::string>()), m.Page(p))
        << "page " << p << " at txid " << m.txid;
  }
  // Binary, plain and zstd, frames with and without sums.
  for (int variant = 0; variant < 4; variant++) {
    const bool z = variant & 1, with_sums = variant & 2;
    httplib::Headers hd{{"Accept", with_sums ? "application/vnd.litevfs.pages+sums, application/vnd.litevfs.pages"
                                             : "application/vnd.litevfs.pages"}};
    if (z) hd.emplace("Accept-Encoding", "zstd");
    auto b = c.Get(q.c_str(), hd);
    ASSERT_TRUE(b);
    ASSERT_EQ(b->status, 200);
    EXPECT_EQ(b->get_header_value("Content-Type"),
              with_sums ? "application/vnd.litevfs.pages+sums" : "application/vnd.litevfs.pages");
    EXPECT_EQ(b->get_header_value("Litevfs-Page-Size"), std::to_string(m.page_size));
    EXPECT_EQ(b->get_header_value("Litevfs-Pos"), ltx::FormatPos(m.pos()));
    EXPECT_EQ(b->get_header_value("Litevfs-Commit"), std::to_string(m.commit));
    std::string body = b->body;
    // Random test pages do not compress: the server may send them raw even when asked.
    if (z && b->has_header("Content-Encoding")) {
      ASSERT_EQ(b->get_header_value("Content-Encoding"), "zstd");
      unsigned long long n = ZSTD_getFrameContentSize(body.data(), body.size());
      ASSERT_NE(n, ZSTD_CONTENTSIZE_ERROR);
      std::string out(n, '\0');
      size_t got = ZSTD_decompress(out.data(), out.size(), body.data(), body.size());
      ASSERT_FALSE(ZSTD_isError(got));
      body = out;
    } else {
      EXPECT_FALSE(b->has_header("Content-Encoding"));
    }
    std::map<uint32_t, uint64_t> sums;
    auto frames = ParseFrames(body, m.page_size, with_sums ? &sums : nullptr);
    ASSERT_EQ(frames.size(), expect_n);
    for (const auto& [p, data] : frames) {
      EXPECT_EQ(data, m.Page(p)) << "binary page " << p;
      // The sum the client's cache keeps: XXH3-64 of the page seeded with its pgno
      // (litevfs/page_frames.h), for base.db pages, segment frames and never-written zeros.
      if (with_sums) {
        EXPECT_EQ(sums[p], XXH3_64bits_withSeed(data.data(), data.size(), p)) << "sum of page " << p;
      }
    }
  }
}

}  // namespace

TEST(MockcloudServer, HealthzIsOpenAndInfoAnnouncesFeatures) {
  Harness h;
  h.Start();
  auto anon = h.Client("");
  auto r = anon->Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");
  EXPECT_EQ(r->get_header_value("Lfsc-Instance-Id"), h.server->instance_id());
  auto c = h.Client();
  auto i = c->Get("/info");
  ASSERT_TRUE(i);
  ASSERT_EQ(i->status, 200);
  json j = J(i);
  EXPECT_EQ(j["clusterID"].get<std::string>().substr(0, 4), "LFSC");
  std::set<std::string> f(j["features"].begin(), j["features"].end());
  for (const char* want : {"pages-binary", "sync-wait", "interior", "history", "zstd"}) {
    EXPECT_TRUE(f.count(want)) << want;
  }
  EXPECT_EQ(h.server->instance_id().size(), 16u);
  // The same list in every response (even errors and /healthz), so a client needs no /info.
  for (const auto& res : {anon->Get("/healthz"), c->Get("/info"), c->Get("/db/sync?db=missing")}) {
    ASSERT_TRUE(res);
    std::set<std::string> hf;
    std::string v = res->get_header_value("Litevfs-Features");
    for (size_t b = 0, e; b <= v.size(); b = e + 1) {
      e = std::min(v.find(',', b), v.size());
      hf.insert(v.substr(b, e - b));
    }
    EXPECT_EQ(hf, f) << v;
  }
}

// zstd is used when it pays: compressible batches come compressed, large incompressible
// ones raw (compressing them would cost the server CPU for nothing).
TEST(MockcloudServer, ZstdOnlyWhenItPays) {
  Harness h;
  h.Start();
  auto c = h.Client();
  Model m;
  std::map<uint32_t, std::string> w;
  const uint32_t n = 96;  // 384 KiB: above the size where the server probes first
  for (uint32_t p = 1; p <= n; p++) {
    w[p] = p % 2 ? FilledPage(m.page_size, p) : std::string(m.page_size, char(p));
  }
  ASSERT_EQ(Upload(*c, "mixed", m.Tx(w, n))->status, 200);
  std::string odd, even;
  for (uint32_t p = 1; p <= n; p += 2) odd += (odd.empty() ? "" : ",") + std::to_string(p);
  for (uint32_t p = 2; p <= n; p += 2) even += (even.empty() ? "" : ",") + std::to_string(p);
  httplib::Headers hd{{"Accept", "application/vnd.litevfs.pages"}, {"Accept-Encoding", "zstd"}};
  const std::string base = "/db/page?db=mixed&pos=" + ltx::FormatPos(m.pos()) + "&pgno=";
  auto rnd = c->Get((base + odd).c_str(), hd);
  ASSERT_TRUE(rnd);
  ASSERT_EQ(rnd->status, 200);
  EXPECT_FALSE(rnd->has_header("Content-Encoding"));
  EXPECT_EQ(rnd->body.size(), (n / 2) * (4 + m.page_size));
  auto flat = c->Get((base + even).c_str(), hd);
  ASSERT_TRUE(flat);
  ASSERT_EQ(flat->status, 200);
  EXPECT_EQ(flat->get_header_value("Content-Encoding"), "zstd");
  EXPECT_LT(flat->body.size(), (n / 2) * (4 + m.page_size) / 10);
}

TEST(MockcloudServer, EveryRouteButHealthzNeedsTheToken) {
  Harness h;
  h.Start();
  struct R {
    const char* method;
    const char* path;
  };
  const R routes[] = {{"GET", "/info"},
                      {"GET", "/pos"},
                      {"POST", "/db/tx?db=a"},
                      {"GET", "/db/snapshot?db=a"},
                      {"GET", "/db/page?db=a&pos=0000000000000001/8000000000000000&pgno=1"},
                      {"GET", "/db/sync?db=a"},
                      {"POST", "/sync"},
                      {"GET", "/db/interior?db=a"},
                      {"GET", "/db/history?db=a"},
                      {"POST", "/lease?db=a&duration=5000"},
                      {"DELETE", "/lease?db=a&id=x"},
                      {"GET", "/metrics"},
                      {"GET", "/no/such/route"}};
  for (const std::string tok : {"", "wrong", "secretX", "secre"}) {
    auto c = h.Client(tok);
    for (const auto& rt : routes) {
      httplib::Result r = std::string(rt.method) == "GET" ? c->Get(rt.path)
                          : std::string(rt.method) == "POST"
                              ? c->Post(rt.path, "{}", "application/json")
                              : c->Delete(rt.path);
      ASSERT_TRUE(r) << rt.path;
      EXPECT_EQ(r->status, 401) << rt.method << " " << rt.path << " token=" << tok;
      EXPECT_EQ(ErrCode(r), "EUNAUTHORIZED") << rt.path;
      EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    }
  }
}

TEST(MockcloudServer, ClusterScopedTokensSeeOnlyTheirCluster) {
  Harness h;
  h.opts.tokens = {{"tok-a", "alpha"}, {"tok-all", "*"}};
  h.Start();
  auto a = h.Client("tok-a");
  auto all = h.Client("tok-all");
  Model m;
  auto up = Upload(*a, "db1", Snapshot(&m, 3), "", "alpha");
  ASSERT_TRUE(up);
  ASSERT_EQ(up->status, 200) << up->body;
  // tok-a on another cluster (existing or not) and on the default cluster: 401.
  for (const char* path :
       {"/pos?cluster=beta", "/pos", "/db/sync?db=db1&cluster=beta", "/info?cluster=zzz"}) {
    auto r = a->Get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << path;
  }
  auto r = a->Get("/pos?cluster=alpha");
  ASSERT_EQ(r->status, 200);
  EXPECT_TRUE(J(r).contains("db1"));
  // The wildcard token sees alpha, and beta is simply empty.
  r = all->Get("/pos?cluster=alpha");
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(PosOf(J(r)["db1"]), m.pos());
  r = all->Get("/pos?cluster=beta");
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(J(r), json::object());
  r = all->Get("/db/sync?db=db1&cluster=beta");
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(ErrCode(r), "ENOTFOUND");
}

TEST(MockcloudServer, HostileNamesAreRejectedAndCreateNothing) {
  Harness h;
  h.Start();
  auto c = h.Client();
  const std::vector<std::string> names = {"..",
                                          ".",
                                          "../x",
                                          "..%2Fx",
                                          "a/b",
                                          "%2Fetc%2Fpasswd",
                                          "a%00b",
                                          "%00",
                                          ".hidden",
                                          "a..b",
                                          "x%0Ay",
                                          "tab%09",
                                          "sp%20ace",
                                          "%C3%A9t%C3%A9",
                                          "%FF",
                                          "a%5Cb",
                                          "*",
                                          "a:b",
                                          "a%3Bb",
                                          "a?b=1",
                                          std::string(256, 'n'),
                                          "~root",
                                          "%7E",
                                          "a%7Cb",
                                          "%2E%2E",
                                          "%2E%2E%2Fescape",
                                          "con%01"};
  Model m;
  const std::string snap = Snapshot(&m, 2);
  int checked = 0;
  for (const auto& n : names) {
    std::vector<std::string> paths = {
        "/db/tx?db=" + n,
        "/db/page?db=" + n + "&pos=0000000000000001/8000000000000000&pgno=1",
        "/db/sync?db=" + n,
        "/db/snapshot?db=" + n,
        "/db/history?db=" + n,
        "/db/interior?db=" + n,
        "/lease?db=" + n + "&duration=5000",
        "/pos?cluster=" + n,
        "/db/tx?db=ok&cluster=" + n};
    for (const auto& p : paths) {
      bool post = p.rfind("/db/tx", 0) == 0 || p.rfind("/lease", 0) == 0;
      auto r = post ? c->Post(p.c_str(), snap, "application/octet-stream") : c->Get(p.c_str());
      ASSERT_TRUE(r) << p;
      // "a?b=1" parses as db=a plus a stray parameter: a valid name, so it is not a 400 case.
      if (n == "a?b=1") continue;
      EXPECT_EQ(r->status, 400) << p << " -> " << r->body;
      EXPECT_EQ(ErrCode(r), "EBADREQUEST") << p;
      checked++;
    }
    // POST /sync with the hostile name as a key.
    json body = {{"positions", {{httplib::detail::decode_url(n, false), nullptr}}}};
    auto r = c->Post("/sync", body.dump(-1, ' ', false, json::error_handler_t::replace),
                     "application/json");
    ASSERT_TRUE(r);
    if (n != "a?b=1") {
      EXPECT_EQ(r->status, 400) << n;
    }
  }
  EXPECT_GE(checked, 20 * 9);
  // Nothing outside the data dir, and no database directory at all inside it.
  std::set<std::string> top;
  for (const auto& e : fs::directory_iterator(h.dir.path())) top.insert(e.path().filename());
  EXPECT_EQ(top, std::set<std::string>{"data"});
  std::set<std::string> inside;
  for (const auto& e : fs::recursive_directory_iterator(h.data))
    inside.insert(e.path().lexically_relative(h.data));
  EXPECT_EQ(inside, (std::set<std::string>{"tmp", "clusters"}));
}

TEST(MockcloudServer, SnapshotOfSqliteDbRoundTrips) {
  Harness h;
  h.Start();
  auto c = h.Client();
  const std::string src = h.dir.path() + "/src.db";
  MakeSqliteDb(src);
  std::string snap;
  ltx::StringSink sink(&snap);
  ltx::EncodeDbOptions eo;
  eo.txid = 1;
  auto info = ltx::EncodeDatabaseFile(src, &sink, eo);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  const std::string image = ReadFile(src);
  Model m = ModelFromImage(image, 4096, 1);
  ASSERT_EQ(info->trailer.post_apply_checksum, m.Checksum());
  ASSERT_GT(m.commit, 20u);

  auto r = Upload(*c, "main", snap);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(PosOf(J(r)["pos"]), m.pos());
  EXPECT_EQ(r->get_header_value("Litefs-Hwm"), "0000000000000001");

  auto s = c->Get("/db/snapshot?db=main");
  ASSERT_TRUE(s);
  ASSERT_EQ(s->status, 200);
  EXPECT_EQ(s->get_header_value("Content-Type"), "application/octet-stream");
  const std::string& body = s->body;
  auto v = ltx::VerifySource(
      ltx::MemorySource({reinterpret_cast<const uint8_t*>(body.data()), body.size()}));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->header.min_txid, 1u);
  EXPECT_EQ(v->header.max_txid, 1u);
  EXPECT_EQ(v->trailer.post_apply_checksum, m.Checksum());
  const std::string ltx_path = h.dir.path() + "/snap.ltx", out_db = h.dir.path() + "/out.db";
  {
    FILE* f = fopen(ltx_path.c_str(), "wb");
    fwrite(body.data(), 1, body.size(), f);
    fclose(f);
  }
  ASSERT_TRUE(ltx::ApplyFile(out_db, ltx_path).ok());
  EXPECT_EQ(ReadFile(out_db), image);

  // Interior: page 1 plus every interior b-tree page, binary.
  auto in = c->Get("/db/interior?db=main", {{"Accept", "application/vnd.litevfs.pages"}});
  ASSERT_TRUE(in);
  ASSERT_EQ(in->status, 200);
  auto frames = ParseFrames(in->body, 4096);
  std::set<uint32_t> want{1};
  for (uint32_t p = 1; p <= m.commit; p++) {
    uint8_t t = uint8_t(m.Page(p)[p == 1 ? 100 : 0]);
    if (t == 2 || t == 5) want.insert(p);
  }
  ASSERT_GT(want.size(), 1u) << "the fixture should have interior pages";
  std::set<uint32_t> got;
  for (const auto& [p, d] : frames) {
    got.insert(p);
    EXPECT_EQ(d, m.Page(p));
  }
  EXPECT_EQ(got, want);
  // The same with sums, for a client with page-sums.
  in = c->Get("/db/interior?db=main", {{"Accept", "application/vnd.litevfs.pages+sums"}});
  ASSERT_TRUE(in);
  ASSERT_EQ(in->status, 200);
  EXPECT_EQ(in->get_header_value("Content-Type"), "application/vnd.litevfs.pages+sums");
  std::map<uint32_t, uint64_t> sums;
  frames = ParseFrames(in->body, 4096, &sums);
  EXPECT_EQ(frames.size(), want.size());
  for (const auto& [p, d] : frames) {
    EXPECT_EQ(d, m.Page(p));
    EXPECT_EQ(sums[p], XXH3_64bits_withSeed(d.data(), d.size(), p)) << "sum of page " << p;
  }
}

TEST(MockcloudServer, TransactionsServeEveryHistoricalPosition) {
  Harness h;
  h.Start();
  auto c = h.Client();
  Model m;
  std::vector<Model> states;
  auto up = [&](const std::string& body) {
    auto r = Upload(*c, "db", body);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(PosOf(J(r)["pos"]), m.pos());
    EXPECT_EQ(r->get_header_value("Litefs-Hwm"), ltx::FormatTxid(m.txid));
    states.push_back(m);
  };
  up(Snapshot(&m, 10));
  up(m.Tx({{1, FilledPage(4096, 101)},
           {3, FilledPage(4096, 103)},
           {11, FilledPage(4096, 111)},
           {12, FilledPage(4096, 112)}},
          12, /*compress=*/true));
  up(m.Tx({{1, FilledPage(4096, 201)}, {2, FilledPage(4096, 202)}}, 12));
  up(m.Tx({{1, FilledPage(4096, 301)}}, 6));                              // shrink: 12 -> 6
  up(m.Tx({{1, FilledPage(4096, 401)}, {9, FilledPage(4096, 409)}}, 9));  // regrow, 7 and 8 zero
  up(m.Tx({{1, FilledPage(4096, 501)}, {4, FilledPage(4096, 504)}}, 9, true));
  for (const auto& s : states) ExpectPagesAt(*c, "db", s, 13);

  // Sync: pgnos since each position, all=true for zero/unknown/ahead.
  auto sync = [&](const std::string& q) {
    auto r = c->Get(("/db/sync?db=db" + q).c_str());
    EXPECT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    return J(r);
  };
  json j = sync("&pos=" + ltx::FormatPos(states[3].pos()));
  EXPECT_FALSE(j["all"].get<bool>());
  EXPECT_EQ(j["pgnos"], json::array({1, 4, 9}));
  EXPECT_EQ(PosOf(j["pos"]), m.pos());
  EXPECT_EQ(j["commit"], 9);
  EXPECT_EQ(j["pageSize"], 4096);
  j = sync("&pos=" + ltx::FormatPos(states[0].pos()));
  EXPECT_EQ(j["pgnos"], json::array({1, 2, 3, 4, 9, 11, 12}));
  j = sync("&pos=" + ltx::FormatPos(m.pos()));
  EXPECT_FALSE(j["all"].get<bool>());
  EXPECT_EQ(j["pgnos"], json::array());
  for (const std::string& q : {std::string(""), "&pos=" + PosUrl(0, 0), "&pos=" + PosUrl(99, 5),
                               "&pos=" + PosUrl(3, 0x8000000000000123ull)}) {
    j = sync(q);
    EXPECT_TRUE(j["all"].get<bool>()) << q;
    EXPECT_TRUE(j["pgnos"].is_null()) << q;
    EXPECT_EQ(PosOf(j["pos"]), m.pos());
  }

  // POST /sync: every asked database present, missing ones zero.
  json req = {
      {"positions",
       {{"db",
         {{"txid", ltx::FormatTxid(states[4].txid)},
          {"postApplyChecksum", ltx::FormatChecksum(states[4].Checksum())}}},
        {"nosuch", {{"txid", "0000000000000000"}, {"postApplyChecksum", "0000000000000000"}}}}}};
  auto r = c->Post("/sync", req.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  j = J(r)["changes"];
  EXPECT_EQ(j["db"]["pgnos"], json::array({1, 4}));
  EXPECT_FALSE(j["db"]["all"].get<bool>());
  EXPECT_EQ(PosOf(j["nosuch"]["pos"]), ltx::Pos{});
  EXPECT_TRUE(j["nosuch"]["all"].get<bool>());
  EXPECT_TRUE(j["nosuch"]["pgnos"].is_null());
  EXPECT_EQ(j["nosuch"]["commit"], 0);

  // History: every position, oldest first.
  r = c->Get("/db/history?db=db");
  ASSERT_EQ(r->status, 200);
  j = J(r)["history"];
  ASSERT_EQ(j.size(), states.size());
  for (size_t i = 0; i < states.size(); i++) {
    EXPECT_EQ(PosOf(j[i]["pos"]), states[i].pos());
    EXPECT_EQ(j[i]["commit"], states[i].commit);
    EXPECT_EQ(j[i]["timestamp"].get<std::string>().back(), 'Z');
  }
  EXPECT_EQ(j[1]["pageCount"], 4);

  // Snapshot of the final state applies to the model's image.
  auto s = c->Get("/db/snapshot?db=db");
  ASSERT_EQ(s->status, 200);
  auto v = ltx::VerifySource(
      ltx::MemorySource({reinterpret_cast<const uint8_t*>(s->body.data()), s->body.size()}));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->header.max_txid, m.txid);
  EXPECT_EQ(v->header.commit, 9u);
  EXPECT_EQ(v->trailer.post_apply_checksum, m.Checksum());

  // /pos lists it.
  r = c->Get("/pos");
  EXPECT_EQ(PosOf(J(r)["db"]), m.pos());

  // Metrics counted pages and requests per route.
  r = c->Get("/metrics");
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("mockcloud_requests_total{route=\"/db/page\",code=\"200\"}"),
            std::string::npos);
  EXPECT_NE(r->body.find("mockcloud_pages_total{route=\"/db/page\"}"), std::string::npos);
  EXPECT_NE(r->body.find("mockcloud_request_duration_seconds_count{route=\"/db/tx\"} 6"),
            std::string::npos)
      << r->body;
}

TEST(MockcloudServer, PositionMismatches) {
  Harness h;
  h.Start();
  auto c = h.Client();
  Model m;
  // Non-snapshot to a database that does not exist.
  Model early = m;
  early.txid = 1;
  early.commit = 1;
  early.pages[1] = FilledPage(4096, 1);
  auto r = Upload(*c, "db", early.Tx({{1, FilledPage(4096, 2)}}, 1));
  ASSERT_EQ(r->status, 409) << r->body;
  EXPECT_EQ(ErrCode(r), "EPOSMISMATCH");
  EXPECT_EQ(PosOf(J(r)["pos"]), ltx::Pos{});

  ASSERT_EQ(Upload(*c, "db", Snapshot(&m, 4))->status, 200);
  Model before = m;
  ASSERT_EQ(Upload(*c, "db", m.Tx({{2, FilledPage(4096, 7)}}, 4))->status, 200);

  // Stale (re-sends txid 2 on top of 1), ahead (txid 4), wrong pre-apply checksum, snapshot again.
  Model stale = before;
  Model ahead = m;
  ahead.Tx({{3, FilledPage(4096, 8)}}, 4);  // skip one
  Model wrong = m;
  wrong.pages[4] = FilledPage(4096, 99);  // model diverged: its pre checksum is wrong
  Model snap2;
  for (const std::string& body :
       {stale.Tx({{3, FilledPage(4096, 9)}}, 4), ahead.Tx({{3, FilledPage(4096, 10)}}, 4),
        wrong.Tx({{3, FilledPage(4096, 11)}}, 4), Snapshot(&snap2, 2)}) {
    r = Upload(*c, "db", body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 409) << r->body;
    EXPECT_EQ(ErrCode(r), "EPOSMISMATCH");
    EXPECT_EQ(PosOf(J(r)["pos"]), m.pos());
  }
  // Page reads at positions that are not retained: ahead, wrong checksum, zero.
  for (const std::string& p : {PosUrl(3, m.Checksum()), PosUrl(2, m.Checksum() ^ 1), PosUrl(0, 0),
                               PosUrl(1, m.Checksum())}) {
    r = c->Get(("/db/page?db=db&pgno=1&pos=" + p).c_str());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 409) << p;
    EXPECT_EQ(ErrCode(r), "EPOSMISMATCH");
    EXPECT_EQ(PosOf(J(r)["pos"]), m.pos());
  }
  r = c->Get(("/db/interior?db=db&pos=" + PosUrl(7, 7)).c_str());
  EXPECT_EQ(r->status, 409);
  // The state is untouched by the refused uploads.
  ExpectPagesAt(*c, "db", m, 5);
}

TEST(MockcloudServer, BadRequestsGet400WithAMessage) {
  Harness h;
  h.Start();
  auto c = h.Client();
  Model m;
  ASSERT_EQ(Upload(*c, "db", Snapshot(&m, 3))->status, 200);
  const std::string good = ltx::FormatPos(m.pos());
  const std::vector<std::string> bad = {
      "/db/page?pos=" + good + "&pgno=1",  // no db
      "/db/page?db=db&pgno=1",             // no pos
      "/db/page?db=db&pos=" + good,        // no pgno
      "/db/page?db=db&pos=1/2&pgno=1",     // short pos
      "/db/page?db=db&pos=000000000000000g/0000000000000000&pgno=1",
      "/db/page?db=db&pos=0000000000000001-8000000000000000&pgno=1",
      "/db/page?db=db&pos=00000000000000001/800000000000000&pgno=1",
      "/db/page?db=db&pos=" + good + "&pgno=",
      "/db/page?db=db&pos=" + good + "&pgno=0",
      "/db/page?db=db&pos=" + good + "&pgno=-1",
      "/db/page?db=db&pos=" + good + "&pgno=1,,2",
      "/db/page?db=db&pos=" + good + "&pgno=1,x",
      "/db/page?db=db&pos=" + good + "&pgno=2147483648",
      "/db/page?db=db&pos=" + good + "&pgno=99999999999999999999999",
      "/db/sync?db=db&pos=xyz",
      "/db/sync?db=db&wait=soon",
      "/db/sync?db=db&wait=-5",
      "/db/interior?db=db&pos=1",
      "/db/sync",
  };
  for (const auto& q : bad) {
    auto r = c->Get(q.c_str());
    ASSERT_TRUE(r) << q;
    EXPECT_EQ(r->status, 400) << q << " -> " << r->body;
    EXPECT_EQ(ErrCode(r), "EBADREQUEST") << q;
    EXPECT_FALSE(J(r)["error"].get<std::string>().empty());
  }
  // A long list is fine (the cap of 4096 is checked in mockcloud_util_test: a URL that long
  // is over cpp-httplib's 8 KiB request-target limit and gets 414 first).
  auto r = c->Get(("/db/page?db=db&pos=" + good + "&pgno=" + PgnoList(1, 1000)).c_str());
  EXPECT_EQ(r->status, 200);
  auto too_long = c->Get(("/db/page?db=db&pos=" + good + "&pgno=" + PgnoList(1, 4000)).c_str());
  EXPECT_EQ(too_long->status, 414);
  EXPECT_EQ(ErrCode(too_long), "EBADREQUEST");
  EXPECT_EQ(J(r)["pages"].size(), 3u);

  // Bad LTX bodies: garbage, empty, one flipped byte, truncated, a lying post-apply checksum.
  Model next = m;
  std::string tx = next.Tx({{2, FilledPage(4096, 5)}}, 3);
  std::string flipped = tx;
  flipped[200] ^= 1;
  Model liar = m;
  std::string lie = liar.Tx({{2, FilledPage(4096, 6)}}, 3);
  // Re-encode with a wrong post-apply checksum (the encoder trusts the caller for non-snapshots).
  {
    ltx::Header hd;
    hd.page_size = 4096;
    hd.commit = 3;
    hd.min_txid = hd.max_txid = 2;
    hd.pre_apply_checksum = m.Checksum();
    lie.clear();
    ltx::StringSink sk(&lie);
    auto enc = ltx::Encoder::Open(&sk, hd);
    ASSERT_TRUE(enc.ok());
    std::string pg = FilledPage(4096, 6);
    ASSERT_TRUE((*enc)->AddPage(2, {reinterpret_cast<const uint8_t*>(pg.data()), pg.size()}).ok());
    ASSERT_TRUE((*enc)->Finish(0x8000000000000042ull).ok());
  }
  for (const std::string& body :
       {std::string("hello"), std::string(), flipped, tx.substr(0, tx.size() - 9), lie}) {
    r = Upload(*c, "db", body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body;
    EXPECT_EQ(ErrCode(r), "EBADREQUEST");
  }
  // POST /sync bodies.
  for (const std::string& body :
       {std::string("nope"), std::string("[]"), std::string("{\"positions\":[]}"),
        std::string("{\"positions\":{\"db\":{\"txid\":\"1\",\"postApplyChecksum\":\"2\"}}}"),
        std::string("{\"positions\":{\"db\":5}}")}) {
    r = c->Post("/sync", body, "application/json");
    EXPECT_EQ(r->status, 400) << body;
  }
  // Lease parameters.
  for (const char* q : {"/lease?db=db", "/lease?db=db&duration=999", "/lease?db=db&duration=600001",
                        "/lease?db=db&duration=abc", "/lease?duration=5000"}) {
    r = c->Post(q, "", "text/plain");
    EXPECT_EQ(r->status, 400) << q;
  }
  EXPECT_EQ(c->Delete("/lease?db=db")->status, 400);
  // The good transaction still applies after all that.
  EXPECT_EQ(Upload(*c, "db", tx)->status, 200);
  // A header that grows the database by more unwritten (zero) pages than allowed.
  Model small;
  small.page_size = 512;
  ASSERT_EQ(Upload(*c, "small", Snapshot(&small, 2))->status, 200);
  Model grown = small;
  r = Upload(*c, "small", grown.Tx({{1, FilledPage(512, 9)}}, 2 + 70000));
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(J(r)["error"].get<std::string>().find("does not write"), std::string::npos) << r->body;
  grown = small;
  EXPECT_EQ(Upload(*c, "small", grown.Tx({{1, FilledPage(512, 9)}}, 2 + 1000))->status, 200);
  ExpectPagesAt(*c, "small", grown, 1003);
  // Not found.
  r = c->Get("/db/snapshot?db=nothere");
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(ErrCode(r), "ENOTFOUND");
  EXPECT_EQ(c->Get("/db/history?db=nothere")->status, 404);
  EXPECT_EQ(c->Get(("/db/page?db=nothere&pgno=1&pos=" + good).c_str())->status, 404);
}

TEST(MockcloudServer, LeasesGuardWrites) {
  Harness h;
  h.Start();
  auto c = h.Client();
  auto acquire = [&](const std::string& db, const std::string& id = "", int ms = 5000) {
    std::string q =
        "/lease?db=" + db + "&duration=" + std::to_string(ms) + (id.empty() ? "" : "&id=" + id);
    return c->Post(q.c_str(), "", "text/plain");
  };
  // A lease on a database that does not exist yet; the owner creates it.
  auto r = acquire("db");
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string id = J(r)["id"];
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(J(r)["expires_at"].get<std::string>().back(), 'Z');
  r = acquire("db");
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(ErrCode(r), "ELEASE");
  EXPECT_EQ(acquire("db", "0123456789abcdef0123456789abcdef")->status, 409);  // wrong id refresh
  r = acquire("db", id, 8000);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(J(r)["id"], id);

  Model m;
  std::string snap = Snapshot(&m, 2);
  r = Upload(*c, "db", snap);  // no id while leased
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(ErrCode(r), "ELEASE");
  r = Upload(*c, "db", snap, "ffffffffffffffffffffffffffffffff");
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(ErrCode(r), "ELEASE");
  r = Upload(*c, "db", snap, id);
  ASSERT_EQ(r->status, 200) << r->body;

  // Release: wrong id 409, right id 204, then writes without an id are allowed again.
  EXPECT_EQ(c->Delete("/lease?db=db&id=nope")->status, 409);
  EXPECT_EQ(c->Delete(("/lease?db=db&id=" + id).c_str())->status, 204);
  EXPECT_EQ(c->Delete(("/lease?db=db&id=" + id).c_str())->status, 409);
  r = Upload(*c, "db", m.Tx({{1, FilledPage(4096, 3)}}, 2), id);  // released id
  EXPECT_EQ(r->status, 409);
  m.txid--;  // that transaction was refused; rebuild it
  m.pages[1] = FilledPage(4096, 1);
  EXPECT_EQ(Upload(*c, "db", m.Tx({{1, FilledPage(4096, 4)}}, 2))->status, 200);

  // Expiry frees the lease.
  r = acquire("db", "", 1000);
  ASSERT_EQ(r->status, 200);
  const std::string short_id = J(r)["id"];
  EXPECT_EQ(acquire("db")->status, 409);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(acquire("db", short_id)->status, 409);  // expired: refresh fails
  r = Upload(*c, "db", m.Tx({{2, FilledPage(4096, 5)}}, 2), short_id);
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(ErrCode(r), "ELEASE");
  r = acquire("db");
  EXPECT_EQ(r->status, 200);
}

TEST(MockcloudServer, LeaseRaceHasExactlyOneWinner) {
  Harness h;
  h.Start();
  for (int round = 0; round < 10; round++) {
    const std::string db = "race" + std::to_string(round);
    std::atomic<int> wins{0}, conflicts{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; t++) {
      ts.emplace_back([&] {
        auto c = h.Client();
        while (!go) std::this_thread::yield();
        auto r = c->Post(("/lease?db=" + db + "&duration=5000").c_str(), "", "text/plain");
        if (r && r->status == 200) wins++;
        if (r && r->status == 409) conflicts++;
      });
    }
    go = true;
    for (auto& t : ts) t.join();
    EXPECT_EQ(wins.load(), 1);
    EXPECT_EQ(conflicts.load(), 3);
  }
}

TEST(MockcloudServer, BodyLimitGives413ForLengthAndChunked) {
  Harness h;
  h.opts.max_body = 64 * 1024;
  h.Start();
  auto c = h.Client();
  std::string big(200 * 1024, 'x');
  auto r = Upload(*c, "db", big);
  ASSERT_TRUE(r) << "error " << int(r.error());
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(ErrCode(r), "ETOOLARGE");
  auto c2 = h.Client();
  r = c2->Post(
      "/db/tx?db=db",
      [&](size_t offset, httplib::DataSink& sink) {
        if (offset >= big.size()) {
          sink.done();
          return true;
        }
        size_t n = std::min<size_t>(16384, big.size() - offset);
        return sink.write(big.data() + offset, n);
      },
      "application/octet-stream");
  ASSERT_TRUE(r) << "error " << int(r.error());
  EXPECT_EQ(r->status, 413);
  // Nothing was created, and the server still works.
  EXPECT_EQ(h.Client()->Get("/pos")->body, "{}");
  Model m;
  EXPECT_EQ(Upload(*h.Client(), "db", Snapshot(&m, 3))->status, 200);
}

TEST(MockcloudServer, ChunkedUploadIsAccepted) {
  Harness h;
  h.Start();
  auto c = h.Client();
  Model m;
  std::string snap = Snapshot(&m, 5);
  auto r = c->Post(
      "/db/tx?db=db",
      [&](size_t offset, httplib::DataSink& sink) {
        if (offset >= snap.size()) {
          sink.done();
          return true;
        }
        return sink.write(snap.data() + offset, std::min<size_t>(1000, snap.size() - offset));
      },
      "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  ExpectPagesAt(*c, "db", m, 6);
}

TEST(MockcloudServer, SyncWaitReturnsWhenThePositionMoves) {
  Harness h;
  h.opts.max_wait_ms = 3000;
  h.Start();
  auto c = h.Client();
  Model m;
  ASSERT_EQ(Upload(*c, "db", Snapshot(&m, 2))->status, 200);
  const std::string q = "/db/sync?db=db&wait=10000&pos=" + ltx::FormatPos(m.pos());
  // Nothing changes: the wait is capped (3 s), and the answer says "nothing new".
  auto t0 = std::chrono::steady_clock::now();
  auto r = c->Get(("/db/sync?db=db&wait=300&pos=" + ltx::FormatPos(m.pos())).c_str());
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  ASSERT_EQ(r->status, 200);
  EXPECT_GE(ms, 280);
  EXPECT_LT(ms, 2500);
  EXPECT_EQ(J(r)["pgnos"], json::array());
  // A writer moves it: the poll answers promptly with the new pages.
  std::string tx = m.Tx({{2, FilledPage(4096, 9)}}, 2);
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto w = h.Client();
    EXPECT_EQ(Upload(*w, "db", tx)->status, 200);
  });
  // Meanwhile ordinary requests are not starved by several long polls.
  std::vector<std::thread> polls;
  for (int i = 0; i < 3; i++) {
    polls.emplace_back([&] { h.Client()->Get(q.c_str()); });
  }
  t0 = std::chrono::steady_clock::now();
  r = c->Get(q.c_str());
  ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
           .count();
  writer.join();
  for (auto& p : polls) p.join();
  ASSERT_EQ(r->status, 200);
  EXPECT_LT(ms, 2000);
  json j = J(r);
  EXPECT_EQ(PosOf(j["pos"]), m.pos());
  EXPECT_EQ(j["pgnos"], json::array({1, 2}));
}

TEST(MockcloudServer, StopWakesLongPolls) {
  Harness h;
  h.Start();
  auto c = h.Client();
  Model m;
  ASSERT_EQ(Upload(*c, "db", Snapshot(&m, 2))->status, 200);
  std::thread poll(
      [&] { c->Get(("/db/sync?db=db&wait=30000&pos=" + ltx::FormatPos(m.pos())).c_str()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto t0 = std::chrono::steady_clock::now();
  h.Stop();
  poll.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(8));
}

TEST(MockcloudServer, FaultInjectionViaAdminRoute) {
  Harness h;
  h.opts.admin_token = "adm";
  h.Start();
  auto c = h.Client();
  auto admin = h.Client("adm");
  EXPECT_EQ(c->Get("/admin/faults")->status, 401);  // the data token is not the admin token
  EXPECT_EQ(admin->Put("/admin/faults", "bogus=1", "text/plain")->status, 400);
  EXPECT_EQ(admin->Put("/admin/faults", "error=1.5", "text/plain")->status, 400);
  auto r = admin->Put("/admin/faults", "error=1,routes=/pos", "text/plain");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_NE(admin->Get("/admin/faults")->body.find("error=1"), std::string::npos);
  r = c->Get("/pos");
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(ErrCode(r), "EUNAVAILABLE");
  EXPECT_EQ(c->Get("/info")->status, 200);     // other routes untouched
  EXPECT_EQ(c->Get("/healthz")->status, 200);  // never faulted

  ASSERT_EQ(admin->Put("/admin/faults", "drop=1,routes=/info", "text/plain")->status, 200);
  r = c->Get("/info");
  EXPECT_FALSE(r);  // connection closed without a response

  ASSERT_EQ(admin->Put("/admin/faults", "truncate=1,routes=/info", "text/plain")->status, 200);
  r = h.Client()->Get("/info");
  EXPECT_TRUE(!r || r->body.size() < 40) << "truncated body expected";

  // Determinism: the same seed gives the same sequence of outcomes.
  auto run = [&] {
    EXPECT_EQ(admin->Put("/admin/faults", "error=0.5,seed=7,routes=/pos", "text/plain")->status,
              200);
    std::string seq;
    for (int i = 0; i < 24; i++) seq += h.Client()->Get("/pos")->status == 503 ? 'E' : '.';
    return seq;
  };
  std::string a = run(), b = run();
  EXPECT_EQ(a, b);
  EXPECT_NE(a.find('E'), std::string::npos);
  EXPECT_NE(a.find('.'), std::string::npos);
  ASSERT_EQ(admin->Put("/admin/faults", "", "text/plain")->status, 200);
  EXPECT_EQ(c->Get("/pos")->status, 200);

  // Latency.
  ASSERT_EQ(admin->Put("/admin/faults", "latency=150ms,routes=/pos", "text/plain")->status, 200);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(c->Get("/pos")->status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(140));
}

TEST(MockcloudServer, AdminRoutesOffWithoutAdminToken) {
  Harness h;
  h.Start();
  EXPECT_EQ(h.Client()->Get("/admin/faults")->status, 404);
}

TEST(MockcloudServer, StartFlagsFaultsAndRejectsBadOptions) {
  Harness h;
  h.opts.faults = "error=1,routes=/info";
  h.Start();
  EXPECT_EQ(h.Client()->Get("/info")->status, 503);
  mockcloud::ServerOptions bad = h.opts;
  bad.faults = "error=2";
  EXPECT_FALSE(mockcloud::Server::Start(bad).ok());
  bad = h.opts;
  bad.data_dir = "";
  EXPECT_FALSE(mockcloud::Server::Start(bad).ok());
  bad = h.opts;
  bad.tokens = {{"t", "../x"}};
  EXPECT_FALSE(mockcloud::Server::Start(bad).ok());
}

TEST(MockcloudServer, RequestLogLinesNeverHoldTheToken) {
  Harness h;
  h.Start();
  h.Client()->Get("/pos?cluster=default");
  h.Client("wrong-token")->Get("/info");
  h.Stop();
  bool saw = false;
  for (const auto& l : h.log) {
    EXPECT_EQ(l.find("secret"), std::string::npos) << l;
    EXPECT_EQ(l.find("wrong-token"), std::string::npos) << l;
    if (l.find("GET /pos?cluster=default 200") != std::string::npos) saw = true;
  }
  EXPECT_TRUE(saw);
}

TEST(MockcloudServer, TokensFile) {
  TempDir d;
  const std::string p = d.path() + "/tokens";
  FILE* f = fopen(p.c_str(), "w");
  fputs("# comment\n\ntok1 alpha\ntok2 *   # trailing comment\n", f);
  fclose(f);
  auto t = mockcloud::LoadTokensFile(p);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->size(), 2u);
  EXPECT_EQ((*t)[0].token, "tok1");
  EXPECT_EQ((*t)[0].cluster, "alpha");
  EXPECT_EQ((*t)[1].cluster, "*");
  f = fopen(p.c_str(), "w");
  fputs("lonely\n", f);
  fclose(f);
  EXPECT_FALSE(mockcloud::LoadTokensFile(p).ok());
  EXPECT_FALSE(mockcloud::LoadTokensFile(d.path() + "/missing").ok());
}

TEST(MockcloudServer, LongPollsAreCappedAndOrdinaryRequestsFlow) {
  Harness h;
  h.opts.max_long_polls = 1;
  h.Start();
  auto c = h.Client();
  Model m;
  ASSERT_EQ(Upload(*c, "db", Snapshot(&m, 2))->status, 200);
  const std::string q = "/db/sync?db=db&wait=1500&pos=" + ltx::FormatPos(m.pos());
  std::thread held([&] { h.Client()->Get(q.c_str()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  auto t0 = std::chrono::steady_clock::now();
  auto r = c->Get(q.c_str());  // over the cap: answered at once
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  ASSERT_EQ(r->status, 200);
  EXPECT_LT(ms, 700);
  EXPECT_EQ(J(r)["pgnos"], json::array());
  EXPECT_EQ(c->Get("/info")->status, 200);
  held.join();
}

TEST(MockcloudServer, DroppedAndTruncatedUploadsAndSnapshots) {
  Harness h;
  h.opts.admin_token = "adm";
  h.Start();
  auto c = h.Client();
  auto admin = h.Client("adm");
  Model m;
  ASSERT_EQ(Upload(*c, "db", Snapshot(&m, 40))->status, 200);
  Model next = m;
  const std::string tx = next.Tx({{3, FilledPage(4096, 33)}}, 40);
  ASSERT_EQ(admin->Put("/admin/faults", "drop=1,routes=/db/tx", "text/plain")->status, 200);
  EXPECT_FALSE(Upload(*h.Client(), "db", tx));  // no response
  ASSERT_EQ(admin->Put("/admin/faults", "error=1,routes=/db/tx", "text/plain")->status, 200);
  auto r = Upload(*h.Client(), "db", tx);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  // Neither was applied.
  EXPECT_EQ(PosOf(J(c->Get("/pos"))["db"]), m.pos());
  ASSERT_EQ(admin->Put("/admin/faults", "truncate=1,routes=/db/snapshot", "text/plain")->status,
            200);
  r = h.Client()->Get("/db/snapshot?db=db");
  EXPECT_TRUE(!r || r->body.size() < 40 * 4096) << "snapshot should have been cut short";
  ASSERT_EQ(admin->Put("/admin/faults", "", "text/plain")->status, 200);
  ASSERT_EQ(Upload(*h.Client(), "db", tx)->status, 200);
  EXPECT_EQ(PosOf(J(c->Get("/pos"))["db"]), next.pos());
  r = c->Get("/metrics");
  EXPECT_NE(r->body.find("mockcloud_requests_total{route=\"/db/tx\",code=\"0\"} 1"),
            std::string::npos)
      << r->body;
}

TEST(MockcloudServer, ConcurrentUploadsAtOnePositionHaveOneWinner) {
  Harness h;
  h.Start();
  auto c = h.Client();
  Model m;
  ASSERT_EQ(Upload(*c, "db", Snapshot(&m, 4))->status, 200);
  for (int round = 0; round < 5; round++) {
    std::vector<Model> cand(3, m);
    std::vector<std::string> bodies;
    for (int i = 0; i < 3; i++)
      bodies.push_back(cand[i].Tx({{2, FilledPage(4096, 100 * round + i)}}, 4));
    std::vector<int> status(3, 0);
    std::atomic<bool> go{false};
    std::vector<std::thread> ts;
    for (int i = 0; i < 3; i++) {
      ts.emplace_back([&, i] {
        auto cl = h.Client();
        while (!go) std::this_thread::yield();
        auto r = Upload(*cl, "db", bodies[i]);
        status[i] = r ? r->status : -1;
      });
    }
    go = true;
    for (auto& t : ts) t.join();
    int winner = -1, wins = 0;
    for (int i = 0; i < 3; i++) {
      if (status[i] == 200) {
        wins++;
        winner = i;
      } else {
        EXPECT_EQ(status[i], 409);
      }
    }
    ASSERT_EQ(wins, 1);
    m = cand[winner];
    EXPECT_EQ(PosOf(J(c->Get("/pos"))["db"]), m.pos());
  }
  ExpectPagesAt(*c, "db", m, 5);
}
