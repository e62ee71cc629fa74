// The distributed store's bounded replica cache (--cache-memory; dist_cache.cc) and its S3
// request counters, against a real etcd and s3rver (mockcloud_dist_fixture.h).
#include <atomic>
#include <mutex>
#include <thread>

#include "../mockcloud/src/dist/dist_cache.h"
#include "mockcloud_dist_instance.h"

namespace mctest {
namespace {

using distfix::DistCluster;
using mockcloud::dist::ParseCacheSize;

constexpr uint32_t kPage = 4096;

class DistCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cluster.skip.empty()) GTEST_SKIP() << cluster.skip;
    ASSERT_EQ(cluster.error, "");
  }
  DistCluster cluster;
};

// A database of `pages` pages, each filled from `seed`.
Model Write(const Instance& in, const std::string& db, uint32_t pages, uint32_t seed) {
  Model m;
  std::map<uint32_t, std::string> all;
  for (uint32_t p = 1; p <= pages; p++) all[p] = FilledPage(kPage, seed + p);
  auto r = Post(in, db, m.Tx(all, pages));
  EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no reply");
  return m;
}

// Reads every page of `db` through `in` and compares with the model.
void ExpectPages(const Instance& in, const std::string& db, const Model& m, uint32_t pages) {
  std::string list;
  for (uint32_t p = 1; p <= pages; p++) list += (p > 1 ? "," : "") + std::to_string(p);
  auto pg = in.Client()->Get("/db/page?db=" + db + "&pgno=" + list + "&pos=" + PosUrl(m.txid, m.Checksum()),
                             {{"Accept", "application/vnd.litevfs.pages"}});
  ASSERT_TRUE(pg && pg->status == 200) << db << ": " << (pg ? pg->body : "no reply");
  auto frames = ParseFrames(pg->body, kPage);
  for (uint32_t p = 1; p <= pages; p++) EXPECT_EQ(frames[p], m.Page(p)) << db << " page " << p;
}

TEST(DistCacheSize, ParsesBytesAndUnitsAndRefusesTheRest) {
  EXPECT_EQ(*ParseCacheSize("256MiB"), 256ull << 20);
  EXPECT_EQ(*ParseCacheSize("2G"), 2ull << 30);
  EXPECT_EQ(*ParseCacheSize("1048576"), 1ull << 20);
  EXPECT_EQ(*ParseCacheSize("4096K"), 4ull << 20);
  for (const char* bad : {"", "MiB", "12 MB", "-5M", "1.5G", "10T"}) {
    auto r = ParseCacheSize(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("--cache-memory"), std::string::npos);
  }
  auto small = ParseCacheSize("64K");
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.status().message().find("minimum"), std::string::npos);
}

// A working set of 12 databases (~200 KiB each) read through an instance bounded at 1 MiB:
// its cache never passes the bound, every read answers the right pages, and evicted
// databases come back from S3 on their next read.
TEST_F(DistCacheTest, WorkingSetLargerThanTheBoundStaysWithinItAndAnswersCorrectly) {
  constexpr int kDbs = 12;
  constexpr uint32_t kPages = 48;
  constexpr uint64_t kBound = 1ull << 20;
  Instance writer(cluster.Instance("w"));
  auto ro = cluster.Instance("r");
  ro.cache_memory_bytes = kBound;
  Instance reader(ro);
  std::vector<Model> models;
  for (int i = 0; i < kDbs; i++) models.push_back(Write(writer, "db" + std::to_string(i), kPages, 1000 * i));
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < kDbs; i++) {
      ExpectPages(reader, "db" + std::to_string(i), models[i], kPages);
      const double bytes = Metric(reader, "mockcloud_cache_bytes");
      EXPECT_GT(bytes, 0);
      EXPECT_LE(bytes, double(kBound)) << "pass " << pass << " db " << i;
    }
  }
  EXPECT_EQ(Metric(reader, "mockcloud_cache_bound_bytes"), double(kBound));
  EXPECT_LT(Metric(reader, "mockcloud_cache_replicas"), kDbs);
  EXPECT_GE(Metric(reader, "mockcloud_cache_evictions_total"), kDbs);
  // The writer's default bound (256 MiB) holds them all.
  EXPECT_EQ(Metric(writer, "mockcloud_cache_replicas"), kDbs);
  EXPECT_EQ(Metric(writer, "mockcloud_cache_evictions_total"), 0);
}

