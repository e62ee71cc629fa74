// A misbehaving service, through the real VFS and SQLite: a cpp-httplib proxy in front of the
// in-process mockcloud forwards every request and, per test, corrupts the answers: wrong
// page sizes, short or missing or extra pages, pages for another position (a wrong
// Litevfs-Pos, or the data of an older position), garbage JSON, 500s, slow bodies, closed
// sockets. Whatever the server does, a query returns either an error or exactly the right
// rows (compared with the same query on the local database) — never wrong data, never a
// crash, never a hang — and once the server behaves again, the same connection reads
// correctly (nothing bad was cached).

#include <atomic>
#include <cstring>
#include <mutex>
#include <random>
#include <sstream>

#include "../mockcloud/src/sockets.h"
#include "manual_clock.h"
#include "vfs_test_util.h"

namespace vfstest {
namespace {

enum class Mode {
  kHonest,
  kPageSizeHeaderSmaller,  // Litevfs-Page-Size: 1024 on page batches, body unchanged
  kPageSizeHeaderLarger,   // Litevfs-Page-Size: 8192
  kShortPages,             // every frame's page cut to half (a consistent, shorter body)
  kMissingPages,           // only the first frame of each batch
  kExtraPage,              // a frame for a page nobody asked for (past the end)
  kReversedFrames,         // frames in descending pgno order
  kWrongPosHeader,         // Litevfs-Pos names another position, body unchanged
  kOlderPosData,           // page batches answered from the older retained position
  kGarbageJson,            // 200 with an unparseable body on every JSON route
  kGarbageBinary,          // 200 with random bytes on page batches
  kServerError,            // 500 EINTERNAL on every route
  kSlowBody,               // correct answers, body dribbled out slowly
  kStalledBody,            // page batches: headers and 1 KiB, then silence until the mode changes
  kClosedSocket,           // the connection is shut down without an answer
};

// A Litevfs-Features list ("a,b,c") without "sync-wait".
std::string WithoutSyncWait(const std::string& list) {
  std::string out, item;
  std::istringstream in(list);
  while (std::getline(in, item, ',')) {
    if (item == "sync-wait") continue;
    out += (out.empty() ? "" : ",") + item;
  }
  return out;
}

bool IsBatchRoute(const std::string& path) { return path == "/db/page" || path == "/db/interior"; }

// Frames `pgno u32 BE || page` of a page batch.
std::vector<std::pair<uint32_t, std::string>> SplitFrames(const std::string& body, size_t ps) {
  std::vector<std::pair<uint32_t, std::string>> out;
  for (size_t off = 0; off + 4 + ps <= body.size(); off += 4 + ps) {
    out.emplace_back(ltx::DecodeU32(reinterpret_cast<const uint8_t*>(body.data()) + off),
                     body.substr(off + 4, ps));
  }
  return out;
}
std::string JoinFrames(const std::vector<std::pair<uint32_t, std::string>>& frames) {
  std::string out;
  for (const auto& [pg, data] : frames) {
    uint8_t be[4];
    ltx::EncodeU32(be, pg);
    out.append(reinterpret_cast<const char*>(be), 4);
    out += data;
  }
  return out;
}

// The proxy: forwards to the mockcloud, then applies the current Mode.
class BadServer {
 public:
  BadServer(int upstream_port, std::string older_pos)
      : upstream_port_(upstream_port), older_pos_(std::move(older_pos)) {
    srv_.set_keep_alive_timeout(1);
    srv_.set_read_timeout(5);
    srv_.set_write_timeout(5);
    auto h = [this](const httplib::Request& q, httplib::Response& r) { Handle(q, r); };
    srv_.Get(R"(/.*)", h);
    srv_.Post(R"(/.*)", h);
    srv_.Delete(R"(/.*)", h);
    port_ = srv_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { srv_.listen_after_bind(); });
    for (int i = 0; i < 500 && !srv_.is_running(); i++) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~BadServer() {
    srv_.stop();
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void set_mode(Mode m) { mode_ = m; }
  uint64_t batches_served() const { return batches_; }
  uint64_t tampered() const { return tampered_; }

 private:
  void Handle(const httplib::Request& q, httplib::Response& r) {
    const Mode m = mode_.load();
    if (m == Mode::kClosedSocket) {
      tampered_++;
      mockcloud::ShutdownConnection(q.local_port, q.remote_addr, q.remote_port);
      r.status = 500;
      return;
    }
    if (m == Mode::kServerError) {
      tampered_++;
      r.status = 500;
      r.set_content(R"({"code":"EINTERNAL","error":"bad server"})", "application/json");
      return;
    }
    // Forward (no Accept-Encoding: bodies stay plain so they can be edited).
    std::string target = q.path;
    char sep = '?';
    for (const auto& [k, v] : q.params) {
      std::string val = v;
      if (m == Mode::kOlderPosData && IsBatchRoute(q.path) && k == "pos") {
        val = older_pos_;
        tampered_++;
      }
      target += sep + k + "=" + httplib::detail::encode_query_param(val);
      sep = '&';
    }
    httplib::Headers hs;
    for (const char* name : {"Authorization", "Accept", "Lfsc-Lease-Id", "fly-force-instance-id",
                             "Content-Type"}) {
      if (q.has_header(name)) hs.emplace(name, q.get_header_value(name));
    }
    httplib::Client up("127.0.0.1", upstream_port_);
    up.set_read_timeout(40);
    httplib::Result res = q.method == "GET"    ? up.Get(target.c_str(), hs)
                          : q.method == "POST" ? up.Post(target.c_str(), hs, q.body,
                                                         q.get_header_value("Content-Type").c_str())
                                               : up.Delete(target.c_str(), hs);
    if (!res) {
      r.status = 502;
      return;
    }
    r.status = res->status;
    std::string body = res->body;
    std::string ctype = res->get_header_value("Content-Type");
    for (const auto& [k, v] : res->headers) {
      std::string lk = k;
      for (auto& c : lk) c = char(std::tolower(static_cast<unsigned char>(c)));
      if (lk == "content-length" || lk == "transfer-encoding" || lk == "connection" ||
          lk == "content-type" || lk == "keep-alive" || lk == "content-encoding") {
        continue;
      }
      r.set_header(k.c_str(), lk == "litevfs-features" ? WithoutSyncWait(v) : v);
    }
    if (q.path == "/info" && res->status == 200) {
      // No long poll (here and in Litevfs-Features above): a background hold would keep the
      // proxy's workers (and its stop) busy, and the transaction-start sync this test's
      // modes tamper with would never be asked.
      auto j = json::parse(body, nullptr, false);
      if (j.is_object() && j["features"].is_array()) {
        json f = json::array();
        for (const auto& x : j["features"]) {
          if (x != "sync-wait") f.push_back(x);
        }
        j["features"] = f;
        body = j.dump();
      }
    }
    const bool batch = IsBatchRoute(q.path) && res->status == 200 &&
                       res->has_header("Litevfs-Page-Size");
    if (batch) batches_++;
    if (batch) Tamper(m, &body, &r);
    if (m == Mode::kGarbageJson && ctype.find("json") != std::string::npos && res->status == 200) {
      tampered_++;
      body = R"({"pos":{"txid":"zz"},"pages":[{"pgno":"one","data":!!!)";
    }
    if (m == Mode::kStalledBody && IsBatchRoute(q.path)) {
      tampered_++;
      auto shared = std::make_shared<std::string>(std::move(body));
      r.set_content_provider(
          shared->size(), ctype.empty() ? "application/octet-stream" : ctype,
          [this, shared](size_t off, size_t len, httplib::DataSink& sink) {
            if (off == 0) return sink.write(shared->data(), std::min<size_t>(len, 1024));
            // Stall (bounded: 20 s) until the test turns the mode back.
            for (int i = 0; i < 400 && mode_ == Mode::kStalledBody; i++) {
              std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
            return sink.write(shared->data() + off, len);
          });
      return;
    }
    if (m == Mode::kSlowBody) {
      tampered_++;
      auto shared = std::make_shared<std::string>(std::move(body));
      r.set_content_provider(
          shared->size(), ctype.empty() ? "application/octet-stream" : ctype,
          [shared](size_t off, size_t len, httplib::DataSink& sink) {
            std::this_thread::sleep_for(std::chrono::milliseconds(30));
            size_t n = std::min<size_t>(len, 8192);
            return sink.write(shared->data() + off, n);
          });
      return;
    }
    r.set_content(body, ctype.empty() ? "application/octet-stream" : ctype);
  }

  void Tamper(Mode m, std::string* body, httplib::Response* r) {
    const size_t ps = std::stoul(r->get_header_value("Litevfs-Page-Size"));
    auto frames = SplitFrames(*body, ps);
    switch (m) {
      case Mode::kPageSizeHeaderSmaller:
        r->set_header("Litevfs-Page-Size", "1024");
        break;
      case Mode::kPageSizeHeaderLarger:
        r->set_header("Litevfs-Page-Size", std::to_string(ps * 2));
        break;
      case Mode::kShortPages:
        for (auto& f : frames) f.second.resize(ps / 2);
        *body = JoinFrames(frames);
        break;
      case Mode::kMissingPages:
        if (frames.size() > 1) frames.resize(1);
        else frames.clear();
        *body = JoinFrames(frames);
        break;
      case Mode::kExtraPage:
        frames.emplace_back(frames.empty() ? 100000 : frames.back().first + 100000,
                            std::string(ps, '\x5a'));
        *body = JoinFrames(frames);
        break;
      case Mode::kReversedFrames:
        std::reverse(frames.begin(), frames.end());
        *body = JoinFrames(frames);
        break;
      case Mode::kWrongPosHeader: {
        std::string p = r->get_header_value("Litevfs-Pos");
        // Same txid digits, another checksum; and another txid.
        r->set_header("Litevfs-Pos", p.empty() ? "0000000000000009/0123456789abcdef"
                                               : p.substr(0, 16) + "/0123456789abcdef");
        break;
      }
      case Mode::kGarbageBinary: {
        std::mt19937 rng(uint32_t(batches_.load()));
        body->resize(rng() % (3 * ps) + 1);
        for (auto& c : *body) c = char(rng());
        break;
      }
      default:
        return;
    }
    tampered_++;
  }

  int upstream_port_;
  std::string older_pos_;
  httplib::Server srv_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<Mode> mode_{Mode::kHonest};
  std::atomic<uint64_t> batches_{0}, tampered_{0};
};

const std::vector<std::string> kQueries = {
    "SELECT count(*), sum(v), sum(length(pad)), min(k), max(k) FROM t",
    "SELECT id, v, pad FROM t WHERE k = (SELECT k FROM t WHERE id = 1234)",
    "SELECT count(*), sum(t.v) FROM u JOIN t ON t.id = u.t_id",
    "SELECT group_concat(id) FROM (SELECT id FROM t WHERE k BETWEEN 'key00100000' AND "
    "'key00110000' ORDER BY k)",
};

class BadServerTest : public VfsTest {
 protected:
  void SetUp() override {
    VfsTest::SetUp();
    if (HasFatalFailure()) return;
    src_ = MakeLocalDb("src.db", 4000);
    const ltx::Pos p1 = UploadSnapshot("db", src_);
    // Every row changes: the older position's pages differ from the current ones.
    RemoteWrite("db", src_, "UPDATE t SET v = v + 1, pad = upper(hex(randomblob(40)))", p1);
    older_pos_ = ltx::FormatPos(p1);
    sqlite3* local = OpenLocal(src_);
    for (const auto& q : kQueries) want_.push_back(Q(local, q));
    Close(local);
    bad_ = std::make_unique<BadServer>(server_->port(), older_pos_);
  }
  void TearDown() override {
    for (sqlite3* db : open_) sqlite3_close_v2(db);
    open_.clear();
    bad_.reset();
    VfsTest::TearDown();
  }

  // Opens through the proxy while it is honest (so the open itself succeeds), then turns
  // on `m` and runs every query: each must fail or be exactly right, within `bound`. Then
  // the proxy turns honest again and the same connection must read everything correctly.
  void Check(Mode m, int min_errors = 0, std::chrono::seconds bound = std::chrono::seconds(20)) {
    bad_->set_mode(Mode::kHonest);
    sqlite3* db = OpenRemote("db", "&host=" + bad_->url());
    ASSERT_NE(db, nullptr);
    Q(db, "PRAGMA cache_size = 0");  // every read reaches the VFS
    ASSERT_EQ(Q1(db, "SELECT count(*) FROM sqlite_schema"), "3");
    bad_->set_mode(m);
    int errors = 0, right = 0;
    std::string codes;
    for (int round = 0; round < 2; round++) {
      // Past the sync period (1 s): the next transaction start asks /db/sync too. Moved on
      // the manual clock: no real second is slept.
      clock_.clock().Advance(std::chrono::milliseconds(1100));
      for (size_t i = 0; i < kQueries.size(); i++) {
        std::vector<std::string> rows;
        const auto t0 = std::chrono::steady_clock::now();
        const int rc = Exec(db, kQueries[i], &rows);
        const auto took = std::chrono::steady_clock::now() - t0;
        EXPECT_LT(took, bound) << "query " << i << " hung for "
                               << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                               << " ms";
        if (rc == SQLITE_OK) {
          EXPECT_EQ(rows, want_[i]) << "WRONG DATA from query " << i << " (round " << round << ")";
          right++;
        } else {
          errors++;
          codes += " " + std::to_string(sqlite3_extended_errcode(db));
          EXPECT_NE(sqlite3_extended_errcode(db) & 0xff, SQLITE_CORRUPT)
              << "a bad server must not look like a corrupt database: " << sqlite3_errmsg(db);
        }
        if (sqlite3_get_autocommit(db) == 0) Exec(db, "ROLLBACK");
      }
    }
    EXPECT_GE(errors, min_errors) << "the bad answers were never noticed";
    if (m != Mode::kHonest) {
      EXPECT_GT(bad_->tampered(), 0u) << "the fault was never injected";
    }
    std::cerr << "[ mode " << int(m) << " ] " << right << " right, " << errors << " errors ("
              << (codes.empty() ? " none" : codes) << "), batches " << bad_->batches_served()
              << ", tampered " << bad_->tampered() << "\n";
    // Honest again: the same connection reads correctly (nothing wrong was cached).
    bad_->set_mode(Mode::kHonest);
    for (size_t i = 0; i < kQueries.size(); i++) {
      std::vector<std::string> rows;
      int rc = SQLITE_ERROR;
      for (int attempt = 0; attempt < 3 && rc != SQLITE_OK; attempt++) {
        rows.clear();
        rc = Exec(db, kQueries[i], &rows);
        if (sqlite3_get_autocommit(db) == 0) Exec(db, "ROLLBACK");
      }
      ASSERT_EQ(rc, SQLITE_OK) << "after the server recovered: " << sqlite3_errmsg(db) << " / "
                               << VfsLastError();
      EXPECT_EQ(rows, want_[i]) << "WRONG DATA after recovery, query " << i;
    }
    // And a fresh process-level view (new connection, same cache) agrees.
    sqlite3* db2 = OpenRemote("db", "&host=" + bad_->url());
    ASSERT_NE(db2, nullptr);
    for (size_t i = 0; i < kQueries.size(); i++) EXPECT_EQ(Q(db2, kQueries[i]), want_[i]);
  }

  std::string src_, older_pos_;
  std::vector<std::vector<std::string>> want_;
  std::unique_ptr<BadServer> bad_;
  ScopedManualClock clock_;
};

TEST_F(BadServerTest, HonestProxyGivesCorrectData) {
  Check(Mode::kHonest);
  EXPECT_GT(bad_->batches_served(), 0u) << "the reads did not go through the proxy";
}
TEST_F(BadServerTest, PageSizeHeaderSmaller) { Check(Mode::kPageSizeHeaderSmaller, 1); }
TEST_F(BadServerTest, PageSizeHeaderLarger) { Check(Mode::kPageSizeHeaderLarger, 1); }
TEST_F(BadServerTest, ShortPages) { Check(Mode::kShortPages, 1); }
TEST_F(BadServerTest, MissingPages) { Check(Mode::kMissingPages); }
TEST_F(BadServerTest, ExtraPageNotAskedFor) { Check(Mode::kExtraPage); }
TEST_F(BadServerTest, ReversedFrames) { Check(Mode::kReversedFrames); }
TEST_F(BadServerTest, WrongPosHeader) { Check(Mode::kWrongPosHeader); }
TEST_F(BadServerTest, PagesOfAnOlderPosition) { Check(Mode::kOlderPosData, 1); }
TEST_F(BadServerTest, GarbageJson) { Check(Mode::kGarbageJson); }
TEST_F(BadServerTest, GarbageBinary) { Check(Mode::kGarbageBinary, 1); }
TEST_F(BadServerTest, ServerErrors) { Check(Mode::kServerError, 1); }
TEST_F(BadServerTest, SlowBodies) { Check(Mode::kSlowBody); }
TEST_F(BadServerTest, ClosedSockets) { Check(Mode::kClosedSocket, 1); }

TEST_F(BadServerTest, StalledServerFailsWithinConfiguredTimeout) {
  bad_->set_mode(Mode::kHonest);
  sqlite3* db = OpenRemote("db", "&host=" + bad_->url() + "&request_timeout=500ms");
  ASSERT_NE(db, nullptr);
  Q(db, "PRAGMA cache_size = 0");
  Q(db, "PRAGMA litevfs_max_prefetch_pages = 0");
  bad_->set_mode(Mode::kStalledBody);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> rows;
  const int rc = Exec(db, "SELECT sum(length(pad)) FROM t", &rows);
  const auto took = std::chrono::steady_clock::now() - t0;
  bad_->set_mode(Mode::kHonest);
  EXPECT_NE(rc, SQLITE_OK) << "a stalled body cannot give a complete scan";
  EXPECT_GT(bad_->tampered(), 0u);
  // 500 ms per attempt, a few retries with backoff: far below the 30 s default.
  EXPECT_LT(took, std::chrono::seconds(5))
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  sqlite3_close_v2(db);
}

TEST_F(BadServerTest, BadTimeoutValueIsAnOpenErrorNamingIt) {
  sqlite3* db = nullptr;
  EXPECT_EQ(OpenRemoteRc("db", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI,
                         "&request_timeout=forever") & 0xff, SQLITE_CANTOPEN);
  EXPECT_NE(VfsLastError().find("request_timeout"), std::string::npos) << VfsLastError();
  if (db) sqlite3_close_v2(db);
}

}  // namespace
}  // namespace vfstest

namespace vfstest {
namespace {

// Opening against a server that misbehaves from the first request: the open (or the first
// query) fails with a clean error within the bound, or succeeds with the right data.
TEST_F(BadServerTest, OpenAgainstABadServerFailsCleanly) {
  for (Mode m : {Mode::kServerError, Mode::kGarbageJson, Mode::kClosedSocket,
                 Mode::kGarbageBinary, Mode::kOlderPosData}) {
    BadServer bad(server_->port(), older_pos_);  // a new host: nothing shared with others
    bad.set_mode(m);
    const auto t0 = std::chrono::steady_clock::now();
    sqlite3* db = nullptr;
    int rc = OpenRemoteRc("db", &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, "&host=" + bad.url());
    std::vector<std::string> rows;
    if (rc == SQLITE_OK) rc = Exec(db, kQueries[0], &rows);
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_LT(took, std::chrono::seconds(20)) << "mode " << int(m);
    if (rc == SQLITE_OK) {
      EXPECT_EQ(rows, want_[0]) << "WRONG DATA, mode " << int(m);
    } else {
      EXPECT_NE(rc & 0xff, SQLITE_CORRUPT) << "mode " << int(m) << ": " << VfsLastError();
    }
    std::cerr << "[ open, mode " << int(m) << " ] rc " << rc << " in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms, tampered "
              << bad.tampered() << "\n";
    if (db) Close(db);
  }
}

}  // namespace
}  // namespace vfstest

namespace vfstest {
namespace {

// A commit whose answer is lost (the service applied it, the reply was truncated) while the
// follow-up check cannot get an answer either: man/litevfs.7 promises that a failed commit
// leaves "both the local cache and the remote database exactly as before". Either outcome
// is acceptable if it is the truth: the commit fails and the service does not have it, or
// the commit succeeds and the service has it.
class AmbiguousCommitTest : public VfsTest {
 protected:
  // A new database `name` holding t(x) = {1}, open with the write lease.
  sqlite3* OpenWithOneRow(const std::string& name, const std::string& extra = "") {
    sqlite3* db = OpenRemote(name, extra);
    if (!db) return nullptr;
    Q(db, "PRAGMA litevfs_acquire_lease");
    Q(db, "CREATE TABLE t(x INTEGER)");
    Q(db, "INSERT INTO t VALUES(1)");
    return db;
  }
};

// The upload is applied but its answer is lost; the sync that settles the outcome works:
// the commit must succeed (the service has it), never fail while applied.
TEST_F(AmbiguousCommitTest, LostUploadAnswerIsSettledAsApplied) {
  sqlite3* db = OpenWithOneRow("amb");
  ASSERT_NE(db, nullptr);
  const ltx::Pos before = RemotePos("amb");
  ASSERT_GT(before.txid, 0u);
  SetFaults("truncate=1,routes=/db/tx");
  const int rc = Exec(db, "INSERT INTO t VALUES(2)");
  const std::string err = rc == SQLITE_OK ? "" : sqlite3_errmsg(db);
  SetFaults("");
  EXPECT_EQ(rc, SQLITE_OK) << err;
  EXPECT_EQ(RemotePos("amb").txid, before.txid + 1);
  std::vector<std::string> rows;
  Exec(db, "SELECT group_concat(x) FROM (SELECT x FROM t ORDER BY x)", &rows);
  EXPECT_EQ(rows, std::vector<std::string>{"1,2"});
}

// Every answer (uploads and the checks) is lost: the outcome cannot be known, so the commit
// fails with an I/O error (the log says "outcome unknown"); once the service answers again the connection agrees with it.
TEST_F(AmbiguousCommitTest, UnsettledCommitSaysOutcomeUnknownThenConverges) {
  sqlite3* db = OpenWithOneRow("amb2", "&request_timeout=1s");
  ASSERT_NE(db, nullptr);
  const ltx::Pos before = RemotePos("amb2");
  SetFaults("truncate=1,routes=/db/tx|/db/sync");
  const int rc = Exec(db, "INSERT INTO t VALUES(2)");
  const std::string err = rc == SQLITE_OK ? "" : sqlite3_errmsg(db);
  SetFaults("");
  const ltx::Pos after = RemotePos("amb2");
  if (rc == SQLITE_OK) {
    EXPECT_EQ(after.txid, before.txid + 1) << "the commit succeeded but the service lacks it";
  } else {
    EXPECT_EQ(rc & 0xff, SQLITE_IOERR) << err;  // the detail ("outcome unknown") is in the log
  }
  const std::vector<std::string> want{after.txid == before.txid ? "1" : "1,2"};
  std::vector<std::string> rows;
  for (int i = 0; i < 50 && rows != want; i++) {
    rows.clear();
    Exec(db, "SELECT group_concat(x) FROM (SELECT x FROM t ORDER BY x)", &rows);
    if (rows != want) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(rows, want) << "the writer's connection still disagrees with the service after 5 s";
}

}  // namespace
}  // namespace vfstest
