// The distributed store against a real etcd and s3rver (mockcloud_dist_fixture.h): commits
// on one instance are read on another, long polls wake across instances, and of two writers
// racing on two instances exactly one wins, every time.
#include <atomic>
#include <thread>

#include "../mockcloud/src/dist/migrate.h"
#include "mockcloud_dist_instance.h"

namespace mctest {
namespace {

using distfix::DistCluster;

using Clock = std::chrono::steady_clock;

class DistClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cluster.skip.empty()) GTEST_SKIP() << cluster.skip;
    ASSERT_EQ(cluster.error, "");
  }
  DistCluster cluster;
};

TEST_F(DistClusterTest, CommitOnOneInstanceIsReadOnAnother) {
  Instance a(cluster.Instance("a")), b(cluster.Instance("b"));
  Model m;
  auto r = Post(a, "app", m.Tx({{1, FilledPage(4096, 1)}, {2, FilledPage(4096, 2)}}, 2));
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no reply");
  const std::string lease = TakeLease(b, "app", 5000);  // leases are the cluster's
  ASSERT_FALSE(lease.empty());
  Model refused = m;
  EXPECT_EQ(Post(a, "app", refused.Tx({{2, FilledPage(4096, 3)}}, 2))->status, 409);  // leased
  r = Post(a, "app", m.Tx({{2, FilledPage(4096, 3)}}, 2), lease);
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no reply");
  const std::string want = PosUrl(m.txid, m.Checksum());
  EXPECT_EQ(PosOf(b, "app"), want);
  auto pg = b.Client()->Get("/db/page?db=app&pgno=1,2&pos=" + want,
                            {{"Accept", "application/vnd.litevfs.pages"}});
  ASSERT_TRUE(pg && pg->status == 200) << (pg ? pg->body : "no reply");
  auto frames = ParseFrames(pg->body, 4096);
  EXPECT_EQ(frames[1], m.Page(1));
  EXPECT_EQ(frames[2], m.Page(2));
  // A third instance started now loads the database from S3.
  Instance c(cluster.Instance("c"));
  EXPECT_EQ(PosOf(c, "app"), want);
}