// The S3 requests of `in` of one kind (mockcloud_s3_requests_total{kind="…"}).
double S3Requests(const Instance& in, const std::string& kind) {
  return Metric(in, "mockcloud_s3_requests_total{kind=\"" + kind + "\"}");
}

// The read path's S3 traffic: a cold instance loads a database with one GET per object it
// needs (the base snapshot, then each commit after it), never a LIST; warm reads and long
// polls cost no S3 request; a commit elsewhere costs each serving instance one GET.
TEST_F(DistCacheTest, ReadPathGetsEachObjectOnceAndNeverLists) {
  auto wo = cluster.Instance("w");
  wo.retain_txids = 1;
  wo.retention_ms = 0;
  Instance writer(wo);
  Model m = Write(writer, "app", 8, 7);
  for (uint32_t i = 0; i < 3; i++)
    ASSERT_EQ(Post(writer, "app", m.Tx({{2, FilledPage(kPage, 50 + i)}}, 8))->status, 200);
  ASSERT_TRUE(writer.server->CompactAt(mockcloud::NowUnixMs() + 1000).ok());  // a base at txid 4
  ASSERT_EQ(Post(writer, "app", m.Tx({{3, FilledPage(kPage, 60)}}, 8))->status, 200);
  ASSERT_EQ(Post(writer, "app", m.Tx({{4, FilledPage(kPage, 61)}}, 8))->status, 200);
  Instance reader(cluster.Instance("r"));
  const double heads = S3Requests(reader, "HEAD");  // the bucket check at start
  EXPECT_EQ(heads, 1);
  ExpectPages(reader, "app", m, 8);
  EXPECT_EQ(S3Requests(reader, "GET"), 3) << "the base and the two commits after it";
  for (int i = 0; i < 20; i++) ExpectPages(reader, "app", m, 8);
  auto poll = reader.Client()->Get("/db/sync?db=app&wait=100&pos=" + PosUrl(m.txid, m.Checksum()));
  ASSERT_TRUE(poll && poll->status == 200);
  EXPECT_EQ(S3Requests(reader, "GET"), 3) << "warm reads and polls need no S3 request";
  ASSERT_EQ(Post(writer, "app", m.Tx({{5, FilledPage(kPage, 62)}}, 8))->status, 200);
  ExpectPages(reader, "app", m, 8);
  EXPECT_EQ(S3Requests(reader, "GET"), 4) << "one commit elsewhere: one GET";
  for (const char* k : {"LIST", "GET_RANGE", "PUT", "DELETE"}) EXPECT_EQ(S3Requests(reader, k), 0) << k;
  EXPECT_EQ(S3Requests(reader, "HEAD"), heads);
  EXPECT_EQ(S3Requests(writer, "LIST"), 1) << "only its one compaction's orphan sweep lists";
}

// The first requests for a database on an instance arrive together: each waits for the one
// load from S3 and then answers; none sees the replica before it is loaded (a 404 then).
TEST_F(DistCacheTest, ConcurrentFirstReadsAllWaitForTheLoad) {
  constexpr int kReaders = 16;
  constexpr uint32_t kPages = 64;
  Instance writer(cluster.Instance("w"));
  const Model m = Write(writer, "app", kPages, 3);
  for (int round = 0; round < 3; round++) {
    Instance reader(cluster.Instance("r" + std::to_string(round)));
    std::vector<std::thread> ts;
    std::atomic<int> ok{0};
    std::mutex mu;  // guards errors
    std::string errors;
    for (int i = 0; i < kReaders; i++) {
      ts.emplace_back([&] {
        auto c = reader.Client();
        auto r = c->Get("/db/page?db=app&pgno=2&pos=" + PosUrl(m.txid, m.Checksum()),
                        {{"Accept", "application/vnd.litevfs.pages"}});
        if (r && r->status == 200 && ParseFrames(r->body, kPage)[2] == m.Page(2)) {
          ok++;
          return;
        }
        std::lock_guard l(mu);
        errors += (r ? std::to_string(r->status) + " " + r->body : std::string("no reply")) + "\n";
      });
    }
    for (auto& t : ts) t.join();
    EXPECT_EQ(ok.load(), kReaders) << "round " << round << ":\n" << errors;
    EXPECT_EQ(S3Requests(reader, "GET"), 1) << "one load for all of them";
  }
}

}  // namespace
}  // namespace mctest