TEST_F(DistClusterTest, LongPollOnOneInstanceIsWokenByACommitOnAnother) {
  auto ob = cluster.Instance("b");
  // b's first etcd member is down: its requests and its watch fail over to the next.
  ob.etcd = "http://127.0.0.1:" + std::to_string(distfix::FreePort()) + "," + ob.etcd;
  Instance a(cluster.Instance("a")), b(ob);
  Model m;
  ASSERT_EQ(Post(a, "app", m.Tx({{1, FilledPage(4096, 1)}}, 1))->status, 200);
  const std::string at = PosUrl(m.txid, m.Checksum());
  ASSERT_EQ(PosOf(b, "app"), at);  // b serves app from now on
  std::atomic<int64_t> woke_ms{-1};
  const auto t0 = Clock::now();
  std::thread poll([&] {
    auto r = b.Client()->Get("/db/sync?db=app&wait=10000&pos=" + at);
    if (r && r->status == 200 && json::parse(r->body)["pos"]["txid"] != ltx::FormatTxid(1))
      woke_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(Post(a, "app", m.Tx({{1, FilledPage(4096, 2)}}, 1))->status, 200);
  poll.join();
  EXPECT_GE(woke_ms.load(), 200);
  EXPECT_LT(woke_ms.load(), 2000) << "the long poll on b was not woken by the commit on a";
}

// issue 17: an acquire carrying the holder's token (Lfsc-Lease-Client) is answered with the
// lease that token holds, on any instance; another token is refused; a commit asking to
// release with itself keeps the lease (the distributed store has no waiter info).
TEST_F(DistClusterTest, HolderTokenMakesAcquireIdempotentAcrossInstances) {
  Instance a(cluster.Instance("a")), b(cluster.Instance("b"));
  auto acquire = [](const Instance& in, const std::string& holder) {
    return in.Client()->Post("/lease?db=app&duration=5000", {{"Lfsc-Lease-Client", holder}}, "", "text/plain");
  };
  auto r = acquire(a, "tokA");
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no reply");
  const std::string id = json::parse(r->body)["id"];
  r = acquire(b, "tokA");  // the answer on a was lost, say; the retry went to b
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no reply");
  EXPECT_EQ(json::parse(r->body)["id"], id);
  EXPECT_EQ(acquire(b, "tokB")->status, 409);
  Model m;
  auto c = a.Client()->Post("/db/tx?db=app", {{"Lfsc-Lease-Id", id}, {"Lfsc-Lease-Release", "if-waiters"}},
                            m.Tx({{1, FilledPage(4096, 1)}}, 1), "application/octet-stream");
  ASSERT_TRUE(c && c->status == 200) << (c ? c->body : "no reply");
  EXPECT_FALSE(c->has_header("Lfsc-Lease-Released"));
  EXPECT_EQ(b.Client()->Delete("/lease?db=app&id=" + id)->status, 204);
}

// Two writers on two instances, one holding an expired lease: the one with the live lease
// wins; and two writers racing for the same txid without leases: exactly one wins.
TEST_F(DistClusterTest, SplitBrainExactlyOneWriterWins) {
  Instance a(cluster.Instance("a")), b(cluster.Instance("b"));
  Model m;
  ASSERT_EQ(Post(a, "app", m.Tx({{1, FilledPage(4096, 1)}}, 1))->status, 200);
  const std::string stale = TakeLease(a, "app", 1000);
  ASSERT_FALSE(stale.empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const std::string live = TakeLease(b, "app", 10000);
  ASSERT_FALSE(live.empty());
  Model m1 = m, m2 = m;
  const std::string t1 = m1.Tx({{1, FilledPage(4096, 10)}}, 1);
  const std::string t2 = m2.Tx({{1, FilledPage(4096, 20)}}, 1);
  int s1 = 0, s2 = 0;
  std::thread w1([&] { s1 = Post(a, "app", t1, stale)->status; });
  std::thread w2([&] { s2 = Post(b, "app", t2, live)->status; });
  w1.join();
  w2.join();
  EXPECT_EQ(s1, 409);
  EXPECT_EQ(s2, 200);
  m = m2;
  ASSERT_EQ(b.Client()->Delete("/lease?db=app&id=" + live)->status, 204);
  constexpr int kRounds = 12;
  for (int i = 0; i < kRounds; i++) {
    Model x = m, y = m;
    const std::string tx = x.Tx({{1, FilledPage(4096, 100 + i)}}, 1);
    const std::string ty = y.Tx({{1, FilledPage(4096, 200 + i)}}, 1);
    int sx = 0, sy = 0;
    std::thread wx([&] { sx = Post(a, "app", tx)->status; });
    std::thread wy([&] { sy = Post(b, "app", ty)->status; });
    wx.join();
    wy.join();
    ASSERT_EQ((sx == 200) + (sy == 200), 1) << "round " << i << ": " << sx << " " << sy;
    EXPECT_EQ(sx == 200 ? sy : sx, 409);
    m = sx == 200 ? x : y;
    const std::string want = PosUrl(m.txid, m.Checksum());
    EXPECT_EQ(PosOf(a, "app"), want);
    EXPECT_EQ(PosOf(b, "app"), want);
  }
}

// Compaction makes a snapshot object the base; a new instance loads from it.
TEST_F(DistClusterTest, CompactionBaseServesNewInstances) {
  auto o = cluster.Instance("a");
  o.retain_txids = 2;
  o.retention_ms = 0;
  Instance a(o);
  Model m;
  ASSERT_EQ(Post(a, "app", m.Tx({{1, FilledPage(4096, 1)}, {2, FilledPage(4096, 2)}}, 2))->status, 200);
  for (int i = 0; i < 5; i++)
    ASSERT_EQ(Post(a, "app", m.Tx({{2, FilledPage(4096, 10 + i)}}, 2))->status, 200);
  ASSERT_TRUE(a.server->CompactAt(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count() + 1000).ok());
  ASSERT_EQ(Post(a, "app", m.Tx({{1, FilledPage(4096, 50)}}, 2))->status, 200);
  Instance c(cluster.Instance("c"));
  const std::string want = PosUrl(m.txid, m.Checksum());
  EXPECT_EQ(PosOf(c, "app"), want);
  auto pg = c.Client()->Get("/db/page?db=app&pgno=1,2&pos=" + want,
                            {{"Accept", "application/vnd.litevfs.pages"}});
  ASSERT_TRUE(pg && pg->status == 200) << (pg ? pg->body : "no reply");
  auto frames = ParseFrames(pg->body, 4096);
  EXPECT_EQ(frames[1], m.Page(1));
  EXPECT_EQ(frames[2], m.Page(2));
}

// A local data directory moved into the cluster and back, positions and pages intact; a
// second copy into the cluster is refused (never overwritten).
TEST_F(DistClusterTest, MigrateMovesADataDirectoryInAndOut) {
  Model m;
  const std::string src = cluster.dir.path() + "/src";
  {
    mockcloud::ServerOptions lo;
    lo.data_dir = src;
    lo.tokens = {{"secret", "*"}};
    lo.compact_interval_ms = 0;
    lo.log_level = mockcloud::LogLevel::kWarn;
    Instance local(lo);
    ASSERT_EQ(Post(local, "m", m.Tx({{1, FilledPage(4096, 1)}, {2, FilledPage(4096, 2)}}, 2))->status, 200);
    ASSERT_EQ(Post(local, "m", m.Tx({{2, FilledPage(4096, 3)}}, 2))->status, 200);
  }
  mockcloud::dist::MigrateOptions o;
  o.from = src;
  o.to = cluster.StoreUrl();
  o.etcd = cluster.EtcdUrl();
  o.aws_credentials_file = cluster.dir.path() + "/aws";
  auto r = mockcloud::dist::Migrate(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 1u);
  const std::string want = PosUrl(m.txid, m.Checksum());
  {
    Instance a(cluster.Instance("a"));
    EXPECT_EQ(PosOf(a, "m"), want);
  }
  auto again = mockcloud::dist::Migrate(o);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("already exists"), std::string::npos) << again.status().ToString();
  o.from = cluster.StoreUrl();
  o.to = cluster.dir.path() + "/back";
  r = mockcloud::dist::Migrate(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  mockcloud::ServerOptions bo;
  bo.data_dir = o.to;
  bo.tokens = {{"secret", "*"}};
  bo.log_level = mockcloud::LogLevel::kWarn;
  Instance back(bo);
  EXPECT_EQ(PosOf(back, "m"), want);
  auto pg = back.Client()->Get("/db/page?db=m&pgno=1,2&pos=" + want,
                               {{"Accept", "application/vnd.litevfs.pages"}});
  ASSERT_TRUE(pg && pg->status == 200);
  auto frames = ParseFrames(pg->body, 4096);
  EXPECT_EQ(frames[1], m.Page(1));
  EXPECT_EQ(frames[2], m.Page(2));
}

}  // namespace
}  // namespace mctest
